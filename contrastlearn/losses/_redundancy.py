"""Losses on the batch statistics of two views' projections (Barlow Twins, VICReg)."""

import torch
import torch.nn.functional as F

from .. import distributed
from .._validation import BOOL, NONNEGATIVE
from ..validation import validate_params
from ._common import TENSOR, _check_pair, _off_diagonal, _standardise


@validate_params(
    {
        "z1": TENSOR,
        "z2": TENSOR,
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


@validate_params(
    {
        "z1": TENSOR,
        "z2": TENSOR,
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
