"""The augmentation functions: each a few tensor operations over a whole batch."""

import math
import numbers

import torch
import torch.nn.functional as F

from .._validation import NONNEGATIVE, POSITIVE, PROBABILITY, ints
from ..validation import InstanceOf, Interval, Options, Pair, Predicate, validate_params

_BATCH = InstanceOf(torch.Tensor, name="a torch tensor")
_FRACTIONS = Pair(positive=True, high=1)
_RATIOS = Pair(positive=True)
_SIZE = Predicate(
    lambda v: isinstance(v, (tuple, list)) and len(v) == 2 and all(map(ints(1).is_satisfied_by, v)),
    "a pair (h, w) of ints >= 1",
)


def _uniform(low, high, n, like):
    return torch.empty(n, device=like.device, dtype=like.dtype).uniform_(low, high)


def _per_sample(values, x):
    """Reshape a ``(B,)`` tensor to broadcast against ``x``."""
    return values.view(-1, *([1] * (x.ndim - 1)))


@validate_params(
    {
        "x": _BATCH,
        "scale": _FRACTIONS,
        "ratio": _RATIOS,
        "rotation": NONNEGATIVE,
        "hflip": PROBABILITY,
        "vflip": PROBABILITY,
        "translate": PROBABILITY,
        "padding_mode": Options(["zeros", "border", "reflection"]),
        "output_size": [None, _SIZE],
    }
)
def random_affine(
    x,
    *,
    scale=(0.25, 1.0),
    ratio=(3 / 4, 4 / 3),
    rotation=180.0,
    hflip=0.5,
    vflip=0.5,
    translate=0.0,
    padding_mode="zeros",
    output_size=None,
):
    """Random resized crop, rotation, flips and translation in a single resampling.

    Each image gets a crop covering a random fraction ``scale`` of its area
    with aspect ratio in ``ratio``, rotated by an angle drawn uniformly from
    ``[-rotation, rotation]`` degrees, flipped with the given probabilities
    and then shifted by up to ``translate`` times the view's height and width;
    the result is resampled to ``output_size`` (default: the full ``(H, W)``)
    with one bilinear ``grid_sample``. Where the sampling leaves the image,
    ``padding_mode`` fills in.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
        Float images.
    scale : tuple of float, default=(0.25, 1.0)
        Range of the crop's area as a fraction of the image.
    ratio : tuple of float, default=(3/4, 4/3)
        Range of the crop's aspect ratio (width / height), sampled log-uniformly.
    rotation : float, default=180.0
        Maximum absolute rotation angle in degrees.
    hflip, vflip : float, default=0.5
        Probabilities of a horizontal and a vertical flip.
    translate : float, default=0.0
        Maximum shift as a fraction of the view's height and width: the
        vertical and horizontal shifts are drawn independently and uniformly
        from ``[-translate, translate]`` times ``h`` and ``w``, in the frame of
        the cropped, rotated and flipped view (so after those operations).
        Zero draws nothing.
    padding_mode : {"zeros", "border", "reflection"}, default="zeros"
        What fills the area a rotated or shifted crop brings in from outside
        the image.
    output_size : tuple of int (h, w), default=None
        Size of the resampled crops (DINO's small local crops); None keeps
        ``(H, W)``.

    Returns
    -------
    torch.Tensor of shape (B, C, h, w)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import random_affine
    >>> random_affine(torch.rand(4, 1, 32, 32)).shape
    torch.Size([4, 1, 32, 32])
    >>> random_affine(torch.rand(4, 1, 32, 32), translate=0.125).shape
    torch.Size([4, 1, 32, 32])
    """
    b, _, h, w = x.shape
    area = _uniform(scale[0], scale[1], b, x)
    log_ratio = _uniform(math.log(ratio[0]), math.log(ratio[1]), b, x)
    crop_w = torch.sqrt(area * log_ratio.exp()).clamp(max=1.0)
    crop_h = torch.sqrt(area / log_ratio.exp()).clamp(max=1.0)
    # Crop centres in normalised coordinates, so the crop stays inside [-1, 1].
    centre_x = (2 * torch.rand_like(area) - 1) * (1 - crop_w)
    centre_y = (2 * torch.rand_like(area) - 1) * (1 - crop_h)
    angle = _uniform(-rotation, rotation, b, x) * (math.pi / 180)
    # The scalars would make tensors of torch's default dtype, not x's.
    flip_x = torch.where(torch.rand_like(area) < hflip, -1.0, 1.0).to(area.dtype)
    flip_y = torch.where(torch.rand_like(area) < vflip, -1.0, 1.0).to(area.dtype)
    cos, sin = angle.cos(), angle.sin()
    # Rotation acts in pixel units; (w / h) factors undo the normalised
    # coordinates' stretch on non-square images.
    theta = torch.stack(
        [
            torch.stack([cos * crop_w * flip_x, -sin * crop_h * flip_y * (h / w), centre_x], 1),
            torch.stack([sin * crop_w * flip_x * (w / h), cos * crop_h * flip_y, centre_y], 1),
        ],
        1,
    )  # (B, 2, 3)
    if translate:
        # Shifting the output by t samples the input at A (p - t) + c, where
        # t is in normalised units (2 per image width or height).
        shift = _uniform(-2 * translate, 2 * translate, 2 * b, x).view(b, 2, 1)
        theta = torch.cat([theta[:, :, :2], theta[:, :, 2:] - theta[:, :, :2] @ shift], 2)
    size = [b, x.shape[1], *(output_size or (h, w))]
    grid = F.affine_grid(theta, size, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


@validate_params({"x": _BATCH, "gain": Pair(low=0), "jitter": NONNEGATIVE})
def random_gain(x, *, gain=(0.5, 1.5), jitter=0.0):
    """Multiply each image by a random factor.

    Each image is multiplied by ``g + j`` with ``g ~ U(gain)`` and
    ``j ~ U(-jitter, jitter)`` drawn independently, so the factor lies in
    ``[gain[0] - jitter, gain[1] + jitter]``. This is the reference study's
    "brightness" (its ``RandomJitterAffine``: ``gain=(0.5, 1.5)``,
    ``jitter=0.2``); a detector's varying fluence scales a diffraction
    pattern in the same way. There is no clipping here, see ``clip`` of
    :class:`Augment`.

    Parameters
    ----------
    x : torch.Tensor of shape (B, ...)
    gain : tuple of float, default=(0.5, 1.5)
        Range of the base factor.
    jitter : float, default=0.0
        Half-width of the uniform term added to the factor; zero draws nothing.

    Returns
    -------
    torch.Tensor of the same shape

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import random_gain
    >>> factors = random_gain(torch.ones(100, 1, 2, 2), gain=(0.5, 1.5), jitter=0.2)
    >>> bool(((factors >= 0.3) & (factors <= 1.7)).all())
    True
    """
    factor = _uniform(gain[0], gain[1], x.shape[0], x)
    if jitter:
        factor = factor + _uniform(-jitter, jitter, x.shape[0], x)
    return x * _per_sample(factor, x)


@validate_params(
    {"x": _BATCH, "brightness": NONNEGATIVE, "contrast": PROBABILITY, "p": PROBABILITY}
)
def color_jitter(x, *, brightness=0.4, contrast=0.4, p=0.8):
    """Random brightness shift and contrast change per image.

    With probability ``p`` an image ``x`` becomes
    ``(x - mean(x)) * c + mean(x) + b`` with ``c ~ U(1 - contrast, 1 + contrast)``
    and ``b ~ U(-brightness, brightness)`` (in units of the normalised
    intensity); otherwise it is unchanged.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
    brightness : float, default=0.4
    contrast : float, default=0.4
    p : float, default=0.8

    Returns
    -------
    torch.Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import color_jitter
    >>> color_jitter(torch.rand(4, 1, 8, 8), p=1.0).shape
    torch.Size([4, 1, 8, 8])
    """
    b = x.shape[0]
    apply = torch.rand(b, device=x.device) < p
    shift = torch.where(apply, _uniform(-brightness, brightness, b, x), 0.0)
    gain = torch.where(apply, _uniform(1 - contrast, 1 + contrast, b, x), 1.0)
    mean = x.mean(dim=tuple(range(1, x.ndim)), keepdim=True)
    return (x - mean) * _per_sample(gain, x) + mean + _per_sample(shift, x)


@validate_params({"x": _BATCH, "sigma": _RATIOS, "p": PROBABILITY})
def gaussian_blur(x, *, sigma=(0.1, 1.5), p=0.5):
    """Gaussian blur with a random width per image.

    With probability ``p`` an image is convolved with an isotropic Gaussian
    whose standard deviation (in pixels) is drawn uniformly from ``sigma``.
    The blur is separable and runs as two grouped convolutions over the whole
    batch; borders are replicated.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
    sigma : tuple of float, default=(0.1, 1.5)
        Range of the blur's standard deviation in pixels.
    p : float, default=0.5

    Returns
    -------
    torch.Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import gaussian_blur
    >>> gaussian_blur(torch.rand(4, 3, 16, 16), p=1.0).shape
    torch.Size([4, 3, 16, 16])
    """
    b, c, h, w = x.shape
    radius = max(1, min(math.ceil(3 * sigma[1]), h - 1, w - 1))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    widths = _uniform(sigma[0], sigma[1], b, x).clamp_min(1e-3)
    kernel = torch.exp(-0.5 * (offsets[None, :] / widths[:, None]) ** 2)
    kernel = (kernel / kernel.sum(1, keepdim=True)).repeat_interleave(c, dim=0)
    flat = F.pad(x.reshape(1, b * c, h, w), (radius,) * 4, mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=b * c)
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=b * c)
    apply = torch.rand(b, device=x.device) < p
    return torch.where(_per_sample(apply, x), flat.reshape(b, c, h, w), x)


@validate_params({"x": _BATCH, "std": NONNEGATIVE})
def gaussian_noise(x, *, std=0.05):
    """Add white Gaussian noise of standard deviation ``std``.

    Parameters
    ----------
    x : torch.Tensor
    std : float, default=0.05

    Returns
    -------
    torch.Tensor of the same shape

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import gaussian_noise
    >>> gaussian_noise(torch.zeros(2, 1, 4, 4), std=1.0).std() > 0
    tensor(True)
    """
    return x + std * torch.randn_like(x)


@validate_params({"x": _BATCH, "photons": POSITIVE})
def poisson_noise(x, *, photons=100.0):
    """Resample each image with photon (shot) noise.

    Each image is shifted to be non-negative and scaled so that its mean is
    ``photons`` counts; the counts are drawn from a Poisson distribution and
    mapped back to the original intensity scale. Fewer photons means noisier
    images, as at a lower X-ray fluence.

    Parameters
    ----------
    x : torch.Tensor of shape (B, ...)
    photons : float, default=100.0
        Expected number of photons per pixel at the image's mean intensity.

    Returns
    -------
    torch.Tensor of the same shape

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import poisson_noise
    >>> poisson_noise(torch.rand(2, 1, 8, 8), photons=10.0).shape
    torch.Size([2, 1, 8, 8])
    """
    dims = tuple(range(1, x.ndim))
    floor = x.amin(dim=dims, keepdim=True)
    level = (x - floor).mean(dim=dims, keepdim=True).clamp_min(1e-12)
    counts = torch.poisson((x - floor) * (photons / level))
    return counts * (level / photons) + floor


@validate_params(
    {
        "x": _BATCH,
        "p": PROBABILITY,
        "scale": _FRACTIONS,
        "ratio": _RATIOS,
        "value": Interval(numbers.Real),
    }
)
def random_erasing(x, *, p=0.5, scale=(0.05, 0.3), ratio=(0.25, 2.5), value=0.0):
    """Set one random axis-aligned rectangle per image to ``value``.

    With probability ``p`` an image gets a box of area fraction
    ``s ~ U(scale)`` and aspect ``r = exp(U(log ratio))`` (width over height,
    as fractions of ``W`` and ``H``): ``h = clip(sqrt(s / r), 0, 1)``,
    ``w = clip(sqrt(s * r), 0, 1)``, top-left corner ``y0 ~ U(0, 1 - h)``,
    ``x0 ~ U(0, 1 - w)``, covering pixel rows ``round(y0 H)`` up to (not
    including) ``round((y0 + h) H)`` and the columns likewise, in every
    channel. This is the reference study's ``RandomFill`` (there with
    ``p=1``); it is also known as cutout.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
    p : float, default=0.5
        Probability that an image gets a box.
    scale : tuple of float, default=(0.05, 0.3)
        Range of the box's area as a fraction of the image.
    ratio : tuple of float, default=(0.25, 2.5)
        Range of the box's aspect ratio, sampled log-uniformly.
    value : float, default=0.0
        What the box is filled with.

    Returns
    -------
    torch.Tensor of shape (B, C, H, W)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import random_erasing
    >>> out = random_erasing(torch.ones(4, 1, 16, 16), p=1.0)
    >>> bool(((out == 0).flatten(1).any(1)).all())
    True
    """
    b, _, h, w = x.shape
    area = _uniform(scale[0], scale[1], b, x)
    aspect = _uniform(math.log(ratio[0]), math.log(ratio[1]), b, x).exp()
    box_h = torch.sqrt(area / aspect).clamp(0, 1)
    box_w = torch.sqrt(area * aspect).clamp(0, 1)
    top = torch.rand_like(area) * (1 - box_h)
    left = torch.rand_like(area) * (1 - box_w)
    apply = torch.rand_like(area) < p
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    in_rows = (rows >= (top * h).round()[:, None]) & (rows < ((top + box_h) * h).round()[:, None])
    in_cols = (cols >= (left * w).round()[:, None]) & (cols < ((left + box_w) * w).round()[:, None])
    box = in_rows[:, :, None] & in_cols[:, None, :] & apply[:, None, None]  # (B, H, W)
    return x.masked_fill(box[:, None], value)


@validate_params({"x": _BATCH, "p": PROBABILITY})
def feature_dropout(x, *, p=0.2):
    """Set each feature of a flat ``(B, F)`` batch to zero with probability ``p``.

    This is the augmentation for inputs that are vectors rather than images.

    Parameters
    ----------
    x : torch.Tensor of shape (B, F)
    p : float, default=0.2

    Returns
    -------
    torch.Tensor of shape (B, F)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import feature_dropout
    >>> feature_dropout(torch.ones(2, 5), p=0.5).shape
    torch.Size([2, 5])
    """
    return x * (torch.rand_like(x) >= p)
