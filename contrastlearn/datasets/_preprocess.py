"""The reference study's preprocessing of diffraction patterns, as one step.

:func:`preprocess_diffraction` reproduces ``scripts/create_static_dataset_proj_learning.py``
of Zimmermann et al. 2023 (contrastive projection learning, CXIDB entry 94)
with numpy and scipy, for square images of any size.
"""

import math
import numbers

import numpy as np
import torch
from scipy import ndimage

from .._validation import NONNEGATIVE, ints
from ..projection import central_mask
from ..projection._module import _reference_crop
from ..validation import ArrayLike, Interval, validate_params

__all__ = ["preprocess_diffraction"]


def _reference_grid(size, row_cut, column_cuts):
    """Source pixels (rows, cols) of the reference's cropped nearest-neighbour projection.

    The reference samples, on an ``r x r`` grid (``r = size``), row ``i`` at
    azimuth ``phi = 2 pi i / (r - 1)`` and column ``j`` at ``rho = j / (r - 1)``
    from source row ``(r - 1) / 2 (1 - rho sin phi)`` and column
    ``(r - 1) / 2 (1 + rho cos phi)``, rounded half to even, in float32 as
    TensorFlow did (its sin/cos may differ in the last bit, so an exact tie
    can round the other way).
    """
    last = size - 1
    i = np.arange(row_cut, size - row_cut, dtype=np.float32)[:, None]
    j = np.arange(column_cuts[0], size - column_cuts[1], dtype=np.float32)[None, :]
    phi = i / last * 2 * math.pi
    rho = j / last
    rows = 0.5 * last * (1 - rho * np.sin(phi))
    cols = 0.5 * last * (1 + rho * np.cos(phi))
    return np.rint(rows).astype(np.intp), np.rint(cols).astype(np.intp)


def _resize(image, size):
    """``skimage.transform.resize(image, (size, size))`` with its defaults, in scipy.

    order=1, mode="reflect" (scipy's "mirror"), anti-aliasing by a Gaussian
    of sigma ``max(0, (factor - 1) / 2)`` per axis, pixel centres at
    ``(out + 0.5) * factor - 0.5`` (``grid_mode``), clipped to the input range.
    """
    factors = np.divide(image.shape, (size, size))
    filtered = ndimage.gaussian_filter(image, np.maximum(0, (factors - 1) / 2), mode="mirror")
    out = ndimage.zoom(filtered, 1 / factors, order=1, mode="mirror", grid_mode=True)
    return np.clip(out, image.min(), image.max())


def _min_max(image):
    """Scale to [0, 1] (a constant image gives zeros)."""
    image = image.astype(np.float32)
    low, high = image.min(), image.max()
    return (image - low) / (high - low) if high > low else np.zeros_like(image)


@validate_params(
    {
        "images": ArrayLike(),
        "output_size": ints(1),
        "hole_fraction": Interval(numbers.Real, 0, 1),
        "hole_sigma": NONNEGATIVE,
        "batch_size": ints(1),
    }
)
def preprocess_diffraction(
    images, *, output_size=256, hole_fraction=0.30, hole_sigma=1.5, batch_size=64
):
    """The reference study's preprocessing: a blurred central hole, a polar projection, crops.

    Exactly ``create_static_dataset_proj_learning.py`` of the contrastive
    projection learning study (Zimmermann et al. 2023), generalised from its
    1035-pixel patterns to square images of any size ``H``:

    1. multiply a blurred central hole into the image: 0 within
       ``int(hole_fraction * c)`` pixels of ``(c, c)``, ``c = int(H / 2)``
       (:func:`~contrastlearn.projection.central_mask`, blur ``hole_sigma``);
    2. project the whole masked image by nearest-neighbour lookup onto the
       reference's ``H x H`` grid (rows: azimuth ``phi = 2 pi i / (H - 1)``,
       columns: radius ``j / 2`` pixels from ``((H - 1) / 2, (H - 1) / 2)``)
       and crop it to rows ``[y_cut:-y_cut]`` and columns
       ``[x_cut[0]:-x_cut[1]]``;
    3. crop the masked image to ``[lr_cut:-lr_cut, lr_cut:-lr_cut]``;
    4. resize both to ``output_size`` like ``skimage.transform.resize``
       (bilinear, anti-aliased), then scale each image to [0, 1].

    with ``lr_cut = ceil((H - round(cos(pi / 4) * 0.99 * H)) / 2)``,
    ``x_cut = (int(2 * hole_radius), int(2 * sqrt(lr_cut)))`` and
    ``y_cut = ceil(sum(x_cut) / 2)``. For ``H = 1035``: a hole of 155 pixels,
    the raw crop ``[155:-155]`` (725 x 725) and the projection crop of rows
    167..867 (azimuth 58.1 to 301.9 degrees) by columns 310..1010 (radius 155
    to 505 pixels, from the hole's edge), 701 x 701.

    Parameters
    ----------
    images : array-like or lazy collection of shape (n, H, H)
        Square patterns: a numpy array, an h5py dataset,
        :class:`CXIImages` or :class:`CXIShots`; read ``batch_size`` images
        at a time, so a file larger than memory never loads whole.
    output_size : int, default=256
        Side of both outputs (the reference's ``target_dim``).
    hole_fraction : float, default=0.30
        Hole radius as a fraction of ``int(H / 2)``, rounded down to whole
        pixels; it also sets where the projection's radial crop starts.
    hole_sigma : float, default=1.5
        Blur of the hole's edge in pixels.
    batch_size : int, default=64
        Images read and processed at a time.

    Returns
    -------
    images : ndarray of float32, shape (n, output_size, output_size)
        The masked, cropped, resized patterns, each scaled to [0, 1] (the
        reference's ``images``, its "polar" images).
    projections : ndarray of float32, shape (n, output_size, output_size)
        Their projections, each scaled to [0, 1] (the reference's
        ``cart_images``): azimuth along the rows, radius along the columns.
        The reference's azimuth turns counter-clockwise on screen (source
        row ``c - rho sin(phi)``), so this is the transpose of
        :func:`~contrastlearn.projection.to_polar` with
        ``angle_range=(-phi_start, -phi_stop)``, radius along its rows
        (:data:`~contrastlearn.projection.REFERENCE_PROJECTION_SETTINGS`
        gives that crop for :class:`~contrastlearn.projection.PolarProjection`).

    Raises
    ------
    ValueError
        If ``images`` is not a stack of square 2-D images (n, H, H) with
        ``H >= 8``, or an argument is out of range.
    TypeError
        If ``images`` is not real numbers or an argument has the wrong type.

    Notes
    -----
    The projection's nearest-neighbour coordinates are computed in float32
    as the reference's TensorFlow code did, and rounded half to even.
    The min-max scaling computes ``(x - min) / (max - min)``, which equals
    the reference's ``norm_img`` up to float32 rounding; a constant image
    gives zeros instead of NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.datasets import preprocess_diffraction
    >>> X = np.random.default_rng(0).random((3, 103, 103))
    >>> images, projections = preprocess_diffraction(X, output_size=32)
    >>> images.shape, projections.shape, images.dtype
    ((3, 32, 32), (3, 32, 32), dtype('float32'))
    >>> float(images.min()), float(images.max())
    (0.0, 1.0)
    """
    if not (hasattr(images, "shape") and hasattr(images, "__getitem__")):
        images = np.asarray(images)
    shape = tuple(images.shape)
    if len(shape) != 3 or shape[1] != shape[2] or shape[1] < 8:
        raise ValueError(
            f"images must be square 2-D images of shape (n, H, H) with H >= 8; got shape {shape}."
        )
    if np.dtype(images.dtype).kind not in "biuf":
        raise TypeError(f"images must hold real numbers; got dtype {images.dtype}.")
    output_size, batch_size = int(output_size), int(batch_size)
    hole_fraction, hole_sigma = float(hole_fraction), float(hole_sigma)
    n, size = shape[0], shape[1]
    centre, hole_radius, lr_cut, x_cut, y_cut = _reference_crop(size, hole_fraction)
    # float64 like the reference's mask (np.ones, then gaussian_filter).
    hole = central_mask(
        (size, size),
        hole_radius,
        sigma=hole_sigma,
        center=torch.tensor([centre, centre], dtype=torch.float64),
    ).numpy()
    rows, cols = _reference_grid(size, y_cut, x_cut)
    out_images = np.empty((n, output_size, output_size), np.float32)
    out_projections = np.empty_like(out_images)
    for start in range(0, n, batch_size):
        chunk = np.asarray(images[start : start + batch_size]).astype(np.float32)
        for k, image in enumerate(chunk * hole, start=start):
            out_images[k] = _min_max(
                _resize(image[lr_cut : size - lr_cut, lr_cut : size - lr_cut], output_size)
            )
            out_projections[k] = _min_max(_resize(image[rows, cols], output_size))
    return out_images, out_projections
