"""The base every network estimator shares: an sklearn transformer that owns a skorch net.

``NetworkTransformer`` validates parameters and input (arrays, tensors, files
streamed from disk), picks the device and trains a module with
:func:`~contrastlearn._trainer.train_network`; the pretrainers
(:class:`~contrastlearn.BasePretrainer`) and :class:`~contrastlearn.VAE` build on it.
"""

import inspect
import math
import os
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import distributed
from ._checkpoint import data_fingerprint, fit_directory, warn_of_checkpoint_without_fit_folder
from ._input import _complex_message, _is_lazy, _LazyImages, check_finite_pixels, take_rows
from ._model import NAN_POLICIES, NORMALIZATIONS, Preprocess
from ._trainer import OPTIMIZERS, train_network
from ._validation import (
    BOOL,
    DEVICE,
    IMAGE_SHAPE,
    NONNEGATIVE,
    POSITIVE,
    RANDOM_STATE,
    ints,
)
from .validation import DEPRECATED, InstanceOf, Options, renamed_parameter, validate_parameters


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


def _check_checkpoint_dir(directory):
    """Refuse, before any training, a ``checkpoint_dir`` that could not be written."""
    path = Path(directory)
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        where = "is" if existing == path else f"lies below {str(existing)!r}, which is"
        raise NotADirectoryError(
            f"checkpoint_dir={os.fspath(directory)!r} {where} a file, not a directory; give "
            "a directory path (it is created if missing)."
        )
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f"checkpoint_dir={os.fspath(directory)!r}: {str(existing)!r} is not writable by "
            "this process; give a directory it may write to."
        )


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
        "accumulate_batches": ints(1),
        "max_grad_norm": [None, POSITIVE],
        "compile": BOOL,
        "checkpoint_dir": [None, InstanceOf(str, os.PathLike, name="a directory path")],
    }

    #: Parameters renamed, old name -> new name. The old one stays a keyword
    #: defaulting to "deprecated"; set, it still works, with a FutureWarning.
    _renamed_params = {}

    # ----------------------------------------------------------------- checks
    def _validate_params(self):
        validate_parameters(self)
        for old, new in self._renamed_params.items():
            default = inspect.signature(type(self).__init__).parameters[new].default
            renamed_parameter(
                type(self).__name__, old, getattr(self, old), new, getattr(self, new), default
            )

    def _param(self, name):
        """The value of parameter ``name``, or of its old name when only that one was given."""
        for old, new in self._renamed_params.items():
            if new == name and getattr(self, old) != DEPRECATED:
                return getattr(self, old)
        return getattr(self, name)

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
        """``(folder, fingerprint)`` of this fit's checkpoints for :func:`train_network`, or None.

        The fingerprint hashes what decides the training: the parameters
        (but not ``verbose``, ``callbacks``, ``checkpoint_dir`` or
        ``device``), the device type, the data's content (see
        :func:`~contrastlearn._checkpoint.data_fingerprint`) and ``data``
        (what else the fit was given, e.g. latent factors or texts). The
        folder is ``checkpoint_dir/<class name>-<fingerprint>``, one per fit.
        """
        if self.checkpoint_dir is None:
            return None
        _check_checkpoint_dir(self.checkpoint_dir)
        warn_of_checkpoint_without_fit_folder(self.checkpoint_dir)
        params = {
            key: value
            for key, value in self.get_params(deep=False).items()
            if key not in ("verbose", "callbacks", "checkpoint_dir", "device")
        }
        name = type(self).__name__
        fingerprint = joblib.hash(
            (name, params, torch.device(self.device_).type, data_fingerprint(X), data)
        )
        return fit_directory(self.checkpoint_dir, name, fingerprint), fingerprint

    def _hold_out(self, X, y=None):
        """Split ``validation_fraction`` of the samples off ``X`` (and ``y``) at random.

        Returns ``(X_train, y_train), (X_valid, y_valid)``, rows in their
        order (on-disk data stays on disk), or ``(X, y), None`` when
        ``validation_fraction`` is None. The draw depends on ``random_state``.
        """
        fraction = self.validation_fraction
        if fraction is None:
            return (X, y), None
        n_valid = math.ceil(fraction * len(X))
        if len(X) - n_valid < 2:
            raise ValueError(
                f"validation_fraction={fraction} leaves {len(X) - n_valid} of {len(X)} "
                "samples to train on; at least 2 are needed. Pass more samples or a smaller "
                "validation_fraction (None validates on nothing)."
            )
        random = check_random_state(self.random_state)
        is_valid = np.zeros(len(X), dtype=bool)
        is_valid[random.choice(len(X), n_valid, replace=False)] = True
        parts = []
        for rows in (np.flatnonzero(~is_valid), np.flatnonzero(is_valid)):
            parts.append((take_rows(X, rows), None if y is None else take_rows(y, rows)))
        return tuple(parts)

    def _train(self, X, make_module, *, y=None, partners=None, data=None, monitor=None, valid=None):
        """Train the module ``make_module()`` builds on ``X`` and keep it as ``net_``.

        ``y`` reaches :meth:`_pair_loss` batch by batch beside ``X``
        (partner images are drawn by ``partners`` instead); ``data`` joins the
        checkpoint's fingerprint; ``monitor`` (a
        :class:`~contrastlearn.monitor.TrainingMonitor`) watches the epochs;
        ``valid`` (``(X_valid, y_valid)``, see :meth:`_hold_out`) gives the
        ``valid_loss`` of every epoch.
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
            valid=valid,
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
