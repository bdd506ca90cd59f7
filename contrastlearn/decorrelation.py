"""Methods that decorrelate embedding dimensions: :class:`BarlowTwins` and :class:`VICReg`.

Neither needs negatives, a predictor or a momentum network: two views of each
image pass through one backbone and projection head ("expander"), and the
loss makes the two views agree while keeping every dimension of the batch's
projections informative and the dimensions decorrelated. ``transform``
embeds with the backbone.
"""

import torch

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import NONNEGATIVE
from .losses import barlow_twins_loss, vicreg_loss

__all__ = ["BarlowTwins", "VICReg"]


class _TwoViews(BasePretrainer):
    def _projections(self, module, x, partner):
        views = module.represent(torch.cat([self.augment_(x), self.augment_(partner)]))
        return module.project(views).chunk(2)


class BarlowTwins(_TwoViews):
    __doc__ = (
        """Barlow Twins: push the cross-correlation of two views' projections to the identity.

    Every image is augmented twice; both views pass through the backbone and
    the projection head; :func:`~contrastlearn.losses.barlow_twins_loss`
    standardises each projection dimension over the batch and drives the
    diagonal of the views' cross-correlation matrix to 1 (invariance) and
    the rest to 0, weighted by ``redundancy_weight`` (redundancy reduction).
    No negatives are needed, so small batches work; the batch must be large
    enough to estimate the correlations (a few tens of images at least).
    ``transform`` returns the backbone's embedding.

    Parameters
    ----------
    redundancy_weight : float, default=0.0051
        :math:`\\lambda`, the weight of the off-diagonal term (the paper's
        value for its 8192-d projections).
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 512, 512)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 2048, 1000 epochs): LARS
    with ``lr = 0.2 * batch_size / 256`` for the weights (0.0048 for biases
    and BatchNorm), weight decay 1.5e-6, 10 warm-up epochs, cosine decay, a
    projector of three 8192-unit layers (BatchNorm and ReLU after the first
    two), ``lambda = 0.0051``. In contrastlearn: ``BarlowTwins(optimizer="lars",
    lr=0.2 * batch_size / 256, weight_decay=1.5e-6, warmup_epochs=10,
    projection_dims=(8192, 8192, 8192))`` (one learning rate for all
    parameters). Our defaults keep the pretrainers' AdamW schedule and a
    512-wide projector (``benchmarks/methods.py``).

    See Also
    --------
    VICReg : Variance, invariance and covariance terms instead of correlations.

    References
    ----------
    Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy
    Reduction", ICML 2021, arXiv:2103.03230.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> cl.BarlowTwins(max_epochs=2, batch_size=64, random_state=0).fit_transform(X).shape
    (200, 256)
    """
    )

    _method_params = {"projection_dims": (512, 512, 512), "redundancy_weight": 0.0051}
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "redundancy_weight": NONNEGATIVE,
    }

    def _training_loss(self, module, x, partner):
        z1, z2 = self._projections(module, x, partner)
        return barlow_twins_loss(z1, z2, self.redundancy_weight, gather_distributed=True)


class VICReg(_TwoViews):
    __doc__ = (
        """VICReg: variance, invariance and covariance regularisation of two views' projections.

    Every image is augmented twice; both views pass through the backbone and
    the projection head ("expander"); :func:`~contrastlearn.losses.vicreg_loss`
    pulls the two projections of an image together (invariance), keeps the
    standard deviation of every dimension over the batch at 1 or more
    (variance, against collapse) and the covariance between dimensions near
    0 (covariance, against redundancy). No negatives are needed.
    ``transform`` returns the backbone's embedding.

    Parameters
    ----------
    invariance_weight : float, default=25.0
        Weight of the mean squared distance between the views (lambda).
    variance_weight : float, default=25.0
        Weight of the standard-deviation hinge (mu).
    covariance_weight : float, default=1.0
        Weight of the squared off-diagonal covariances (nu).
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 512, 512)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 2048, 1000 epochs): LARS
    with ``lr = 0.2 * batch_size / 256``, weight decay 1e-6, 10 warm-up
    epochs, cosine decay, an expander of three 8192-unit layers, weights
    25, 25 and 1. In contrastlearn: ``VICReg(optimizer="lars", lr=0.2 *
    batch_size / 256, weight_decay=1e-6, warmup_epochs=10,
    projection_dims=(8192, 8192, 8192))``. Our defaults keep the pretrainers'
    AdamW schedule and a 512-wide expander (``benchmarks/methods.py``).

    See Also
    --------
    BarlowTwins : The cross-correlation objective.

    References
    ----------
    Bardes, Ponce and LeCun, "VICReg: Variance-Invariance-Covariance
    Regularization for Self-Supervised Learning", ICLR 2022, arXiv:2105.04906.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> cl.VICReg(max_epochs=2, batch_size=64, random_state=0).fit_transform(X).shape
    (200, 256)
    """
    )

    _method_params = {
        "projection_dims": (512, 512, 512),
        "invariance_weight": 25.0,
        "variance_weight": 25.0,
        "covariance_weight": 1.0,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "invariance_weight": NONNEGATIVE,
        "variance_weight": NONNEGATIVE,
        "covariance_weight": NONNEGATIVE,
    }

    def _training_loss(self, module, x, partner):
        z1, z2 = self._projections(module, x, partner)
        return vicreg_loss(
            z1,
            z2,
            self.invariance_weight,
            self.variance_weight,
            self.covariance_weight,
            gather_distributed=True,
        )
