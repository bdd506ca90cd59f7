"""SimCLR-style pretraining (:class:`CLR`) and contrastive projection learning (:class:`CPLR`).

Both contrast two views of every image with the NT-Xent loss; they differ in
the *representation* each branch sees: ``"cartesian"``, the image as it was
recorded, or ``"polar"``, its projection onto a radius x angle grid
(:class:`~contrastlearn.projection.PolarProjection`).

The reference study (Zimmermann et al. 2023) names the representations the
other way round: diffraction is recorded with polar symmetry, so its
"Polar" is the recorded detector image (our ``"cartesian"``) and its
"Cartesian" the unwrapped angle x radius image (our ``"polar"``):

===========================================  ===================================
contrastlearn                                reference study (mode flag)
===========================================  ===================================
``CLR(representation="cartesian")``          Polar ⟷ Polar (``polpol``)
``CLR(representation="polar")``              Cartesian ⟷ Cartesian (``cartcart``)
``CPLR(representations="polar-cartesian")``  Cartesian ⟷ Polar (``cartpol``)
``CPLR(representations="cartesian-polar")``  Polar ⟷ Cartesian (``polcart``)
===========================================  ===================================
"""

import copy

import torch
from torch import nn

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import BOOL, POSITIVE
from .augment import resolve_augment
from .heads import projection_head
from .losses import nt_xent
from .projection import PolarProjection
from .validation import Options, Predicate

#: The reference study's name of every configuration, by (estimator, representation(s)).
REFERENCE_NAMES = {
    ("CLR", "cartesian"): "Polar ⟷ Polar",
    ("CLR", "polar"): "Cartesian ⟷ Cartesian",
    ("CPLR", "polar-cartesian"): "Cartesian ⟷ Polar",
    ("CPLR", "cartesian-polar"): "Polar ⟷ Cartesian",
}

_REPRESENTATIONS = ("cartesian", "polar")
_BRANCHES = ("polar-cartesian", "cartesian-polar")

REPRESENTATION_DOC = """polar : PolarProjection, torch.nn.Module or None, default=None
        The polar projection of the ``"polar"`` representation: a
        :class:`~contrastlearn.projection.PolarProjection` (radial and
        azimuth range, nearest or bilinear sampling, a blurred central mask;
        ``PolarProjection(**REFERENCE_PROJECTION_SETTINGS)`` is the reference
        study's crop) or any module mapping ``(B, C, H, W)`` images to
        projections of the same shape. None means ``PolarProjection()``: all
        angles and all radii up to half the image side, bilinear.
    project_first : bool, default=False
        Where augmentation happens for the polar representation: ``True``
        projects the images first and augments the projections in their own
        (radius x angle) coordinates, the reference study's order; ``False``
        augments the images and projects the augmented views. On simulated
        diffraction patterns the two scored alike over five seeds (F1 0.588
        vs 0.594, overlap 0.521 vs 0.515; ``benchmarks/diffraction_pipeline.py``).
    embed : {"image", "polar"}, default="image"
        What ``transform`` embeds: the images as they were recorded (as the
        reference study does for every configuration) or their polar
        projection.
    projection_batchnorm : {"hidden", "all"}, default="hidden"
        BatchNorm in the projection head after the hidden layers only
        (SimCLR), or also after the last layer, bias-free and without shift
        (SimCLR v2 and the reference study, whose head is (512, 512, 128))."""

FIT_DOC = BasePretrainer.FIT_DOC.replace(
    """

        Returns""",
    """
        polar_images : array-like, default=None
            Precomputed polar projections of ``X``, one per image and of the
            images' shape (in-memory or on disk, streamed like ``X``), e.g.
            the ``projections`` of
            :func:`contrastlearn.datasets.preprocess_diffraction`, which
            reproduces the reference study's offline projection. The polar
            branch then sees them, augmented in their own coordinates,
            instead of projecting ``X``; they get their own normalisation.
            Needs ``project_first=True``, ``embed="image"`` and
            ``pairing="augment"``.

        Returns""",
    1,
)


def _is_projection(v):
    return v is None or isinstance(v, nn.Module)


class _ProjectionContrast(BasePretrainer):
    """What CLR and CPLR share: NT-Xent over representations, projections, precomputed ones."""

    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "temperature": POSITIVE,
        "polar": [
            None,
            Predicate(
                _is_projection,
                "a contrastlearn.projection.PolarProjection or a torch.nn.Module projecting images",
            ),
        ],
        "project_first": BOOL,
        "embed": Options(["image", "polar"]),
        "projection_batchnorm": Options(["hidden", "all"]),
    }

    def _representations(self):
        """The representation of branch 1 and of branch 2."""
        raise NotImplementedError

    def _embedded(self):
        """The representation ``transform`` embeds."""
        return "polar" if self.embed == "polar" else "cartesian"

    def _uses_polar_view(self):
        return "polar" in self._representations() or self.embed == "polar"

    def _make_projection(self):
        return PolarProjection() if self.polar is None else copy.deepcopy(self.polar)

    def _make_representation(self):
        return self._make_projection() if self.embed == "polar" else nn.Identity()

    def _make_head(self, in_features):
        return projection_head(in_features, self.projection_dims, self.projection_batchnorm)

    def _make_module(self, X, polar_images=None):
        module = super()._make_module(X)
        module.polar = module.represent if self.embed == "polar" else self._make_projection()
        if polar_images is not None:
            module.polar_preprocess = self._make_preprocess(polar_images)
        return module

    def _view(self, module, representation, x, polar=None):
        """One augmented view of the preprocessed batch ``x`` in ``representation``.

        ``polar`` holds the batch's precomputed, preprocessed projections.
        """
        if representation == "cartesian":
            return self.augment_(x)
        if polar is not None:
            return self.augment_(polar)
        if self.project_first:
            return self.augment_(module.polar(x))
        return module.polar(self.augment_(x))

    def _pair_loss(self, module, x, other=None):
        if not hasattr(module, "polar_preprocess"):
            return super()._pair_loss(module, x, other)
        x = module.preprocess(x)
        return self._training_loss(module, x, x, polar=module.polar_preprocess(other))

    def _training_loss(self, module, x, partner, polar=None):
        first, second = self._representations()
        views = torch.cat(
            [self._view(module, first, x, polar), self._view(module, second, partner, polar)]
        )
        z1, z2 = module.project(views).chunk(2)
        return nt_xent(z1, z2, self.temperature, gather_distributed=True)

    def fit(self, X, y=None, *, latents=None, eval_set=None, polar_images=None):
        if polar_images is None:
            return super().fit(X, y, latents=latents, eval_set=eval_set)
        self._validate_params()
        X = self._validate_input(X, reset=True)
        monitor = self._make_monitor(X, eval_set)
        name = type(self).__name__
        for problem, fix in [
            ("polar" not in self._representations(), "a configuration with a polar branch"),
            (
                not self.project_first,
                "project_first=True (precomputed projections are "
                "augmented in their own coordinates)",
            ),
            (self.embed != "image", "embed='image' (transform cannot project like them)"),
            (self.pairing != "augment", "pairing='augment'"),
        ]:
            if problem:
                raise ValueError(f"polar_images are only used by {name} with {fix}.")
        try:
            polar_images = self._validate_input(polar_images, reset=False)
        except ValueError as error:
            raise ValueError(
                f"polar_images must be one projection per image of X, shaped like "
                f"X's images: {error}"
            ) from None
        if len(polar_images) != len(X):
            raise ValueError(
                f"polar_images has {len(polar_images)} images but X has {len(X)}; "
                "it must hold one projection per image."
            )
        self.augment_ = resolve_augment(self.augment, self._default_augment())
        return self._train(
            X,
            lambda: self._make_module(X, polar_images),
            y=polar_images,
            data=("polar_images", tuple(polar_images.shape), str(polar_images.dtype)),
            monitor=monitor,
        )

    fit.__doc__ = FIT_DOC


class CLR(_ProjectionContrast):
    __doc__ = (
        """SimCLR-style contrastive pretrainer with the NT-Xent loss.

    Every image of a batch is augmented twice (:class:`~contrastlearn.augment.Augment`,
    on the model's device); both views are put in the ``representation``
    and pass through the same backbone and projection head, and
    :func:`~contrastlearn.losses.nt_xent` pulls the two views of an image
    together while pushing away the other ``2N - 2`` views of the batch.
    ``transform`` returns the backbone's embedding of the images (or, with
    ``embed="polar"``, of their polar projections), before the projection
    head.

    Parameters
    ----------
    temperature : float, default=0.1
        NT-Xent temperature (> 0). Very low values (around 0.01) tend to
        collapse the representation; 0.1 to 0.5 is the usual range.
    representation : {"cartesian", "polar"}, default="cartesian"
        The representation both branches see: the images themselves, or their
        polar projection (the reference study's "Polar ⟷ Polar" and
        "Cartesian ⟷ Cartesian", see :mod:`contrastlearn.clr`).
    view : {"cartesian", "polar"}, default="deprecated"
        The old name of ``representation`` (a "view" is an augmented image);
        still taken, with a ``FutureWarning``.
    """
        + REPRESENTATION_DOC
        + """
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ResNet-50, batch 4096, 100-800 epochs):
    LARS with ``lr = 0.3 * batch_size / 256`` (or ``0.075 * sqrt(batch_size)``
    for small batches and long training), weight decay 1e-6, 10 warm-up
    epochs then cosine decay, temperature 0.1 (0.5 in the authors' CIFAR-10
    runs, batch 512), a projection head of 2048 and 128 units, crops of
    8-100 % area, flips, strong colour jitter and blur. In contrastlearn that
    is ``CLR(optimizer="lars", lr=0.3 * batch_size / 256, warmup_epochs=10,
    projection_dims=(2048, 128))``.
    Our defaults (AdamW, ``lr=1e-3`` whatever the batch size,
    ``weight_decay=1e-6``, no warm-up, cosine decay per step, batch 256) are
    for 10^3-10^5 small images and a few tens of epochs on one device, and
    were measured against the paper's recipe there
    (``benchmarks/recipes.py``: sklearn's digits, 30 epochs,
    ``augment="upright"``, a linear probe on 10 labels per class, 3 seeds):
    0.939 at batch 256 and 0.946 at batch 64, against 0.931 and 0.926 for
    the recipe and 0.936 for the defaults with ``lr`` scaled linearly with
    the batch (at 64). So the defaults stay, and ``lr`` is not scaled with
    ``batch_size``.

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
    )

    _parameter_constraints = {
        **_ProjectionContrast._parameter_constraints,
        "representation": Options(_REPRESENTATIONS),
        "view": Options(["deprecated", *_REPRESENTATIONS]),
    }
    _renamed_params = {"view": "representation"}

    _method_params = {
        "temperature": 0.1,
        "representation": "cartesian",
        "polar": None,
        "project_first": False,
        "embed": "image",
        "projection_batchnorm": "hidden",
        "view": "deprecated",
    }

    def _representations(self):
        representation = self._param("representation")
        return representation, representation


class CPLR(_ProjectionContrast):
    __doc__ = (
        """Contrastive projection learning: contrast an image with its polar projection.

    Zimmermann et al. (2023) found that for diffraction patterns contrasting
    an image with its polar (or cartesian) projection beats plain CLR. For
    every image ``x`` of a batch, after normalisation, branch 1 sees a view
    of ``x`` in the first representation named by ``representations`` and branch 2 a
    view in the second (``"polar-cartesian"``: branch 1 the polar
    projection, branch 2 the image). A view is an independent draw of the
    :class:`~contrastlearn.augment.Augment` pipeline, applied to the image
    before projecting it (``project_first=False``) or to the projection
    (``project_first=True``, the reference order). The projections of both
    branches meet in the NT-Xent loss, each image's two views being the
    positive pair; the loss is symmetric, so with a shared backbone the two
    modes train the same objective, as in the reference.

    ``transform`` embeds the images as they were recorded (``embed="image"``,
    what the reference study evaluates in every mode) or their polar
    projections (``embed="polar"``). With ``shared_backbone=True`` (the
    default) both branches use one backbone and projection head; with
    ``False`` each representation has its own and ``transform`` uses the one
    of the embedded representation.

    The reference study calls the recorded image "Polar" and the projection
    "Cartesian": ``representations="polar-cartesian"`` is its "Cartesian ⟷
    Polar" and ``representations="cartesian-polar"`` its "Polar ⟷ Cartesian" (see
    :mod:`contrastlearn.clr` and :data:`REFERENCE_NAMES`).

    Parameters
    ----------
    temperature : float, default=0.1
        NT-Xent temperature (> 0). The reference grid search found 0.1 best
        and 0.01-0.02 collapsing.
    representations : {"polar-cartesian", "cartesian-polar"}, \
            default="polar-cartesian"
        Representations of branch 1 and branch 2.
    mode : {"polar-cartesian", "cartesian-polar"}, default="deprecated"
        The old name of ``representations``; still taken, with a
        ``FutureWarning``.
    shared_backbone : bool, default=True
        Whether the two branches share backbone and projection head.
    """
        + REPRESENTATION_DOC
        + """
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        + """

    Notes
    -----
    The study's recipe (its ResNet-18, 224-px patterns, batch 628, 1000
    epochs): ``CPLR(backbone="cplr_resnet18", projection_dims=(512, 512, 128),
    projection_batchnorm="all", optimizer="lars", lr=0.1 * batch_size ** 0.5,
    weight_decay=1e-4, warmup_epochs=10, temperature=0.1, project_first=True,
    augment="cplr-reference", normalize="minmax")``. The defaults are CLR's
    (see :class:`CLR`): on 1,807 simulated 64-px patterns and 10 CPU epochs
    the study's head, augmentations and LARS recipe scored below them
    (``benchmarks/results/diffraction_pipeline_cpu.md``).

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
    )

    _parameter_constraints = {
        **_ProjectionContrast._parameter_constraints,
        "representations": Options(_BRANCHES),
        "mode": Options(["deprecated", *_BRANCHES]),
        "shared_backbone": BOOL,
    }
    _renamed_params = {"mode": "representations"}

    _method_params = {
        "temperature": 0.1,
        "representations": "polar-cartesian",
        "shared_backbone": True,
        "polar": None,
        "project_first": False,
        "embed": "image",
        "projection_batchnorm": "hidden",
        "mode": "deprecated",
    }

    def _representations(self):
        return tuple(self._param("representations").split("-"))

    def _make_module(self, X, polar_images=None):
        module = super()._make_module(X, polar_images)
        if not self.shared_backbone:
            backbone, n_out = self._make_backbone(X.shape[1:], self.device_)
            module.second_backbone = backbone
            module.second_head = self._make_head(n_out)
        return module

    def _project(self, module, representation, views):
        """Backbone and head of ``representation``'s branch."""
        if self.shared_backbone or representation == self._embedded():
            return module.project(views)
        return module.second_head(module.second_backbone(views))

    def _training_loss(self, module, x, partner, polar=None):
        if self.shared_backbone:
            return super()._training_loss(module, x, partner, polar)
        first, second = self._representations()
        z1 = self._project(module, first, self._view(module, first, x, polar))
        z2 = self._project(module, second, self._view(module, second, partner, polar))
        return nt_xent(z1, z2, self.temperature, gather_distributed=True)
