"""Losses with negatives: SimCLR's NT-Xent, and InfoNCE of queries against keys (MoCo, NNCLR)."""

import torch
import torch.nn.functional as F

from .. import distributed
from .._validation import BOOL, POSITIVE
from ..validation import validate_params
from ._common import TENSOR, _check_pair


@validate_params({"z1": TENSOR, "z2": TENSOR, "temperature": POSITIVE, "gather_distributed": BOOL})
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


@validate_params(
    {
        "queries": TENSOR,
        "keys": TENSOR,
        "temperature": POSITIVE,
        "queue": [None, TENSOR],
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
