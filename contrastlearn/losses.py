"""Self-supervised losses as plain functions on tensors.

Every loss here is a pure function of its tensor arguments, so it can be tested
against hand-computed values and reused outside the estimators; the one
cross-process step, gathering NT-Xent's negatives, is
:func:`contrastlearn.distributed.gather`.
"""

import torch
import torch.nn.functional as F

from . import distributed
from ._validation import BOOL, NONNEGATIVE, POSITIVE, ints
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
    "byol_loss",
    "info_nce",
    "sinkhorn",
    "swav_loss",
    "mae_loss",
    "jigsaw_loss",
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


@validate_params({"p": _TENSOR, "z": _TENSOR})
def byol_loss(p, z):
    r"""BYOL's loss: the squared distance between L2-normalised predictions and targets.

    .. math::

        \mathcal{L}(p, z) = \frac{1}{N} \sum_{i=1}^{N}
            \left\lVert \frac{p_i}{\lVert p_i \rVert_2}
            - \frac{\operatorname{sg}(z_i)}{\lVert z_i \rVert_2} \right\rVert_2^2
            = 2 - \frac{2}{N} \sum_{i=1}^{N} \cos(p_i, z_i),

    with the gradient stopped at the targets ``z`` (the momentum teacher's
    projections). It is :func:`negative_cosine` scaled to ``[0, 4]``; BYOL
    sums it over the two (view, other view) orders.

    Parameters
    ----------
    p : torch.Tensor of shape (n_samples, n_dims)
        The online network's predictions.
    z : torch.Tensor of shape (n_samples, n_dims)
        The teacher's projections of the other view of the same images.

    Returns
    -------
    torch.Tensor
        Scalar loss in [0, 4] (float32, or float64 for float64 input).

    References
    ----------
    Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised
    Learning", NeurIPS 2020, arXiv:2006.07733.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import byol_loss
    >>> byol_loss(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 3.0]])).item()  # orthogonal
    2.0
    """
    _check_pair(p, z, "p", "z")
    return 2 + 2 * negative_cosine.__wrapped__(p, z)


@validate_params(
    {
        "queries": _TENSOR,
        "keys": _TENSOR,
        "temperature": POSITIVE,
        "queue": [None, _TENSOR],
        "gather_distributed": BOOL,
    }
)
def info_nce(queries, keys, temperature=0.2, *, queue=None, gather_distributed=False):
    r"""InfoNCE of queries against keys: MoCo's (v2 with a queue, v3 without) and NNCLR's loss.

    Each query :math:`q_i` has one positive key :math:`k_i` (its image's
    other view, through the key encoder) and a set of negatives; all vectors
    are L2-normalised and

    .. math::

        \mathcal{L} = -\frac{1}{N} \sum_{i=1}^{N} \log
            \frac{\exp(q_i \cdot k_i / \tau)}
                 {\exp(q_i \cdot k_i / \tau) + \sum_{n} \exp(q_i \cdot n / \tau)} .

    Without a ``queue`` the negatives are the other keys of the batch (MoCo
    v3, NNCLR; with ``gather_distributed`` those of every process); with one,
    they are the ``queue``'s rows only (MoCo v2). Gradients flow into the
    queries; the caller detaches keys that come from a momentum encoder.
    MoCo v3's code multiplies this by :math:`2\tau`; that factor is the
    caller's (see :class:`contrastlearn.MoCo`).

    Parameters
    ----------
    queries, keys : torch.Tensor of shape (n_samples, n_dims)
    temperature : float, default=0.2
    queue : torch.Tensor of shape (n_queue, n_dims), default=None
        Negatives kept from earlier batches.
    gather_distributed : bool, default=False
        Under ``torchrun`` (and without a queue), every process's keys are
        negatives (:func:`contrastlearn.distributed.gather`).

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    He et al., "Momentum Contrast for Unsupervised Visual Representation
    Learning", CVPR 2020; Chen et al., "Improved Baselines with Momentum
    Contrastive Learning", arXiv:2003.04297; Chen, Xie and He, "An Empirical
    Study of Training Self-Supervised Vision Transformers", ICCV 2021,
    arXiv:2104.02057.

    Examples
    --------
    >>> import math, torch
    >>> from contrastlearn.losses import info_nce
    >>> q = torch.eye(2)
    >>> round(info_nce(q, q, temperature=1.0).item(), 4) == round(math.log(1 + math.exp(-1)), 4)
    True
    """
    _check_pair(queries, keys, "queries", "keys")
    dtype = torch.float64 if queries.dtype == torch.float64 else torch.float32
    q = F.normalize(queries.to(dtype), dim=1)
    k = F.normalize(keys.to(dtype), dim=1)
    n = q.shape[0]
    if queue is not None:
        if queue.ndim != 2 or queue.shape[1] != q.shape[1]:
            raise ValueError(
                f"queue must be 2-D with {q.shape[1]} columns like the keys; got shape "
                f"{tuple(queue.shape)}."
            )
        positive = (q * k).sum(1, keepdim=True)
        negatives = q @ F.normalize(queue.to(dtype), dim=1).T
        logits = torch.cat([positive, negatives], 1) / temperature
        return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long, device=q.device))
    rank = distributed.rank() if gather_distributed else 0
    candidates = distributed.gather(k) if gather_distributed else k
    logits = q @ candidates.T / temperature
    return F.cross_entropy(logits, torch.arange(n, device=q.device) + rank * n)


@validate_params(
    {
        "scores": _TENSOR,
        "epsilon": POSITIVE,
        "n_iterations": ints(0),
        "gather_distributed": BOOL,
    }
)
def sinkhorn(scores, epsilon=0.05, n_iterations=3, *, gather_distributed=False):
    r"""Soft assignments of samples to prototypes with equal use of every prototype (SwAV).

    Starts from :math:`Q = \exp(S / \varepsilon)^\top` (prototypes x samples)
    and alternately normalises its rows to :math:`1/K` and its columns to
    :math:`1/B` (Sinkhorn-Knopp), ``n_iterations`` times, so that the
    :math:`B` samples are spread evenly over the :math:`K` prototypes; each
    sample's column, times :math:`B`, is its code (a distribution over the
    prototypes). No gradient flows (the codes are targets). With
    ``gather_distributed`` the row sums and the sample count cover every
    process, as in the authors' code.

    Parameters
    ----------
    scores : torch.Tensor of shape (n_samples, n_prototypes)
        Prototype scores (cosine similarities) of the samples.
    epsilon : float, default=0.05
        Entropy regularisation: smaller is closer to a hard assignment.
    n_iterations : int, default=3
    gather_distributed : bool, default=False

    Returns
    -------
    torch.Tensor of shape (n_samples, n_prototypes)
        Codes: each row sums to 1 (after the last column normalisation).

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import sinkhorn
    >>> codes = sinkhorn(torch.tensor([[1.0, 0.0], [0.9, 0.0]]), epsilon=1.0, n_iterations=50)
    >>> codes.sum(1), codes.sum(0)  # rows: distributions; columns: equal use
    (tensor([1., 1.]), tensor([1., 1.]))
    """
    with torch.no_grad():
        scores = scores.detach().to(
            torch.float64 if scores.dtype == torch.float64 else torch.float32
        )
        q = torch.exp(scores / epsilon).T  # (K, B); cosine scores keep exp finite
        reduce = distributed.all_reduce_sum if gather_distributed else (lambda t: t)
        n_samples = q.shape[1] * (distributed.world_size() if gather_distributed else 1)
        n_prototypes = q.shape[0]
        q = q / reduce(q.sum())
        for _ in range(n_iterations):
            q = q / reduce(q.sum(1, keepdim=True)) / n_prototypes
            q = q / q.sum(0, keepdim=True) / n_samples
        return (q * n_samples).T


@validate_params(
    {
        "scores": _TENSOR,
        "n_global": ints(1),
        "temperature": POSITIVE,
        "epsilon": POSITIVE,
        "sinkhorn_iterations": ints(0),
        "gather_distributed": BOOL,
    }
)
def swav_loss(
    scores,
    n_global=2,
    temperature=0.1,
    epsilon=0.05,
    sinkhorn_iterations=3,
    *,
    gather_distributed=False,
):
    r"""SwAV's swapped prediction: predict a global crop's code from every other crop.

    For each of the first ``n_global`` crops :math:`i`, the codes
    :math:`q_i = \operatorname{sinkhorn}(s_i)` of its prototype scores are
    targets for every other crop :math:`v`:

    .. math::

        \mathcal{L} = \frac{1}{n_g} \sum_{i \le n_g} \frac{1}{V - 1}
            \sum_{v \ne i} -\frac{1}{N} \sum_{b} \sum_k
            q_{i,bk} \log \operatorname{softmax}_k(s_{v,b} / \tau) .

    Parameters
    ----------
    scores : torch.Tensor of shape (n_crops, n_samples, n_prototypes)
        Prototype scores of every crop (the global crops first), i.e. the
        normalised projections times the normalised prototypes.
    n_global : int, default=2
        How many of the first crops give codes.
    temperature : float, default=0.1
    epsilon, sinkhorn_iterations : float and int, default=0.05 and 3
        Of :func:`sinkhorn`.
    gather_distributed : bool, default=False
        The Sinkhorn normalisation over every process's batch.

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Caron et al., "Unsupervised Learning of Visual Features by Contrasting
    Cluster Assignments", NeurIPS 2020, arXiv:2006.09882.

    Examples
    --------
    >>> import math, torch
    >>> from contrastlearn.losses import swav_loss
    >>> round(swav_loss(torch.zeros(3, 4, 8)).item(), 4) == round(math.log(8), 4)  # uniform
    True
    """
    if scores.ndim != 3 or scores.shape[0] < max(n_global, 2):
        raise ValueError(
            "scores must be 3-D (n_crops, n_samples, n_prototypes) with at least 2 crops and "
            f"n_global={n_global} of them; got shape {tuple(scores.shape)}."
        )
    dtype = torch.float64 if scores.dtype == torch.float64 else torch.float32
    log_p = F.log_softmax(scores.to(dtype) / temperature, dim=-1)
    n_crops = scores.shape[0]
    loss = 0
    for i in range(n_global):
        codes = sinkhorn.__wrapped__(
            scores[i], epsilon, sinkhorn_iterations, gather_distributed=gather_distributed
        )
        others = [v for v in range(n_crops) if v != i]
        loss = loss - (codes * log_p[others]).sum(-1).mean()
    return loss / n_global


@validate_params(
    {"predictions": _TENSOR, "targets": _TENSOR, "mask": _TENSOR, "normalize_targets": BOOL}
)
def mae_loss(predictions, targets, mask, normalize_targets=True):
    r"""MAE's reconstruction loss: the mean squared error on the masked patches only.

    .. math::

        \mathcal{L} = \frac{\sum_{b,j} m_{bj}\, \frac{1}{P} \lVert \hat x_{bj} - t_{bj} \rVert^2}
                           {\sum_{b,j} m_{bj}},

    where :math:`t_{bj}` are patch :math:`j`'s pixels, each patch standardised by
    its own mean and variance (``normalize_targets``, MAE's ``norm_pix_loss``,
    :math:`\epsilon = 10^{-6}`), and :math:`m_{bj} = 1` for the patches the
    encoder did not see.

    Parameters
    ----------
    predictions, targets : torch.Tensor of shape (n_images, n_patches, patch_pixels)
        The decoder's output and the patches' pixels (``C * p * p`` each).
    mask : torch.Tensor of bool, shape (n_images, n_patches)
        True for the masked (hidden) patches.
    normalize_targets : bool, default=True

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
    arXiv:2111.06377.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import mae_loss
    >>> targets = torch.tensor([[[0.0, 2.0], [1.0, 1.0]]])
    >>> mask = torch.tensor([[True, False]])
    >>> mae_loss(torch.zeros(1, 2, 2), targets, mask, normalize_targets=False).item()  # (0+4)/2
    2.0
    """
    if predictions.shape != targets.shape or predictions.ndim != 3:
        raise ValueError(
            "predictions and targets must have the same 3-D shape (n_images, n_patches, "
            f"patch_pixels); got {tuple(predictions.shape)} and {tuple(targets.shape)}."
        )
    if mask.shape != predictions.shape[:2]:
        raise ValueError(
            f"mask must have shape {tuple(predictions.shape[:2])}; got {tuple(mask.shape)}."
        )
    dtype = torch.float64 if predictions.dtype == torch.float64 else torch.float32
    targets = targets.detach().to(dtype)
    if normalize_targets:
        mean, var = targets.mean(-1, keepdim=True), targets.var(-1, keepdim=True)
        targets = (targets - mean) / (var + 1e-6).sqrt()
    per_patch = (predictions.to(dtype) - targets).pow(2).mean(-1)
    weights = mask.to(dtype)
    return (per_patch * weights).sum() / weights.sum().clamp_min(1)


@validate_params(
    {
        "permutation_logits": _TENSOR,
        "permutations": _TENSOR,
        "position_logits": [None, _TENSOR],
        "normal_position_logits": [None, _TENSOR],
        "orders": [None, _TENSOR],
        "rotation_logits": [None, _TENSOR],
        "rotations": [None, _TENSOR],
        "kl_weight": NONNEGATIVE,
    }
)
def jigsaw_loss(
    permutation_logits,
    permutations,
    position_logits=None,
    normal_position_logits=None,
    orders=None,
    rotation_logits=None,
    rotations=None,
    kl_weight=1.0,
):
    r"""The jigsaw objective: which permutation, which turns, and where each tile belongs.

    .. math::

        \mathcal{L} = \operatorname{CE}(\text{permutation}) + \operatorname{CE}(\text{turns})
            + w \left[\operatorname{CE}(\text{positions} \mid \text{normal})
            + \operatorname{KL}\!\left(p_\text{normal} \,\middle\|\, p_\text{puzzled}\right)\right]

    The first term is Noroozi & Favaro's; the turns' term is there when the
    tiles were turned. For the last, ``position_logits`` are the puzzled
    input's per-slot predictions of the original position of the tile in
    the slot; they are put back in tile order (slot :math:`i` holds tile
    ``orders[b, i]``) and pulled towards the unshuffled input's predictions
    (detached), which are themselves anchored to the true positions by a
    cross-entropy: a tile's position must come from its content.

    Parameters
    ----------
    permutation_logits : torch.Tensor of shape (n_images, n_permutations)
    permutations : torch.Tensor of int64, shape (n_images,)
        The index of the permutation applied to each puzzle.
    position_logits, normal_position_logits : torch.Tensor, default=None
        Per-slot position predictions ``(n_images, n_tiles, n_tiles)`` of the
        puzzled and of the unshuffled input; both, with ``orders``, or none
        (no position terms).
    orders : torch.Tensor of int64, shape (n_images, n_tiles), default=None
        The tile in each slot of each puzzle.
    rotation_logits : torch.Tensor of shape (n_images, n_tiles, 4), default=None
    rotations : torch.Tensor of int64, shape (n_images, n_tiles), default=None
        Quarter turns of each slot's tile.
    kl_weight : float, default=1.0
        :math:`w`.

    Returns
    -------
    torch.Tensor
        Scalar loss.

    References
    ----------
    Noroozi and Favaro, "Unsupervised Learning of Visual Representations by
    Solving Jigsaw Puzzles", ECCV 2016, arXiv:1603.09246.

    Examples
    --------
    >>> import math, torch
    >>> from contrastlearn.losses import jigsaw_loss
    >>> round(jigsaw_loss(torch.zeros(2, 10), torch.tensor([3, 7])).item(), 4) == round(
    ...     math.log(10), 4)
    True
    """
    loss = F.cross_entropy(permutation_logits, permutations)
    if rotation_logits is not None:
        loss = loss + F.cross_entropy(rotation_logits.flatten(0, 1), rotations.flatten())
    if position_logits is not None and kl_weight:
        b, n = orders.shape
        truth = torch.arange(n, device=orders.device).expand(b, n)
        anchor = F.cross_entropy(normal_position_logits.flatten(0, 1), truth.flatten())
        restored = torch.empty_like(position_logits).scatter_(
            1, orders[..., None].expand_as(position_logits), position_logits
        )
        kl = F.kl_div(
            F.log_softmax(restored, -1).flatten(0, 1),
            F.log_softmax(normal_position_logits, -1).detach().flatten(0, 1),
            log_target=True,
            reduction="batchmean",
        )
        loss = loss + kl_weight * (anchor + kl)
    return loss


def _off_diagonal(matrix):
    """The off-diagonal entries of a square matrix, flattened."""
    n = matrix.shape[0]
    return matrix.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


@validate_params(
    {
        "z1": _TENSOR,
        "z2": _TENSOR,
        "redundancy_weight": NONNEGATIVE,
        "gather_distributed": BOOL,
    }
)
def barlow_twins_loss(z1, z2, redundancy_weight=0.0051, *, gather_distributed=False):
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
    gather_distributed : bool, default=False
        Under ``torchrun``, standardise and correlate over every process's
        batch (:func:`contrastlearn.distributed.gather`), as the authors'
        synchronised BatchNorm and summed correlation matrix do.

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
    if gather_distributed:
        z1, z2 = distributed.gather(z1), distributed.gather(z2)
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
        "gather_distributed": BOOL,
    }
)
def vicreg_loss(
    z1,
    z2,
    invariance_weight=25.0,
    variance_weight=25.0,
    covariance_weight=1.0,
    *,
    gather_distributed=False,
):
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
    gather_distributed : bool, default=False
        Under ``torchrun``, every term over every process's batch
        (:func:`contrastlearn.distributed.gather`), as the authors' code does.

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
    if gather_distributed:
        z1, z2 = distributed.gather(z1), distributed.gather(z2)
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
