"""Generative losses: the discrete VAE's reconstruction and DALL-E's next-token objective."""

import math

import torch
import torch.nn.functional as F

from .._validation import NONNEGATIVE
from ..validation import validate_params
from ._common import TENSOR


def _float(tensor):
    return tensor.to(torch.float64 if tensor.dtype == torch.float64 else torch.float32)


@validate_params(
    {"reconstruction": TENSOR, "target": TENSOR, "logits": TENSOR, "kl_weight": NONNEGATIVE}
)
def discrete_vae_loss(reconstruction, target, logits, kl_weight=0.0):
    r"""The discrete VAE's loss: mean squared error plus a KL pull towards uniform codes.

    .. math::

        \mathcal{L} = \frac{1}{B P} \sum_{b, p} (\hat x_{bp} - x_{bp})^2
            + w \, \frac{1}{B} \sum_{b, j} \sum_{k=1}^{K}
              q_{bjk} \log \frac{q_{bjk}}{1 / K},

    where :math:`P` is the number of values per image, :math:`q_{bj} =
    \operatorname{softmax}(\text{logits}_{bj})` the encoder's distribution
    over the :math:`K` codebook entries at token position :math:`j`, and
    :math:`w` = ``kl_weight`` (0 in DALL-E's and the vilmedic study's
    recipe: reconstruction only). The KL term is summed over positions and
    codes and averaged over the batch, as dalle-pytorch's ``batchmean``.

    Parameters
    ----------
    reconstruction, target : torch.Tensor of shape (B, C, H, W)
        Decoded images and the (normalised) images they reconstruct.
    logits : torch.Tensor of shape (B, K, h, w)
        The encoder's logits over the ``K`` codes at every grid position.
    kl_weight : float, default=0.0

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021,
    arXiv:2102.12092.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import discrete_vae_loss
    >>> x = torch.zeros(1, 1, 2, 2)
    >>> discrete_vae_loss(x + 1, x, torch.zeros(1, 4, 1, 1), kl_weight=1.0).item()  # KL 0
    1.0
    """
    if reconstruction.shape != target.shape:
        raise ValueError(
            "reconstruction and target must have the same shape; got "
            f"{tuple(reconstruction.shape)} and {tuple(target.shape)}."
        )
    if logits.ndim != 4 or len(logits) != len(target):
        raise ValueError(
            "logits must be a 4-D tensor (B, n_tokens, h, w) with one row per image; got "
            f"{tuple(logits.shape)} for {len(target)} images."
        )
    loss = F.mse_loss(_float(reconstruction), _float(target).detach())
    if kl_weight:
        log_q = F.log_softmax(_float(logits), dim=1)
        kl = (log_q.exp() * (log_q + math.log(logits.shape[1]))).sum() / len(logits)
        loss = loss + kl_weight * kl
    return loss


@validate_params(
    {
        "text_logits": TENSOR,
        "text_targets": TENSOR,
        "image_logits": TENSOR,
        "image_targets": TENSOR,
        "image_loss_weight": NONNEGATIVE,
    }
)
def dalle_loss(text_logits, text_targets, image_logits, image_targets, image_loss_weight=7.0):
    r"""DALL-E's loss: next-token cross-entropies of text and image, image weighted.

    .. math::

        \mathcal{L} = \frac{\mathcal{L}_\text{text} + w \, \mathcal{L}_\text{image}}{w + 1},
        \qquad
        \mathcal{L}_\text{text} = -\frac{1}{B T} \sum_{b, t} \log p(s_{b,t+1} \mid s_{b, \le t}),

    and :math:`\mathcal{L}_\text{image}` the same mean over the image-token
    positions, where :math:`s` is a row of text ids followed by image token
    ids, every position predicting the next token (text positions over the
    text vocabulary, image positions over the codebook), and :math:`w` =
    ``image_loss_weight`` (7 in DALL-E and the vilmedic study).

    Parameters
    ----------
    text_logits : torch.Tensor of shape (B, T, V)
        Predictions of the text targets.
    text_targets : torch.Tensor of int64, shape (B, T)
    image_logits : torch.Tensor of shape (B, N, K)
        Predictions of the image tokens.
    image_targets : torch.Tensor of int64, shape (B, N)
    image_loss_weight : float, default=7.0

    Returns
    -------
    torch.Tensor
        Scalar loss (float32, or float64 for float64 input).

    References
    ----------
    Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021,
    arXiv:2102.12092.

    Examples
    --------
    >>> import math, torch
    >>> from contrastlearn.losses import dalle_loss
    >>> text, image = torch.zeros(1, 3, 5), torch.zeros(1, 4, 8)  # uniform predictions
    >>> loss = dalle_loss(text, torch.zeros(1, 3, dtype=torch.long), image,
    ...                   torch.zeros(1, 4, dtype=torch.long), image_loss_weight=1.0)
    >>> round(loss.item(), 6) == round((math.log(5) + math.log(8)) / 2, 6)
    True
    """
    for name, logits, targets in (
        ("text", text_logits, text_targets),
        ("image", image_logits, image_targets),
    ):
        if logits.ndim != 3 or targets.shape != logits.shape[:2]:
            raise ValueError(
                f"{name}_logits must be 3-D (B, n, n_classes) and {name}_targets (B, n); got "
                f"{tuple(logits.shape)} and {tuple(targets.shape)}."
            )
    text = F.cross_entropy(_float(text_logits).flatten(0, 1), text_targets.flatten())
    image = F.cross_entropy(_float(image_logits).flatten(0, 1), image_targets.flatten())
    return (text + image_loss_weight * image) / (image_loss_weight + 1)
