"""Methods with a momentum target network: :class:`BYOL` and :class:`MoCo`.

Both train an online network (backbone, projection head, predictor) on two
views of every image against a *target* network (the backbone and head) that
is an exponential moving average of the online one
(:class:`~contrastlearn.heads.MomentumTeacher`) and gets no gradient. BYOL
regresses the target's projection of the other view; MoCo contrasts it with
the other images' keys (v3) or with a queue of keys from earlier batches
(v2). ``transform`` embeds with the online backbone, as both papers evaluate.
"""

import numbers

import torch

from . import distributed
from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import POSITIVE, ints
from .heads import MemoryBank, MomentumTeacher, frozen_copy, prediction_head
from .losses import byol_loss, info_nce
from .validation import Interval

__all__ = ["BYOL", "MoCo"]

_MOMENTUM = Interval(numbers.Real, 0, 1, closed="both")


class _MomentumTarget(BasePretrainer):
    """Online backbone + head (+ predictor) and their momentum copies; two views a step."""

    def _make_module(self, X):
        module = super()._make_module(X)
        if self.predictor_hidden is not None:
            module.predictor = prediction_head(self.projection_dims[-1], self.predictor_hidden)
        module.target_backbone = frozen_copy(module.backbone)
        module.target_head = frozen_copy(module.head)
        module.momentum_teacher = MomentumTeacher(
            self.teacher_momentum, 1.0, total_steps=self._total_steps(X)
        )
        return module

    def _online_and_target(self, module, x, partner):
        """Predictions ``(p1, p2)`` and the target's projections ``(t1, t2)`` of two views."""
        views = module.represent(torch.cat([self.augment_(x), self.augment_(partner)]))
        online = module.project(views)
        if self.predictor_hidden is not None:
            online = module.predictor(online)
        with torch.no_grad():
            target = module.target_head(module.target_backbone(views))
        return online.chunk(2), target.chunk(2)

    def _after_optimizer_step(self, module):
        module.momentum_teacher.update(
            [module.target_backbone, module.target_head], [module.backbone, module.head]
        )


class BYOL(_MomentumTarget):
    __doc__ = (
        """Bootstrap Your Own Latent: predict a momentum target's projection of the other view.

    Every image is augmented twice. The online network (backbone, projection
    head, predictor) maps each view to a prediction; the target network, an
    exponential moving average of the online backbone and head whose
    momentum rises from ``teacher_momentum`` to 1 on a cosine over the fit,
    maps the other view to a projection; the loss is
    ``byol_loss(p1, t2) + byol_loss(p2, t1)``
    (:func:`~contrastlearn.losses.byol_loss`, the squared distance of the
    normalised vectors). There are no negatives, so the result depends
    little on the batch size; the predictor and the slowly moving target
    keep it from collapsing. ``transform`` returns the online backbone's
    embedding.

    Parameters
    ----------
    predictor_hidden : int, default=512
        Width of the predictor's hidden layer (BYOL: 4096 for 256-d
        projections).
    teacher_momentum : float, default=0.99
        The target's momentum at the first step (BYOL: 0.996 over 300-1000
        ImageNet epochs; a fit of a few thousand steps needs a target that
        moves faster).
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 128)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 4096, 1000 epochs): LARS
    with ``lr = 0.2 * batch_size / 256``, weight decay 1.5e-6, 10 warm-up
    epochs then cosine decay, a projector 4096-256 and a predictor 4096-256
    (BatchNorm in the hidden layers), target momentum 0.996 rising to 1. In
    contrastlearn: ``BYOL(optimizer="lars", lr=0.2 * batch_size / 256,
    weight_decay=1.5e-6, warmup_epochs=10, projection_dims=(4096, 256),
    predictor_hidden=4096, teacher_momentum=0.996)``. Our defaults keep the
    pretrainers' AdamW schedule and smaller heads, sized for 10^3-10^5 small
    images on one device (``benchmarks/methods.py``).

    See Also
    --------
    MoCo : The same networks with a contrastive loss.
    SimSiam : No momentum target: a stop-gradient on the online projections.

    References
    ----------
    Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised
    Learning", NeurIPS 2020, arXiv:2006.07733.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> byol = cl.BYOL(max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> byol.transform(X).shape, byol.net_.module_.momentum_teacher.steps_taken
    ((200, 256), 6)
    """
    )

    _method_params = {
        "projection_dims": (512, 128),
        "predictor_hidden": 512,
        "teacher_momentum": 0.99,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "predictor_hidden": ints(1),
        "teacher_momentum": _MOMENTUM,
    }

    def _training_loss(self, module, x, partner):
        (p1, p2), (t1, t2) = self._online_and_target(module, x, partner)
        return byol_loss(p1, t2) + byol_loss(p2, t1)


class MoCo(_MomentumTarget):
    __doc__ = (
        """Momentum Contrast: queries against a momentum encoder's keys (v3, or v2 with a queue).

    Every image is augmented twice. The query encoder (backbone, projection
    head and, in v3, a predictor) maps each view to a query; the key encoder,
    an exponential moving average of the backbone and head, maps the other
    view to a key; :func:`~contrastlearn.losses.info_nce` makes each query
    pick its own key. With ``queue_size=0`` (MoCo v3) the negatives are the
    other keys of the batch (of every process under ``torchrun``) and the
    loss is ``2 * temperature * (info_nce(q1, k2) + info_nce(q2, k1))``, as
    in the authors' code. With ``queue_size > 0`` (MoCo v2, for small
    batches) the negatives are the last ``queue_size`` keys of earlier
    batches, kept in a buffer of the model (so checkpoints carry it), the
    loss is ``info_nce(q1, k2, queue) + info_nce(q2, k1, queue)`` and both
    views' keys then enter the queue. ``transform`` returns the query
    backbone's embedding.

    Parameters
    ----------
    temperature : float, default=0.2
        InfoNCE temperature (v3: 0.2 for ViTs, 1.0 for ResNet-50; v2: 0.2).
    teacher_momentum : float, default=0.99
        The key encoder's momentum at the first step, rising to 1 on a
        cosine (v3: 0.99; v2: 0.999 held fixed).
    predictor_hidden : int or None, default=512
        Width of the predictor's hidden layer (v3: 4096); None: no predictor,
        the queries are the projections (v2).
    queue_size : int, default=0
        Keys kept as negatives; 0 uses the batch's keys (v3). v2 kept 65,536.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 128)")
        + """

    Notes
    -----
    MoCo v3's recipe (ImageNet, ResNet-50, batch 4096, 100-1000 epochs):
    LARS with ``lr = 0.3 * batch_size / 256`` (0.6 for 100 epochs), weight
    decay 1.5e-6, 10 warm-up epochs, cosine decay, a projector 4096-4096-256
    and a predictor 4096-256 (BatchNorm in the hidden layers), temperature
    1.0, momentum 0.99 rising to 1. In contrastlearn: ``MoCo(optimizer="lars",
    lr=0.3 * batch_size / 256, weight_decay=1.5e-6, warmup_epochs=10,
    projection_dims=(4096, 4096, 256), predictor_hidden=4096,
    temperature=1.0)``. MoCo v2 (batch 256, 200 epochs): SGD with
    ``lr=0.03``, weight decay 1e-4, a projector 2048-128, no predictor,
    temperature 0.2, momentum 0.999, a queue of 65,536:
    ``MoCo(optimizer="sgd", lr=0.03, weight_decay=1e-4, projection_dims=(2048,
    128), predictor_hidden=None, temperature=0.2, teacher_momentum=0.999,
    queue_size=65536)`` (our momentum still rises to 1 on a cosine). Our
    defaults are measured in ``benchmarks/methods.py``.

    See Also
    --------
    BYOL : The same networks with a regression loss and no negatives.
    CLR : Negatives from the same network, no momentum encoder.

    References
    ----------
    Chen, Xie and He, "An Empirical Study of Training Self-Supervised Vision
    Transformers", ICCV 2021, arXiv:2104.02057 (v3); Chen et al., "Improved
    Baselines with Momentum Contrastive Learning", arXiv:2003.04297 (v2).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> cl.MoCo(max_epochs=2, batch_size=64, random_state=0).fit_transform(X).shape
    (200, 256)
    >>> v2 = cl.MoCo(queue_size=128, predictor_hidden=None, max_epochs=2, batch_size=64,
    ...              random_state=0).fit(X)
    >>> tuple(v2.net_.module_.queue.vectors.shape), int(v2.net_.module_.queue.pointer)
    ((128, 128), 0)
    """
    )

    _method_params = {
        "projection_dims": (512, 128),
        "temperature": 0.2,
        "teacher_momentum": 0.99,
        "predictor_hidden": 512,
        "queue_size": 0,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "temperature": POSITIVE,
        "teacher_momentum": _MOMENTUM,
        "predictor_hidden": [None, ints(1)],
        "queue_size": ints(0),
    }

    def _make_module(self, X):
        module = super()._make_module(X)
        if self.queue_size:
            module.queue = MemoryBank(self.queue_size, self.projection_dims[-1])
        return module

    def _training_loss(self, module, x, partner):
        (q1, q2), (k1, k2) = self._online_and_target(module, x, partner)
        if not self.queue_size:
            loss = info_nce(q1, k2, self.temperature, gather_distributed=True) + info_nce(
                q2, k1, self.temperature, gather_distributed=True
            )
            return 2 * self.temperature * loss
        queue = module.queue.vectors.clone()
        loss = info_nce(q1, k2, self.temperature, queue=queue) + info_nce(
            q2, k1, self.temperature, queue=queue
        )
        module.queue.push(distributed.gather(torch.cat([k1, k2])))
        return loss
