"""Losses between images and what they are paired with: ConVIRT's and GLoRIA's."""

import torch
import torch.nn.functional as F

from .. import distributed
from .._validation import BOOL, NONNEGATIVE, POSITIVE, PROBABILITY
from ..validation import validate_params
from ._common import TENSOR, _check_pair


@validate_params(
    {
        "image": TENSOR,
        "paired": TENSOR,
        "temperature": POSITIVE,
        "image_weight": PROBABILITY,
        "gather_distributed": BOOL,
    }
)
def convirt_loss(image, paired, temperature=0.1, image_weight=0.75, *, gather_distributed=False):
    r"""ConVIRT's bidirectional contrastive loss between images and their paired data.

    With :math:`v_i` the projection of image :math:`i`, :math:`u_i` that of
    its text (or measurement vector), cosine similarity :math:`s`, temperature
    :math:`\tau` and weight :math:`\lambda`:

    .. math::

        \ell^{(v \to u)}_i = -\log \frac{\exp(s(v_i, u_i) / \tau)}
                                        {\sum_k \exp(s(v_i, u_k) / \tau)},
        \qquad
        \ell^{(u \to v)}_i = -\log \frac{\exp(s(u_i, v_i) / \tau)}
                                        {\sum_k \exp(s(u_i, v_k) / \tau)},

        \mathcal{L} = \frac{1}{N} \sum_i \lambda\, \ell^{(v \to u)}_i
                      + (1 - \lambda)\, \ell^{(u \to v)}_i .

    Parameters
    ----------
    image, paired : torch.Tensor of shape (n_samples, n_dims)
        Projections into the shared space; row ``i`` of each is one pair.
    temperature : float, default=0.1
        :math:`\tau` (ConVIRT's 0.1).
    image_weight : float in [0, 1], default=0.75
        :math:`\lambda`, the weight of the image-to-paired term (ConVIRT's
        0.75); the paired-to-image term gets :math:`1 - \lambda`.
    gather_distributed : bool, default=False
        Under distributed training, contrast the local pairs with the
        projections of every process (the one-process loss of the global
        batch once averaged over processes).

    Returns
    -------
    torch.Tensor
        Scalar, in float32 (float64 for float64 input).

    References
    ----------
    Zhang, Jiang, Miura, Manning and Langlotz, "Contrastive Learning of
    Medical Visual Representations from Paired Images and Text", MLHC 2022,
    arXiv:2010.00747.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import convirt_loss
    >>> z = torch.eye(2)
    >>> round(convirt_loss(z, z, temperature=1.0).item(), 4)  # log(1 + e^-1)
    0.3133
    """
    _check_pair(image, paired, "image", "paired")
    dtype = torch.float64 if image.dtype == torch.float64 else torch.float32
    v, u = F.normalize(image.to(dtype), dim=1), F.normalize(paired.to(dtype), dim=1)
    gather = distributed.gather if gather_distributed else (lambda z: z)
    rank = distributed.rank() if gather_distributed else 0
    targets = torch.arange(len(v), device=v.device) + rank * len(v)
    image_to_paired = F.cross_entropy(v @ gather(u).T / temperature, targets)
    paired_to_image = F.cross_entropy(u @ gather(v).T / temperature, targets)
    return image_weight * image_to_paired + (1 - image_weight) * paired_to_image


@validate_params({"regions": TENSOR, "words": TENSOR, "word_mask": TENSOR, "temperature": POSITIVE})
def word_region_attention(regions, words, word_mask, temperature=4.0):
    r"""GLoRIA's attention of every word of every text over every image's sub-regions.

    For image :math:`b` with region features :math:`r_{b1}, \dots, r_{bR}`
    and word :math:`w` of text :math:`t` with feature :math:`e_{tw}`, the
    scores :math:`r_{bj} \cdot e_{tw}` are first normalised over the words of
    the text (a softmax for each region), then, multiplied by the
    temperature :math:`\tau_1`, over the regions (a softmax for each word),
    as in the authors' code (after AttnGAN):

    .. math::

        a_{btwj} = \operatorname{softmax}_j\Big(\tau_1
                   \operatorname{softmax}_w(r_{bj} \cdot e_{tw})\Big),
        \qquad
        c_{btw} = \sum_j a_{btwj}\, r_{bj} .

    Parameters
    ----------
    regions : torch.Tensor of shape (n_images, n_regions, n_dims)
        Sub-region features of each image (a feature map, flattened).
    words : torch.Tensor of shape (n_texts, n_words, n_dims)
        Word features of each text, padded.
    word_mask : torch.Tensor of bool, shape (n_texts, n_words)
        True for the real words (every text needs at least one).
    temperature : float, default=4.0
        :math:`\tau_1` (GLoRIA's 4.0).

    Returns
    -------
    attention : torch.Tensor of shape (n_images, n_texts, n_words, n_regions)
        :math:`a`; each (image, text, word) row sums to 1 over the regions.
    context : torch.Tensor of shape (n_images, n_texts, n_words, n_dims)
        :math:`c`, the attention-weighted region feature of every word.
    """
    attention, _ = _attention(regions, words, word_mask, temperature)
    return attention, torch.einsum("btwj,bjd->btwd", attention, regions)


def _attention(regions, words, word_mask, temperature):
    """GLoRIA's attention ``(B, T, W, J)`` and the raw word-region scores it comes from."""
    if regions.ndim != 3 or words.ndim != 3 or regions.shape[2] != words.shape[2]:
        raise ValueError(
            "regions (n_images, n_regions, n_dims) and words (n_texts, n_words, n_dims) "
            f"must be 3-D with the same n_dims; got {tuple(regions.shape)} and "
            f"{tuple(words.shape)}."
        )
    if word_mask.shape != words.shape[:2] or word_mask.dtype != torch.bool:
        raise ValueError(
            f"word_mask must be a boolean tensor of shape {tuple(words.shape[:2])}; got "
            f"{word_mask.dtype} of shape {tuple(word_mask.shape)}."
        )
    scores = torch.einsum("bjd,twd->btwj", regions, words)
    masked = scores.masked_fill(~word_mask[None, :, :, None], float("-inf"))
    return torch.softmax(torch.softmax(masked, dim=2) * temperature, dim=3), scores


@validate_params(
    {
        "image_global": TENSOR,
        "image_regions": TENSOR,
        "text_global": TENSOR,
        "words": TENSOR,
        "word_mask": TENSOR,
        "attention_temperature": POSITIVE,
        "word_temperature": POSITIVE,
        "logit_temperature": POSITIVE,
        "local_weight": NONNEGATIVE,
        "global_weight": NONNEGATIVE,
    }
)
def gloria_loss(
    image_global,
    image_regions,
    text_global,
    words,
    word_mask,
    *,
    attention_temperature=4.0,
    word_temperature=5.0,
    logit_temperature=10.0,
    local_weight=1.0,
    global_weight=1.0,
):
    r"""GLoRIA's global + local contrastive loss between images and texts.

    **Global**: with cosine similarities :math:`g_{bt}` between image
    :math:`b` and text :math:`t` and :math:`\tau_3` the logit temperature,
    cross-entropies of :math:`\tau_3 g` over texts (image to text) and over
    images (text to image), the true pairs on the diagonal.

    **Local**: every word attends over the image's regions
    (:func:`word_region_attention`, temperature :math:`\tau_1`) and is
    compared with its attention-weighted region feature :math:`c_{btw}`;
    the word similarities are aggregated as

    .. math::

        l_{bt} = \log \sum_{w} \exp\big(\tau_2 \cos(e_{tw}, c_{btw})\big),

    and :math:`\tau_3 l` enters the same two cross-entropies. The loss is

    .. math::

        \mathcal{L} = \lambda_\text{local} (\ell^{l}_{v \to t} + \ell^{l}_{t \to v})
                    + \lambda_\text{global} (\ell^{g}_{v \to t} + \ell^{g}_{t \to v}),

    exactly as the authors' code sums them (not averaged over directions).

    Parameters
    ----------
    image_global : torch.Tensor of shape (n_samples, n_dims)
        Global image features (projected).
    image_regions : torch.Tensor of shape (n_samples, n_regions, n_dims)
        Sub-region features of each image (projected).
    text_global : torch.Tensor of shape (n_samples, n_dims)
        Global text features; row ``i`` is the text of image ``i``.
    words : torch.Tensor of shape (n_samples, n_words, n_dims)
        Word features, padded.
    word_mask : torch.Tensor of bool, shape (n_samples, n_words)
        True for the real words.
    attention_temperature : float, default=4.0
        :math:`\tau_1`.
    word_temperature : float, default=5.0
        :math:`\tau_2`, for aggregating the word-region similarities.
    logit_temperature : float, default=10.0
        :math:`\tau_3`, scaling both global and local similarities into logits.
    local_weight, global_weight : float, default=1.0
        :math:`\lambda_\text{local}` and :math:`\lambda_\text{global}`.

    Returns
    -------
    torch.Tensor
        Scalar loss, in float32 (float64 for float64 input).

    References
    ----------
    Huang, Shen, Lungren and Yeung, "GLoRIA: A Multimodal Global-Local
    Representation Learning Framework for Label-efficient Medical Image
    Recognition", ICCV 2021.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.losses import gloria_loss
    >>> g, r, w = torch.randn(4, 8), torch.randn(4, 9, 8), torch.randn(4, 5, 8)
    >>> loss = gloria_loss(g, r, g, w, torch.ones(4, 5, dtype=torch.bool))
    >>> loss.shape
    torch.Size([])
    """
    _check_pair(image_global, text_global, "image_global", "text_global")
    n = len(image_global)
    if len(image_regions) != n or len(words) != n:
        raise ValueError(
            f"image_regions and words must hold one row per pair ({n}); got "
            f"{len(image_regions)} and {len(words)}."
        )
    dtype = torch.float64 if image_global.dtype == torch.float64 else torch.float32
    image_global, text_global = image_global.to(dtype), text_global.to(dtype)
    image_regions, words = image_regions.to(dtype), words.to(dtype)
    targets = torch.arange(n, device=image_global.device)

    def both_ways(logits):
        return F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)

    global_similarity = F.normalize(image_global, dim=1) @ F.normalize(text_global, dim=1).T
    attention, scores = _attention(image_regions, words, word_mask, attention_temperature)
    # cos(word, context) without forming the (images, texts, words, dims) contexts:
    # word . context = sum_j a_j (r_j . word) and |context|^2 = a^T (R R^T) a.
    dot = (attention * scores).sum(3)
    gram = image_regions @ image_regions.transpose(1, 2)
    context_norm = (torch.einsum("btwj,bjk->btwk", attention, gram) * attention).sum(3)
    context_norm = context_norm.clamp_min(0).sqrt()
    word_norm = words.norm(dim=2).unsqueeze(0)
    word_similarity = dot / (context_norm * word_norm).clamp_min(1e-8)
    word_similarity = (word_temperature * word_similarity).masked_fill(
        ~word_mask.unsqueeze(0), float("-inf")
    )
    local_similarity = torch.logsumexp(word_similarity, dim=2)  # (images, texts)
    return local_weight * both_ways(logit_temperature * local_similarity) + (
        global_weight * both_ways(logit_temperature * global_similarity)
    )
