"""Polar and cartesian resampling of image batches, differentiable and on any device.

Diffraction patterns, powder rings and many micrographs are organised around a
centre: in polar coordinates a ring becomes a straight line and a rotation a
shift. :func:`to_polar` and :func:`to_cartesian` resample whole batches with
one ``grid_sample`` each, so they are differentiable, run on the images'
device, and serve both as preprocessing and as a contrastive "view"
(:class:`contrastlearn.CPLR`).

Conventions: pixel ``(row, col)`` has its centre at integer coordinates; the
polar image has radius along its rows (row ``i`` at radius ``r_i``, from the
centre outwards) and angle along its columns (column ``j`` at
``theta_j = 2 pi j / n_angles``, counter-clockwise from the +col axis towards
+row).
"""

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["to_polar", "to_cartesian", "PolarProjection"]


def _as_batch(images, name):
    """Return ``(tensor (B, C, H, W), restore)`` for numpy or torch input."""
    is_numpy = not isinstance(images, torch.Tensor)
    if is_numpy:
        array = np.asarray(images)
        if not np.issubdtype(array.dtype, np.number) or np.iscomplexobj(array):
            raise TypeError(f"{name} must be real numbers; got dtype {array.dtype}.")
        tensor = torch.from_numpy(np.array(array, dtype=np.float64 if array.dtype == np.float64
                                           else np.float32))
    else:
        tensor = images if images.is_floating_point() else images.float()
    if tensor.ndim not in (2, 3, 4):
        raise ValueError(f"{name} must have shape (H, W), (n, H, W) or (n, C, H, W); got "
                         f"{tuple(tensor.shape)}.")
    leading = tensor.shape[:-2]
    batch = {2: lambda t: t[None, None], 3: lambda t: t[:, None], 4: lambda t: t}[tensor.ndim](tensor)

    def restore(out):
        out = out.reshape(*leading, *out.shape[-2:])
        return out.numpy() if is_numpy else out

    return batch, restore


def _centres(center, batch, height, width):
    """Per-image centres ``(B, 2)`` as (row, col) in pixels."""
    if center is None:
        return torch.tensor([[(height - 1) / 2, (width - 1) / 2]], dtype=batch.dtype,
                            device=batch.device).expand(len(batch), 2)
    center = torch.as_tensor(center, dtype=batch.dtype, device=batch.device)
    if center.shape == (2,):
        return center.expand(len(batch), 2)
    if center.shape == (len(batch), 2):
        return center
    raise ValueError(f"center must be (row, col) or one (row, col) per image, shape "
                     f"({len(batch)}, 2); got shape {tuple(center.shape)}.")


def _radii(n_radii, max_radius, log_radial, min_radius, like):
    steps = torch.linspace(0, 1, n_radii, dtype=like.dtype, device=like.device)
    if log_radial:
        return min_radius * (max_radius / min_radius) ** steps
    return max_radius * steps


def _check_radii(max_radius, log_radial, min_radius):
    if not max_radius > 0:
        raise ValueError(f"max_radius must be > 0; got {max_radius!r}.")
    if log_radial and not 0 < min_radius < max_radius:
        raise ValueError(f"min_radius must be in (0, max_radius={max_radius}) for log-radial "
                         f"sampling; got {min_radius!r}.")


def to_polar(images, center=None, n_radii=None, n_angles=None, *, max_radius=None,
             log_radial=False, min_radius=1.0):
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
        Columns of the output (angles ``2 pi j / n_angles``); None means ``W``.
    max_radius : float, default=None
        Radius of the last row in pixels; None means ``min(H, W) / 2``, the
        largest circle inside the image. Samples outside the image are 0.
    log_radial : bool, default=False
        Space the radii logarithmically from ``min_radius`` to ``max_radius``
        (scale changes become shifts), instead of linearly from 0.
    min_radius : float, default=1.0
        First radius for ``log_radial=True``.

    Returns
    -------
    ndarray or torch.Tensor of shape (..., n_radii, n_angles)

    See Also
    --------
    to_cartesian : The inverse resampling.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.projection import to_polar
    >>> rows, cols = np.mgrid[:65, :65] - 32
    >>> ring = (np.abs(np.hypot(rows, cols) - 20) < 1.5).astype(float)
    >>> polar = to_polar(ring, n_radii=33, max_radius=32)   # row i at radius i
    >>> int(polar.mean(axis=1).argmax())
    20
    """
    batch, restore = _as_batch(images, "images")
    height, width = batch.shape[-2:]
    n_radii = height if n_radii is None else int(n_radii)
    n_angles = width if n_angles is None else int(n_angles)
    max_radius = min(height, width) / 2 if max_radius is None else float(max_radius)
    _check_radii(max_radius, log_radial, min_radius)
    if n_radii < 2 or n_angles < 1:
        raise ValueError(f"n_radii must be >= 2 and n_angles >= 1; got {n_radii}, {n_angles}.")
    centres = _centres(center, batch, height, width)
    radii = _radii(n_radii, max_radius, log_radial, min_radius, batch)
    angles = torch.arange(n_angles, dtype=batch.dtype, device=batch.device) * (2 * math.pi / n_angles)
    rows = centres[:, 0, None, None] + radii[None, :, None] * torch.sin(angles)[None, None, :]
    cols = centres[:, 1, None, None] + radii[None, :, None] * torch.cos(angles)[None, None, :]
    # Pixel coordinates -> grid_sample's [-1, 1] (align_corners=False: pixel centres).
    grid = torch.stack([(2 * cols + 1) / width - 1, (2 * rows + 1) / height - 1], dim=-1)
    out = F.grid_sample(batch, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return restore(out)


def to_cartesian(polar, output_shape=None, center=None, *, max_radius=None, log_radial=False,
                 min_radius=1.0):
    """Resample polar images (radius x angle, as from :func:`to_polar`) back to pixels.

    Parameters
    ----------
    polar : ndarray or torch.Tensor of shape (n_radii, n_angles), (n, ...) or (n, C, ...)
        Rows are radii, columns angles ``2 pi j / n_angles``; the angle axis
        wraps around.
    output_shape : tuple of int (H, W), default=None
        Size of the cartesian images; None means ``(n_radii, n_angles)``.
    center : array-like of shape (2,) or (n, 2), default=None
        Centre (row, col) in output pixels; None means the image centre.
    max_radius : float, default=None
        Radius of the last polar row; None means ``min(H, W) / 2``.
        Pixels farther out are 0.
    log_radial : bool, default=False
        The polar rows are spaced logarithmically (as ``to_polar(...,
        log_radial=True)``); pixels inside ``min_radius`` are then 0.
    min_radius : float, default=1.0

    Returns
    -------
    ndarray or torch.Tensor of shape (..., H, W)

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
    max_radius = min(height, width) / 2 if max_radius is None else float(max_radius)
    _check_radii(max_radius, log_radial, min_radius)
    centres = _centres(center, batch, height, width)
    rows = torch.arange(height, dtype=batch.dtype, device=batch.device)[None, :, None]
    cols = torch.arange(width, dtype=batch.dtype, device=batch.device)[None, None, :]
    d_row, d_col = rows - centres[:, 0, None, None], cols - centres[:, 1, None, None]
    radius = torch.hypot(d_row, d_col)
    angle = torch.atan2(d_row, d_col) % (2 * math.pi)
    if log_radial:
        position = torch.log(radius.clamp_min(1e-12) / min_radius) / math.log(max_radius / min_radius)
    else:
        position = radius / max_radius
    # The angle axis wraps: append column 0 after the last one, then sample with
    # align_corners=True so column j sits at angle 2 pi j / n_angles exactly.
    wrapped = torch.cat([batch, batch[..., :1]], dim=-1)
    grid = torch.stack([angle / math.pi - 1, 2 * position - 1], dim=-1)
    out = F.grid_sample(wrapped, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    return restore(out)


class PolarProjection(nn.Module):
    """:func:`to_polar` as a module keeping the image size (for use as a view).

    Parameters
    ----------
    log_radial : bool, default=False
        See :func:`to_polar`.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.projection import PolarProjection
    >>> PolarProjection()(torch.rand(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    """

    def __init__(self, log_radial=False):
        super().__init__()
        self.log_radial = log_radial

    def forward(self, x):
        return to_polar(x, log_radial=self.log_radial)
