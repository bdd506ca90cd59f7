"""PolarProjection, the projection as a module of a network, and the reference settings."""

import math

import numpy as np
from torch import nn

from ..validation import Options, Pair, Predicate, check_parameter, validate_params
from ._resample import _is_finite_real, to_polar

_POINT = Predicate(
    lambda v: (
        isinstance(v, (tuple, list, np.ndarray)) and len(v) == 2 and all(map(_is_finite_real, v))
    ),
    "a pair (row, col) of numbers",
)


class PolarProjection(nn.Module):
    """:func:`to_polar` as a module keeping the image size (for use as a view).

    An image of size (H, W) becomes a polar image of H radii by W angles.
    Radii are given as fractions of the half-width ``min(H, W) / 2``, so one
    module serves every image size.

    Parameters
    ----------
    log_radial : bool, default=False
        See :func:`to_polar`.
    radial_range : tuple of float (low, high), default=None
        First and last radius as fractions of the half-width
        (``0 <= low < high``; ``low > 0`` for ``log_radial``). None means 0
        (or 1 pixel for ``log_radial``) to 1.
    angle_range : tuple of float (start, stop), default=None
        Azimuth range in radians (see :func:`to_polar`); None is the full
        circle.
    interpolation : {"bilinear", "nearest"}, default="bilinear"
    mask_radius : float, default=None
        Blank a central disk of this radius, a fraction of the half-width,
        before resampling (see :func:`central_mask`); None blanks nothing.
    mask_sigma : float, default=1.5
        Blur of the mask edge, in pixels.
    center : {"middle", "pixel"} or tuple of float, default="middle"
        The centre of the projection: ``"middle"``, the middle of the image,
        ``((H - 1) / 2, (W - 1) / 2)``; ``"pixel"``, the pixel
        ``(H // 2, W // 2)``, where an FFT-based simulation such as
        :func:`contrastlearn.datasets.make_diffraction` puts the beam (the
        two differ by half a pixel on even sides); or ``(row, col)`` in
        pixels.

    See Also
    --------
    REFERENCE_PROJECTION_SETTINGS : The settings of the reference study's crop.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.projection import PolarProjection, REFERENCE_PROJECTION_SETTINGS
    >>> PolarProjection()(torch.rand(2, 1, 32, 32)).shape
    torch.Size([2, 1, 32, 32])
    >>> PolarProjection(radial_range=(0.3, 0.98), interpolation="nearest")
    PolarProjection(radial_range=(0.3, 0.98), interpolation='nearest')
    >>> PolarProjection(**REFERENCE_PROJECTION_SETTINGS)(torch.rand(2, 1, 64, 64)).shape
    torch.Size([2, 1, 64, 64])
    """

    _defaults = {
        "log_radial": False,
        "radial_range": None,
        "angle_range": None,
        "interpolation": "bilinear",
        "mask_radius": None,
        "mask_sigma": 1.5,
        "center": "middle",
    }

    @validate_params(
        {
            "log_radial": to_polar._parameter_constraints["log_radial"],
            "radial_range": [None, Pair(low=0, strict=True)],
            "angle_range": to_polar._parameter_constraints["angle_range"],
            "interpolation": to_polar._parameter_constraints["interpolation"],
            "mask_radius": to_polar._parameter_constraints["mask_radius"],
            "mask_sigma": to_polar._parameter_constraints["mask_sigma"],
            "center": [Options(["middle", "pixel"]), _POINT],
        }
    )
    def __init__(
        self,
        log_radial=False,
        *,
        radial_range=None,
        angle_range=None,
        interpolation="bilinear",
        mask_radius=None,
        mask_sigma=1.5,
        center="middle",
    ):
        super().__init__()
        if radial_range is not None:
            if log_radial:  # log radii start above 0
                positive = Pair(positive=True, strict=True)
                check_parameter("PolarProjection", "radial_range", radial_range, positive)
            radial_range = (float(radial_range[0]), float(radial_range[1]))
        if angle_range is not None:
            angle_range = (float(angle_range[0]), float(angle_range[1]))
        if not isinstance(center, str):
            center = (float(center[0]), float(center[1]))
        self.log_radial = bool(log_radial)
        self.radial_range = radial_range
        self.angle_range = angle_range
        self.interpolation = interpolation
        self.mask_radius = None if mask_radius is None else float(mask_radius)
        self.mask_sigma = float(mask_sigma)
        self.center = center

    def forward(self, x):
        height, width = x.shape[-2:]
        half = min(height, width) / 2
        low, high = self.radial_range or (None, None)

        def pixels(fraction):
            return None if fraction is None else fraction * half

        center = self.center
        if isinstance(center, str):
            center = None if center == "middle" else (height // 2, width // 2)
        return to_polar(
            x,
            center,
            max_radius=pixels(high),
            min_radius=pixels(low),
            angle_range=self.angle_range,
            log_radial=self.log_radial,
            interpolation=self.interpolation,
            mask_radius=pixels(self.mask_radius),
            mask_sigma=self.mask_sigma,
        )

    def extra_repr(self):
        return ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name, default in self._defaults.items()
            if getattr(self, name) != default
        )


def _reference_crop(size, hole_fraction=0.30):
    """The reference script's crop numbers for square images of ``size`` pixels.

    Returns ``(centre, hole_radius, lr_cut, x_dims, ci_y_cut)``: the mask
    centre and radius, the cut on each side of the raw image, the
    projection's column cuts (left, right) and its row cut (top and bottom).
    """
    centre = int(size / 2)
    hole_radius = int(hole_fraction * centre)
    pol_crop_size = np.round(np.cos(np.pi / 4) * 0.99 * size)
    lr_cut = int(np.ceil((size - pol_crop_size) / 2))
    x_dims = (int(hole_radius * 2), int(np.sqrt(lr_cut) * 2))
    ci_y_cut = int(np.ceil(sum(x_dims) / 2))
    return centre, hole_radius, lr_cut, x_dims, ci_y_cut


def _reference_settings(size=1035):
    """PolarProjection settings of the reference's projection crop of ``size``-pixel images."""
    _, _, _, (left, right), cut = _reference_crop(size)
    last = size - 1  # the reference samples rho = j / last and phi = 2 pi i / last
    return {
        "radial_range": (left / last, (last - right) / last),
        "angle_range": (-2 * math.pi * cut / last, -2 * math.pi * (last - cut) / last),
        "interpolation": "nearest",
        "mask_radius": 0.3,
        "mask_sigma": 1.5,
    }


#: :class:`PolarProjection` keyword arguments reproducing the reference
#: study's projection crop (Zimmermann et al. 2023): a central hole of 0.3 of
#: the half-width blurred by 1.5 pixels; radii from 310/1034 to 1010/1034 of
#: the half-width (its columns 310..1010 at ``rho = j / 1034``, about 155 to
#: 505 pixels of a 1035-pixel pattern); azimuth ``phi`` from 2 pi 167/1034 to
#: 2 pi 867/1034 (its rows 167..867, about 58.1 to 301.9 degrees), written as
#: ``theta = -phi`` so that the output's columns run in the order of the
#: crop's rows; nearest sampling. The output is the reference's crop
#: transposed and resampled to the image size (the reference measures radii
#: in units of ``(H - 1) / 2``, here ``H / 2``: 0.1 % apart at H = 1035).
REFERENCE_PROJECTION_SETTINGS = _reference_settings()
