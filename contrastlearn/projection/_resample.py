"""The resampling functions: polar <-> cartesian with grid_sample, and the central mask."""

import math
import numbers

import numpy as np
import torch
import torch.nn.functional as F

from .._validation import BOOL, NONNEGATIVE, POSITIVE, ints
from ..validation import ArrayLike, Interval, Options, Predicate, check_parameter, validate_params

_INTERPOLATIONS = ("bilinear", "nearest")


def _as_batch(images, name):
    """Return ``(tensor (B, C, H, W), restore)`` for numpy or torch input."""
    is_numpy = not isinstance(images, torch.Tensor)
    if is_numpy:
        array = np.asarray(images)
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise TypeError(f"{name} must be real numbers; got dtype {array.dtype}.")
        tensor = torch.from_numpy(
            np.array(array, dtype=np.float64 if array.dtype == np.float64 else np.float32)
        )
    else:
        tensor = images if images.is_floating_point() else images.float()
    if tensor.ndim not in (2, 3, 4):
        raise ValueError(
            f"{name} must have shape (H, W), (n, H, W) or (n, C, H, W); got {tuple(tensor.shape)}."
        )
    leading = tensor.shape[:-2]
    batch = {2: lambda t: t[None, None], 3: lambda t: t[:, None], 4: lambda t: t}[tensor.ndim](
        tensor
    )

    def restore(out):
        out = out.reshape(*leading, *out.shape[-2:])
        return out.numpy() if is_numpy else out

    return batch, restore


def _is_finite_real(value):
    return (
        isinstance(value, numbers.Real)
        and not isinstance(value, (bool, np.bool_))
        and math.isfinite(value)
    )


def _is_angle_range(value):
    return (
        isinstance(value, (tuple, list, np.ndarray))
        and len(value) == 2
        and all(_is_finite_real(v) for v in value)
        and 0 < abs(value[1] - value[0]) <= 2 * math.pi + 1e-9
    )


def _is_shape(value):
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(ints(1).is_satisfied_by(size) for size in value)
    )


# The rules the resampling functions (and PolarProjection) share.
_INTERPOLATION = Options(_INTERPOLATIONS)
_ANGLE_RANGE = [
    None,
    Predicate(_is_angle_range, "a pair (start, stop) of radians with 0 < |stop - start| <= 2 pi"),
]
_SHAPE = Predicate(_is_shape, "a tuple (H, W) of ints >= 1")
_CENTER = [None, ArrayLike()]


def _radial_range(owner, min_radius, max_radius, log_radial, height, width):
    """Resolve ``(min_radius, max_radius)`` in pixels; ``min_radius`` must lie below the maximum."""
    max_radius = min(height, width) / 2 if max_radius is None else float(max_radius)
    if min_radius is None:
        min_radius = 1.0 if log_radial else 0.0
    # 0 < min_radius < max_radius for log radii, else 0 <= min_radius < max_radius.
    closed = "neither" if log_radial else "left"
    check_parameter(
        owner, "min_radius", min_radius, Interval(numbers.Real, 0, max_radius, closed=closed)
    )
    return float(min_radius), max_radius


def _centres(center, height, width, like, n=None):
    """Centres (row, col) in pixels, shape ``(1, 2)`` (shared) or ``(n, 2)`` (one per image).

    ``n=None`` accepts any number of per-image centres.
    """
    if center is None:
        return torch.tensor(
            [[(height - 1) / 2, (width - 1) / 2]], dtype=like.dtype, device=like.device
        )
    center = torch.as_tensor(center, dtype=like.dtype, device=like.device)
    if center.shape == (2,):
        return center[None]
    if center.ndim == 2 and center.shape[1] == 2 and (n is None or len(center) == n):
        return center
    expected = "(n, 2)" if n is None else f"({n}, 2)"
    raise ValueError(
        f"center must be (row, col) or one (row, col) per image, shape "
        f"{expected}; got shape {tuple(center.shape)}."
    )


def _gaussian_blur(images, sigma):
    """``scipy.ndimage.gaussian_filter`` over the last two axes (mode "reflect", truncate 4)."""
    if sigma <= 1e-15:  # scipy skips such axes too
        return images
    radius = int(4.0 * sigma + 0.5)
    taps = np.exp(-0.5 / sigma**2 * np.arange(-radius, radius + 1) ** 2)
    taps = (taps / taps.sum()).tolist()
    for axis in (-2, -1):
        size = images.shape[axis]
        # "reflect" repeats the edge pixel: ... b a | a b c | c b ..., period 2 * size.
        index = torch.arange(-radius, size + radius, device=images.device) % (2 * size)
        padded = images.index_select(axis, torch.where(index < size, index, 2 * size - 1 - index))
        images = sum(w * padded.narrow(axis, k, size) for k, w in enumerate(taps))
    return images


def _masks(centres, height, width, radius, sigma):
    """Blurred holes ``(len(centres), H, W)``: 0 within ``radius`` of each centre, 1 outside."""
    rows = torch.arange(height, dtype=centres.dtype, device=centres.device)[None, :, None]
    cols = torch.arange(width, dtype=centres.dtype, device=centres.device)[None, None, :]
    distance2 = (rows - centres[:, 0, None, None]) ** 2 + (cols - centres[:, 1, None, None]) ** 2
    return _gaussian_blur((distance2 > radius * radius).to(centres.dtype), sigma)


@validate_params({"shape": _SHAPE, "radius": NONNEGATIVE, "sigma": NONNEGATIVE, "center": _CENTER})
def central_mask(shape, radius, *, sigma=1.5, center=None):
    """A blurred central hole: 0 inside a disk around the centre, 1 outside.

    The disk holds the pixels whose centre is at most ``radius`` from the
    centre (``distance <= radius``; for integer centres and radii exactly the
    filled ``cv2.circle`` of the reference study). It is then blurred exactly
    like ``scipy.ndimage.gaussian_filter(disk, sigma)`` (mode "reflect",
    truncate 4.0). Multiply it into images to blank a beam stop or the direct
    beam with a soft edge.

    Parameters
    ----------
    shape : tuple of int (H, W)
        Image size.
    radius : float
        Disk radius in pixels (>= 0).
    sigma : float, default=1.5
        Standard deviation of the Gaussian blur in pixels (>= 0; 0 = sharp).
    center : array-like or torch.Tensor of shape (2,) or (n, 2), default=None
        Centre (row, col) in pixels, or one per mask. None means
        ``((H - 1) / 2, (W - 1) / 2)``. A torch tensor gives a torch mask on
        its device (and dtype, if floating point).

    Returns
    -------
    ndarray of float32 or torch.Tensor, shape (H, W) or (n, H, W)

    See Also
    --------
    to_polar : Applies the mask before resampling with ``mask_radius``.

    Examples
    --------
    >>> from contrastlearn.projection import central_mask
    >>> mask = central_mask((9, 9), 2, sigma=0)
    >>> mask[4].tolist()
    [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0]
    >>> blurred = central_mask((64, 64), 10)
    >>> float(blurred[32, 32]) < 1e-6, 0 < float(blurred[32, 42]) < 1
    (True, True)
    """
    height, width = (int(size) for size in shape)
    radius, sigma = float(radius), float(sigma)
    as_torch = isinstance(center, torch.Tensor)
    like = (
        center
        if as_torch and center.is_floating_point()
        else torch.zeros(
            (),
            dtype=torch.float32 if as_torch else torch.float64,
            device=center.device if as_torch else "cpu",
        )
    )
    masks = _masks(_centres(center, height, width, like), height, width, radius, sigma)
    masks = masks if np.ndim(center) == 2 else masks[0]
    return masks if as_torch else masks.numpy().astype(np.float32)


def _radii(n_radii, min_radius, max_radius, log_radial, like):
    steps = torch.linspace(0, 1, n_radii, dtype=like.dtype, device=like.device)
    if log_radial:
        return min_radius * (max_radius / min_radius) ** steps
    return min_radius + (max_radius - min_radius) * steps


def _angles(n_angles, angle_range, like):
    if angle_range is None:
        steps = torch.arange(n_angles, dtype=like.dtype, device=like.device)
        return steps * (2 * math.pi / n_angles)
    return torch.linspace(*angle_range, n_angles, dtype=like.dtype, device=like.device)


@validate_params(
    {
        "images": ArrayLike(),
        "center": _CENTER,
        "n_radii": [None, ints(2)],
        "n_angles": [None, ints(1)],
        "max_radius": [None, POSITIVE],
        "min_radius": [None, NONNEGATIVE],
        "angle_range": _ANGLE_RANGE,
        "log_radial": BOOL,
        "interpolation": _INTERPOLATION,
        "mask_radius": [None, NONNEGATIVE],
        "mask_sigma": NONNEGATIVE,
    }
)
def to_polar(
    images,
    center=None,
    n_radii=None,
    n_angles=None,
    *,
    max_radius=None,
    min_radius=None,
    angle_range=None,
    log_radial=False,
    interpolation="bilinear",
    mask_radius=None,
    mask_sigma=1.5,
):
    """Resample images onto a polar (radius x angle) grid around a centre.

    Parameters
    ----------
    images : ndarray or torch.Tensor of shape (H, W), (n, H, W) or (n, C, H, W)
        Numpy in gives numpy out, torch in gives torch out on the same device
        (float tensors keep their dtype); gradients flow through.
    center : array-like of shape (2,) or (n, 2), default=None
        Centre (row, col) in pixels, one for all images or one per image.
        None means the image centre ``((H - 1) / 2, (W - 1) / 2)``.
    n_radii : int, default=None
        Rows of the output (radii from the centre outwards); None means ``H``.
    n_angles : int, default=None
        Columns of the output (angles); None means ``W``.
    max_radius : float, default=None
        Radius of the last row in pixels; None means ``min(H, W) / 2``, the
        largest circle inside the image. Samples outside the image are 0.
    min_radius : float, default=None
        Radius of the first row in pixels. None means 0 (linear radii) or
        1.0 (``log_radial=True``). Rows are at
        ``linspace(min_radius, max_radius, n_radii)``: a radial range.
    angle_range : tuple of float (start, stop), default=None
        None samples the full circle ``2 pi j / n_angles`` (the endpoint
        excluded). A pair in radians samples ``linspace(start, stop,
        n_angles)``, both ends included (an azimuth range of at most one
        turn; ``stop < start`` sweeps the other way). Angles are measured
        from the +col axis towards +row (see the module docstring).
    log_radial : bool, default=False
        Space the radii logarithmically from ``min_radius`` to ``max_radius``
        (scale changes become shifts), instead of linearly.
    interpolation : {"bilinear", "nearest"}, default="bilinear"
        ``grid_sample`` mode; "nearest" returns only input values (and 0
        outside the image).
    mask_radius : float, default=None
        If given, the images are first multiplied by
        ``central_mask((H, W), mask_radius, sigma=mask_sigma)`` around the
        same centre(s) (in pixels), blanking the centre.
    mask_sigma : float, default=1.5
        Blur of the mask edge in pixels.

    Returns
    -------
    ndarray or torch.Tensor of shape (..., n_radii, n_angles)

    See Also
    --------
    to_cartesian : The inverse resampling.
    central_mask : The mask applied with ``mask_radius``.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.projection import to_polar
    >>> rows, cols = np.mgrid[:65, :65] - 32
    >>> ring = (np.abs(np.hypot(rows, cols) - 20) < 1.5).astype(float)
    >>> polar = to_polar(ring, n_radii=33, max_radius=32)   # row i at radius i
    >>> int(polar.mean(axis=1).argmax())
    20
    >>> ranged = to_polar(ring, n_radii=11, min_radius=15, max_radius=25)  # rows 15, 16, ...
    >>> int(ranged.mean(axis=1).argmax())
    5
    """
    batch, restore = _as_batch(images, "images")
    height, width = batch.shape[-2:]
    n_radii = height if n_radii is None else int(n_radii)
    n_angles = width if n_angles is None else int(n_angles)
    min_radius, max_radius = _radial_range(
        "to_polar", min_radius, max_radius, log_radial, height, width
    )
    if angle_range is not None:
        angle_range = (float(angle_range[0]), float(angle_range[1]))
        # Both ends are sampled: a range needs two angles.
        check_parameter("to_polar", "n_angles", n_angles, ints(2))
    centres = _centres(center, height, width, batch, len(batch))
    if mask_radius is not None:
        radius = float(mask_radius)
        batch = batch * _masks(centres, height, width, radius, float(mask_sigma))[:, None]
    radii = _radii(n_radii, min_radius, max_radius, log_radial, batch)
    angles = _angles(n_angles, angle_range, batch)
    rows = centres[:, 0, None, None] + radii[None, :, None] * torch.sin(angles)[None, None, :]
    cols = centres[:, 1, None, None] + radii[None, :, None] * torch.cos(angles)[None, None, :]
    # Pixel coordinates -> grid_sample's [-1, 1] (align_corners=False: pixel centres).
    grid = torch.stack([(2 * cols + 1) / width - 1, (2 * rows + 1) / height - 1], dim=-1)
    out = F.grid_sample(
        batch,
        grid.expand(len(batch), -1, -1, -1),
        mode=interpolation,
        padding_mode="zeros",
        align_corners=False,
    )
    return restore(out)


@validate_params(
    {
        "polar": ArrayLike(),
        "output_shape": [None, _SHAPE],
        "center": _CENTER,
        "max_radius": [None, POSITIVE],
        "min_radius": [None, NONNEGATIVE],
        "angle_range": _ANGLE_RANGE,
        "log_radial": BOOL,
        "interpolation": _INTERPOLATION,
    }
)
def to_cartesian(
    polar,
    output_shape=None,
    center=None,
    *,
    max_radius=None,
    min_radius=None,
    angle_range=None,
    log_radial=False,
    interpolation="bilinear",
):
    """Resample polar images (radius x angle, as from :func:`to_polar`) back to pixels.

    Parameters
    ----------
    polar : ndarray or torch.Tensor of shape (n_radii, n_angles), (n, ...) or (n, C, ...)
        Rows are radii, columns angles (``2 pi j / n_angles``, wrapping
        around, or ``linspace(*angle_range, n_angles)``).
    output_shape : tuple of int (H, W), default=None
        Size of the cartesian images; None means ``(n_radii, n_angles)``.
    center : array-like of shape (2,) or (n, 2), default=None
        Centre (row, col) in output pixels; None means the image centre.
    max_radius : float, default=None
        Radius of the last polar row; None means ``min(H, W) / 2``.
    min_radius : float, default=None
        Radius of the first polar row; None means 0 (linear) or 1.0
        (``log_radial=True``), as in :func:`to_polar`.
    angle_range : tuple of float (start, stop), default=None
        The angles of the first and last polar column, as in :func:`to_polar`;
        None means the full, wrapping circle.
    log_radial : bool, default=False
        The polar rows are spaced logarithmically (as ``to_polar(...,
        log_radial=True)``).
    interpolation : {"bilinear", "nearest"}, default="bilinear"

    Returns
    -------
    ndarray or torch.Tensor of shape (..., H, W)

    Notes
    -----
    When ``angle_range``, or ``min_radius`` with linear radii, is given,
    pixels outside the sampled radial and angular range are exactly 0.
    Otherwise (the original behaviour, kept as it was) the bilinear
    interpolation fades to 0 over one radial step beyond ``max_radius`` (and
    inside ``min_radius`` for log-radial rows).

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.projection import to_cartesian, to_polar
    >>> rows, cols = np.mgrid[:64, :64] - 31.5
    >>> blob = np.exp(-(rows ** 2 + cols ** 2) / 200)
    >>> back = to_cartesian(to_polar(blob, n_radii=64, n_angles=256), (64, 64))
    >>> bool(np.abs(back - blob)[16:48, 16:48].max() < 0.01)
    True
    """
    batch, restore = _as_batch(polar, "polar")
    n_radii, n_angles = batch.shape[-2:]
    height, width = (n_radii, n_angles) if output_shape is None else map(int, output_shape)
    exact_edges = angle_range is not None or (min_radius is not None and not log_radial)
    min_radius, max_radius = _radial_range(
        "to_cartesian", min_radius, max_radius, log_radial, height, width
    )
    if angle_range is not None:
        angle_range = (float(angle_range[0]), float(angle_range[1]))
    centres = _centres(center, height, width, batch, len(batch))
    rows = torch.arange(height, dtype=batch.dtype, device=batch.device)[None, :, None]
    cols = torch.arange(width, dtype=batch.dtype, device=batch.device)[None, None, :]
    d_row, d_col = rows - centres[:, 0, None, None], cols - centres[:, 1, None, None]
    radius = torch.hypot(d_row, d_col)
    if log_radial:
        position = torch.log(radius.clamp_min(1e-12) / min_radius) / math.log(
            max_radius / min_radius
        )
    else:
        position = (radius - min_radius) / (max_radius - min_radius)
    if angle_range is None:
        # The angle axis wraps: append column 0 after the last one, then sample with
        # align_corners=True so column j sits at angle 2 pi j / n_angles exactly.
        batch = torch.cat([batch, batch[..., :1]], dim=-1)
        along = (torch.atan2(d_row, d_col) % (2 * math.pi)) / math.pi - 1
    else:
        start, stop = angle_range
        # Angle from the middle of the range in the sweep direction, in (-pi, pi].
        offset = math.copysign(1, stop - start) * (torch.atan2(d_row, d_col) - (start + stop) / 2)
        along = 2 * (torch.remainder(offset + math.pi, 2 * math.pi) - math.pi) / abs(stop - start)
    grid = torch.stack([along, 2 * position - 1], dim=-1).expand(len(batch), -1, -1, -1)
    out = F.grid_sample(batch, grid, mode=interpolation, padding_mode="zeros", align_corners=True)
    if exact_edges:
        out = out * (grid.abs() <= 1 + 1e-6).all(dim=-1)[:, None].to(out.dtype)
    return restore(out)
