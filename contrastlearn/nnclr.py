"""Nearest-neighbour contrastive learning (:class:`NNCLR`)."""

import torch
import torch.nn.functional as F

from . import distributed
from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import POSITIVE, ints
from .heads import MemoryBank, prediction_head
from .losses import info_nce

__all__ = ["NNCLR"]


class NNCLR(BasePretrainer):
    __doc__ = (
        """NNCLR: contrast a view's nearest neighbour in a support set with the other view.

    Every image is augmented twice; both views pass through the backbone and
    the projection head (``z1, z2``) and a predictor (``p1, p2``). Each
    projection is replaced by its nearest neighbour (cosine) among the last
    ``support_size`` projections of earlier batches, the *support set*, so
    the positive of an image is another image the model already places near
    it; the loss is ``(info_nce(NN(z1), p2) + info_nce(NN(z2), p1)) / 2``
    (:func:`~contrastlearn.losses.info_nce`, the other images' predictions
    as negatives), and the batch's ``z1`` then enter the support set, a
    buffer of the model (checkpoints carry it). ``transform`` returns the
    backbone's embedding.

    Parameters
    ----------
    temperature : float, default=0.1
        InfoNCE temperature (the paper's).
    predictor_hidden : int, default=512
        Width of the predictor's hidden layer (NNCLR: 4096).
    support_size : int, default=4096
        Projections kept in the support set (NNCLR: 98,304 for ImageNet). It
        starts as random unit vectors: the first ``support_size /
        batch_size`` steps contrast partly with noise.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(512, 128)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 4096, 1000 epochs): LARS
    with ``lr = 0.15 * batch_size / 256``, weight decay 1e-6, 10 warm-up
    epochs, cosine decay, a projector 2048-2048-256 and a predictor
    4096-256, temperature 0.1, a support set of 98,304. In contrastlearn:
    ``NNCLR(optimizer="lars", lr=0.15 * batch_size / 256, warmup_epochs=10,
    projection_dims=(2048, 2048, 256), predictor_hidden=4096,
    support_size=98304)``. Our defaults keep the pretrainers' AdamW schedule
    and smaller heads (``benchmarks/methods.py``).

    See Also
    --------
    CLR : The same contrast with the image's own other view as positive.

    References
    ----------
    Dwibedi et al., "With a Little Help from My Friends: Nearest-Neighbor
    Contrastive Learning of Visual Representations", ICCV 2021,
    arXiv:2104.14548.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> nnclr = cl.NNCLR(support_size=256, max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> nnclr.transform(X).shape, tuple(nnclr.net_.module_.support_set.vectors.shape)
    ((200, 256), (256, 128))
    """
    )

    _method_params = {
        "projection_dims": (512, 128),
        "temperature": 0.1,
        "predictor_hidden": 512,
        "support_size": 4096,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "temperature": POSITIVE,
        "predictor_hidden": ints(1),
        "support_size": ints(1),
    }

    def _make_module(self, X):
        module = super()._make_module(X)
        size = self.projection_dims[-1]
        module.predictor = prediction_head(size, self.predictor_hidden)
        module.support_set = MemoryBank(self.support_size, size)
        return module

    def _training_loss(self, module, x, partner):
        views = module.represent(torch.cat([self.augment_(x), self.augment_(partner)]))
        z = module.project(views)
        p1, p2 = module.predictor(z).chunk(2)
        z1, z2 = z.chunk(2)
        support = module.support_set.vectors.clone()
        loss = (
            info_nce(_nearest(z1, support), p2, self.temperature, gather_distributed=True)
            + info_nce(_nearest(z2, support), p1, self.temperature, gather_distributed=True)
        ) / 2
        module.support_set.push(distributed.gather(z1.detach()))
        return loss


def _nearest(z, support):
    """Each row's cosine nearest neighbour among the rows of ``support`` (no gradient)."""
    with torch.no_grad():
        similarity = F.normalize(z, dim=1) @ support.to(z.dtype).T
        return support[similarity.argmax(1)].to(z.dtype)
