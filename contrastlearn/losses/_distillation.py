"""Self-distillation losses against a momentum teacher (DINO, iBOT)."""

import torch
import torch.nn.functional as F

from .._validation import POSITIVE
from ..validation import validate_params
from ._common import TEMPERATURE, TENSOR


@validate_params(
    {
        "student_outputs": TENSOR,
        "teacher_outputs": TENSOR,
        "center": TENSOR,
        "student_temperature": POSITIVE,
        "teacher_temperature": TEMPERATURE,
    }
)
def dino_loss(
    student_outputs, teacher_outputs, center, student_temperature=0.1, teacher_temperature=0.04
):
    r"""DINO's self-distillation loss between multi-crop student and teacher outputs.

    The teacher's outputs for the global crops are centred and sharpened,
    :math:`P_t = \operatorname{softmax}((t - c) / \tau_t)`, the student's
    outputs for all crops are softened, :math:`\log P_s =
    \operatorname{log\_softmax}(s / \tau_s)`, and the cross entropy
    :math:`H(P_t, P_s) = -\sum_k P_t^{(k)} \log P_s^{(k)}` is averaged over
    the batch and over every (teacher crop :math:`i`, student crop :math:`j`)
    pair with :math:`i \neq j`. Crop :math:`i` of the teacher is the same
    global crop as crop :math:`i` of the student, so the teacher never
    supervises the student on the view it saw itself. No gradient reaches
    the teacher.

    Parameters
    ----------
    student_outputs : torch.Tensor of shape (n_student_crops, n_samples, n_prototypes)
        Student head outputs (logits), global crops first.
    teacher_outputs : torch.Tensor of shape (n_teacher_crops, n_samples, n_prototypes)
        Teacher head outputs for the global crops, in the same order.
    center : torch.Tensor of shape (n_prototypes,)
        The running mean of teacher outputs, subtracted before sharpening
        (centering avoids collapse onto one prototype).
    student_temperature : float, default=0.1
    teacher_temperature : float or 0-d torch.Tensor, default=0.04
        Lower than the student's: the teacher's distribution is sharper. A
        tensor (checked by the caller) lets a compiled training step follow
        a temperature schedule without recompiling.

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Caron et al., "Emerging Properties in Self-Supervised Vision Transformers",
    ICCV 2021, arXiv:2104.14294.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import dino_loss
    >>> same = torch.zeros(2, 4, 8)                # uniform outputs over 8 prototypes
    >>> round(dino_loss(same, same, torch.zeros(8)).item(), 4)   # log(8)
    2.0794
    """
    if student_outputs.ndim != 3 or teacher_outputs.ndim != 3:
        raise ValueError(
            "student_outputs and teacher_outputs must be 3-D (n_crops, n_samples, "
            f"n_prototypes); got {tuple(student_outputs.shape)} and {tuple(teacher_outputs.shape)}."
        )
    if (
        student_outputs.shape[1:] != teacher_outputs.shape[1:]
        or teacher_outputs.shape[0] > student_outputs.shape[0]
    ):
        raise ValueError(
            "teacher_outputs must cover the first global crops of student_outputs with the "
            f"same (n_samples, n_prototypes); got {tuple(teacher_outputs.shape)} for student "
            f"outputs {tuple(student_outputs.shape)}."
        )
    if center.shape != (student_outputs.shape[-1],):
        raise ValueError(
            f"center must have shape ({student_outputs.shape[-1]},); got {tuple(center.shape)}."
        )
    dtype = torch.float64 if student_outputs.dtype == torch.float64 else torch.float32
    log_student = F.log_softmax(student_outputs.to(dtype) / student_temperature, dim=-1)
    teacher = F.softmax(
        (teacher_outputs.detach().to(dtype) - center.to(dtype)) / teacher_temperature, dim=-1
    )
    # cross[i, j] = mean over samples of H(teacher crop i, student crop j)
    cross = -torch.einsum("ibk,jbk->ij", teacher, log_student) / student_outputs.shape[1]
    n_teacher = teacher_outputs.shape[0]
    same_view = torch.eye(
        n_teacher, student_outputs.shape[0], dtype=torch.bool, device=cross.device
    )
    return cross.masked_fill(same_view, 0).sum() / (cross.numel() - n_teacher)


@validate_params(
    {
        "student_patches": TENSOR,
        "teacher_patches": TENSOR,
        "mask": TENSOR,
        "center": TENSOR,
        "student_temperature": POSITIVE,
        "teacher_temperature": TEMPERATURE,
    }
)
def ibot_patch_loss(
    student_patches,
    teacher_patches,
    mask,
    center,
    student_temperature=0.1,
    teacher_temperature=0.07,
):
    r"""iBOT's masked-image-modelling loss: predict the teacher's patch tokens where masked.

    For every masked patch :math:`p` of an image, the teacher (which saw the
    image unmasked) gives :math:`P_t = \operatorname{softmax}((t_p - c) /
    \tau_t)` and the student (which saw a mask token there) gives
    :math:`\log P_s = \operatorname{log\_softmax}(s_p / \tau_s)`; the loss
    is the cross entropy :math:`-\sum_k P_t^{(k)} \log P_s^{(k)}` averaged
    over the masked patches of each image, then over images with at least one
    masked patch. No gradient reaches the teacher.

    Parameters
    ----------
    student_patches : torch.Tensor of shape (n_images, n_patches, n_prototypes)
    teacher_patches : torch.Tensor of shape (n_images, n_patches, n_prototypes)
    mask : torch.Tensor of bool, shape (n_images, n_patches)
        True where the student's input patch was masked.
    center : torch.Tensor of shape (n_prototypes,)
        Running mean of the teacher's patch outputs.
    student_temperature : float, default=0.1
    teacher_temperature : float, default=0.07

    Returns
    -------
    torch.Tensor
        Scalar loss.

    References
    ----------
    Zhou et al., "iBOT: Image BERT Pre-Training with Online Tokenizer",
    ICLR 2022, arXiv:2111.07832.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import ibot_patch_loss
    >>> outputs = torch.zeros(1, 4, 8)                 # uniform over 8 prototypes
    >>> mask = torch.tensor([[True, False, False, False]])
    >>> round(ibot_patch_loss(outputs, outputs, mask, torch.zeros(8)).item(), 4)   # log(8)
    2.0794
    """
    if student_patches.shape != teacher_patches.shape or student_patches.ndim != 3:
        raise ValueError(
            "student_patches and teacher_patches must have the same 3-D shape "
            f"(n_images, n_patches, n_prototypes); got {tuple(student_patches.shape)}"
            f" and {tuple(teacher_patches.shape)}."
        )
    if mask.shape != student_patches.shape[:2] or mask.dtype != torch.bool:
        raise ValueError(
            f"mask must be a bool tensor of shape {tuple(student_patches.shape[:2])}; "
            f"got {mask.dtype} of shape {tuple(mask.shape)}."
        )
    dtype = torch.float64 if student_patches.dtype == torch.float64 else torch.float32
    log_student = F.log_softmax(student_patches.to(dtype) / student_temperature, dim=-1)
    teacher = F.softmax(
        (teacher_patches.detach().to(dtype) - center.to(dtype)) / teacher_temperature, dim=-1
    )
    per_patch = -(teacher * log_student).sum(-1)  # (n_images, n_patches)
    weights = mask.to(dtype)
    counts = weights.sum(1)
    per_image = (per_patch * weights).sum(1) / counts.clamp_min(1)
    return per_image[counts > 0].mean()
