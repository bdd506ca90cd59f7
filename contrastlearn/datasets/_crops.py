"""2-D crops of tomograms with the particle each one shows, and a simulated crop set."""

import numbers

import numpy as np
import pandas as pd

from .._validation import ints
from ..validation import ArrayLike, InstanceOf, Interval, check_parameter, validate_params
from ._tomogram import PARTICLE_COLUMNS, _particle_voxels, make_tomogram

__all__ = ["extract_crops", "make_particle_crops"]


@validate_params(
    {
        "volume": ArrayLike(),
        "particles": InstanceOf(pd.DataFrame, name="a pandas DataFrame (make_tomogram's table)"),
        "crop_size": ints(2),
        "stride": ints(1),
        "axis": ints(0, 2),
        "min_overlap": Interval(numbers.Real, 0, 1, closed="right"),
    }
)
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
    axis, stride, min_overlap = int(axis), int(stride), float(min_overlap)
    # The crops must fit in the slices.
    plane = tuple(n for i, n in enumerate(volume.shape) if i != axis)
    crop_size = int(
        check_parameter(
            "extract_crops",
            "crop_size",
            crop_size,
            Interval(numbers.Integral, 2, min(plane), closed="both"),
        )
    )

    slices = np.moveaxis(volume, axis, 0)
    n_slices = slices.shape[0]
    windows = np.lib.stride_tricks.sliding_window_view(slices, (crop_size, crop_size), axis=(1, 2))[
        :, ::stride, ::stride
    ]
    n_rows, n_cols = windows.shape[1:3]
    crops = windows.reshape(-1, crop_size, crop_size).astype(np.float32)  # a copy
    s, i, j = np.meshgrid(np.arange(n_slices), np.arange(n_rows), np.arange(n_cols), indexing="ij")
    overlap, owner = _crop_overlap(
        particles, volume.shape, axis, crop_size, stride, (n_slices, n_rows, n_cols)
    )
    labels = (overlap >= min_overlap).astype(np.int64)
    positions = pd.DataFrame(
        {
            "slice": s.ravel(),
            "row": i.ravel() * stride,
            "col": j.ravel() * stride,
            "particle": np.where(labels == 1, owner, -1),
            "overlap": overlap,
        }
    )
    return crops, labels, positions


@validate_params(
    {
        "n_particles": make_tomogram._parameter_constraints["n_particles"],
        "shape": make_tomogram._parameter_constraints["shape"],
        "crop_size": extract_crops._parameter_constraints["crop_size"],
        "stride": extract_crops._parameter_constraints["stride"],
        "axis": extract_crops._parameter_constraints["axis"],
        "min_overlap": extract_crops._parameter_constraints["min_overlap"],
        "random_state": make_tomogram._parameter_constraints["random_state"],
    }
)
def make_particle_crops(
    n_particles=40,
    *,
    shape=(64, 128, 128),
    crop_size=16,
    stride=8,
    axis=0,
    min_overlap=0.5,
    random_state=None,
    **tomogram_kwargs,
):
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
    unknown = set(tomogram_kwargs) - {
        "particle_classes",
        "radius_range",
        "snr",
        "snr_region",
        "tilt_range",
    }
    if unknown:
        raise TypeError(
            f"make_particle_crops got unexpected keyword arguments {sorted(unknown)}; "
            "make_tomogram takes particle_classes, radius_range, snr, snr_region, "
            "tilt_range."
        )
    volume, particles = make_tomogram(
        shape, n_particles, random_state=random_state, **tomogram_kwargs
    )
    return extract_crops(volume, particles, crop_size, stride, axis=axis, min_overlap=min_overlap)


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
    order = np.lexsort((part, -frac, crop))  # best fraction first, ties: lower row
    crop, part, frac = crop[order], part[order], frac[order]
    best = np.unique(crop, return_index=True)[1]
    overlap[crop[best]] = frac[best]
    owner[crop[best]] = part[best]
    return overlap, owner


# --- validation -------------------------------------------------------------------------------


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
    missing = [c for c in PARTICLE_COLUMNS if c not in particles.columns]
    if missing:
        raise ValueError(
            f"particles is missing the columns {missing}; it must be the table "
            f"returned by make_tomogram."
        )
    return particles[PARTICLE_COLUMNS].reset_index(drop=True)
