"""iBOT: DINO plus masked-patch self-distillation on Vision Transformer tokens (:class:`iBOT`)."""

import numbers

import torch

from ._validation import NONNEGATIVE, POSITIVE
from .dino import DINO, _update_center
from .losses import ibot_patch_loss
from .validation import Interval


def random_patch_mask(n_images, n_patches, ratio, device=None):
    """A boolean mask with exactly ``round(ratio * n_patches)`` (at least 1) patches per row.

    Parameters
    ----------
    n_images, n_patches : int
    ratio : float
        Fraction of patches to mask, in (0, 1).
    device : torch.device, optional

    Returns
    -------
    torch.Tensor of bool, shape (n_images, n_patches)

    Examples
    --------
    >>> from contrastlearn.ibot import random_patch_mask
    >>> random_patch_mask(3, 16, 0.25).sum(dim=1).tolist()
    [4, 4, 4]
    """
    k = min(max(round(ratio * n_patches), 1), n_patches)
    ranks = torch.rand(n_images, n_patches, device=device).argsort(dim=1).argsort(dim=1)
    return ranks < k


_DINO_DOC = DINO.__doc__  # its parameters and sections, without DINO's own recipe notes
_IBOT_NOTES = """    Notes
    -----
    The recipe of the authors' code (``main_ibot.py`` of bytedance/ibot; ViT-S/16 on
    ImageNet): AdamW with ``lr = 0.0005 * batch_size / 256`` after 10 warm-up
    epochs, weight decay rising from 0.04 to 0.4, gradients clipped at norm
    3, teacher temperature 0.04 and patch temperature warmed from 0.04 to
    0.07 over 30 epochs, teacher momentum 0.996 to 1, 8,192 prototypes,
    block masks over 30 % of the patches, both loss weights 1, global crops
    of 14-100 % of the area and drop-path 0.1. Ours share the mask ratio,
    the loss weights, the temperatures and the momentum; the optimiser
    settings are DINO's defaults, which ``benchmarks/recipes.py`` measured
    for DINO (iBOT's ViT costs about 30 times the small CNN on a CPU, so it
    was not measured separately). In contrastlearn that recipe is
    ``iBOT(lr=0.0005 * batch_size / 256, warmup_epochs=10, weight_decay=0.04,
    n_prototypes=8192)`` (the weight decay constant, no clipping).

"""


class iBOT(DINO):  # noqa: N801 (the method's own spelling)
    __doc__ = """iBOT: DINO's self-distillation plus masked image modelling, an online tokenizer.

    Everything :class:`DINO` does (EMA teacher, centring, sharpening,
    multi-crop, ``transform`` = the teacher's CLS embedding), plus: in each
    global crop given to the student a random ``mask_ratio`` of the patches is
    replaced by the ViT's mask token, and the student's patch tokens at the
    masked positions are trained to predict the teacher's patch tokens of the
    unmasked crop (:func:`~contrastlearn.losses.ibot_patch_loss`, with its
    own centre and ``teacher_patch_temperature``). The head is shared between
    CLS and patch tokens. The total loss is the CLS loss plus
    ``patch_loss_weight`` times the patch loss.

    Needs a Vision Transformer backbone (``backbone="vit_small_p8"`` by
    default; ``"vit_tiny_p4"`` etc.), whose patch size divides the crops.

    Parameters
    ----------
    mask_ratio : float, default=0.3
        Fraction of each global crop's patches masked for the student.
    patch_loss_weight : float, default=1.0
    teacher_patch_temperature : float, default=0.07
    """ + (
        _DINO_DOC[_DINO_DOC.index("    n_prototypes : int") : _DINO_DOC.index("    Notes")]
        + _IBOT_NOTES
        + _DINO_DOC[_DINO_DOC.index("    See Also") :]
    ).replace(
        'backbone : str or torch.nn.Module, default="auto"',
        'backbone : str or torch.nn.Module, default="vit_small_p8"',
    )

    _parameter_constraints = {
        **DINO._parameter_constraints,
        "mask_ratio": Interval(numbers.Real, 0, 1, closed="neither"),
        "patch_loss_weight": NONNEGATIVE,
        "teacher_patch_temperature": POSITIVE,
    }

    _method_params = {
        "mask_ratio": 0.3,
        "patch_loss_weight": 1.0,
        "teacher_patch_temperature": 0.07,
        "backbone": "vit_small_p8",
    }

    def _make_module(self, X):
        module = super()._make_module(X)
        if not hasattr(module.backbone, "forward_tokens"):
            raise ValueError(
                "iBOT needs a Vision Transformer backbone with patch tokens (e.g. "
                f"backbone='vit_small_p8'); got {type(module.backbone).__name__}."
            )
        module.register_buffer("patch_center", torch.zeros(self.n_prototypes))
        return module

    def _training_loss(self, module, x, partner):
        n = len(x)
        global_crops, local_crops = self._crops(module, x, partner)
        grid = [side // module.backbone.patch_size for side in global_crops.shape[-2:]]
        mask = random_patch_mask(2 * n, grid[0] * grid[1], self.mask_ratio, global_crops.device)
        student_tokens = module.student_head(
            module.student_backbone.forward_tokens(global_crops, mask=mask)
        )  # (2n, 1 + P, K)
        student = [student_tokens[:, 0]]
        if local_crops is not None:
            student.append(module.student_head(module.student_backbone(local_crops)))
        with torch.no_grad():
            teacher_tokens = module.head(module.backbone.forward_tokens(global_crops))
        prototypes = teacher_tokens.shape[-1]
        cls_loss = self._distillation_loss(
            module,
            torch.cat(student).view(-1, n, prototypes),
            teacher_tokens[:, 0].view(2, n, prototypes),
        )
        patch_loss = ibot_patch_loss(
            student_tokens[:, 1:],
            teacher_tokens[:, 1:],
            mask,
            module.patch_center,
            self.student_temperature,
            self.teacher_patch_temperature,
        )
        _update_center(module.patch_center, teacher_tokens[:, 1:], self.center_momentum)
        return cls_loss + self.patch_loss_weight * patch_loss
