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

from ._ops import (
    color_jitter,
    feature_dropout,
    gaussian_blur,
    gaussian_noise,
    poisson_noise,
    random_affine,
    random_erasing,
    random_gain,
)
from ._pipeline import PRESETS, Augment, resolve_augment

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
