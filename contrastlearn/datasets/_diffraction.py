"""Synthetic single-particle small-angle X-ray diffraction patterns with multi-label truth."""

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from .._validation import BOOL, NONNEGATIVE, POSITIVE, PROBABILITY, ints
from ..validation import InstanceOf, Interval, check_parameter, validate_params
from ._reports import child_rng, diffraction_reports

__all__ = ["make_diffraction"]

#: Label names, in the column order of ``Y``.
LABEL_NAMES = ["spherical", "oblate", "prolate", "streak", "dimer", "layered", "empty"]
#: The shape labels; every non-empty shot has exactly one of them (equally likely).
SHAPES = LABEL_NAMES[:4]

_OVERSAMPLING = 2  # real-space grid = _OVERSAMPLING * image_size pixels a side
_CHUNK = 256  # patterns rendered per vectorised batch
_RADIUS = (0.04, 0.09)  # volume-equivalent radius, as a fraction of the real-space grid
_ASPECT = {"oblate": (1.3, 2.5), "prolate": (1.3, 2.5), "streak": (4.0, 8.0)}
_STREAK_TILT = np.deg2rad(15.0)  # a streak's axis leaves the detector plane by at most this
_DIMER_SEPARATION = (2.0, 3.5)  # centre distance in mean radii
_DIMER_SIZE_RATIO = (0.7, 1.0)  # second particle's size relative to the first
_CORE_RATIO = (0.4, 0.8)  # core semi-axes relative to the outer ones
_MAX_EXTENT = 0.45  # particles (pairs) reach at most this fraction of the grid from centre
_FLUENCE_SCATTER = 0.3  # standard deviation of the log of the per-shot photon count
_BACKGROUND = 0.005  # expected background photons per shot, as a fraction of the fluence

#: The seeds the simulators take (a numpy Generator too); see :func:`_as_rng`.
RANDOM_STATE_OR_GENERATOR = [
    None,
    ints(0, 2**32 - 1),
    InstanceOf(np.random.RandomState, np.random.Generator, name="a numpy RandomState or Generator"),
]


def _as_rng(random_state):
    """The random generator of a valid ``random_state``: a Generator as is, else a RandomState."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


#: Columns of the ``params`` table, in order.
PARAM_COLUMNS = [
    "shape",
    "radius",
    "aspect_ratio",
    "radius_axial",
    "radius_equatorial",
    "axis_x",
    "axis_y",
    "axis_z",
    "dimer_separation",
    "dimer_angle",
    "dimer_size_ratio",
    "core_ratio",
    "core_density",
    "photons",
    "counts",
]


@validate_params(
    {
        "n_samples": ints(1),
        "image_size": ints(16),
        "fluence": POSITIVE,
        "log_scale": BOOL,
        "empty_fraction": PROBABILITY,
        "dimer_fraction": PROBABILITY,
        "layered_fraction": PROBABILITY,
        "hole_radius": NONNEGATIVE,
        "gap_width": ints(0),
        "saturation": [None, Interval(numbers.Real, 1)],
        "random_state": RANDOM_STATE_OR_GENERATOR,
        "return_params": BOOL,
        "return_reports": BOOL,
    }
)
def make_diffraction(
    n_samples=1000,
    *,
    image_size=64,
    fluence=1e4,
    log_scale=False,
    empty_fraction=0.1,
    dimer_fraction=0.2,
    layered_fraction=0.2,
    hole_radius=3,
    gap_width=2,
    saturation=None,
    random_state=None,
    return_params=False,
    return_reports=False,
):
    """Simulate single-shot small-angle X-ray diffraction patterns of nanoparticles.

    Each shot images one isolated particle (or a pair, or nothing) the way
    single-particle imaging of helium nanodroplets does [1]_ [2]_, and carries
    multi-hot labels in the spirit of [2]_: a shape (``"spherical"``,
    ``"oblate"``, ``"prolate"`` or ``"streak"``), optionally ``"dimer"`` and/or
    ``"layered"``, or ``"empty"`` alone.

    **Particles.** A particle is a uniform spheroid (an ellipsoid
    ``x^T M x <= 1`` with two equal semi-axes) of volume-equivalent radius
    4-9 % of the real-space grid. Spherical: equal semi-axes; oblate: the
    symmetry axis 1.3-2.5 times shorter; prolate: 1.3-2.5 times longer; streak:
    a rod 4-8 times longer, its axis within 15 degrees of the detector plane.
    Oblate and prolate axes point uniformly in 3-D (seen end-on, a prolate
    particle looks round, as in real data). A dimer adds a second particle of
    the same shape and orientation, 0.7-1 times the size, 2-3.5 mean radii
    away in a random direction of the detector plane; a layered particle has a
    concentric core of 0.4-0.8 times its semi-axes and a density of 0-0.5 or
    2-4 times the shell's. Particles (pairs) too big for the grid are shrunk.

    **Projection.** The beam runs along z. The projected electron density on
    a real-space grid of ``2 * image_size`` pixels a side (pixel size 1) is
    the analytic chord length through each ellipsoid,
    ``2 sqrt((1 - r^T A r) / M_zz)`` with ``A`` the Schur complement of
    ``M_zz`` in ``M``, summed over the particles and weighted by density.

    **Scattering.** The far-field (Fraunhofer, small-angle) intensity is
    ``|FFT2(density)|^2``, of which the central ``image_size`` x ``image_size``
    frequencies are kept; detector pixel ``k`` (counted from the centre pixel
    ``image_size // 2``) sees momentum transfer ``q = 2 pi k / (2 image_size)``.
    A sphere of radius ``R`` therefore has dark rings at ``q R`` = 4.493,
    7.725, 10.904, ...

    **Detector.** The intensity is scaled to ``photons`` expected photons in
    the window, ``fluence`` times a log-normal factor (mean 1, log-sd 0.3) for
    the varying overlap of beam and particle. A uniform background of
    0.5 % of ``fluence`` is added (empty shots have nothing else); photon
    counts are Poisson; the central hole (``hole_radius``) and the horizontal
    gap (``gap_width`` rows through the centre) of the pnCCD read zero; counts
    are clipped at ``saturation``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of patterns.
    image_size : int, default=64
        Side of the square detector in pixels, at least 16.
    fluence : float, default=1e4
        Mean expected number of scattered photons per shot in the detector
        window (before the hole and gap remove theirs).
    log_scale : bool, default=False
        Return ``log1p`` of the counts instead of the counts.
    empty_fraction : float, default=0.1
        Probability of an empty shot (no particle in the beam).
    dimer_fraction : float, default=0.2
        Probability of a dimer; at most ``1 - empty_fraction``.
    layered_fraction : float, default=0.2
        Probability of a layered (core-shell) particle; at most
        ``1 - empty_fraction``. Dimer and layered are independent given
        a non-empty shot.
    hole_radius : float, default=3
        Pixels closer than this to the centre pixel read zero (the hole for the
        direct beam). 0 for no hole.
    gap_width : int, default=2
        Number of rows through the centre that read zero (the gap between the
        detector halves). 0 for no gap.
    saturation : float or None, default=None
        Counts are clipped at ``floor(saturation)``; None for no clipping.
    random_state : int, RandomState, Generator or None, default=None
        Seeds everything: particles, photon counts and noise.
    return_params : bool, default=False
        Also return the table of particle parameters.
    return_reports : bool, default=False
        Also return a short free-text report per pattern, for methods that
        contrast images with text (:class:`~contrastlearn.ConVIRT`, ...).
        The reports come from a random stream of their own, drawn from
        ``random_state`` after everything else, so ``X``, ``Y`` and
        ``params`` are the same with or without them.

    Returns
    -------
    X : ndarray of shape (n_samples, image_size, image_size), dtype float32
        Detected photon counts (whole numbers), or ``log1p`` of them.
    Y : ndarray of shape (n_samples, 7), dtype int64
        Multi-hot labels, columns in the order of ``names``.
    names : list of str
        ``["spherical", "oblate", "prolate", "streak", "dimer", "layered",
        "empty"]``.
    params : pandas.DataFrame
        Only with ``return_params=True``; one row per pattern. ``shape`` (a
        shape name or ``"empty"``); ``radius`` (volume-equivalent, in
        real-space pixels); ``aspect_ratio`` (axial / equatorial semi-axis:
        1 spherical, < 1 oblate, > 1 prolate and streak); ``radius_axial`` and
        ``radius_equatorial`` (the semi-axes); ``axis_x``, ``axis_y``,
        ``axis_z`` (unit vector of the symmetry axis, z along the beam, x along
        detector columns, y along rows; NaN for spheres); ``dimer_separation``
        (centre distance in pixels), ``dimer_angle`` (direction of the second
        particle from the first, radians from the x axis) and
        ``dimer_size_ratio``, NaN unless a dimer; ``core_ratio`` and
        ``core_density`` (relative to the shell), NaN unless layered;
        ``photons`` (expected scattered photons, 0 if empty) and ``counts``
        (photons detected, background included). Particle columns are NaN for
        empty shots.
    reports : list of str
        Only with ``return_reports=True`` (always last); one short English
        report per pattern, as a scientist might log it, e.g. ``"Hit: a
        flattened droplet. Strongly flattened (aspect ratio 2.1). Core-shell,
        dense core."`` or ``"no hit; 412 counts"``. Wording, clause order and
        punctuation vary. An empty shot's report always says so ("no hit",
        "empty frame", "nothing on the detector", ...); any other names the
        shape with a synonym ("round" / "spherical" / "sphere-like",
        "flattened" / "oblate" / "disc-like", "elongated" / "prolate" /
        "cigar-shaped", "streak" / "rod-like" / "needle-like", ...). Most
        reports of a dimer say so ("dimer", "two particles", "a pair", ...)
        and most of a layered particle ("core-shell", "has a core", ...): each
        is left out with probability 0.1. Secondary facts are each left out
        with probability about 0.35: the size (small / medium / large by
        tercile of the radius range, sometimes with the radius in pixels or in
        nm at a nominal 500 nm grid), the aspect ratio, the orientation of the
        axis (horizontal, vertical, diagonal, end-on), the dimer's spacing and
        the core's density, and (left out more often, 0.55) the brightness
        relative to ``fluence``.

    References
    ----------
    .. [1] CXIDB entry 94, single-shot diffraction of helium nanodroplets,
       https://www.cxidb.org/id-94.html
    .. [2] J. Zimmermann, B. Langbehn, R. Cucini, M. Di Fraia, P. Finetti et al.,
       "Deep neural networks for classifying complex features in diffraction
       images", Phys. Rev. E 99, 063309 (2019),
       https://doi.org/10.1103/PhysRevE.99.063309

    Examples
    --------
    >>> from contrastlearn.datasets import make_diffraction
    >>> X, Y, names = make_diffraction(8, random_state=0)
    >>> X.shape, Y.shape
    ((8, 64, 64), (8, 7))
    >>> names
    ['spherical', 'oblate', 'prolate', 'streak', 'dimer', 'layered', 'empty']
    >>> bool((Y[:, :4].sum(axis=1) + Y[:, 6] == 1).all())  # one shape, or empty
    True
    >>> *_, reports = make_diffraction(8, random_state=0, return_reports=True)
    >>> len(reports), type(reports[0]).__name__
    (8, 'str')
    """
    n_samples, image_size, fluence = int(n_samples), int(image_size), float(fluence)
    fractions = {
        "empty_fraction": float(empty_fraction),
        "dimer_fraction": float(dimer_fraction),
        "layered_fraction": float(layered_fraction),
    }
    # Empty shots hold no particle: a dimer or layered fraction leaves room for them.
    room = Interval(numbers.Real, 0, 1 - fractions["empty_fraction"] + 1e-12, closed="both")
    for name in ("dimer_fraction", "layered_fraction"):
        check_parameter("make_diffraction", name, fractions[name], room)
    hole_radius = float(
        check_parameter(
            "make_diffraction",
            "hole_radius",
            hole_radius,
            Interval(numbers.Real, 0, image_size / 2, closed="both"),
        )
    )
    gap_width = int(
        check_parameter(
            "make_diffraction", "gap_width", gap_width, Interval(numbers.Integral, 0, image_size)
        )
    )
    if saturation is not None:
        saturation = float(saturation)
    rng = _as_rng(random_state)

    params = _sample_params(n_samples, image_size, fluence, rng, **fractions)
    mask = _detector_mask(image_size, hole_radius, gap_width)
    background = _BACKGROUND * fluence / image_size**2
    photons = params["photons"].to_numpy()
    X = np.empty((n_samples, image_size, image_size), dtype=np.float32)
    for start in range(0, n_samples, _CHUNK):
        stop = min(start + _CHUNK, n_samples)
        rate = _render(params.iloc[start:stop], image_size)
        rate *= photons[start:stop, None, None]
        rate += background
        rate[:, mask] = 0.0
        X[start:stop] = rng.poisson(rate)
    if saturation is not None:
        np.minimum(X, np.floor(saturation), out=X)
    params["counts"] = X.sum(axis=(1, 2), dtype=np.float64)
    if log_scale:
        np.log1p(X, out=X)

    shape = params["shape"].to_numpy()
    Y = np.zeros((n_samples, len(LABEL_NAMES)), dtype=np.int64)
    for j, name in enumerate(SHAPES):
        Y[:, j] = shape == name
    Y[:, 4] = params["dimer_separation"].notna().to_numpy()
    Y[:, 5] = params["core_ratio"].notna().to_numpy()
    Y[:, 6] = shape == "empty"
    names = list(LABEL_NAMES)
    out = (X, Y, names) + ((params,) if return_params else ())
    if return_reports:  # last draw from rng: nothing above depends on it
        grid = _OVERSAMPLING * image_size
        reports = diffraction_reports(
            params,
            child_rng(rng),
            image_size=image_size,
            fluence=fluence,
            radius_range=(_RADIUS[0] * grid, _RADIUS[1] * grid),
        )
        out += (reports,)
    return out


def _detector_mask(image_size, hole_radius, gap_width):
    """Boolean (image_size, image_size) mask of the pixels that read zero (hole and gap)."""
    c = image_size // 2
    k = np.arange(image_size) - c
    mask = k[:, None] ** 2 + k[None, :] ** 2 < hole_radius**2
    top = c - gap_width // 2
    mask[top : top + gap_width] = True
    return mask


def _sample_params(
    n, image_size, fluence, rng, *, empty_fraction, dimer_fraction, layered_fraction
):
    """Draw the particle table (every parameter for every row, then masked, so the
    random stream does not depend on which rows are empty)."""
    grid = _OVERSAMPLING * image_size
    empty = rng.uniform(size=n) < empty_fraction
    occupied = 1.0 - empty_fraction
    p_dimer = dimer_fraction / occupied if occupied > 0 else 0.0
    p_layered = layered_fraction / occupied if occupied > 0 else 0.0
    dimer = ~empty & (rng.uniform(size=n) < p_dimer)
    layered = ~empty & (rng.uniform(size=n) < p_layered)
    shape_index = rng.choice(len(SHAPES), size=n)
    shape = np.array(SHAPES, dtype=object)[shape_index]

    radius = rng.uniform(*_RADIUS, size=n) * grid
    elongation = {name: rng.uniform(*bounds, size=n) for name, bounds in _ASPECT.items()}
    aspect = np.ones(n)
    aspect = np.where(shape == "oblate", 1.0 / elongation["oblate"], aspect)
    aspect = np.where(shape == "prolate", elongation["prolate"], aspect)
    aspect = np.where(shape == "streak", elongation["streak"], aspect)

    # Symmetry axis: uniform on the sphere, except streaks lie close to the detector plane.
    azimuth = rng.uniform(0.0, 2 * np.pi, size=n)
    cos_polar = rng.uniform(-1.0, 1.0, size=n)
    tilt = rng.uniform(-_STREAK_TILT, _STREAK_TILT, size=n)
    axis_z = np.where(shape == "streak", np.sin(tilt), cos_polar)
    in_plane = np.sqrt(1.0 - axis_z**2)
    axis = np.stack([in_plane * np.cos(azimuth), in_plane * np.sin(azimuth), axis_z], axis=1)
    axis[shape == "spherical"] = np.nan

    size_ratio = rng.uniform(*_DIMER_SIZE_RATIO, size=n)
    separation = rng.uniform(*_DIMER_SEPARATION, size=n) * radius * (1.0 + size_ratio) / 2
    angle = rng.uniform(0.0, 2 * np.pi, size=n)
    core_ratio = rng.uniform(*_CORE_RATIO, size=n)
    core_density = np.where(
        rng.uniform(size=n) < 0.5, rng.uniform(0.0, 0.5, size=n), rng.uniform(2.0, 4.0, size=n)
    )
    photons = fluence * np.exp(
        _FLUENCE_SCATTER * rng.standard_normal(size=n) - _FLUENCE_SCATTER**2 / 2
    )

    # Shrink particles (and pairs) that would not fit in the real-space grid.
    radius_axial = radius * aspect ** (2 / 3)
    radius_equatorial = radius * aspect ** (-1 / 3)
    extent = np.maximum(radius_axial, radius_equatorial) + np.where(dimer, separation / 2, 0.0)
    shrink = np.minimum(1.0, _MAX_EXTENT * grid / extent)
    radius, radius_axial, radius_equatorial, separation = (
        v * shrink for v in (radius, radius_axial, radius_equatorial, separation)
    )

    nan = np.nan
    table = pd.DataFrame(
        {
            "shape": np.where(empty, "empty", shape).astype(object),
            "radius": np.where(empty, nan, radius),
            "aspect_ratio": np.where(empty, nan, aspect),
            "radius_axial": np.where(empty, nan, radius_axial),
            "radius_equatorial": np.where(empty, nan, radius_equatorial),
            "axis_x": np.where(empty, nan, axis[:, 0]),
            "axis_y": np.where(empty, nan, axis[:, 1]),
            "axis_z": np.where(empty, nan, axis[:, 2]),
            "dimer_separation": np.where(dimer, separation, nan),
            "dimer_angle": np.where(dimer, angle, nan),
            "dimer_size_ratio": np.where(dimer, size_ratio, nan),
            "core_ratio": np.where(layered, core_ratio, nan),
            "core_density": np.where(layered, core_density, nan),
            "photons": np.where(empty, 0.0, photons),
            "counts": np.zeros(n),
        }
    )
    return table[PARAM_COLUMNS]


def _render(params, image_size):
    """Noise-free far-field intensity of the particles described by ``params``.

    ``params`` is a table like :func:`make_diffraction`'s ``params``; only
    ``shape``, the semi-axes, the axis and the dimer and core columns are used. Returns float64
    ``(len(params), image_size, image_size)`` intensities, each summing to 1
    over the window (all zero for empty shots), with zero frequency at pixel
    ``(image_size // 2, image_size // 2)``. Vectorised over the rows; callers
    batch them.
    """
    grid = _OVERSAMPLING * image_size
    n = len(params)
    empty = (params["shape"] == "empty").to_numpy()
    col = {
        name: params[name].to_numpy(dtype=np.float64)
        for name in (
            "radius_axial",
            "radius_equatorial",
            "axis_x",
            "axis_y",
            "axis_z",
            "dimer_separation",
            "dimer_angle",
            "dimer_size_ratio",
            "core_ratio",
            "core_density",
        )
    }
    axis = np.stack([col["axis_x"], col["axis_y"], col["axis_z"]], axis=1)
    axis[np.isnan(axis).any(axis=1)] = (0.0, 0.0, 1.0)  # spheres: any axis will do
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    a = np.where(empty, 1.0, col["radius_axial"])
    b = np.where(empty, 1.0, col["radius_equatorial"])
    # Spheroid: M = I / b^2 + (1 / a^2 - 1 / b^2) n n^T; project along z.
    d = 1.0 / a**2 - 1.0 / b**2
    m = d[:, None, None] * axis[:, :, None] * axis[:, None, :]
    m[:, [0, 1, 2], [0, 1, 2]] += (1.0 / b**2)[:, None]
    mzz = m[:, 2, 2]
    a_xx = m[:, 0, 0] - m[:, 0, 2] ** 2 / mzz
    a_xy = m[:, 0, 1] - m[:, 0, 2] * m[:, 1, 2] / mzz
    a_yy = m[:, 1, 1] - m[:, 1, 2] ** 2 / mzz

    dimer = ~empty & ~np.isnan(col["dimer_separation"])
    layered = ~empty & ~np.isnan(col["core_ratio"])
    half = np.where(dimer, col["dimer_separation"] / 2, 0.0)
    angle = np.where(dimer, col["dimer_angle"], 0.0)
    offset = half[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    ratio = np.where(dimer, col["dimer_size_ratio"], 1.0)
    core = np.where(layered, col["core_ratio"], 1.0)
    contrast = np.where(layered, col["core_density"] - 1.0, 0.0)
    components = [  # (which rows, centre, scale of the semi-axes, density)
        (~empty, -offset, np.ones(n), np.ones(n)),
        (layered, -offset, core, contrast),
        (dimer, offset, ratio, np.ones(n)),
        (dimer & layered, offset, ratio * core, contrast),
    ]
    coords = np.arange(grid, dtype=np.float64) - grid // 2
    density = np.zeros((n, grid, grid), dtype=np.float32)
    for rows, centre, scale, weight in components:
        rows = np.flatnonzero(rows)
        if rows.size == 0:
            continue
        s2 = scale[rows] ** 2
        dx = coords[None, :] - centre[rows, :1]  # (r, grid), along columns
        dy = coords[None, :] - centre[rows, 1:]  # (r, grid), along rows
        # quadratic form r^T A r / s^2, built from outer sums of 1-D pieces
        qx = (a_xx[rows, None] * dx**2 / s2[:, None]).astype(np.float32)
        qy = (a_yy[rows, None] * dy**2 / s2[:, None]).astype(np.float32)
        cx = (2 * a_xy[rows, None] * dx / s2[:, None]).astype(np.float32)
        form = cx[:, None, :] * dy.astype(np.float32)[:, :, None]
        form += qx[:, None, :]
        form += qy[:, :, None]
        np.subtract(1.0, form, out=form)
        np.maximum(form, 0.0, out=form)
        np.sqrt(form, out=form)
        chord = 2.0 * weight[rows] * scale[rows] / np.sqrt(mzz[rows])  # density x max chord
        form *= chord.astype(np.float32)[:, None, None]
        density[rows] += form

    intensity = _central_power_spectrum(density, image_size)
    total = intensity.sum(axis=(1, 2), keepdims=True)
    np.divide(intensity, total, out=intensity, where=total > 0)
    return intensity


def _central_power_spectrum(density, image_size):
    """``|FFT2(density)|^2``, fftshifted, central ``image_size`` x ``image_size`` frequencies.

    The density is real, so ``I(-k) = I(k)`` (Friedel): only the frequencies
    ``kx >= 0`` of the central window are transformed (a real FFT along x, then
    a complex FFT along y of just those columns) and the rest is mirrored,
    about 2.5 times less work than the full 2-D FFT.
    """
    grid = density.shape[-1]
    lo = image_size // 2  # the window spans k = -lo .. image_size - lo - 1
    spectrum = np.fft.rfft(density, axis=-1)[..., : lo + 1]
    spectrum = np.fft.fft(spectrum, axis=-2)[..., np.arange(-lo, lo + 1) % grid, :]
    half = spectrum.real.astype(np.float64) ** 2 + spectrum.imag.astype(np.float64) ** 2
    k = np.arange(image_size) - lo
    mirror = np.where(k[None, :] >= 0, 1, -1)  # I(ky, kx) = I(-ky, -kx) for kx < 0
    return half[:, mirror * k[:, None] + lo, mirror * k[None, :]]
