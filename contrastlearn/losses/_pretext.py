"""Pretext-task losses: masked reconstruction (MAE) and the jigsaw puzzle."""

import torch
import torch.nn.functional as F

from .._validation import BOOL, NONNEGATIVE
from ..validation import validate_params
from ._common import TENSOR


@validate_params(
    {"predictions": TENSOR, "targets": TENSOR, "mask": TENSOR, "normalize_targets": BOOL}
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
        "permutation_logits": TENSOR,
        "permutations": TENSOR,
        "position_logits": [None, TENSOR],
        "normal_position_logits": [None, TENSOR],
        "orders": [None, TENSOR],
        "rotation_logits": [None, TENSOR],
        "rotations": [None, TENSOR],
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
