"""Self-supervised losses as plain functions on tensors.

Every loss here is a pure function of its tensor arguments, so it can be tested
against hand-computed values and reused outside the estimators; the
cross-process steps (gathering negatives or a whole batch, summing Sinkhorn's
normalisers) go through :mod:`contrastlearn.distributed`. By family:
contrastive (:func:`nt_xent`, :func:`info_nce`), predictive
(:func:`negative_cosine`, :func:`byol_loss`), distillation (:func:`dino_loss`,
:func:`ibot_patch_loss`), redundancy reduction (:func:`barlow_twins_loss`,
:func:`vicreg_loss`), clustering (:func:`sinkhorn`, :func:`swav_loss`) and
pretext tasks (:func:`mae_loss`, :func:`jigsaw_loss`) and images against paired
texts or measurements (:func:`convirt_loss`, :func:`gloria_loss`) and the
generative pair of a discrete image tokenizer and a text-to-image transformer
(:func:`discrete_vae_loss`, :func:`dalle_loss`).
"""

from ._clustering import sinkhorn, swav_loss
from ._contrastive import info_nce, nt_xent
from ._distillation import dino_loss, ibot_patch_loss
from ._generative import dalle_loss, discrete_vae_loss
from ._paired import convirt_loss, gloria_loss, word_region_attention
from ._predictive import byol_loss, negative_cosine
from ._pretext import jigsaw_loss, mae_loss
from ._redundancy import barlow_twins_loss, vicreg_loss

__all__ = [
    "nt_xent",
    "negative_cosine",
    "dino_loss",
    "ibot_patch_loss",
    "barlow_twins_loss",
    "vicreg_loss",
    "byol_loss",
    "info_nce",
    "sinkhorn",
    "swav_loss",
    "mae_loss",
    "jigsaw_loss",
    "convirt_loss",
    "gloria_loss",
    "word_region_attention",
    "discrete_vae_loss",
    "dalle_loss",
]
