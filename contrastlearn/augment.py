"""Batched, on-device image augmentations for contrastive views.

Every function takes a float batch ``(B, C, H, W)`` already on the model's
device and returns a new batch of the same shape, dtype and device. Randomness
comes from torch's global generator, so a fit under ``random_state`` repeats
bit for bit on the CPU. There is no per-sample Python loop: each function is a
handful of tensor operations over the whole batch, and crop, rotation and flips
share one resampling (:func:`random_affine`).

:class:`Augment` bundles them into the pipeline the pretrainers use; its
parameters are nested estimator parameters, so ``GridSearchCV`` can tune them
as ``augment__rotation``.
"""

import math
import numbers

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator

__all__ = [
    "Augment",
    "random_affine",
    "color_jitter",
    "gaussian_blur",
    "gaussian_noise",
    "poisson_noise",
    "feature_dropout",
]


def _uniform(low, high, n, like):
    return torch.empty(n, device=like.device, dtype=like.dtype).uniform_(low, high)


def _per_sample(values, x):
    """Reshape a ``(B,)`` tensor to broadcast against ``x``."""
    return values.view(-1, *([1] * (x.ndim - 1)))


def random_affine(x, *, scale=(0.25, 1.0), ratio=(3 / 4, 4 / 3), rotation=180.0,
                  hflip=0.5, vflip=0.5, padding_mode="zeros", output_size=None):
    """Random resized crop, rotation and flips in a single resampling.

    Each image gets a crop covering a random fraction ``scale`` of its area
    with aspect ratio in ``ratio``, rotated by an angle drawn uniformly from
    ``[-rotation, rotation]`` degrees and flipped with the given
    probabilities; the crop is resampled to ``output_size`` (default: the
    full ``(H, W)``) with one bilinear ``grid_sample``.

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
    padding_mode : {"zeros", "border", "reflection"}, default="zeros"
        What fills the area a rotated crop brings in from outside the image.
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
    flip_x = torch.where(torch.rand_like(area) < hflip, -1.0, 1.0)
    flip_y = torch.where(torch.rand_like(area) < vflip, -1.0, 1.0)
    cos, sin = angle.cos(), angle.sin()
    # Rotation acts in pixel units; (w / h) factors undo the normalised
    # coordinates' stretch on non-square images.
    theta = torch.stack([
        torch.stack([cos * crop_w * flip_x, -sin * crop_h * flip_y * (h / w), centre_x], 1),
        torch.stack([sin * crop_w * flip_x * (w / h), cos * crop_h * flip_y, centre_y], 1),
    ], 1)  # (B, 2, 3)
    size = [b, x.shape[1], *(output_size or (h, w))]
    grid = F.affine_grid(theta, size, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode,
                         align_corners=False)


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


class Augment(BaseEstimator):
    """The augmentation pipeline that makes one contrastive view of a batch.

    Applied in this order: one fused resampling for crop, rotation and flips
    (:func:`random_affine`), brightness/contrast jitter, Gaussian blur,
    photon noise, Gaussian noise. Setting an operation's strength to zero (or
    its probability to zero) switches it off. Flat ``(B, F)`` inputs, which
    have no geometry, get :func:`feature_dropout` and Gaussian noise only.

    It operates on normalised intensities (after the pretrainer's ``normalize``
    step), so ``brightness`` and ``noise_std`` are in units of the data's
    standard deviation when ``normalize="dataset"``.

    Parameters
    ----------
    crop_scale : tuple of float, default=(0.25, 1.0)
        Area range of the random resized crop; ``(1.0, 1.0)`` disables cropping.
    crop_ratio : tuple of float, default=(3/4, 4/3)
        Aspect-ratio range of the crop.
    rotation : float, default=180.0
        Maximum rotation in degrees (180 means any angle: right for
        diffraction patterns, cells and galaxies; use a small value for
        digits or text).
    hflip, vflip : float, default=0.5
        Flip probabilities.
    brightness, contrast : float, default=0.4
        Jitter strengths, see :func:`color_jitter`.
    jitter_prob : float, default=0.8
        Probability that an image is jittered.
    blur_sigma : tuple of float, default=(0.1, 1.5)
        Blur width range in pixels.
    blur_prob : float, default=0.5
        Probability that an image is blurred.
    photons : float or None, default=None
        Photon level of :func:`poisson_noise`; None disables it.
    noise_std : float, default=0.0
        Standard deviation of additive Gaussian noise.
    feature_drop : float, default=0.2
        Drop probability for flat vector inputs (ignored for images).
    padding_mode : {"zeros", "border", "reflection"}, default="zeros"
        Fill outside the image after rotation.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import Augment
    >>> augment = Augment(rotation=15, hflip=0.0, vflip=0.0)
    >>> view = augment(torch.rand(8, 1, 32, 32))
    >>> view.shape
    torch.Size([8, 1, 32, 32])
    """

    _interval_params = ("crop_scale", "crop_ratio", "blur_sigma")
    _probability_params = ("hflip", "vflip", "jitter_prob", "blur_prob", "feature_drop")
    _nonnegative_params = ("rotation", "brightness", "contrast", "noise_std")

    def __init__(self, *, crop_scale=(0.25, 1.0), crop_ratio=(3 / 4, 4 / 3),
                 rotation=180.0, hflip=0.5, vflip=0.5, brightness=0.4, contrast=0.4,
                 jitter_prob=0.8, blur_sigma=(0.1, 1.5), blur_prob=0.5, photons=None,
                 noise_std=0.0, feature_drop=0.2, padding_mode="zeros"):
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.rotation = rotation
        self.hflip = hflip
        self.vflip = vflip
        self.brightness = brightness
        self.contrast = contrast
        self.jitter_prob = jitter_prob
        self.blur_sigma = blur_sigma
        self.blur_prob = blur_prob
        self.photons = photons
        self.noise_std = noise_std
        self.feature_drop = feature_drop
        self.padding_mode = padding_mode

    def validate(self):
        """Check every parameter and raise ``ValueError`` naming a bad one.

        Returns
        -------
        self : Augment
        """
        def fail(name, expected):
            raise ValueError(
                f"The {name!r} parameter of Augment must be {expected}. "
                f"Got {getattr(self, name)!r}."
            )

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        for name in self._interval_params:
            v = getattr(self, name)
            if not (isinstance(v, (tuple, list)) and len(v) == 2
                    and all(is_real(e) and e > 0 for e in v) and v[0] <= v[1]):
                fail(name, "a pair (low, high) of positive numbers with low <= high")
        if self.crop_scale[1] > 1:
            fail("crop_scale", "within (0, 1]")
        for name in self._probability_params:
            if not (is_real(getattr(self, name)) and 0 <= getattr(self, name) <= 1):
                fail(name, "a probability in [0, 1]")
        for name in self._nonnegative_params:
            if not (is_real(getattr(self, name)) and getattr(self, name) >= 0):
                fail(name, "a finite number >= 0")
        if self.contrast > 1:
            fail("contrast", "in [0, 1]")
        if self.photons is not None and not (is_real(self.photons) and self.photons > 0):
            fail("photons", "None or a number > 0")
        if self.padding_mode not in ("zeros", "border", "reflection"):
            fail("padding_mode", "one of 'zeros', 'border', 'reflection'")
        return self

    def __call__(self, x, output_size=None):
        """Return one augmented view of the float batch ``x``.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W) or (B, F)
        output_size : tuple of int (h, w), default=None
            Resample the crops to this size (multi-crop); None keeps ``(H, W)``.

        Returns
        -------
        torch.Tensor of shape (B, C, h, w) (or (B, F)), same dtype and device

        Raises
        ------
        TypeError
            If ``x`` is not a floating-point torch tensor.
        ValueError
            If ``x`` is neither 4-D nor 2-D.
        """
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError("Augment takes a floating-point torch tensor; got "
                            f"{getattr(x, 'dtype', type(x).__name__)}.")
        if x.ndim not in (2, 4):
            raise ValueError("Augment takes images of shape (B, C, H, W) or vectors (B, F); got "
                             f"shape {tuple(x.shape)}.")
        if x.ndim == 2:
            if self.feature_drop > 0:
                x = feature_dropout(x, p=self.feature_drop)
        else:
            geometric = (tuple(self.crop_scale) != (1.0, 1.0) or self.rotation > 0
                         or self.hflip > 0 or self.vflip > 0)
            resize = output_size is not None and tuple(output_size) != tuple(x.shape[-2:])
            if geometric or resize:
                x = random_affine(x, scale=self.crop_scale, ratio=self.crop_ratio,
                                  rotation=self.rotation, hflip=self.hflip,
                                  vflip=self.vflip, padding_mode=self.padding_mode,
                                  output_size=output_size)
            if self.jitter_prob > 0 and (self.brightness > 0 or self.contrast > 0):
                x = color_jitter(x, brightness=self.brightness, contrast=self.contrast,
                                 p=self.jitter_prob)
            if self.blur_prob > 0:
                x = gaussian_blur(x, sigma=self.blur_sigma, p=self.blur_prob)
            if self.photons is not None:
                x = poisson_noise(x, photons=self.photons)
        if self.noise_std > 0:
            x = gaussian_noise(x, std=self.noise_std)
        return x
