"""The edge-energy frame filter: keep the tomogram crops that show structure."""

import numbers

import numpy as np
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import NONNEGATIVE
from ..validation import Interval, Options, validate_parameters


class EdgeFrameFilter(TransformerMixin, BaseEstimator):
    """Keep the frames (slices or crops) whose edge energy says they hold structure.

    The edge energy of a frame is the mean Sobel gradient magnitude after a
    Gaussian smoothing of ``sigma`` pixels: ``mean(hypot(Gx, Gy))`` with the
    Sobel derivatives divided by 8 so that they estimate the intensity change
    per pixel (borders reflected). Empty, noisy background has a low energy;
    frames that cut a particle add its edges. ``fit`` fixes the threshold;
    ``transform`` keeps the frames at or above it. Since this changes the
    number of samples, use :meth:`get_support` to filter labels alongside
    (it does not fit inside a :class:`~sklearn.pipeline.Pipeline` before a
    step that takes ``y``).

    Parameters
    ----------
    threshold : float or "auto", default="auto"
        Frames with edge energy ``>= threshold`` are kept. ``"auto"``: the
        Otsu threshold of the energies of the frames seen by ``fit`` (the cut
        that maximises the between-class variance of a 256-bin histogram).
    method : {"sobel"}, default="sobel"
        The edge detector.
    sigma : float, default=1.0
        Standard deviation in pixels of the Gaussian smoothing before the
        Sobel filter, >= 0 (0: none).

    Attributes
    ----------
    threshold_ : float
        The threshold in use.
    scores_ : ndarray of shape (n_frames,)
        Edge energies of the frames seen by ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.datasets import EdgeFrameFilter
    >>> frames = np.zeros((4, 16, 16), dtype=np.float32)
    >>> frames[1, 4:12, 4:12] = 1.0          # a square: structure
    >>> frames[3, 2:6, 8:14] = 2.0
    >>> filt = EdgeFrameFilter(threshold=0.01).fit(frames)
    >>> filt.get_support(frames)
    array([False,  True, False,  True])
    >>> filt.transform(frames).shape
    (2, 16, 16)
    """

    _parameter_constraints = {
        "threshold": [Options(["auto"]), Interval(numbers.Real)],
        "method": Options(["sobel"]),
        "sigma": NONNEGATIVE,
    }

    def __init__(self, threshold="auto", method="sobel", sigma=1.0):
        self.threshold = threshold
        self.method = method
        self.sigma = sigma

    def fit(self, X, y=None):
        """Compute the edge energies of ``X`` and fix the threshold.

        Parameters
        ----------
        X : array-like of shape (n_frames, H, W)
            A stack of 2-D frames.
        y : None
            Ignored.

        Returns
        -------
        self : EdgeFrameFilter
        """
        scores = self.scores(X)  # validates the parameters, threshold among them
        threshold = self.threshold
        if threshold == "auto":
            threshold = _otsu(scores)
        self.threshold_ = float(threshold)
        self.scores_ = scores
        return self

    def scores(self, X):
        """Edge energy of every frame.

        Parameters
        ----------
        X : array-like of shape (n_frames, H, W)
            A stack of 2-D frames.

        Returns
        -------
        energy : ndarray of shape (n_frames,), dtype float64
            Mean gradient magnitude per frame after smoothing.
        """
        validate_parameters(self)
        sigma = float(self.sigma)
        X = _check_frames(X)
        energy = np.empty(len(X))
        for start in range(0, len(X), 4096):  # bounded memory, vectorised inside
            block = X[start : start + 4096]
            if sigma > 0:
                block = ndimage.gaussian_filter(block, (0, sigma, sigma), mode="reflect")
            gy = _sobel(block, 1)
            gx = _sobel(block, 2)
            energy[start : start + len(block)] = (
                np.hypot(gx, gy).mean(axis=(1, 2), dtype=np.float64) / 8
            )
        return energy

    def get_support(self, X):
        """Boolean mask of the frames of ``X`` that are kept.

        Parameters
        ----------
        X : array-like of shape (n_frames, H, W)
            A stack of 2-D frames.

        Returns
        -------
        support : ndarray of shape (n_frames,), dtype bool
            True where the edge energy is ``>= threshold_``.
        """
        check_is_fitted(self, "threshold_")
        return self.scores(X) >= self.threshold_

    def mask(self, X):
        """Alias of :meth:`get_support`."""
        return self.get_support(X)

    def transform(self, X):
        """Keep the frames of ``X`` whose edge energy is at least ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_frames, H, W)
            A stack of 2-D frames.

        Returns
        -------
        X_kept : ndarray of shape (n_kept, H, W)
            The kept frames, in order, with the dtype of ``X`` when it is
            floating point (float64 otherwise).
        """
        support = self.get_support(X)
        return _as_frames(X)[support]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.requires_fit = True
        return tags


# --- sampling and rendering -------------------------------------------------------------------


def _as_frames(X):
    if hasattr(X, "detach") and hasattr(X, "cpu"):  # a torch tensor
        X = X.detach().cpu().numpy()
    try:
        X = np.asarray(X)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(f"X must be an array of frames; got {type(X).__name__}.") from exc
    if X.dtype == object or not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise TypeError(f"X must hold real numbers; got dtype {X.dtype}.")
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    return X


def _check_frames(X):
    X = _as_frames(X)
    if X.ndim != 3:
        raise ValueError(
            f"X must be a stack of 2-D frames of shape (n_frames, H, W); got shape {X.shape}."
        )
    if X.shape[0] < 1 or X.shape[1] < 2 or X.shape[2] < 2:
        raise ValueError(
            f"X must hold at least one frame of at least 2 x 2 pixels; got shape {X.shape}."
        )
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinity.")
    return X


def _sobel(frames, axis):
    """Sobel derivative of a stack of frames along ``axis`` (1: rows, 2: columns), smoothing
    only along the other in-frame axis (``ndimage.sobel`` would also mix neighbouring frames)."""
    other = 3 - axis
    out = ndimage.correlate1d(frames, [-1.0, 0.0, 1.0], axis=axis, mode="reflect")
    return ndimage.correlate1d(out, [1.0, 2.0, 1.0], axis=other, mode="reflect")


def _otsu(values, bins=256):
    """Otsu's threshold of ``values``: the bin edge maximising the between-class variance."""
    lo, hi = float(values.min()), float(values.max())
    if not hi > lo:
        return lo
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)[:-1]
    w1 = len(values) - w0
    mass = hist * centres
    s0 = np.cumsum(mass)[:-1]
    m0 = s0 / np.maximum(w0, 1)
    m1 = (mass.sum() - s0) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(edges[1 + int(np.argmax(between))])
