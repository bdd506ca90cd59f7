"""Fine-tuning a pretrained backbone with labels (:class:`FineTunedClassifier`)."""

import copy

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn

from ._base import BasePretrainer
from ._trainer import train_network
from ._validation import BOOL, NONNEGATIVE, ints
from .clr import CLR
from .validation import InstanceOf, validate_parameters


class _Classifier(nn.Module):
    """A pretrainer's encoder (preprocessing, representation, backbone) plus a linear head."""

    def __init__(self, encoder, n_features, n_classes, train_encoder):
        super().__init__()
        self.encoder = encoder
        # Standardised features make the head's learning rate independent of the
        # backbone's output scale (the linear-probe recipe of MAE).
        self.linear = nn.Sequential(
            nn.BatchNorm1d(n_features, affine=False), nn.Linear(n_features, n_classes)
        )
        self.train_encoder = train_encoder
        encoder.requires_grad_(train_encoder)

    def train(self, mode=True):
        super().train(mode)
        self.encoder.train(mode and self.train_encoder)  # a frozen encoder keeps its BN statistics
        return self

    def forward(self, x, augment=None):
        x = self.encoder.preprocess(x)
        if augment is not None:
            x = augment(x)
        return self.linear(self.encoder.backbone(self.encoder.represent(x)))


class FineTunedClassifier(ClassifierMixin, BaseEstimator):
    """A linear classifier on a pretrained backbone, optionally fine-tuning the backbone.

    The network is the pretrainer's encoder (its normalisation,
    representation and backbone, copied) followed by a linear layer, trained
    with cross entropy on labelled images. With ``fine_tune=False`` the
    encoder is frozen (a linear probe trained end to end on images); with
    ``True`` it is trained too, at ``backbone_lr_scale`` times the head's
    learning rate. With ``pretrainer=None`` the whole network is trained from
    scratch on the labels: the supervised baseline that label-efficiency
    studies compare pretraining against.

    Parameters
    ----------
    pretrainer : pretrainer, FrozenEstimator or None, default=None
        - an unfitted pretrainer (``cl.DINO(...)``): cloned and fitted on the
          images given to ``fit`` (labels unused) before fine-tuning, so a
          cross-validation pretrains inside every fold;
        - ``sklearn.frozen.FrozenEstimator(fitted_pretrainer)``: used as it
          is, and it survives ``clone``, so ``cross_val_score`` fine-tunes the
          same pretrained model in every fold (a fitted pretrainer passed
          directly is used too, but ``clone`` would reset it);
        - None: the backbone named by ``backbone``, randomly initialised and
          trained with the head (``fine_tune`` is then ignored).
    fine_tune : bool, default=False
        Train the backbone as well as the head.
    backbone_lr_scale : float, default=0.1
        The backbone's learning rate relative to ``lr`` when fine-tuning.
    backbone : str or torch.nn.Module, default="auto"
        Backbone for ``pretrainer=None`` (see :class:`contrastlearn.CLR`).
    augment : Augment or None, default=None
        Augmentation of the training images; None trains on them as they are.
    max_epochs : int, default=30
    batch_size : int, default=128
    lr : float, default=1e-3
        AdamW learning rate of the head (and of a from-scratch backbone).
    weight_decay : float, default=1e-4
    lr_schedule : {"cosine", None}, default="cosine"
    accumulate_batches : int, default=1
        Add up the gradients of that many batches before each optimiser step.
    max_grad_norm : float or None, default=None
        Clip every step's gradients to this global L2 norm.
    device : str, default="auto"
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
    callbacks : list of skorch callbacks or None, default=None

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    pretrainer_ : pretrainer
        The fitted pretrainer whose encoder was copied.
    augment_ : Augment or None
        The validated ``augment`` the training batches went through.
    net_ : skorch.NeuralNet
        The trained classifier network.
    history_ : skorch.History
    n_features_in_ : int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.frozen import FrozenEstimator
    >>> import contrastlearn as cl
    >>> digits = load_digits()
    >>> X, y = digits.images[:300], digits.target[:300]
    >>> simsiam = cl.SimSiam(max_epochs=2, batch_size=64, random_state=0).fit(X)
    >>> clf = cl.FineTunedClassifier(FrozenEstimator(simsiam), max_epochs=5, random_state=0)
    >>> clf.fit(X, y).predict_proba(X[:2]).shape
    (2, 10)
    """

    _parameter_constraints = {
        **{
            name: BasePretrainer._parameter_constraints[name]
            for name in (
                "backbone",
                "augment",
                "batch_size",
                "lr",
                "weight_decay",
                "lr_schedule",
                "accumulate_batches",
                "max_grad_norm",
                "device",
                "random_state",
                "verbose",
                "callbacks",
            )
        },
        "pretrainer": [
            None,
            InstanceOf(
                BasePretrainer,
                FrozenEstimator,
                name="a contrastlearn pretrainer or a FrozenEstimator of a fitted one",
            ),
        ],
        "fine_tune": BOOL,
        "backbone_lr_scale": NONNEGATIVE,
        "max_epochs": ints(1),
    }

    def __init__(
        self,
        pretrainer=None,
        *,
        fine_tune=False,
        backbone_lr_scale=0.1,
        backbone="auto",
        augment=None,
        max_epochs=30,
        batch_size=128,
        lr=1e-3,
        weight_decay=1e-4,
        lr_schedule="cosine",
        accumulate_batches=1,
        max_grad_norm=None,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.pretrainer = pretrainer
        self.fine_tune = fine_tune
        self.backbone_lr_scale = backbone_lr_scale
        self.backbone = backbone
        self.augment = augment
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.accumulate_batches = accumulate_batches
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    def _fitted_pretrainer(self, X):
        if self.pretrainer is None:
            return CLR(
                backbone=self.backbone,
                max_epochs=0,
                device=self.device,
                random_state=self.random_state,
            ).fit(X)
        if isinstance(self.pretrainer, FrozenEstimator):
            check_is_fitted(self.pretrainer.estimator, "net_")
            return self.pretrainer.estimator
        try:
            check_is_fitted(self.pretrainer, "net_")
            return self.pretrainer
        except NotFittedError:
            return clone(self.pretrainer).fit(X)

    def fit(self, X, y):
        """Train the head (and optionally the backbone) on labelled images.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images, as accepted by the pretrainer.
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self
        """
        validate_parameters(self)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"y must hold at least 2 classes; got {len(self.classes_)} class.")
        self.pretrainer_ = self._fitted_pretrainer(X)
        X = self.pretrainer_._validate_input(X, reset=False)
        if len(y) != len(X):
            raise ValueError(f"y has {len(y)} labels but X has {len(X)} images.")
        self.n_features_in_ = self.pretrainer_.n_features_in_
        self.device_ = self.pretrainer_.device_
        train_encoder = self.fine_tune or self.pretrainer is None
        scale = 1.0 if self.pretrainer is None else self.backbone_lr_scale
        self.augment_ = self.augment.validate() if self.augment is not None else None

        def make_module():
            return _Classifier(
                copy.deepcopy(self.pretrainer_.net_.module_).cpu(),
                self.pretrainer_._n_features_out,
                len(self.classes_),
                train_encoder,
            )

        self.net_ = train_network(
            self,
            make_module,
            X,
            encoder.transform(y).astype(np.int64),
            self._training_loss,
            optimizer_params={"param_groups": [("encoder.*", {"lr": self.lr * scale})]},
            keep_partial_batches=True,
        )
        self.history_ = self.net_.history
        return self

    def _training_loss(self, module, x, target):
        """Cross-entropy of the (augmented) batch ``x`` (a method, so that a fit pickles)."""
        return F.cross_entropy(module(x, self.augment_).float(), target)

    def _logits(self, X):
        check_is_fitted(self, "net_")
        return self.net_.forward(self.pretrainer_._validate_input(X, reset=False))

    def decision_function(self, X):
        """Class logits.

        Parameters
        ----------
        X : array-like or torch.Tensor

        Returns
        -------
        ndarray of shape (n_samples, n_classes), or (n_samples,) for two classes
        """
        logits = self._logits(X).numpy()
        return logits[:, 1] - logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits).

        Parameters
        ----------
        X : array-like or torch.Tensor

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return torch.softmax(self._logits(X).double(), dim=1).numpy()

    def predict(self, X):
        """Most probable class.

        Parameters
        ----------
        X : array-like or torch.Tensor

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "net_")
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
