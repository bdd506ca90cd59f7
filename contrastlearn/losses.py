"""Self-supervised losses as plain functions on tensors.

Every loss here is a pure function of its tensor arguments, so it can be tested
against hand-computed values and reused outside the estimators; the one
cross-process step, gathering NT-Xent's negatives, is
:func:`contrastlearn.distributed.gather`.
"""

import torch
import torch.nn.functional as F

from . import distributed
from ._validation import BOOL, NONNEGATIVE, POSITIVE
from .validation import InstanceOf, validate_params

_TENSOR = InstanceOf(torch.Tensor, name="a torch tensor")
_TEMPERATURE = [POSITIVE, InstanceOf(torch.Tensor, name="a 0-d torch tensor")]

__all__ = [
    "nt_xent",
    "negative_cosine",
    "dino_loss",
    "ibot_patch_loss",
    "barlow_twins_loss",
    "vicreg_loss",
]


@validate_params(
    {"z1": _TENSOR, "z2": _TENSOR, "temperature": POSITIVE, "gather_distributed": BOOL}
)
def nt_xent(z1, z2, temperature=0.1, *, gather_distributed=False):
    r"""Normalised temperature-scaled cross entropy (SimCLR's NT-Xent loss).

    For a batch of :math:`N` images seen in two views there are :math:`2N`
    projections. Each one is an anchor :math:`i` whose positive :math:`p(i)` is
    the other view of the same image; the remaining :math:`2N - 2` views are
    negatives. With cosine similarity :math:`s_{ij}` and temperature
    :math:`\tau`,

    .. math::

        \ell_i = -\log \frac{\exp(s_{i,p(i)} / \tau)}
                            {\sum_{k \neq i} \exp(s_{ik} / \tau)},
        \qquad
        \mathcal{L} = \frac{1}{2N} \sum_{i=1}^{2N} \ell_i .

    Parameters
    ----------
    z1, z2 : torch.Tensor of shape (n_samples, n_dims)
        Projections of the first and second view; row ``i`` of ``z1`` and row
        ``i`` of ``z2`` come from the same image. They need not be normalised.
    temperature : float, default=0.1
        The temperature :math:`\tau > 0`. Low values sharpen the softmax over
        negatives.
    gather_distributed : bool, default=False
        Under distributed training (:mod:`contrastlearn.distributed`), let
        the local anchors meet the views of every process as negatives: the
        loss is then the mean over the local :math:`2N` anchors against all
        :math:`2NW` views of :math:`W` processes, and averaging it (and its
        gradients) over the processes gives the one-process loss of the whole
        global batch. Each process must pass the same number of samples. No
        effect outside distributed training.

    Returns
    -------
    loss : torch.Tensor
        Scalar, the mean over all :math:`2N` anchors. It is computed in
        float32 (or float64 for float64 inputs) even under autocast.

    References
    ----------
    Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive
    Learning of Visual Representations", ICML 2020, arXiv:2002.05709.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import nt_xent
    >>> z = torch.eye(2)
    >>> round(nt_xent(z, z, temperature=1.0).item(), 4)  # log((e + 2) / e)
    0.5514
    """
    _check_pair(z1, z2, "z1", "z2")
    n = z1.shape[0]
    dtype = torch.float64 if z1.dtype == torch.float64 else torch.float32
    z1, z2 = F.normalize(z1.to(dtype), dim=1), F.normalize(z2.to(dtype), dim=1)
    gather = distributed.gather if gather_distributed else (lambda z: z)
    rank, world = (distributed.rank(), distributed.world_size()) if gather_distributed else (0, 1)
    # Candidates: every process's first views, then every process's second
    # views (2NW, D); this process's anchors are rows rank*N + i of each half.
    candidates = torch.cat([gather(z1), gather(z2)])
    logits = torch.cat([z1, z2]) @ candidates.T / temperature  # (2N, 2NW)
    local = torch.arange(n, device=z1.device) + rank * n
    own = torch.cat([local, local + n * world])
    partner = torch.cat([local + n * world, local])
    logits[torch.arange(2 * n, device=z1.device), own] = float("-inf")
    return F.cross_entropy(logits, partner)


@validate_params({"p": _TENSOR, "z": _TENSOR})
def negative_cosine(p, z):
    r"""Negative cosine similarity with a stop-gradient on the target (SimSiam's loss).

    .. math::

        \mathcal{D}(p, z) = -\frac{1}{N} \sum_{i=1}^{N}
            \frac{p_i}{\lVert p_i \rVert_2} \cdot
            \frac{\operatorname{sg}(z_i)}{\lVert z_i \rVert_2}

    where :math:`\operatorname{sg}` stops the gradient: only ``p`` (the
    predictor's output) is pulled towards ``z`` (the other view's
    projection). SimSiam's symmetric loss is
    ``(negative_cosine(p1, z2) + negative_cosine(p2, z1)) / 2``.

    Parameters
    ----------
    p : torch.Tensor of shape (n_samples, n_dims)
        Predictions.
    z : torch.Tensor of shape (n_samples, n_dims)
        Targets; detached inside.

    Returns
    -------
    torch.Tensor
        Scalar in [-1, 1], computed in float32 (float64 for float64 input).

    References
    ----------
    Chen and He, "Exploring Simple Siamese Representation Learning", CVPR 2021,
    arXiv:2011.10566.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import negative_cosine
    >>> negative_cosine(torch.tensor([[1.0, 0.0]]), torch.tensor([[2.0, 0.0]])).item()
    -1.0
    """
    _check_pair(p, z, "p", "z")
    dtype = torch.float64 if p.dtype == torch.float64 else torch.float32
    return -F.cosine_similarity(p.to(dtype), z.detach().to(dtype), dim=1).mean()


@validate_params(
    {
        "student_outputs": _TENSOR,
        "teacher_outputs": _TENSOR,
        "center": _TENSOR,
        "student_temperature": POSITIVE,
        "teacher_temperature": _TEMPERATURE,
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
        "student_patches": _TENSOR,
        "teacher_patches": _TENSOR,
        "mask": _TENSOR,
        "center": _TENSOR,
        "student_temperature": POSITIVE,
        "teacher_temperature": _TEMPERATURE,
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


def _off_diagonal(matrix):
    """The off-diagonal entries of a square matrix, flattened."""
    n = matrix.shape[0]
    return matrix.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


@validate_params({"z1": _TENSOR, "z2": _TENSOR, "redundancy_weight": NONNEGATIVE})
def barlow_twins_loss(z1, z2, redundancy_weight=0.0051):
    r"""Barlow Twins' redundancy-reduction loss on the cross-correlation of two views.

    Each embedding dimension is standardised over the batch (mean 0,
    variance 1, biased variance with :math:`\epsilon = 10^{-5}`, as the
    authors' affine-free BatchNorm), then the cross-correlation matrix
    :math:`C_{ij} = \frac{1}{N} \sum_b \hat z^{(1)}_{bi} \hat z^{(2)}_{bj}` is
    pushed towards the identity:

    .. math::

        \mathcal{L} = \sum_i (1 - C_{ii})^2 + \lambda \sum_i \sum_{j \neq i} C_{ij}^2 .

    Parameters
    ----------
    z1, z2 : torch.Tensor of shape (n_samples, n_dims)
        Projections of two views of the same images, row ``i`` of each from
        image ``i``.
    redundancy_weight : float, default=0.0051
        :math:`\lambda`, the weight of the off-diagonal (redundancy) term;
        the paper's value for 8192-d projections.

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy
    Reduction", ICML 2021, arXiv:2103.03230.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import barlow_twins_loss
    >>> z = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])  # two identical, fully correlated dims
    >>> round(barlow_twins_loss(z, z, redundancy_weight=1.0).item(), 4)  # 2 * C_01^2 ~ 2
    2.0
    """
    _check_pair(z1, z2, "z1", "z2")
    dtype = torch.float64 if z1.dtype == torch.float64 else torch.float32
    z1, z2 = _standardise(z1.to(dtype)), _standardise(z2.to(dtype))
    correlation = z1.T @ z2 / z1.shape[0]
    on_diagonal = (torch.diagonal(correlation) - 1).pow(2).sum()
    return on_diagonal + redundancy_weight * _off_diagonal(correlation).pow(2).sum()


def _standardise(z, eps=1e-5):
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)


@validate_params(
    {
        "z1": _TENSOR,
        "z2": _TENSOR,
        "invariance_weight": NONNEGATIVE,
        "variance_weight": NONNEGATIVE,
        "covariance_weight": NONNEGATIVE,
    }
)
def vicreg_loss(z1, z2, invariance_weight=25.0, variance_weight=25.0, covariance_weight=1.0):
    r"""VICReg: variance, invariance and covariance terms on two views' projections.

    .. math::

        \mathcal{L} = \lambda\, \frac{1}{N D} \lVert Z^{(1)} - Z^{(2)} \rVert_F^2
        + \mu \sum_{k=1,2} \frac{1}{2 D} \sum_j \max(0, 1 - \sqrt{\operatorname{Var}(z^{(k)}_j)
        + \epsilon})
        + \nu \sum_{k=1,2} \frac{1}{D} \sum_{i \neq j} \operatorname{Cov}(Z^{(k)})_{ij}^2

    with the unbiased variance and covariance over the batch and
    :math:`\epsilon = 10^{-4}`, as in the authors' code.

    Parameters
    ----------
    z1, z2 : torch.Tensor of shape (n_samples, n_dims)
        Projections of two views of the same images (``n_samples >= 2``).
    invariance_weight : float, default=25.0
        :math:`\lambda`, on the mean squared distance between the views.
    variance_weight : float, default=25.0
        :math:`\mu`, on the hinge that keeps each dimension's standard
        deviation at 1 or more.
    covariance_weight : float, default=1.0
        :math:`\nu`, on the squared off-diagonal covariances.

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Bardes, Ponce and LeCun, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR 2022, arXiv:2105.04906.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import vicreg_loss
    >>> z = torch.tensor([[2.0, 0.0], [-2.0, 0.0]])  # dim 0 spread (std 2.8), dim 1 collapsed
    >>> round(vicreg_loss(z, z).item(), 4)  # the variance hinge of dim 1: 25 * 2 * 0.99 / 4
    12.375
    """
    _check_pair(z1, z2, "z1", "z2")
    if z1.shape[0] < 2:
        raise ValueError(f"vicreg_loss needs at least 2 samples for a variance; got {z1.shape[0]}.")
    dtype = torch.float64 if z1.dtype == torch.float64 else torch.float32
    z1, z2 = z1.to(dtype), z2.to(dtype)
    n, d = z1.shape
    invariance = F.mse_loss(z1, z2)
    variance = covariance = 0
    for z in (z1, z2):
        z = z - z.mean(0)
        variance = variance + F.relu(1 - torch.sqrt(z.var(0) + 1e-4)).mean() / 2
        covariance = covariance + _off_diagonal(z.T @ z / (n - 1)).pow(2).sum() / d
    return (
        invariance_weight * invariance + variance_weight * variance + covariance_weight * covariance
    )


def _check_pair(a, b, name_a, name_b):
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must be 2-D tensors of the same shape "
            f"(n_samples, n_dims); got {tuple(a.shape)} and {tuple(b.shape)}."
        )
