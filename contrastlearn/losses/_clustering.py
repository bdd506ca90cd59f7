"""SwAV's balanced assignments to prototypes and its swapped prediction."""

import torch
import torch.nn.functional as F

from .. import distributed
from .._validation import BOOL, POSITIVE, ints
from ..validation import validate_params
from ._common import TENSOR


@validate_params(
    {
        "scores": TENSOR,
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
        "scores": TENSOR,
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
