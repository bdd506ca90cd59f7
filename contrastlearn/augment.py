"""Batched, on-device image augmentations for contrastive views.

Every function takes a float batch ``(B, C, H, W)`` already on the model's
device and returns a new batch of the same shape, dtype and device. Randomness
comes from torch's global generator, so a fit under ``random_state`` repeats
bit for bit on the CPU. There is no per-sample Python loop: each function is a
handful of tensor operations over the whole batch, and crop, rotation, flips
and translation share one resampling (:func:`random_affine`).

:class:`Augment` bundles them into the pipeline the pretrainers use; its
parameters are nested estimator parameters, so ``GridSearchCV`` can tune them
as ``augment__rotation``. :data:`PRESETS` holds named pipelines
(``"isotropic"``, ``"upright"`` and the reference CPLR study's
``"cplr-reference"``) and :func:`resolve_augment` turns an
estimator's ``augment`` parameter into a fresh, validated :class:`Augment`.
"""

import math
import numbers

import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, clone

__all__ = [
    "Augment",
    "PRESETS",
    "resolve_augment",
    "random_affine",
    "random_gain",
    "random_erasing",
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
                  hflip=0.5, vflip=0.5, translate=0.0, padding_mode="zeros",
                  output_size=None):
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
    flip_x = torch.where(torch.rand_like(area) < hflip, -1.0, 1.0)
    flip_y = torch.where(torch.rand_like(area) < vflip, -1.0, 1.0)
    cos, sin = angle.cos(), angle.sin()
    # Rotation acts in pixel units; (w / h) factors undo the normalised
    # coordinates' stretch on non-square images.
    theta = torch.stack([
        torch.stack([cos * crop_w * flip_x, -sin * crop_h * flip_y * (h / w), centre_x], 1),
        torch.stack([sin * crop_w * flip_x * (w / h), cos * crop_h * flip_y, centre_y], 1),
    ], 1)  # (B, 2, 3)
    if translate:
        # Shifting the output by t samples the input at A (p - t) + c, where
        # t is in normalised units (2 per image width or height).
        shift = _uniform(-2 * translate, 2 * translate, 2 * b, x).view(b, 2, 1)
        theta = torch.cat([theta[:, :, :2], theta[:, :, 2:] - theta[:, :, :2] @ shift], 2)
    size = [b, x.shape[1], *(output_size or (h, w))]
    grid = F.affine_grid(theta, size, align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode=padding_mode,
                         align_corners=False)


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

    Applied in this order: one fused resampling for crop, rotation, flips and
    translation (:func:`random_affine`), multiplicative gain
    (:func:`random_gain`) and the ``clip``, brightness/contrast jitter
    (:func:`color_jitter`), Gaussian blur, photon noise, random erasing
    (:func:`random_erasing`), Gaussian noise. Setting an operation's strength
    to zero (or its probability to zero, or ``gain`` to None) switches it
    off. Flat ``(B, F)`` inputs, which have no geometry, get
    :func:`feature_dropout` and Gaussian noise only.

    It operates on normalised intensities (after the pretrainer's ``normalize``
    step), so ``brightness`` and ``noise_std`` are in units of the data's
    standard deviation when ``normalize="dataset"``.

    The reference study's pipeline (``PRESETS["cplr-reference"]``) applies its
    brightness gain before the rotation and its erasing before the
    translation, each geometric step as a separate resampling that fills the
    corners outside the cropped view with zeros. Here the gain comes after
    the single resampling, which it commutes with (the clip nearly so), the
    erased box is never shifted partly out of the frame, and the fill only
    enters where the sampling leaves the whole image: only border effects
    differ.

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
    translate : float, default=0.0
        Maximum shift after crop, rotation and flips, as a fraction of the
        view's height and width (in [0, 1]), see :func:`random_affine`.
    gain : tuple of float or None, default=None
        Range ``(low, high)`` of the per-image intensity factor of
        :func:`random_gain`; None disables it.
    gain_jitter : float, default=0.0
        Half-width of the uniform term added to the gain factor (ignored when
        ``gain`` is None).
    clip : tuple of float or None, default=None
        Clip intensities to ``(low, high)`` right after the gain. This
        assumes intensities normalised to that range, e.g. ``(0, 1)`` with a
        pretrainer's ``normalize="minmax"``; None disables it.
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
    erase_prob : float, default=0.0
        Probability that an image gets an erased box, see
        :func:`random_erasing`.
    erase_scale : tuple of float, default=(0.05, 0.3)
        Area range of the erased box as a fraction of the image, within (0, 1].
    erase_ratio : tuple of float, default=(0.25, 2.5)
        Aspect-ratio range of the erased box.
    erase_value : float, default=0.0
        Intensity the erased box is set to.
    noise_std : float, default=0.0
        Standard deviation of additive Gaussian noise.
    feature_drop : float, default=0.2
        Drop probability for flat vector inputs (ignored for images).
    padding_mode : {"zeros", "border", "reflection"}, default="zeros"
        Fill outside the image after rotation and translation.

    See Also
    --------
    PRESETS : Named pipelines, such as the reference study's.
    resolve_augment : How estimators turn their ``augment`` into an Augment.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.augment import Augment
    >>> augment = Augment(rotation=15, hflip=0.0, vflip=0.0, translate=0.1)
    >>> view = augment(torch.rand(8, 1, 32, 32))
    >>> view.shape
    torch.Size([8, 1, 32, 32])
    >>> reference_like = Augment(gain=(0.5, 1.5), clip=(0.0, 1.0), jitter_prob=0.0,
    ...                          blur_prob=0.0, erase_prob=1.0)
    >>> view = reference_like(torch.rand(8, 1, 32, 32))
    >>> bool((view >= 0).all() and (view <= 1).all())
    True
    """

    _interval_params = ("crop_scale", "crop_ratio", "blur_sigma", "erase_scale", "erase_ratio")
    _probability_params = ("hflip", "vflip", "jitter_prob", "blur_prob", "erase_prob",
                           "feature_drop")
    _nonnegative_params = ("rotation", "translate", "gain_jitter", "brightness", "contrast",
                           "noise_std")

    def __init__(self, *, crop_scale=(0.25, 1.0), crop_ratio=(3 / 4, 4 / 3),
                 rotation=180.0, hflip=0.5, vflip=0.5, translate=0.0, gain=None,
                 gain_jitter=0.0, clip=None, brightness=0.4, contrast=0.4,
                 jitter_prob=0.8, blur_sigma=(0.1, 1.5), blur_prob=0.5, photons=None,
                 erase_prob=0.0, erase_scale=(0.05, 0.3), erase_ratio=(0.25, 2.5),
                 erase_value=0.0, noise_std=0.0, feature_drop=0.2, padding_mode="zeros"):
        self.crop_scale = crop_scale
        self.crop_ratio = crop_ratio
        self.rotation = rotation
        self.hflip = hflip
        self.vflip = vflip
        self.translate = translate
        self.gain = gain
        self.gain_jitter = gain_jitter
        self.clip = clip
        self.brightness = brightness
        self.contrast = contrast
        self.jitter_prob = jitter_prob
        self.blur_sigma = blur_sigma
        self.blur_prob = blur_prob
        self.photons = photons
        self.erase_prob = erase_prob
        self.erase_scale = erase_scale
        self.erase_ratio = erase_ratio
        self.erase_value = erase_value
        self.noise_std = noise_std
        self.feature_drop = feature_drop
        self.padding_mode = padding_mode

    def validate(self):
        """Check every parameter and raise ``ValueError`` naming a bad one.

        Returns
        -------
        self : Augment

        Examples
        --------
        >>> from contrastlearn.augment import Augment
        >>> Augment(erase_prob=1.5).validate()
        Traceback (most recent call last):
        ...
        ValueError: The 'erase_prob' parameter of Augment must be a probability in [0, 1]. Got 1.5.
        """
        def fail(name, expected):
            raise ValueError(
                f"The {name!r} parameter of Augment must be {expected}. "
                f"Got {getattr(self, name)!r}."
            )

        def is_real(v):
            return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)

        def is_pair(v):
            return (isinstance(v, (tuple, list)) and len(v) == 2
                    and all(is_real(e) for e in v) and v[0] <= v[1])

        for name in self._interval_params:
            v = getattr(self, name)
            if not (is_pair(v) and v[0] > 0):
                fail(name, "a pair (low, high) of positive numbers with low <= high")
        for name in ("crop_scale", "erase_scale"):
            if getattr(self, name)[1] > 1:
                fail(name, "within (0, 1]")
        for name in self._probability_params:
            if not (is_real(getattr(self, name)) and 0 <= getattr(self, name) <= 1):
                fail(name, "a probability in [0, 1]")
        for name in self._nonnegative_params:
            if not (is_real(getattr(self, name)) and getattr(self, name) >= 0):
                fail(name, "a finite number >= 0")
        if self.contrast > 1:
            fail("contrast", "in [0, 1]")
        if self.translate > 1:
            fail("translate", "in [0, 1]")
        if self.gain is not None and not (is_pair(self.gain) and self.gain[0] >= 0):
            fail("gain", "None or a pair (low, high) of numbers >= 0 with low <= high")
        if self.clip is not None and not (is_pair(self.clip) and self.clip[0] < self.clip[1]):
            fail("clip", "None or a pair (low, high) of finite numbers with low < high")
        if not is_real(self.erase_value):
            fail("erase_value", "a finite number")
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
                         or self.hflip > 0 or self.vflip > 0 or self.translate > 0)
            resize = output_size is not None and tuple(output_size) != tuple(x.shape[-2:])
            if geometric or resize:
                x = random_affine(x, scale=self.crop_scale, ratio=self.crop_ratio,
                                  rotation=self.rotation, hflip=self.hflip,
                                  vflip=self.vflip, translate=self.translate,
                                  padding_mode=self.padding_mode, output_size=output_size)
            if self.gain is not None:
                x = random_gain(x, gain=self.gain, jitter=self.gain_jitter)
            if self.clip is not None:
                x = x.clamp(self.clip[0], self.clip[1])
            if self.jitter_prob > 0 and (self.brightness > 0 or self.contrast > 0):
                x = color_jitter(x, brightness=self.brightness, contrast=self.contrast,
                                 p=self.jitter_prob)
            if self.blur_prob > 0:
                x = gaussian_blur(x, sigma=self.blur_sigma, p=self.blur_prob)
            if self.photons is not None:
                x = poisson_noise(x, photons=self.photons)
            if self.erase_prob > 0:
                x = random_erasing(x, p=self.erase_prob, scale=self.erase_scale,
                                   ratio=self.erase_ratio, value=self.erase_value)
        if self.noise_std > 0:
            x = gaussian_noise(x, std=self.noise_std)
        return x


#: Named augmentation pipelines; :func:`resolve_augment` hands out clones.
#:
#: ``"isotropic"`` is ``Augment()``: random resized crops, rotation by any
#: angle, horizontal and vertical flips, colour jitter and blur, for images
#: without a preferred orientation (diffraction patterns, cells, particles,
#: galaxies). ``"upright"`` is for images with one (digits, text, faces,
#: side-on views): the same crops (area 50-100 %), jitter and blur (up to 1 px),
#: but rotation by at most 15 degrees and no flips, which would turn a 6 into
#: a 9. On sklearn's digits a 100-label linear probe on CLR's embedding scored
#: 0.942 with ``"upright"`` and 0.882 with ``"isotropic"`` (raw pixels: 0.887).
#:
#: ``"cplr-reference"`` reproduces the GPU augmenter of Zimmermann et al.
#: (2023), "Deep neural networks for classifying complex features in
#: diffraction images" / contrastive projection learning, npj Comput. Mater.
#: 9, 24, doi:10.1038/s41524-023-00966-0 (code: ``data_util.py`` and
#: ``model.py`` of julian-carpenter/contrastive_projection_learning). Its
#: list, in the reference's order: horizontal flip (p=0.5); square random
#: resized crop, area in (0.2, 1); brightness, a factor ``U(0.5, 1.5) +
#: U(-0.2, 0.2)`` clipped to [0, 1]; rotation by up to 90 degrees, zero fill;
#: random erasing (p=1, area in (0.05, 0.3), aspect in (0.25, 2.5), value 0);
#: translation by up to 12.5% of height and width, zero fill. No vertical
#: flip, colour jitter, blur or noise. The clip assumes intensities in [0, 1]
#: (``normalize="minmax"``). See :class:`Augment` for how the order differs.
PRESETS = {
    "isotropic": Augment(),
    "upright": Augment(crop_scale=(0.5, 1.0), rotation=15.0, hflip=0.0, vflip=0.0,
                       blur_sigma=(0.1, 1.0)),
    "cplr-reference": Augment(
        crop_scale=(0.2, 1.0), crop_ratio=(1.0, 1.0), rotation=90.0, hflip=0.5, vflip=0.0,
        translate=0.125, gain=(0.5, 1.5), gain_jitter=0.2, clip=(0.0, 1.0),
        brightness=0.0, contrast=0.0, jitter_prob=0.0, blur_prob=0.0, photons=None,
        erase_prob=1.0, erase_scale=(0.05, 0.3), erase_ratio=(0.25, 2.5), erase_value=0.0,
        noise_std=0.0, padding_mode="zeros"),
}


def resolve_augment(augment, default):
    """Return a fresh, validated :class:`Augment` for an ``augment`` parameter.

    Parameters
    ----------
    augment : None, str or Augment
        None gives a clone of ``default``, a key of :data:`PRESETS` a clone
        of that preset, an :class:`Augment` a clone of it.
    default : Augment
        The estimator's own pipeline for ``augment=None``.

    Returns
    -------
    Augment
        A new object (changing it leaves ``augment``, ``default`` and the
        presets as they were), already validated.

    Raises
    ------
    ValueError
        If ``augment`` is none of the above (the message lists the preset
        names), or if the resulting pipeline has a bad parameter.

    Examples
    --------
    >>> from contrastlearn.augment import Augment, resolve_augment
    >>> resolve_augment("cplr-reference", Augment()).translate
    0.125
    >>> resolve_augment(None, Augment(rotation=15)).rotation
    15
    """
    if augment is None:
        augment = default
    elif isinstance(augment, str) and augment in PRESETS:
        augment = PRESETS[augment]
    elif not isinstance(augment, Augment):
        raise ValueError(
            "The 'augment' parameter must be None, a contrastlearn.augment.Augment or the "
            f"name of a preset, one of {sorted(PRESETS)}. Got {augment!r}."
        )
    return clone(augment).validate()
