"""SwAV: swapped prediction of cluster assignments over multi-crop views (:class:`SwAV`)."""

import torch
import torch.nn.functional as F
from torch import nn

from ._base import BasePretrainer
from ._data import steps_per_epoch
from ._docs import PARAMETERS_DOC
from ._multicrop import MULTICROP_CONSTRAINTS, MultiCrop
from ._validation import POSITIVE, ints
from .augment import Augment
from .losses import swav_loss

__all__ = ["SwAV"]


class SwAV(MultiCrop, BasePretrainer):
    __doc__ = (
        """SwAV: predict the prototype assignment of one crop from the other crops.

    Every image gives two global crops and ``n_local_crops`` local ones
    (:class:`~contrastlearn.augment.Augment` with ``local_crop_scale``,
    resampled to ``local_crop_size``). Each crop passes through the backbone
    and the projection head; its L2-normalised projection is scored against
    ``n_prototypes`` unit prototype vectors (trainable, renormalised after
    every step). The Sinkhorn-Knopp algorithm turns each global crop's
    scores into codes that use all prototypes equally over the batch, and
    every other crop is trained to predict them
    (:func:`~contrastlearn.losses.swav_loss`). The prototypes stay fixed for
    the first ``freeze_prototypes_epochs`` epochs, as in the paper.
    ``transform`` returns the backbone's embedding.

    Parameters
    ----------
    n_prototypes : int, default=512
        Number of prototypes (SwAV: 3000 for ImageNet; a few times the
        number of expected clusters).
    temperature : float, default=0.1
        Softmax temperature of the predictions.
    epsilon : float, default=0.05
        Entropy regularisation of the Sinkhorn codes.
    sinkhorn_iterations : int, default=3
    freeze_prototypes_epochs : int, default=1
        Epochs during which the prototypes get no gradient.
    n_local_crops : int, default=6
        Local crops per image (0 for two crops only).
    local_crop_scale : tuple of float, default=(0.05, 0.4)
        Area range of the local crops.
    local_crop_size : int or None, default=None
        Side of the local crops; None: half the image side.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 128)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 4096, 800 epochs): LARS
    with ``lr = 4.8`` (0.6 for batch 256), weight decay 1e-6, 10 warm-up
    epochs, cosine decay, a projector 2048-128, 3000 prototypes frozen for
    the first 313 steps, temperature 0.1, epsilon 0.05, 3 Sinkhorn
    iterations, 2 crops of 224 px (area 14-100 %) and 6 of 96 px (5-14 %),
    and a queue of 3840 projections for batches of 256. In contrastlearn:
    ``SwAV(optimizer="lars", lr=4.8, warmup_epochs=10, projection_dims=(2048,
    128), n_prototypes=3000, local_crop_scale=(0.05, 0.14))`` (no queue).
    Our defaults keep the pretrainers' AdamW schedule, smaller heads and
    DINO's crops (``benchmarks/methods.py``).

    See Also
    --------
    DINO : Multi-crop self-distillation with a momentum teacher.

    References
    ----------
    Caron et al., "Unsupervised Learning of Visual Features by Contrasting
    Cluster Assignments", NeurIPS 2020, arXiv:2006.09882.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> swav = cl.SwAV(n_prototypes=64, n_local_crops=2, max_epochs=2, batch_size=64,
    ...                random_state=0).fit(X)
    >>> swav.transform(X).shape, tuple(swav.net_.module_.prototypes.weight.shape)
    ((200, 256), (64, 128))
    """
    )

    _method_params = {
        "projection_dims": (512, 128),
        "n_prototypes": 512,
        "temperature": 0.1,
        "epsilon": 0.05,
        "sinkhorn_iterations": 3,
        "freeze_prototypes_epochs": 1,
        "n_local_crops": 6,
        "local_crop_scale": (0.05, 0.4),
        "local_crop_size": None,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "n_prototypes": ints(1),
        "temperature": POSITIVE,
        "epsilon": POSITIVE,
        "sinkhorn_iterations": ints(0),
        "freeze_prototypes_epochs": ints(0),
        **MULTICROP_CONSTRAINTS,
    }

    def _default_augment(self):
        return Augment(crop_scale=(0.4, 1.0))

    def _make_module(self, X):
        self._check_local_crops(X)
        module = super()._make_module(X)
        module.prototypes = nn.Linear(self.projection_dims[-1], self.n_prototypes, bias=False)
        _normalize_prototypes(module)
        module.register_buffer("step", torch.zeros((), dtype=torch.long))
        module.frozen_steps = self.freeze_prototypes_epochs * steps_per_epoch(X, self.batch_size)
        self._make_local_augment(X)
        return module

    def _training_loss(self, module, x, partner):
        n = len(x)
        global_crops, local_crops = self._crops(module, x, partner)
        z = module.project(global_crops)
        if local_crops is not None:  # another size: a separate pass
            z = torch.cat([z, module.project(local_crops)])
        z = F.normalize(z, dim=1)
        weight = module.prototypes.weight
        # Frozen prototypes take no gradient; chosen on the device, without reading the step.
        weight = torch.where(module.step < module.frozen_steps, weight.detach(), weight)
        scores = (z @ weight.T).view(-1, n, self.n_prototypes)
        return swav_loss(
            scores,
            2,
            self.temperature,
            self.epsilon,
            self.sinkhorn_iterations,
            gather_distributed=True,
        )

    def _after_optimizer_step(self, module):
        module.step += 1
        _normalize_prototypes(module)


def _normalize_prototypes(module):
    with torch.no_grad():
        weight = module.prototypes.weight
        weight.copy_(F.normalize(weight, dim=1))
