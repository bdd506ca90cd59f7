"""The bases every network estimator shares: sklearn transformers that own a skorch net.

``NetworkTransformer`` validates parameters and input, picks the device and
trains a module with :func:`~contrastlearn._trainer.train_network`;
``BasePretrainer`` adds backbone, projection head, augmentation and positive
pairs. A pretrainer stores its parameters untouched in ``__init__``; ``fit``
validates them and the input, seeds torch from ``random_state``, builds the
model and trains it. A method (``CLR``, ...) is a subclass that only adds its
own parameters and says how a batch and its partners become a loss
(:meth:`NetworkTransformer._training_loss`).
"""

import copy
import inspect
import math
import os
import warnings

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from torch import nn

from . import backbones, distributed
from ._input import _complex_message, _is_lazy, _LazyImages, check_finite_pixels
from ._model import NAN_POLICIES, NORMALIZATIONS, Preprocess, PretrainModule
from ._trainer import OPTIMIZERS, train_network
from ._validation import (
    BACKBONE,
    BOOL,
    DEVICE,
    DIMS,
    IMAGE_SHAPE,
    NONNEGATIVE,
    POSITIVE,
    RANDOM_STATE,
    ints,
)
from .augment import PRESETS as AUGMENT_PRESETS
from .augment import Augment, resolve_augment
from .heads import projection_head
from .monitor import TrainingMonitor
from .pairing import LatentNeighbors
from .validation import InstanceOf, Options, validate_parameters


def _check_device_available(device):
    """Raise a ValueError when ``device`` names a GPU this machine does not have."""
    device = torch.device(device)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise ValueError(
                f"device={str(device)!r} is not available: this machine has {count} CUDA "
                f"device(s) usable by torch {torch.__version__}. Use device='auto' (CUDA when "
                "available, else the CPU) or device='cpu'."
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(
            "device='mps' is not available on this machine; use device='auto' or device='cpu'."
        )


def _free_most_cuda_device():
    """The visible GPU with the most free memory, so that parallel jobs spread out."""
    count = torch.cuda.device_count()
    if count == 1:
        return "cuda"
    free = [torch.cuda.mem_get_info(index)[0] for index in range(count)]
    return f"cuda:{int(np.argmax(free))}"


class NetworkTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """An sklearn transformer that trains a network on images with the one training loop.

    The shared machinery of the pretrainers and of :class:`contrastlearn.VAE`:
    input validation (arrays, tensors, files streamed from disk), devices,
    checkpoints, training through :func:`~contrastlearn._trainer.train_network`
    and ``transform`` by the trained module's ``forward``. Not used directly:
    a subclass stores its parameters in ``__init__`` (the names in
    :data:`TRAINING_PARAMETERS` among them), extends ``_parameter_constraints``,
    builds its module in ``_make_module`` and says how a preprocessed batch
    becomes a loss in ``_training_loss``.
    """

    # name -> constraint(s) of contrastlearn.validation; checked at the start of fit.
    _parameter_constraints = {
        "image_shape": [None, IMAGE_SHAPE],
        "normalize": Options(NORMALIZATIONS),
        "log_intensity": BOOL,
        "nan_policy": Options(NAN_POLICIES),
        "max_epochs": ints(0),
        "batch_size": ints(2),
        "lr": POSITIVE,
        "weight_decay": NONNEGATIVE,
        "lr_schedule": Options(["cosine", None]),
        "optimizer": Options(OPTIMIZERS),
        "warmup_epochs": NONNEGATIVE,
        "device": DEVICE,
        "random_state": RANDOM_STATE,
        "verbose": ints(0),
        "callbacks": [None, InstanceOf(list, tuple, name="a list of skorch callbacks")],
        "compile": BOOL,
        "checkpoint_dir": [None, InstanceOf(str, os.PathLike, name="a directory path")],
    }

    # ----------------------------------------------------------------- checks
    def _validate_params(self):
        validate_parameters(self)

    def _validate_input(self, X, reset):
        """Check ``X`` and return a numpy array ``(n, F)`` or ``(n, C, H, W)``.

        2-D input goes through sklearn's ``validate_data`` (feature names,
        ``n_features_in_``); image stacks through ``check_array``. Both reject
        non-numeric data with sklearn's messages; complex data and, under
        ``nan_policy="raise"``, NaN/inf pixels are rejected here.
        """
        min_samples = 2 if reset else 1
        if _is_lazy(X):
            X = _LazyImages(X, min_samples, type(self).__name__, self.nan_policy)
            self._check_sample_shape(X.shape[1:], reset)
            return X
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu()
            X = (X.float() if X.dtype == torch.bfloat16 else X).numpy()
        if not hasattr(X, "ndim"):  # lists and other array-likes
            try:
                X = np.asarray(X)
            except ValueError as error:
                raise ValueError(
                    f"X must be an array of equally shaped images or vectors: {error}"
                ) from None
        if np.iscomplexobj(X):
            raise ValueError(_complex_message(X.dtype))
        ndim = X.ndim
        if ndim == 2:
            X = validate_data(
                self,
                X,
                reset=reset,
                dtype="numeric",
                ensure_min_samples=min_samples,
                ensure_all_finite=False,
            )
        elif ndim in (3, 4):
            X = check_array(
                X,
                allow_nd=True,
                dtype="numeric",
                ensure_min_samples=min_samples,
                ensure_all_finite=False,
                input_name="X",
                estimator=self,
            )
        else:
            raise ValueError(
                "Reshape your data: X must be images of shape (n_samples, H, W) or "
                "(n_samples, C, H, W), or vectors of shape (n_samples, n_features); got an "
                f"array with {ndim} dimension(s) of shape {np.shape(X)}."
            )
        if self.nan_policy == "raise":
            check_finite_pixels(X)
        if X.ndim == 2 and self.image_shape is not None:
            shape = tuple(self.image_shape)
            if math.prod(shape) != X.shape[1]:
                raise ValueError(
                    f"image_shape={shape} holds {math.prod(shape)} pixels but X has "
                    f"{X.shape[1]} features per sample."
                )
            X = X.reshape(len(X), *shape)
        if X.ndim == 3:
            X = X[:, None]
        self._check_sample_shape(X.shape[1:], reset)
        return X

    def _check_sample_shape(self, sample_shape, reset):
        """Record the sample shape in fit; insist on the same one afterwards."""
        if min(sample_shape) < 1:
            raise ValueError(
                f"X holds empty samples of shape {sample_shape}; every image side "
                "(and channel count) must be at least 1."
            )
        if len(sample_shape) == 1 and self._uses_polar_view():
            raise ValueError(
                f"{type(self).__name__} projects images to polar coordinates, but X has flat "
                f"samples of {sample_shape[0]} features. Pass image_shape=(H, W) or (C, H, W) "
                "to reshape them into images."
            )
        if reset:
            self.n_features_in_ = math.prod(sample_shape)
            self.input_shape_ = sample_shape
        elif sample_shape != self.input_shape_:
            name, n_features = type(self).__name__, math.prod(sample_shape)
            found = (
                f"X has {n_features} features, but {name} is expecting "
                f"{self.n_features_in_} features as input"
                if n_features != self.n_features_in_
                else "X has the right number of values"
            )
            raise ValueError(
                f"{found}: samples of shape {sample_shape} were given, {name} was fitted on "
                f"samples of shape {self.input_shape_}."
            )

    # ------------------------------------------------------------ training
    def _resolve_device(self):
        """The device to train on; under torchrun, this process's GPU (and join the group)."""
        device = self.device
        if device != "auto":
            _check_device_available(device)
        elif not torch.cuda.is_available():
            device = "cpu"
        else:
            device = "cuda" if distributed.is_launched() else _free_most_cuda_device()
        device = distributed.local_device(device)
        distributed.setup(device)
        return device

    def _make_preprocess(self, X):
        """:class:`Preprocess` with its statistics measured on ``X``."""
        return Preprocess(
            self.log_intensity, self.normalize, n_channels=X.shape[1], nan_policy=self.nan_policy
        ).fit(X, batch_size=max(self.batch_size, 1024))

    def _uses_polar_view(self):
        """Whether any branch sees a polar projection (which needs images)."""
        return False

    def _after_optimizer_step(self, module):
        """Runs (without gradients) after every optimiser step; nothing by default."""

    def _training_loss(self, module, x, partner):
        """The method's loss for a batch and the partners of its images.

        Parameters
        ----------
        module : torch.nn.Module
            The module built by ``_make_module``.
        x : torch.Tensor
            A preprocessed batch on the device.
        partner : torch.Tensor
            The images each one of ``x`` is paired with, preprocessed: ``x``
            itself with ``pairing="augment"``, latent neighbours otherwise.
            The method makes the first view of a pair from ``x``, the second
            from ``partner``.

        Returns
        -------
        torch.Tensor
            Scalar loss to minimise.
        """
        raise NotImplementedError

    def _pair_loss(self, module, x, partner=None):
        """Preprocess a raw batch (and its partners) and apply :meth:`_training_loss`."""
        x = module.preprocess(x)
        partner = x if partner is None else module.preprocess(partner)
        return self._training_loss(module, x, partner)

    def _checkpoint(self, X, data):
        """``(checkpoint_dir, fingerprint)`` for :func:`train_network`, or None.

        The fingerprint hashes what decides the training: the parameters
        (but not ``verbose``, ``callbacks`` or ``checkpoint_dir``), the device
        type, the data's shape and dtype and ``data`` (what else the fit was
        given, e.g. latent factors).
        """
        if self.checkpoint_dir is None:
            return None
        params = {
            key: value
            for key, value in self.get_params(deep=False).items()
            if key not in ("verbose", "callbacks", "checkpoint_dir", "device")
        }
        fingerprint = joblib.hash(
            (
                type(self).__name__,
                params,
                torch.device(self.device_).type,
                tuple(X.shape),
                str(X.dtype),
                data,
            )
        )
        return os.fspath(self.checkpoint_dir), fingerprint

    def _train(self, X, make_module, *, y=None, partners=None, data=None, monitor=None):
        """Train the module ``make_module()`` builds on ``X`` and keep it as ``net_``.

        ``y`` reaches :meth:`_pair_loss` batch by batch beside ``X``
        (partner images are drawn by ``partners`` instead); ``data`` joins the
        checkpoint's fingerprint; ``monitor`` (a
        :class:`~contrastlearn.monitor.TrainingMonitor`) watches the epochs.
        """
        self.device_ = self._resolve_device()
        self.net_ = train_network(
            self,
            make_module,
            X,
            y,
            self._pair_loss,
            after_step=self._after_optimizer_step,
            partners=partners,
            checkpoint=self._checkpoint(X, data),
            monitor=monitor,
        )
        self.history_ = self.net_.history
        return self

    # ------------------------------------------------------------ public API
    def transform(self, X):
        """Embed images with the trained network (a pretrainer's backbone, without its head).

        Parameters
        ----------
        X : array-like or torch.Tensor
            Samples shaped like those given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), dtype float32

        Raises
        ------
        torch.OutOfMemoryError
            When a batch of ``net_.batch_size`` images (``batch_size`` of the
            fit) does not fit in the device's memory; the message says how to
            embed in smaller batches.
        """
        check_is_fitted(self, "net_")
        X = self._validate_input(X, reset=False)
        return self.net_.forward(X).numpy().astype(np.float32, copy=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        tags.input_tags.three_d_array = True
        return tags


FIT_RAISES_DOC = """Raises
        ------
        FloatingPointError
            When the training loss stops being finite: the message names the
            epoch and suggests a fix, and the estimator keeps (and can
            ``transform`` with) the weights from the start of that epoch.
        torch.OutOfMemoryError
            When a training step does not fit in the device's memory: the
            message names ``batch_size`` and the largest halving of it whose
            step fits (tried after the failure). The batch size is never
            changed silently.
        KeyboardInterrupt
            On Ctrl-C: the estimator keeps the weights reached so far (and
            ``checkpoint_dir``, if set, the last complete epoch to go on from)."""


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
    ...         z1, z2 = module.project(module.view(views)).chunk(2)
    ...         return nt_xent(z1, z2, self.temperature)
    >>> TinyCLR(temperature=0.5, max_epochs=1).get_params()["temperature"]
    0.5
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_method_params" in vars(cls) and "__init__" not in vars(cls):
            cls.__init__ = _init_with(cls.__mro__[1], cls._method_params, cls.__name__)

    _parameter_constraints = {
        "backbone": BACKBONE,
        "projection_dims": DIMS,
        "augment": [
            None,
            InstanceOf(Augment, name="a contrastlearn.augment.Augment"),
            Options(AUGMENT_PRESETS),
        ],
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
            self._make_preprocess(X), backbone, self._make_head(n_out), view=self._make_view()
        )

    def _total_steps(self, X):
        """Optimiser steps of a whole fit on ``X`` (e.g. a momentum schedule's length)."""
        return self.max_epochs * max(len(X) // self.batch_size, 1)

    def _make_head(self, in_features):
        """The projection head on top of the backbone (an MLP by default)."""
        return projection_head(in_features, self.projection_dims)

    def _make_view(self):
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
        return module.backbone(module.view(self.augment_(module.preprocess(x))))

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
