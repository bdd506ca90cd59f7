"""SimCLR-style contrastive pretraining (:class:`CLR`) and contrastive projection learning (:class:`CPLR`)."""

import torch
from torch import nn

from ._base import PARAMETERS_DOC, BasePretrainer, _is_positive_real
from ._trainer import projection_head
from .losses import nt_xent
from .projection import PolarProjection

_REPRESENTATIONS = {"cartesian": nn.Identity, "polar": PolarProjection}


class CLR(BasePretrainer):
    __doc__ = """SimCLR-style contrastive pretrainer with the NT-Xent loss.

    Every image of a batch is augmented twice (:class:`~contrastlearn.augment.Augment`,
    on the model's device); both views are put in the ``view`` representation
    and pass through the same backbone and projection head, and
    :func:`~contrastlearn.losses.nt_xent` pulls the two views of an image
    together while pushing away the other ``2N - 2`` views of the batch.
    ``transform`` returns the backbone's embedding of the images in the
    ``view`` representation, before the projection head.

    Parameters
    ----------
    temperature : float, default=0.1
        NT-Xent temperature (> 0). Very low values (around 0.01) tend to
        collapse the representation; 0.1 to 0.5 is the usual range.
    view : {"cartesian", "polar"}, default="cartesian"
        The representation both branches see: the images themselves, or their
        polar projection around the image centre
        (:func:`contrastlearn.projection.to_polar`, same size as the image),
        taken after augmentation.
    """ + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)") + """

    See Also
    --------
    CPLR : Contrast an image with its polar projection.
    contrastlearn.losses.nt_xent : The loss.
    contrastlearn.augment.Augment : The view-making pipeline.

    References
    ----------
    Chen, Kornblith, Norouzi, Hinton, "A Simple Framework for Contrastive
    Learning of Visual Representations", ICML 2020, arXiv:2002.05709.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> clr = cl.CLR(max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> clr.transform(X).shape
    (200, 256)
    >>> clr.get_feature_names_out()[:3]
    array(['clr0', 'clr1', 'clr2'], dtype=object)
    """

    _parameter_checks = {
        **BasePretrainer._parameter_checks,
        "temperature": (_is_positive_real, "a float > 0"),
        "view": (lambda v: v in _REPRESENTATIONS, "one of 'cartesian', 'polar'"),
    }

    def __init__(self, *, temperature=0.1, view="cartesian", backbone="auto",
                 projection_dims=(256, 128), image_shape=None, normalize="dataset",
                 log_intensity=False, nan_policy="raise", augment=None, pairing="augment",
                 max_epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-6, lr_schedule="cosine",
                 device="auto", random_state=None, verbose=0, callbacks=None, compile=False,
                 checkpoint_dir=None):
        super().__init__(
            backbone=backbone, projection_dims=projection_dims, image_shape=image_shape,
            normalize=normalize, log_intensity=log_intensity, nan_policy=nan_policy,
            augment=augment, pairing=pairing, max_epochs=max_epochs, batch_size=batch_size,
            lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule, device=device,
            random_state=random_state, verbose=verbose, callbacks=callbacks, compile=compile,
            checkpoint_dir=checkpoint_dir,
        )
        self.temperature = temperature
        self.view = view

    def _make_view(self):
        return _REPRESENTATIONS[self.view]()

    def _uses_polar_view(self):
        return self.view == "polar"

    def _training_loss(self, module, x, partner):
        views = module.view(torch.cat([self.augment_(x), self.augment_(partner)]))
        z1, z2 = module.project(views).chunk(2)
        return nt_xent(z1, z2, self.temperature, gather_distributed=True)


class CPLR(BasePretrainer):
    __doc__ = """Contrastive projection learning: contrast an image with its polar projection.

    Zimmermann et al. (2023) found that for diffraction patterns contrasting
    an image with its polar (or cartesian) projection beats plain CLR. For
    every image ``x`` of a batch, after normalisation:

    - branch 1 sees ``first(augment(x))``, branch 2 sees
      ``second(augment(x))``, where the two ``augment`` calls are independent
      draws of the same :class:`~contrastlearn.augment.Augment` pipeline and
      ``first``/``second`` are the two representations named by ``mode``
      (``"polar-cartesian"``: branch 1 polar, branch 2 cartesian);
    - the projections of both branches meet in the NT-Xent loss, each image's
      two views being the positive pair;
    - ``transform`` embeds ``first(x)`` with branch 1's backbone.

    With ``shared_backbone=True`` (the default) both branches use one backbone
    and projection head; with ``False`` branch 2 has its own, and only branch
    1's is kept for ``transform``.

    Parameters
    ----------
    temperature : float, default=0.1
        NT-Xent temperature (> 0). The reference grid search found 0.1 best
        and 0.01-0.02 collapsing.
    mode : {"polar-cartesian", "cartesian-polar"}, default="polar-cartesian"
        Representations of branch 1 (the one ``transform`` uses) and branch 2.
    shared_backbone : bool, default=True
        Whether the two branches share backbone and projection head.
    """ + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)") + """

    See Also
    --------
    CLR : Both branches in the same representation.
    contrastlearn.projection.to_polar : The projection.

    References
    ----------
    J. Zimmermann, F. Beguet, D. Guthruf, B. Langbehn and D. Rupp, "Finding
    the semantic similarity in single-particle diffraction images using
    self-supervised contrastive projection learning", npj Computational
    Materials 9, 24 (2023), https://doi.org/10.1038/s41524-023-00966-0

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = load_digits().images[:200]
    >>> cplr = cl.CPLR(max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> cplr.transform(X).shape
    (200, 256)
    >>> cplr.get_feature_names_out()[:2]
    array(['cplr0', 'cplr1'], dtype=object)
    """

    _parameter_checks = {
        **BasePretrainer._parameter_checks,
        "temperature": (_is_positive_real, "a float > 0"),
        "mode": (lambda v: v in ("polar-cartesian", "cartesian-polar"),
                 "one of 'polar-cartesian', 'cartesian-polar'"),
        "shared_backbone": (lambda v: isinstance(v, bool), "a bool"),
    }

    def __init__(self, *, temperature=0.1, mode="polar-cartesian", shared_backbone=True,
                 backbone="auto", projection_dims=(256, 128), image_shape=None,
                 normalize="dataset", log_intensity=False, nan_policy="raise", augment=None,
                 pairing="augment", max_epochs=20, batch_size=256, lr=1e-3, weight_decay=1e-6,
                 lr_schedule="cosine", device="auto", random_state=None, verbose=0,
                 callbacks=None, compile=False,
                 checkpoint_dir=None):
        super().__init__(
            backbone=backbone, projection_dims=projection_dims, image_shape=image_shape,
            normalize=normalize, log_intensity=log_intensity, nan_policy=nan_policy,
            augment=augment, pairing=pairing, max_epochs=max_epochs, batch_size=batch_size,
            lr=lr, weight_decay=weight_decay, lr_schedule=lr_schedule, device=device,
            random_state=random_state, verbose=verbose, callbacks=callbacks, compile=compile,
            checkpoint_dir=checkpoint_dir,
        )
        self.temperature = temperature
        self.mode = mode
        self.shared_backbone = shared_backbone

    def _representations(self):
        return self.mode.split("-")

    def _make_view(self):
        return _REPRESENTATIONS[self._representations()[0]]()

    def _uses_polar_view(self):
        return True

    def _make_module(self, X):
        module = super()._make_module(X)
        module.second_view = _REPRESENTATIONS[self._representations()[1]]()
        if not self.shared_backbone:
            backbone, n_out = self._make_backbone(X.shape[1:], self.device_)
            module.second_backbone = backbone
            module.second_head = projection_head(n_out, self.projection_dims)
        return module

    def _training_loss(self, module, x, partner):
        first = module.view(self.augment_(x))
        second = module.second_view(self.augment_(partner))
        if self.shared_backbone:
            z1, z2 = module.project(torch.cat([first, second])).chunk(2)
        else:
            z1 = module.project(first)
            z2 = module.second_head(module.second_backbone(second))
        return nt_xent(z1, z2, self.temperature, gather_distributed=True)
