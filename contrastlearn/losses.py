"""Self-supervised losses as plain functions on tensors.

Every loss here is a pure function of its tensor arguments, so it can be tested
against hand-computed values, reused outside the estimators and (later) wrapped
with a cross-process gather in one place.
"""

import torch
import torch.nn.functional as F

__all__ = ["nt_xent"]


def nt_xent(z1, z2, temperature=0.1):
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
    if not (isinstance(z1, torch.Tensor) and isinstance(z2, torch.Tensor)):
        raise TypeError(
            f"z1 and z2 must be torch tensors; got {type(z1).__name__} and "
            f"{type(z2).__name__}."
        )
    if z1.ndim != 2 or z1.shape != z2.shape:
        raise ValueError(
            "z1 and z2 must be 2-D tensors of the same shape (n_samples, n_dims); "
            f"got {tuple(z1.shape)} and {tuple(z2.shape)}."
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature!r}.")
    n = z1.shape[0]
    dtype = torch.float64 if z1.dtype == torch.float64 else torch.float32
    z = F.normalize(torch.cat([z1, z2]).to(dtype), dim=1)  # (2N, D)
    logits = (z @ z.T) / temperature  # (2N, 2N)
    self_pairs = torch.eye(2 * n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_pairs, float("-inf"))
    positives = torch.arange(2 * n, device=z.device).roll(n)  # i <-> i + N
    return F.cross_entropy(logits, positives)
