"""The base of every pretrainer (:class:`BasePretrainer`) and of short method classes.

``BasePretrainer`` adds to :class:`~contrastlearn._network.NetworkTransformer`
backbone, projection head, augmentation, positive pairs and monitors. A
pretrainer stores its parameters untouched in ``__init__``; ``fit`` validates
them and the input, seeds torch from ``random_state``, builds the model and
trains it. A method (``CLR``, ...) is a subclass that only adds its own
parameters and says how a batch and its partners become a loss
(:meth:`NetworkTransformer._training_loss`).
"""

import copy
import inspect
import warnings

import joblib
import numpy as np
import torch
from sklearn.base import clone
from sklearn.utils.multiclass import type_of_target
from torch import nn

from . import backbones
from ._data import steps_per_epoch
from ._model import PretrainModule
from ._network import FIT_RAISES_DOC, NetworkTransformer
from ._validation import (
    BACKBONE,
    BOOL,
    DIMS,
    NONNEGATIVE,
    ints,
)
from .augment import Augment, resolve_augment
from .heads import projection_head
from .monitor import TrainingMonitor
from .pairing import LatentNeighbors
from .validation import InstanceOf, Options


def _init_with(parent, method_params, class_name):
    """An ``__init__`` storing ``parent.__init__``'s parameters and ``method_params``.

    Its signature lists every parameter with its default (the method's own
    last), so sklearn's ``get_params``, ``clone`` and ``set_params`` see them.
    """
    defaults = {
        name: param.default
        for name, param in inspect.signature(parent.__init__).parameters.items()
        if name != "self"
    }
    defaults.update(method_params)

    def __init__(self, **params):
        unknown = sorted(set(params) - set(defaults))
        if unknown:
            raise TypeError(f"{class_name}() got an unexpected keyword argument {unknown[0]!r}")
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
            for name, default in defaults.items()
        ]
    )
    __init__.__qualname__ = f"{class_name}.__init__"
    return __init__


class BasePretrainer(NetworkTransformer):
    """The base of every pretrainer: subclass it to add a method.

    Adds to :class:`NetworkTransformer` a backbone, a projection head,
    augmentation, the choice of positive pairs and the monitors; ``fit``,
    ``transform``, checkpoints, streaming, devices and the sklearn contract
    come with it. A method implements :meth:`_training_loss` and, when it
    has parameters of its own, lists them with their defaults in the class
    attribute ``_method_params`` (a dict): the class then gets an
    ``__init__`` taking the shared parameters (see :class:`contrastlearn.CLR`)
    and its own, as keywords. It checks them by extending
    ``_parameter_constraints`` (name -> constraints of
    :mod:`contrastlearn.validation`). Optional
    hooks: ``_make_head(in_features)``, ``_make_module(X)`` (extra
    submodules: a predictor, a teacher), ``_after_optimizer_step(module)``
    (a momentum update) and ``_default_augment()``. The user guide's "Adding
    a method" works through a two-view method and a momentum-teacher method.

    Examples
    --------
    >>> import torch
    >>> import contrastlearn as cl
    >>> from contrastlearn.losses import nt_xent
    >>> class TinyCLR(cl.BasePretrainer):
    ...     _method_params = {"temperature": 0.2}
    ...
    ...     def _training_loss(self, module, x, partner):
    ...         views = torch.cat([self.augment_(x), self.augment_(partner)])
    ...         z1, z2 = module.project(module.represent(views)).chunk(2)
    ...         return nt_xent(z1, z2, self.temperature)
    >>> TinyCLR(temperature=0.5, max_epochs=1).get_params()["temperature"]
    0.5
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_method_params" in vars(cls) and "__init__" not in vars(cls):
            parent = next(c for c in cls.__mro__[1:] if issubclass(c, BasePretrainer))
            cls.__init__ = _init_with(parent, cls._method_params, cls.__name__)

    _parameter_constraints = {
        "backbone": BACKBONE,
        "projection_dims": DIMS,
        "augment": resolve_augment._parameter_constraints["augment"],
        "pairing": [
            Options(["augment"]),
            InstanceOf(LatentNeighbors, name="a contrastlearn.pairing.LatentNeighbors"),
        ],
        **NetworkTransformer._parameter_constraints,
        "monitor_samples": ints(0),
        "eval_every": ints(1),
        "early_stopping": BOOL,
        "n_iter_no_change": ints(1),
        "tol": NONNEGATIVE,
    }

    def __init__(
        self,
        *,
        backbone="auto",
        projection_dims=(256, 128),
        image_shape=None,
        normalize="dataset",
        log_intensity=False,
        nan_policy="raise",
        augment=None,
        pairing="augment",
        max_epochs=20,
        batch_size=256,
        lr=1e-3,
        weight_decay=1e-6,
        lr_schedule="cosine",
        optimizer="adamw",
        warmup_epochs=0,
        accumulate_batches=1,
        max_grad_norm=None,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
        compile=False,
        checkpoint_dir=None,
        monitor_samples=256,
        eval_every=1,
        early_stopping=False,
        n_iter_no_change=5,
        tol=1e-4,
    ):
        self.backbone = backbone
        self.projection_dims = projection_dims
        self.image_shape = image_shape
        self.normalize = normalize
        self.log_intensity = log_intensity
        self.nan_policy = nan_policy
        self.augment = augment
        self.pairing = pairing
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer
        self.warmup_epochs = warmup_epochs
        self.accumulate_batches = accumulate_batches
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks
        self.compile = compile
        self.checkpoint_dir = checkpoint_dir
        self.monitor_samples = monitor_samples
        self.eval_every = eval_every
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol

    # ------------------------------------------------------------ the model
    def _make_backbone(self, input_shape, device):
        if isinstance(self.backbone, nn.Module):
            backbone = copy.deepcopy(self.backbone)
        else:
            name = self.backbone
            if name == "auto":
                if len(input_shape) == 1:
                    name = "mlp"
                elif torch.device(device).type == "cuda":
                    name = "resnet18" if min(input_shape[1:]) >= 64 else "resnet18_small"
                else:
                    name = "small_cnn" if min(input_shape[1:]) >= 32 else "small_cnn_small"
            if name == "mlp" and len(input_shape) != 1:
                raise ValueError(
                    f"backbone='mlp' needs flat vector input; got samples of shape {input_shape}."
                )
            if name != "mlp" and len(input_shape) != 3:
                raise ValueError(
                    f"backbone={name!r} needs images; X has flat samples of {input_shape[0]} "
                    "features. Pass image_shape=(H, W) or (C, H, W) to reshape them, or use "
                    "backbone='mlp'."
                )
            backbone = backbones.make_backbone(
                name,
                input_shape[0],
                n_features=input_shape[0],
                image_size=tuple(input_shape[1:]) or None,
            )
        return backbone, backbones.embedding_dim(backbone, input_shape)

    def _make_module(self, X):
        """Build preprocessing (with statistics measured on ``X``), backbone and head."""
        backbone, n_out = self._make_backbone(X.shape[1:], self.device_)
        self._n_features_out = n_out
        return PretrainModule(
            self._make_preprocess(X),
            backbone,
            self._make_head(n_out),
            represent=self._make_representation(),
        )

    def _total_steps(self, X):
        """Optimiser steps of a whole fit on ``X`` (e.g. a momentum schedule's length)."""
        return self.max_epochs * steps_per_epoch(X, self.batch_size)

    def _make_head(self, in_features):
        """The projection head on top of the backbone (an MLP by default)."""
        return projection_head(in_features, self.projection_dims)

    def _make_representation(self):
        """The representation ``transform`` embeds images in (identity: the images)."""
        return nn.Identity()

    def _default_augment(self):
        """The augmentation pipeline used when ``augment=None``."""
        return Augment()

    def _fit_pairing(self, latents, n_samples):
        """The partner sampler for ``pairing``, or None for augmentation pairs."""
        if self.pairing == "augment":
            return None
        pairs = clone(self.pairing).fit(latents, n_samples=n_samples)
        lonely = int((pairs.count_neighbors() == 0).sum())
        if lonely:
            warnings.warn(
                f"{lonely} of {n_samples} images have no latent neighbour within the steps "
                f"{dict(zip(pairs.factors_, pairs.steps_.tolist()))}; they are paired with a "
                "second augmentation of themselves. Use larger steps or more of the grid.",
                UserWarning,
                stacklevel=3,
            )
        return pairs.sample

    # ------------------------------------------------------------ monitoring
    def _augmented_embedding(self, module, x):
        """The embedding of an augmented view of each raw image of the batch ``x``."""
        return module.backbone(module.represent(self.augment_(module.preprocess(x))))

    def _validate_eval_set(self, eval_set):
        """``eval_set`` as ``(images, labels)`` checked against the training data, or None."""
        if eval_set is None:
            if self.early_stopping:
                raise ValueError(
                    "early_stopping=True stops on the k-NN score of labelled "
                    "validation images: pass fit(X, eval_set=(X_val, y_val))."
                )
            return None
        if not isinstance(eval_set, (tuple, list)) or len(eval_set) != 2:
            raise ValueError(
                "eval_set must be a pair (X_val, y_val) of validation images and "
                f"their labels; got {type(eval_set).__name__}."
            )
        try:
            X_val = self._validate_input(eval_set[0], reset=False)
        except ValueError as error:
            raise ValueError(f"eval_set's images X_val must be shaped like X: {error}") from None
        y_val = np.asarray(eval_set[1])
        kind = type_of_target(y_val) if y_val.size else "empty"
        if kind not in ("binary", "multiclass", "multilabel-indicator"):
            raise ValueError(
                "eval_set's labels y_val must be class labels (n_samples,) or a multi-hot "
                f"matrix (n_samples, n_labels); got {kind} values of shape {y_val.shape}."
            )
        if len(y_val) != len(X_val):
            raise ValueError(f"eval_set holds {len(X_val)} images but {len(y_val)} labels.")
        if len(y_val) < 10 or (kind != "multilabel-indicator" and len(np.unique(y_val)) < 2):
            raise ValueError(
                "eval_set needs at least 10 labelled images of at least 2 classes "
                "for its 5-fold k-NN score; got "
                f"{len(y_val)} of {len(np.unique(y_val, axis=0))} class(es)."
            )
        return X_val, y_val

    def _make_monitor(self, X, eval_set):
        """The :class:`~contrastlearn.monitor.TrainingMonitor` of this fit, or None."""
        eval_set = self._validate_eval_set(eval_set)
        size = min(self.monitor_samples, len(X))
        if size < 2 and eval_set is None:
            return None
        rows = np.sort(np.random.RandomState(0).choice(len(X), size, replace=False))
        return TrainingMonitor(
            X[rows] if size >= 2 else None,
            self._augmented_embedding,
            eval_set=eval_set,
            eval_every=self.eval_every,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
        )

    def _train(self, X, make_module, *, monitor=None, **kwargs):
        if monitor is not None and monitor.eval_set is not None:
            X_val, y_val = monitor.eval_set
            kwargs["data"] = (kwargs.get("data"), tuple(X_val.shape), joblib.hash(y_val))
        super()._train(X, make_module, monitor=monitor, **kwargs)
        if monitor is not None and monitor.best_epoch_ is not None:
            self.best_epoch_ = monitor.best_epoch_
            self.best_validation_score_ = monitor.best_score_
        return self

    # ------------------------------------------------------------ public API
    def fit(self, X, y=None, *, latents=None, eval_set=None):
        self._validate_params()
        X = self._validate_input(X, reset=True)
        monitor = self._make_monitor(X, eval_set)
        partners = self._fit_pairing(latents, len(X))
        self.augment_ = resolve_augment(self.augment, self._default_augment())
        return self._train(
            X, lambda: self._make_module(X), partners=partners, data=latents, monitor=monitor
        )

    fit.__doc__ = FIT_DOC = (
        """Learn a representation from unlabelled images.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images of shape ``(n_samples, H, W)`` or ``(n_samples, C, H, W)``
            of any real dtype, or flat samples ``(n_samples, n_features)``
            (reshaped by ``image_shape`` when it is set, else treated as
            vectors).
        y : None
            Ignored; accepted so that the pretrainer fits in pipelines and
            ``GridSearchCV``, whose ``y`` only reaches the scorer.
        latents : pandas.DataFrame, dict or 2-D array, default=None
            The latent factors of the images, one row per image, for
            ``pairing=LatentNeighbors(...)`` (ignored with
            ``pairing="augment"``). ``GridSearchCV`` and ``Pipeline`` pass it
            on (``fit(X, y, latents=...)``, ``fit(X, clr__latents=...)``),
            split like ``X``.
        eval_set : (X_val, y_val), default=None
            Labelled validation images (shaped like ``X``) and their class
            labels or multi-hot rows, as in xgboost and lightgbm. Every
            ``eval_every`` epochs they are embedded and a k-nearest-neighbour
            probe is scored on them by 5-fold cross-validation
            (:func:`contrastlearn.monitor.knn_score`: accuracy, or macro F1
            for multi-hot labels), recorded as ``history_[:, "valid_knn"]``
            and printed with ``verbose=1``; ``early_stopping`` stops on it.
            The labels are used for nothing else.

        Returns
        -------
        self
            The fitted pretrainer.

        """
        + FIT_RAISES_DOC
        + """
        """
    )
