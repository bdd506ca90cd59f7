"""Synthetic cryo-electron tomograms: particles of five classes, a missing wedge, noise."""

import numbers

import numpy as np
import pandas as pd

from .._validation import ints
from ..validation import Interval, Options, Pair, Predicate, validate_params
from ._diffraction import RANDOM_STATE_OR_GENERATOR, _as_rng

__all__ = ["make_tomogram"]

#: The particle classes :func:`make_tomogram` can draw.
PARTICLE_CLASSES = ("sphere", "ellipsoid", "rod", "shell", "assembly")
#: Columns of the ``particles`` table, in order.
PARTICLE_COLUMNS = [
    "z",
    "y",
    "x",
    "class",
    "radius",
    "phi",
    "theta",
    "psi",
    "a",
    "b",
    "c",
    "subunits",
]

_MIN_RADIUS = 2.0  # smallest bounding radius (voxels) a particle may have
_GAP = 1.0  # bounding spheres are at least this many voxels apart
_MARGIN = 1  # and at least this many voxels from the faces of the volume
_SMOOTHING = 0.5  # standard deviation (voxels) of the Gaussian blur of the density
_PACKING = 0.6  # requests whose bounding balls fill more than this fraction fail fast
_BATCH = 256  # candidate positions tried at once per particle
_MAX_BATCHES = 40  # ... at most this many batches before giving up
_ELLIPSOID_B = (0.5, 0.8)  # middle semi-axis / longest
_ELLIPSOID_C = (0.3, 0.5)  # shortest semi-axis / longest
_ROD_RADIUS = (0.25, 0.4)  # capsule radius / half-length
_SHELL_THICKNESS = (0.2, 0.35)  # wall thickness / outer radius
_MIN_FEATURE = 1.0  # rod radius and shell wall are at least this many voxels
# Directions of the satellites of an assembly, in the body frame, by number of satellites.
_SATELLITES = {
    2: np.array([[1.0, 0.0, 0.0], [-0.5, np.sqrt(3) / 2, 0.0]]),
    3: np.array([[1.0, 0.0, 0.0], [-0.5, np.sqrt(3) / 2, 0.0], [-0.5, -np.sqrt(3) / 2, 0.0]]),
    4: np.array([[1.0, 1.0, 1.0], [1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [-1.0, -1.0, 1.0]])
    / np.sqrt(3),
}


def _is_volume_shape(shape):
    return (
        isinstance(shape, (tuple, list))
        and len(shape) == 3
        and all(ints(8).is_satisfied_by(n) for n in shape)
    )


def _is_class_sequence(classes):
    return (
        isinstance(classes, (tuple, list))
        and len(classes) > 0
        and all(isinstance(c, str) and c in PARTICLE_CLASSES for c in classes)
    )


def _is_snr(snr):
    """A real number > 0, infinity (no noise) included."""
    return isinstance(snr, numbers.Real) and not isinstance(snr, (bool, np.bool_)) and snr > 0


@validate_params(
    {
        "shape": Predicate(_is_volume_shape, "a tuple (D, H, W) of 3 ints >= 8"),
        "n_particles": ints(0),
        "particle_classes": [
            Options(PARTICLE_CLASSES),
            Predicate(_is_class_sequence, "a non-empty sequence of them"),
        ],
        # Bounding radii of at least _MIN_RADIUS voxels.
        "radius_range": Pair(low=_MIN_RADIUS),
        "snr": Predicate(_is_snr, "a float > 0 or np.inf (no noise)"),
        "snr_region": Options(["volume", "particles"]),
        "tilt_range": Interval(numbers.Real, 0, 90, closed="both"),
        "random_state": RANDOM_STATE_OR_GENERATOR,
    }
)
def make_tomogram(
    shape=(64, 128, 128),
    n_particles=40,
    *,
    particle_classes=PARTICLE_CLASSES,
    radius_range=(3, 8),
    snr=0.1,
    snr_region="volume",
    tilt_range=60,
    random_state=None,
):
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
    shape = tuple(int(n) for n in shape)
    n_particles = int(n_particles)
    classes = (particle_classes,) if isinstance(particle_classes, str) else tuple(particle_classes)
    radius_range = (float(radius_range[0]), float(radius_range[1]))
    snr, tilt_range = float(snr), float(tilt_range)
    rng = _as_rng(random_state)

    particles = _sample_particles(n_particles, shape, classes, radius_range, rng)
    _, density = _render_particles(particles, shape)
    volume = _image(density, tilt_range, snr, rng, snr_region)
    return volume, particles


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
    subunits = (
        rng.integers(3, 6, size=n)
        if isinstance(rng, np.random.Generator)
        else rng.randint(3, 6, size=n)
    )

    a = radius.copy()
    b = np.select(
        [cls == "ellipsoid", cls == "rod", cls == "shell", cls == "assembly"],
        [ell_b, rod, radius - wall, radius / 3],
        radius,
    )
    c = np.select(
        [cls == "ellipsoid", cls == "rod", cls == "shell", cls == "assembly"],
        [np.maximum(1.0, np.minimum(ell_c, ell_b)), rod, radius - wall, radius / 3],
        radius,
    )
    b = np.where(cls == "ellipsoid", np.maximum(b, c), b)
    subunits = np.where(cls == "assembly", subunits, 0)
    centres = _place(radius, shape, rng)
    table = pd.DataFrame(
        {
            "z": centres[:, 0],
            "y": centres[:, 1],
            "x": centres[:, 2],
            "class": cls.astype(object),
            "radius": radius,
            "phi": phi,
            "theta": theta,
            "psi": psi,
            "a": a,
            "b": b,
            "c": c,
            "subunits": subunits.astype(np.int64),
        }
    )
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
    hint = "lower n_particles or radius_range, or enlarge shape"
    if need > _PACKING * room:
        raise ValueError(
            f"cannot fit {n} particles with radius_range up to {radius.max():.3g} voxels into "
            f"shape={tuple(shape)}: their bounding balls alone fill "
            f"{need / room:.0%} of the volume; {hint}."
        )
    low = np.ceil(radius).astype(np.int64) + _MARGIN
    high = dims[None, :] - 1 - _MARGIN - np.ceil(radius).astype(np.int64)[:, None]
    if (high < low[:, None]).any():
        raise ValueError(
            f"cannot fit a particle of radius {radius.max():.3g} voxels inside "
            f"shape={tuple(shape)} (it needs {2 * int(np.ceil(radius.max())) + 3} "
            f"voxels along each axis); {hint}."
        )
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
                f"before running out of room); {hint}."
            )
        centres[k] = cand[choice]
        placed.append(k)
    return centres


def _rotation(phi, theta, psi):
    """``(n, 3, 3)`` rotation matrices ``Rz(phi) Ry(theta) Rz(psi)`` (degrees) on (x, y, z)."""

    def rz(t):
        c, s = np.cos(t), np.sin(t)
        o, z = np.ones_like(t), np.zeros_like(t)
        return np.stack(
            [np.stack([c, -s, z], -1), np.stack([s, c, z], -1), np.stack([z, z, o], -1)], -2
        )

    def ry(t):
        c, s = np.cos(t), np.sin(t)
        o, z = np.ones_like(t), np.zeros_like(t)
        return np.stack(
            [np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2
        )

    phi, theta, psi = (np.radians(np.asarray(v, dtype=np.float64)) for v in (phi, theta, psi))
    return rz(phi) @ ry(theta) @ rz(psi)


def _particle_voxels(particles, shape):
    """Voxels of each particle: a list of ``(z, y, x)`` index-array triples, one per row.

    This is the ground truth of :func:`make_tomogram` and of the labels of
    :func:`extract_crops`: a voxel belongs to a particle when its centre,
    taken to the particle's body frame, satisfies the class's inside test.
    Voxels outside ``shape`` are dropped.
    """
    rot = _rotation(
        particles["phi"].to_numpy(), particles["theta"].to_numpy(), particles["psi"].to_numpy()
    )
    out = []
    for k, row in enumerate(particles.itertuples(index=False)):
        r = int(np.ceil(row.radius))
        centre = np.array([row.z, row.y, row.x], dtype=np.int64)
        lo = np.maximum(centre - r, 0)
        hi = np.minimum(centre + r, np.array(shape) - 1)
        if (hi < lo).any():
            out.append((np.empty(0, np.int64),) * 3)
            continue
        zz, yy, xx = np.meshgrid(*(np.arange(lo[i], hi[i] + 1) for i in range(3)), indexing="ij")
        offset = np.stack([xx - row.x, yy - row.y, zz - row.z], -1).astype(np.float64)
        u = offset @ rot[k]  # body coordinates: R^T d for each voxel
        inside = _inside(row, u)
        out.append((zz[inside], yy[inside], xx[inside]))
    return out


def _inside(row, u):
    """Boolean inside test of one particle (a table row) at body coordinates ``u (..., 3)``."""
    cls, a, b, c = row[3], row.a, row.b, row.c  # row[3] is "class", a keyword
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
    k2 = (
        np.fft.fftfreq(shape[0])[:, None, None] ** 2
        + np.fft.fftfreq(shape[1])[None, :, None] ** 2
        + np.fft.rfftfreq(shape[2])[None, None, :] ** 2
    )
    transfer = np.exp(-2 * np.pi**2 * _SMOOTHING**2 * k2) * wedge
    signal = np.fft.irfftn(np.fft.rfftn(density) * transfer, s=shape, axes=(0, 1, 2))
    if np.isfinite(snr):
        noise = np.fft.irfftn(
            np.fft.rfftn(rng.standard_normal(shape)) * wedge, s=shape, axes=(0, 1, 2)
        )
        power = _signal_power(signal, density, snr_region)
        scale = np.sqrt(power / snr / max(noise.var(), np.finfo(float).tiny))
        signal += scale * noise
    return signal.astype(np.float32)


# Pickles written before the filter moved to contrastlearn.detection name it here.
from ..detection._frames import EdgeFrameFilter  # noqa: E402, F401
