"""Losses that predict one view from the other, without negatives (SimSiam, BYOL)."""

import torch
import torch.nn.functional as F

from ..validation import validate_params
from ._common import TENSOR, _check_pair


@validate_params({"p": TENSOR, "z": TENSOR})
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


@validate_params({"p": TENSOR, "z": TENSOR})
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
