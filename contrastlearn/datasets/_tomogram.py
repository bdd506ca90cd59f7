"""Synthetic cryo-electron tomograms with a missing wedge, 2-D crops with particle labels,
and an edge-energy frame filter."""

import numbers

import numpy as np
import pandas as pd
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._diffraction import _check_int, _check_random_state, _check_real

__all__ = ["EdgeFrameFilter", "extract_crops", "make_particle_crops", "make_tomogram"]

#: The particle classes :func:`make_tomogram` can draw.
PARTICLE_CLASSES = ("sphere", "ellipsoid", "rod", "shell", "assembly")
#: Columns of the ``particles`` table, in order.
PARTICLE_COLUMNS = ["z", "y", "x", "class", "radius", "phi", "theta", "psi", "a", "b", "c",
                    "subunits"]

_MIN_RADIUS = 2.0         # smallest bounding radius (voxels) a particle may have
_GAP = 1.0                # bounding spheres are at least this many voxels apart
_MARGIN = 1               # and at least this many voxels from the faces of the volume
_SMOOTHING = 0.5          # standard deviation (voxels) of the Gaussian blur of the density
_PACKING = 0.6            # requests whose bounding balls fill more than this fraction fail fast
_BATCH = 256              # candidate positions tried at once per particle
_MAX_BATCHES = 40         # ... at most this many batches before giving up
_ELLIPSOID_B = (0.5, 0.8)  # middle semi-axis / longest
_ELLIPSOID_C = (0.3, 0.5)  # shortest semi-axis / longest
_ROD_RADIUS = (0.25, 0.4)  # capsule radius / half-length
_SHELL_THICKNESS = (0.2, 0.35)  # wall thickness / outer radius
_MIN_FEATURE = 1.0        # rod radius and shell wall are at least this many voxels
# Directions of the satellites of an assembly, in the body frame, by number of satellites.
_SATELLITES = {
    2: np.array([[1.0, 0.0, 0.0], [-0.5, np.sqrt(3) / 2, 0.0]]),
    3: np.array([[1.0, 0.0, 0.0], [-0.5, np.sqrt(3) / 2, 0.0], [-0.5, -np.sqrt(3) / 2, 0.0]]),
    4: np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0],
                 [-1.0, -1.0, 1.0]]) / np.sqrt(3),
}


def make_tomogram(shape=(64, 128, 128), n_particles=40, *, particle_classes=PARTICLE_CLASSES,
                  radius_range=(3, 8), snr=0.1, snr_region="volume", tilt_range=60,
                  random_state=None):
    """Simulate a noisy cryo-electron tomogram of macromolecule-like particles.

    A toy version of the SHREC 2021 cryo-ET benchmark [1]_: uniform-density
    particles of five shape classes at random non-overlapping positions and
    random orientations in an empty volume, seen through a limited tilt range
    (the missing wedge) and buried in noise.

    **Particles.** Classes are assigned in turn over ``particle_classes``
    (counts differ by at most one) and shuffled; the bounding radius ``R`` is
    uniform in ``radius_range``. ``"sphere"``: a solid ball of radius ``R``.
    ``"ellipsoid"``: a solid ellipsoid with semi-axes ``R``, 0.5-0.8 ``R`` and
    0.3-0.5 ``R``. ``"rod"``: a capsule (a cylinder with hemispherical caps)
    of total half-length ``R`` and radius 0.25-0.4 ``R``. ``"shell"``: a hollow
    sphere of outer radius ``R`` and a wall 0.2-0.35 ``R`` thick. ``"assembly"``:
    3-5 touching balls of radius ``R / 3``, a central one and 2-4 satellites
    (bent, trigonal or tetrahedral). Rod radius and shell wall are at least
    1 voxel. Orientations are uniform on the rotation group. Bounding balls
    lie inside the volume, at least 1 voxel from its faces and from each other,
    so particles never touch.

    **Imaging.** The density (1 inside particles, 0 elsewhere) is blurred by a
    Gaussian of 0.5 voxel and then, with the beam along z and the tilt axis
    along y, every Fourier component outside the measured wedge
    ``|k_z| <= |k_x| tan(tilt_range)`` is set to zero (a 3-D real FFT; none is
    removed for ``tilt_range=90``). This smears particles along z and leaves
    negative side lobes, as in real reconstructions. Gaussian white noise,
    filtered by the same wedge (a reconstruction has no data outside it
    either), is added and scaled so that its variance is the signal power
    divided by ``snr``. By default (``snr_region="volume"``) the signal power
    is the variance of the noise-free volume over all voxels; since particles
    fill only a few percent of the volume, that is far below the power inside
    a particle. ``snr_region="particles"`` measures it over the particles'
    voxels only -- the mean square of the noise-free volume, about its mean
    over all voxels, taken over the voxels inside particles -- which gives
    much more noise at the same ``snr`` (a harder setting).

    Parameters
    ----------
    shape : tuple of 3 int, default=(64, 128, 128)
        ``(D, H, W)``: the size of the volume along z, y and x, each >= 8.
    n_particles : int, default=40
        Number of particles, >= 0.
    particle_classes : sequence of str, default=("sphere", "ellipsoid", "rod", "shell", "assembly")
        The classes to draw, any non-empty subset of those five (a single str
        is one class).
    radius_range : tuple of 2 float, default=(3, 8)
        ``(low, high)`` bounding radius in voxels, ``2 <= low <= high``.
    snr : float, default=0.1
        Signal-to-noise ratio, signal power / noise variance, > 0;
        ``np.inf`` for no noise.
    snr_region : {"volume", "particles"}, default="volume"
        Where the signal power of ``snr`` is measured. ``"volume"``: the
        variance of the noise-free volume over all voxels. ``"particles"``:
        over the voxels inside particles only (the mean square, about the
        mean over all voxels, of the noise-free volume there), so the noise
        is scaled to the particles rather than to the mostly empty volume.
        With no particles the volume is all zeros either way.
    tilt_range : float, default=60
        Largest tilt angle in degrees, in [0, 90]: the specimen is seen from
        ``-tilt_range`` to ``+tilt_range`` around the y axis. 90 means no
        missing wedge.
    random_state : int, RandomState, Generator or None, default=None
        Seeds everything: particles, positions, orientations and noise.

    Returns
    -------
    volume : ndarray of shape (D, H, W), dtype float32
        The tomogram, indexed ``volume[z, y, x]``.
    particles : pandas.DataFrame
        One row per particle (index 0 .. n_particles - 1). ``z``, ``y``, ``x``:
        the centre, an integer voxel; ``class``; ``radius``: the bounding
        radius in voxels; ``phi``, ``theta``, ``psi``: ZYZ Euler angles in
        degrees of the rotation ``Rz(phi) Ry(theta) Rz(psi)`` taking body
        coordinates to volume ``(x, y, z)``; ``a``, ``b``, ``c``: the shape in
        the body frame -- ellipsoid semi-axes along body x, y, z (for a sphere
        all ``R``); for a rod, the half-length ``a`` along body x and the radius
        ``b = c``; for a shell, the outer radius ``a`` and the inner radius
        ``b = c``; for an assembly, ``a = R`` and the subunit radius
        ``b = c = R / 3``; ``subunits``: the number of balls of an assembly,
        0 for the other classes.

    Raises
    ------
    ValueError
        If the particles cannot all be placed without overlap (too many or too
        large for ``shape``), or for an invalid argument.

    See Also
    --------
    extract_crops : cut the tomogram into labelled 2-D crops.
    make_particle_crops : both steps at once.

    References
    ----------
    .. [1] I. Gubins et al., "SHREC 2021: Classification in cryo-electron
       tomograms", Eurographics Workshop on 3D Object Retrieval (2021).

    Examples
    --------
    >>> from contrastlearn.datasets import make_tomogram
    >>> volume, particles = make_tomogram((32, 64, 64), 6, random_state=0)
    >>> volume.shape, volume.dtype
    ((32, 64, 64), dtype('float32'))
    >>> len(particles), list(particles.columns[:5])
    (6, ['z', 'y', 'x', 'class', 'radius'])
    >>> bool(particles["radius"].between(3, 8).all())
    True
    """
    shape = _check_shape(shape)
    n_particles = _check_int(n_particles, "n_particles", minimum=0)
    classes = _check_classes(particle_classes)
    radius_range = _check_radius_range(radius_range)
    snr = _check_real(snr, "snr")
    if not snr > 0:
        raise ValueError(f"snr must be > 0 (np.inf for no noise); got {snr!r}.")
    if not isinstance(snr_region, str) or snr_region not in ("volume", "particles"):
        raise ValueError(f"snr_region must be 'volume' or 'particles'; got {snr_region!r}.")
    tilt_range = _check_real(tilt_range, "tilt_range")
    if not 0 <= tilt_range <= 90:
        raise ValueError(f"tilt_range must be in [0, 90] degrees; got {tilt_range!r}.")
    rng = _check_random_state(random_state)

    particles = _sample_particles(n_particles, shape, classes, radius_range, rng)
    _, density = _render_particles(particles, shape)
    volume = _image(density, tilt_range, snr, rng, snr_region)
    return volume, particles


def extract_crops(volume, particles, crop_size=16, stride=8, *, axis=0, min_overlap=0.5):
    """Cut every slice of a tomogram into square 2-D crops labelled particle / background.

    Slices are taken along ``axis``; in each, crops of ``crop_size`` pixels a
    side start at rows and columns ``0, stride, 2 stride, ...`` as long as
    they fit.

    **Label rule.** The ground truth is the particles' voxels, rasterised from
    the table exactly as :func:`make_tomogram` draws them (before blur, wedge
    and noise). The cross-section of a particle in a slice is its set of
    voxels in that slice. A crop is labelled 1 if, for some particle, the crop
    holds at least ``min_overlap`` of that particle's cross-section in the
    crop's slice (a slice that misses a particle gives it no cross-section);
    otherwise 0. With ``stride <= crop_size - d`` every cross-section of
    diameter ``<= d`` lies whole in some crop.

    Parameters
    ----------
    volume : array-like of shape (D, H, W)
        The tomogram, e.g. from :func:`make_tomogram`.
    particles : pandas.DataFrame
        The particle table of :func:`make_tomogram` (columns ``z``, ``y``,
        ``x``, ``class``, ``radius``, ``phi``, ``theta``, ``psi``, ``a``,
        ``b``, ``c``, ``subunits``), in the voxel coordinates of ``volume``.
    crop_size : int, default=16
        Side of the square crops in pixels, >= 2 and at most the slice size.
    stride : int, default=8
        Step between neighbouring crops in pixels, >= 1.
    axis : {0, 1, 2}, default=0
        The axis the slices are taken along: 0 gives z slices (the x-y planes
        of the microscope), 1 y slices, 2 x slices.
    min_overlap : float, default=0.5
        Fraction of a cross-section a crop must hold to be labelled 1, in
        (0, 1].

    Returns
    -------
    crops : ndarray of shape (n_crops, crop_size, crop_size), dtype float32
        The crops, slice by slice, then row by row, then column by column.
    labels : ndarray of shape (n_crops,), dtype int64
        1 for a particle, 0 for background.
    positions : pandas.DataFrame
        One row per crop: ``slice`` (index along ``axis``), ``row``, ``col``
        (top-left corner in the slice, whose rows and columns are the
        remaining axes in order), so that
        ``np.take(volume, slice, axis)[row:row + crop_size, col:col + crop_size]``
        is the crop; ``particle``, the row of ``particles`` of which the crop
        holds the largest fraction of the cross-section if that is at least
        ``min_overlap``, else -1; ``overlap``, that largest fraction (0 when the
        crop holds no particle voxel).

    See Also
    --------
    make_tomogram, make_particle_crops

    Examples
    --------
    >>> from contrastlearn.datasets import extract_crops, make_tomogram
    >>> volume, particles = make_tomogram((32, 64, 64), 6, random_state=0)
    >>> crops, labels, positions = extract_crops(volume, particles)
    >>> crops.shape, labels.shape, len(positions)
    ((1568, 16, 16), (1568,), 1568)
    >>> s, r, c = positions.loc[0, ["slice", "row", "col"]]
    >>> bool((volume[s, r:r + 16, c:c + 16] == crops[0]).all())
    True
    """
    volume = _check_volume(volume)
    particles = _check_particles(particles)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, numbers.Integral) \
            or axis not in (0, 1, 2):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}.")
    axis = int(axis)
    crop_size = _check_int(crop_size, "crop_size", minimum=2)
    stride = _check_int(stride, "stride", minimum=1)
    plane = tuple(n for i, n in enumerate(volume.shape) if i != axis)
    if crop_size > min(plane):
        raise ValueError(f"crop_size must be at most the slice size {plane}; got {crop_size!r}.")
    min_overlap = _check_real(min_overlap, "min_overlap")
    if not 0 < min_overlap <= 1:
        raise ValueError(f"min_overlap must be in (0, 1]; got {min_overlap!r}.")

    slices = np.moveaxis(volume, axis, 0)
    n_slices = slices.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(slices, (crop_size, crop_size),
                                                       axis=(1, 2))[:, ::stride, ::stride]
    n_rows, n_cols = windows.shape[1:3]
    crops = windows.reshape(-1, crop_size, crop_size).astype(np.float32)   # a copy
    s, i, j = np.meshgrid(np.arange(n_slices), np.arange(n_rows), np.arange(n_cols),
                          indexing="ij")
    overlap, owner = _crop_overlap(particles, volume.shape, axis, crop_size, stride,
                                   (n_slices, n_rows, n_cols))
    labels = (overlap >= min_overlap).astype(np.int64)
    positions = pd.DataFrame({
        "slice": s.ravel(), "row": i.ravel() * stride, "col": j.ravel() * stride,
        "particle": np.where(labels == 1, owner, -1), "overlap": overlap,
    })
    return crops, labels, positions


def make_particle_crops(n_particles=40, *, shape=(64, 128, 128), crop_size=16, stride=8,
                        axis=0, min_overlap=0.5, random_state=None, **tomogram_kwargs):
    """Simulate a tomogram and cut it into labelled 2-D crops.

    Shorthand for :func:`make_tomogram` followed by :func:`extract_crops`: a
    particle-picking data set in the style of the SHREC 2021 cryo-ET study,
    where crops are embedded without labels and clustered into particle and
    background.

    Parameters
    ----------
    n_particles : int, default=40
        Number of particles in the tomogram.
    shape : tuple of 3 int, default=(64, 128, 128)
        Size ``(D, H, W)`` of the tomogram.
    crop_size : int, default=16
        Side of the square crops in pixels.
    stride : int, default=8
        Step between neighbouring crops in pixels.
    axis : {0, 1, 2}, default=0
        Axis the slices are taken along (0: z slices).
    min_overlap : float, default=0.5
        Fraction of a particle's cross-section a crop must hold to be
        labelled 1; see :func:`extract_crops`.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the tomogram.
    **tomogram_kwargs
        Passed on to :func:`make_tomogram`: ``particle_classes``,
        ``radius_range``, ``snr``, ``snr_region``, ``tilt_range``.

    Returns
    -------
    crops : ndarray of shape (n_crops, crop_size, crop_size), dtype float32
    labels : ndarray of shape (n_crops,), dtype int64
        1 for a particle, 0 for background.
    positions : pandas.DataFrame
        ``slice``, ``row``, ``col``, ``particle``, ``overlap``; see
        :func:`extract_crops`.

    Examples
    --------
    >>> from contrastlearn.datasets import make_particle_crops
    >>> crops, labels, positions = make_particle_crops(6, shape=(32, 64, 64), random_state=0)
    >>> crops.shape
    (1568, 16, 16)
    >>> bool(0 < labels.mean() < 0.5)
    True
    """
    unknown = set(tomogram_kwargs) - {"particle_classes", "radius_range", "snr", "snr_region",
                                      "tilt_range"}
    if unknown:
        raise TypeError(f"make_particle_crops got unexpected keyword arguments {sorted(unknown)}; "
                        "make_tomogram takes particle_classes, radius_range, snr, snr_region, "
                        "tilt_range.")
    volume, particles = make_tomogram(shape, n_particles, random_state=random_state,
                                      **tomogram_kwargs)
    return extract_crops(volume, particles, crop_size, stride, axis=axis,
                         min_overlap=min_overlap)


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
        threshold = self.threshold
        if isinstance(threshold, str):
            if threshold != "auto":
                raise ValueError(f"threshold must be a number or 'auto'; got {threshold!r}.")
        else:
            threshold = _check_real(threshold, "threshold")
            if not np.isfinite(threshold):
                raise ValueError(f"threshold must be finite; got {threshold!r}.")
        scores = self.scores(X)
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
        if self.method != "sobel":
            raise ValueError(f"method must be 'sobel'; got {self.method!r}.")
        sigma = _check_real(self.sigma, "sigma")
        if not 0 <= sigma < np.inf:
            raise ValueError(f"sigma must be a finite number >= 0; got {self.sigma!r}.")
        X = _check_frames(X)
        energy = np.empty(len(X))
        for start in range(0, len(X), 4096):            # bounded memory, vectorised inside
            block = X[start:start + 4096]
            if sigma > 0:
                block = ndimage.gaussian_filter(block, (0, sigma, sigma), mode="reflect")
            gy = _sobel(block, 1)
            gx = _sobel(block, 2)
            energy[start:start + len(block)] = np.hypot(gx, gy).mean(axis=(1, 2),
                                                                     dtype=np.float64) / 8
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

def _sample_particles(n, shape, classes, radius_range, rng):
    """Draw the particle table: classes, sizes, shapes, orientations and free positions.

    Every shape parameter is drawn for every particle and then selected by
    class, so the random stream does not depend on the classes.
    """
    cls = np.array(classes, dtype=object)[np.resize(np.arange(len(classes)), n)]
    cls = cls[rng.permutation(n)] if n else cls
    radius = rng.uniform(radius_range[0], radius_range[1], size=n)
    phi = rng.uniform(0.0, 360.0, size=n)
    theta = np.degrees(np.arccos(rng.uniform(-1.0, 1.0, size=n)))
    psi = rng.uniform(0.0, 360.0, size=n)
    ell_b = radius * rng.uniform(*_ELLIPSOID_B, size=n)
    ell_c = radius * rng.uniform(*_ELLIPSOID_C, size=n)
    rod = np.maximum(_MIN_FEATURE, radius * rng.uniform(*_ROD_RADIUS, size=n))
    wall = np.maximum(_MIN_FEATURE, radius * rng.uniform(*_SHELL_THICKNESS, size=n))
    subunits = rng.integers(3, 6, size=n) if isinstance(rng, np.random.Generator) \
        else rng.randint(3, 6, size=n)

    a = radius.copy()
    b = np.select([cls == "ellipsoid", cls == "rod", cls == "shell", cls == "assembly"],
                  [ell_b, rod, radius - wall, radius / 3], radius)
    c = np.select([cls == "ellipsoid", cls == "rod", cls == "shell", cls == "assembly"],
                  [np.maximum(1.0, np.minimum(ell_c, ell_b)), rod, radius - wall, radius / 3],
                  radius)
    b = np.where(cls == "ellipsoid", np.maximum(b, c), b)
    subunits = np.where(cls == "assembly", subunits, 0)
    centres = _place(radius, shape, rng)
    table = pd.DataFrame({
        "z": centres[:, 0], "y": centres[:, 1], "x": centres[:, 2],
        "class": cls.astype(object), "radius": radius, "phi": phi, "theta": theta, "psi": psi,
        "a": a, "b": b, "c": c, "subunits": subunits.astype(np.int64),
    })
    return table[PARTICLE_COLUMNS]


def _place(radius, shape, rng):
    """Integer centres ``(n, 3)`` (z, y, x) of non-overlapping bounding balls inside ``shape``.

    Random sequential addition, largest first: each particle tries batches of
    uniformly drawn free positions and takes the first that keeps ``_GAP``
    voxels to every placed ball. Raises ValueError when one cannot be placed.
    """
    n = len(radius)
    dims = np.array(shape)
    centres = np.zeros((n, 3), dtype=np.int64)
    if n == 0:
        return centres
    need = (4 / 3 * np.pi * (radius + _GAP / 2) ** 3).sum()
    room = np.prod(dims - 2 * _MARGIN)
    hint = ("lower n_particles or radius_range, or enlarge shape")
    if need > _PACKING * room:
        raise ValueError(
            f"cannot fit {n} particles with radius_range up to {radius.max():.3g} voxels into "
            f"shape={tuple(shape)}: their bounding balls alone fill "
            f"{need / room:.0%} of the volume; {hint}.")
    low = np.ceil(radius).astype(np.int64) + _MARGIN
    high = dims[None, :] - 1 - _MARGIN - np.ceil(radius).astype(np.int64)[:, None]
    if (high < low[:, None]).any():
        raise ValueError(f"cannot fit a particle of radius {radius.max():.3g} voxels inside "
                         f"shape={tuple(shape)} (it needs {2 * int(np.ceil(radius.max())) + 3} "
                         f"voxels along each axis); {hint}.")
    integers = rng.integers if isinstance(rng, np.random.Generator) else rng.randint
    placed = []
    for k in np.argsort(-radius, kind="stable"):
        done = np.array(placed, dtype=np.int64)
        for _ in range(_MAX_BATCHES):
            cand = integers(low[k], high[k] + 1, size=(_BATCH, 3))
            if not placed:
                choice = 0
                break
            dist = np.sqrt(((cand[:, None, :] - centres[done][None, :, :]) ** 2).sum(-1))
            ok = (dist >= radius[k] + radius[done][None, :] + _GAP).all(axis=1)
            if ok.any():
                choice = int(np.argmax(ok))
                break
        else:
            raise ValueError(
                f"cannot fit {n} non-overlapping particles with radii up to "
                f"{radius.max():.3g} voxels into shape={tuple(shape)} (placed {len(placed)} "
                f"before running out of room); {hint}.")
        centres[k] = cand[choice]
        placed.append(k)
    return centres


def _rotation(phi, theta, psi):
    """``(n, 3, 3)`` rotation matrices ``Rz(phi) Ry(theta) Rz(psi)`` (degrees) on (x, y, z)."""
    def rz(t):
        c, s = np.cos(t), np.sin(t)
        o, z = np.ones_like(t), np.zeros_like(t)
        return np.stack([np.stack([c, -s, z], -1), np.stack([s, c, z], -1),
                         np.stack([z, z, o], -1)], -2)

    def ry(t):
        c, s = np.cos(t), np.sin(t)
        o, z = np.ones_like(t), np.zeros_like(t)
        return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1),
                         np.stack([-s, z, c], -1)], -2)

    phi, theta, psi = (np.radians(np.asarray(v, dtype=np.float64)) for v in (phi, theta, psi))
    return rz(phi) @ ry(theta) @ rz(psi)


def _particle_voxels(particles, shape):
    """Voxels of each particle: a list of ``(z, y, x)`` index-array triples, one per row.

    This is the ground truth of :func:`make_tomogram` and of the labels of
    :func:`extract_crops`: a voxel belongs to a particle when its centre,
    taken to the particle's body frame, satisfies the class's inside test.
    Voxels outside ``shape`` are dropped.
    """
    rot = _rotation(particles["phi"].to_numpy(), particles["theta"].to_numpy(),
                    particles["psi"].to_numpy())
    out = []
    for k, row in enumerate(particles.itertuples(index=False)):
        r = int(np.ceil(row.radius))
        centre = np.array([row.z, row.y, row.x], dtype=np.int64)
        lo = np.maximum(centre - r, 0)
        hi = np.minimum(centre + r, np.array(shape) - 1)
        if (hi < lo).any():
            out.append((np.empty(0, np.int64),) * 3)
            continue
        zz, yy, xx = np.meshgrid(*(np.arange(lo[i], hi[i] + 1) for i in range(3)),
                                 indexing="ij")
        offset = np.stack([xx - row.x, yy - row.y, zz - row.z], -1).astype(np.float64)
        u = offset @ rot[k]                          # body coordinates: R^T d for each voxel
        inside = _inside(row, u)
        out.append((zz[inside], yy[inside], xx[inside]))
    return out


def _inside(row, u):
    """Boolean inside test of one particle (a table row) at body coordinates ``u (..., 3)``."""
    cls, a, b, c = row[3], row.a, row.b, row.c   # row[3] is "class", a keyword
    if cls in ("sphere", "ellipsoid"):
        return ((u / np.array([a, b, c])) ** 2).sum(-1) <= 1.0
    if cls == "rod":
        along = np.maximum(np.abs(u[..., 0]) - (a - b), 0.0)
        return along**2 + u[..., 1] ** 2 + u[..., 2] ** 2 <= b**2
    if cls == "shell":
        r2 = (u**2).sum(-1)
        return (r2 <= a**2) & (r2 > b**2)
    if cls == "assembly":
        n_sat = int(row.subunits) - 1
        centres = np.vstack([np.zeros((1, 3)), 2 * b * _SATELLITES[n_sat]])
        d2 = ((u[..., None, :] - centres) ** 2).sum(-1)
        return (d2 <= b**2).any(-1)
    raise ValueError(f"unknown particle class {cls!r}; expected one of {PARTICLE_CLASSES}.")


def _render_particles(particles, shape):
    """Noise-free, unblurred ground truth of a particle table.

    Returns ``(labels, density)``: ``labels`` int64 ``shape`` holding the
    table row of the particle at each voxel, -1 for background; ``density``
    float32, 1 inside particles and exactly 0 elsewhere. :func:`make_tomogram`
    images this density.
    """
    labels = np.full(shape, -1, dtype=np.int64)
    for k, (z, y, x) in enumerate(_particle_voxels(particles, shape)):
        labels[z, y, x] = k
    return labels, (labels >= 0).astype(np.float32)


def _wedge_mask(shape, tilt_range):
    """Boolean mask over ``rfftn`` frequencies of a ``shape`` volume: True where measured.

    The beam runs along z and the specimen tilts about y by at most
    ``tilt_range`` degrees, so the measured components satisfy
    ``|k_z| <= |k_x| tan(tilt_range)``; broadcastable shape ``(D, 1, W // 2 + 1)``.
    """
    kz = np.abs(np.fft.fftfreq(shape[0]))[:, None, None]
    kx = np.abs(np.fft.rfftfreq(shape[2]))[None, None, :]
    if tilt_range >= 90:
        return np.ones((shape[0], 1, kx.shape[-1]), dtype=bool)
    t = np.radians(tilt_range)
    return kz * np.cos(t) <= kx * np.sin(t) + 1e-12


def _signal_power(signal, density, snr_region):
    """Signal power that ``snr`` divides (see ``snr_region`` in :func:`make_tomogram`)."""
    if snr_region == "volume":
        return signal.var()
    inside = density > 0
    if not inside.any():
        return 0.0
    return float(((signal[inside] - signal.mean()) ** 2).mean())


def _image(density, tilt_range, snr, rng, snr_region="volume"):
    """Blur, missing-wedge filter and noise (see :func:`make_tomogram`); float32 volume."""
    shape = density.shape
    wedge = _wedge_mask(shape, tilt_range)
    k2 = (np.fft.fftfreq(shape[0])[:, None, None] ** 2 + np.fft.fftfreq(shape[1])[None, :, None]
          ** 2 + np.fft.rfftfreq(shape[2])[None, None, :] ** 2)
    transfer = np.exp(-2 * np.pi**2 * _SMOOTHING**2 * k2) * wedge
    signal = np.fft.irfftn(np.fft.rfftn(density) * transfer, s=shape, axes=(0, 1, 2))
    if np.isfinite(snr):
        noise = np.fft.irfftn(np.fft.rfftn(rng.standard_normal(shape)) * wedge, s=shape,
                              axes=(0, 1, 2))
        power = _signal_power(signal, density, snr_region)
        scale = np.sqrt(power / snr / max(noise.var(), np.finfo(float).tiny))
        signal += scale * noise
    return signal.astype(np.float32)


def _crop_overlap(particles, shape, axis, crop_size, stride, grid):
    """Per crop: the largest fraction of a cross-section it holds, and whose (-1 if none).

    Each particle voxel is sent to every crop of its slice that contains it;
    counting (crop, particle) pairs and dividing by the cross-section area
    in that slice gives the fractions. ``grid = (n_slices, n_rows, n_cols)``.
    """
    n_slices, n_rows, n_cols = grid
    n_crops = n_slices * n_rows * n_cols
    keys, areas = [], []
    for k, vox in enumerate(_particle_voxels(particles, shape)):
        s = vox[axis]
        r, c = (v for i, v in enumerate(vox) if i != axis)
        if s.size == 0:
            continue
        area = np.bincount(s, minlength=n_slices)
        for di in range(-(-crop_size // stride)):
            i = r // stride - di
            ok_i = (i >= 0) & (i < n_rows) & (r < i * stride + crop_size)
            for dj in range(-(-crop_size // stride)):
                j = c // stride - dj
                ok = ok_i & (j >= 0) & (j < n_cols) & (c < j * stride + crop_size)
                crop = (s[ok] * n_rows + i[ok]) * n_cols + j[ok]
                keys.append(crop * len(particles) + k)
                areas.append(area[s[ok]])
    overlap = np.zeros(n_crops)
    owner = np.full(n_crops, -1, dtype=np.int64)
    if not keys:
        return overlap, owner
    keys = np.concatenate(keys)
    areas = np.concatenate(areas)
    pair, first, count = np.unique(keys, return_index=True, return_counts=True)
    frac = count / areas[first]
    crop, part = np.divmod(pair, len(particles))
    order = np.lexsort((part, -frac, crop))             # best fraction first, ties: lower row
    crop, part, frac = crop[order], part[order], frac[order]
    best = np.unique(crop, return_index=True)[1]
    overlap[crop[best]] = frac[best]
    owner[crop[best]] = part[best]
    return overlap, owner


# --- validation -------------------------------------------------------------------------------

def _check_shape(shape):
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 3:
        raise ValueError(f"shape must be a tuple of 3 ints (D, H, W); got {shape!r}.")
    return tuple(_check_int(n, "shape entries", minimum=8) for n in shape)


def _check_classes(particle_classes):
    if isinstance(particle_classes, str):
        particle_classes = (particle_classes,)
    try:
        classes = tuple(particle_classes)
    except TypeError:
        raise TypeError(f"particle_classes must be a sequence of str; got "
                        f"{particle_classes!r}.") from None
    if not classes:
        raise ValueError("particle_classes must name at least one class.")
    unknown = [c for c in classes if not isinstance(c, str) or c not in PARTICLE_CLASSES]
    if unknown:
        raise ValueError(f"particle_classes has unknown classes {unknown}; choose from "
                         f"{list(PARTICLE_CLASSES)}.")
    return classes


def _check_radius_range(radius_range):
    if isinstance(radius_range, (str, bytes)) or not hasattr(radius_range, "__len__") \
            or len(radius_range) != 2:
        raise ValueError(f"radius_range must be a pair (low, high); got {radius_range!r}.")
    low, high = (_check_real(v, "radius_range entries") for v in radius_range)
    if not _MIN_RADIUS <= low <= high < np.inf:
        raise ValueError(f"radius_range must satisfy {_MIN_RADIUS:g} <= low <= high < inf; "
                         f"got {tuple(radius_range)!r}.")
    return low, high


def _check_volume(volume):
    try:
        volume = np.asarray(volume)
    except Exception as exc:  # noqa: BLE001 - anything numpy cannot read
        raise TypeError(f"volume must be an array; got {type(volume).__name__}.") from exc
    if volume.ndim != 3:
        raise ValueError(f"volume must be a 3-D array (D, H, W); got shape {volume.shape}.")
    if not (np.issubdtype(volume.dtype, np.number) and not np.iscomplexobj(volume)):
        raise TypeError(f"volume must hold real numbers; got dtype {volume.dtype}.")
    return volume


def _check_particles(particles):
    if not isinstance(particles, pd.DataFrame):
        raise TypeError(f"particles must be a pandas DataFrame (the table of make_tomogram); "
                        f"got {type(particles).__name__}.")
    missing = [c for c in PARTICLE_COLUMNS if c not in particles.columns]
    if missing:
        raise ValueError(f"particles is missing the columns {missing}; it must be the table "
                         f"returned by make_tomogram.")
    return particles[PARTICLE_COLUMNS].reset_index(drop=True)


def _as_frames(X):
    if hasattr(X, "detach") and hasattr(X, "cpu"):      # a torch tensor
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
        raise ValueError(f"X must be a stack of 2-D frames of shape (n_frames, H, W); got shape "
                         f"{X.shape}.")
    if X.shape[0] < 1 or X.shape[1] < 2 or X.shape[2] < 2:
        raise ValueError(f"X must hold at least one frame of at least 2 x 2 pixels; got shape "
                         f"{X.shape}.")
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
