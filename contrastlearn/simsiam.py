"""SimSiam: two views, a predictor and a stop-gradient, no negatives (:class:`SimSiam`)."""

import torch
from torch import nn

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import ints
from .heads import prediction_head, projection_head
from .losses import negative_cosine


class SimSiam(BasePretrainer):
    __doc__ = (
        """Simple Siamese pretrainer: predict one view's projection from the other's.

    Every image is augmented twice; both views pass through the backbone and
    the projector (an MLP ending in BatchNorm), giving ``z1, z2``; a predictor
    MLP maps them to ``p1, p2``; the loss is
    ``(negative_cosine(p1, z2) + negative_cosine(p2, z1)) / 2`` with the
    gradient stopped at the ``z`` targets (:func:`~contrastlearn.losses.negative_cosine`).
    No negative pairs are needed; the stop-gradient and the predictor keep the
    representation from collapsing. ``transform`` returns the backbone's
    embedding.

    Parameters
    ----------
    predictor_hidden : int, default=128
        Width of the predictor's bottleneck (SimSiam uses a quarter of the
        projection size).
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 512)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 512, 100 epochs): SGD
    with momentum 0.9 and ``lr = 0.05 * batch_size / 256``, weight decay
    1e-4, cosine decay (the predictor's rate kept constant), no warm-up; a
    3-layer projector of 2048 units with BatchNorm on every layer, output
    included, and a predictor 2048-512-2048 (a bottleneck of a quarter). On
    CIFAR-10: ``lr = 0.03 * batch_size / 256``, weight decay 5e-4, a 2-layer
    projector, 800 epochs. Here the projector is ``projection_dims`` with a
    final BatchNorm and the predictor ``predictor_hidden`` wide: the
    ImageNet recipe is ``SimSiam(optimizer="sgd", lr=0.05 * batch_size / 256,
    weight_decay=1e-4, projection_dims=(2048, 2048, 2048),
    predictor_hidden=512)``.
    Our defaults (AdamW, ``lr=1e-3`` whatever the batch size,
    ``weight_decay=1e-6``, no warm-up, cosine decay per step, batch 256) are
    for 10^3-10^5 small images and a few tens of epochs on one device, and
    were measured against the paper's recipe there
    (``benchmarks/recipes.py``: sklearn's digits, 30 epochs,
    ``augment="upright"``, a linear probe on 10 labels per class, 3 seeds):
    0.950 at batch 256 and 0.963 at batch 64, against 0.915 and 0.912 for
    the ImageNet recipe above and 0.936 for the defaults with ``lr``
    scaled linearly with the batch (at 64). So the defaults stay, and ``lr``
    is not scaled with ``batch_size``.

    See Also
    --------
    DINO : Self-distillation with an EMA teacher.
    CLR : Contrastive learning with negatives.

    References
    ----------
    Chen and He, "Exploring Simple Siamese Representation Learning", CVPR 2021,
    arXiv:2011.10566.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> cl.SimSiam(max_epochs=2, batch_size=64, random_state=0).fit_transform(X).shape
    (200, 256)
    """
    )

    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "predictor_hidden": ints(1),
    }

    _method_params = {
        "predictor_hidden": 128,
        "projection_dims": (512, 512),
    }

    def _make_head(self, in_features):
        return nn.Sequential(
            projection_head(in_features, self.projection_dims),
            nn.BatchNorm1d(self.projection_dims[-1]),
        )

    def _make_module(self, X):
        module = super()._make_module(X)
        size = self.projection_dims[-1]
        module.predictor = prediction_head(size, self.predictor_hidden)
        return module

    def _training_loss(self, module, x, partner):
        z = module.project(module.represent(torch.cat([self.augment_(x), self.augment_(partner)])))
        p = module.predictor(z)
        (z1, z2), (p1, p2) = z.chunk(2), p.chunk(2)
        return (negative_cosine(p1, z2) + negative_cosine(p2, z1)) / 2
