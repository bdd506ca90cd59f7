"""Images contrasted with paired texts or measurements: :class:`ConVIRT`.

An image encoder (backbone + projection head) and an encoder of what each
image is paired with (a :class:`~contrastlearn.text.TextTransformer` over
texts, an MLP over measurement vectors, or any ``nn.Module``) are trained
so that an image and its own text or vector meet in one shared space.
``transform`` and ``transform_paired`` embed both into it (unit vectors, so
dot products are cosine similarities), which gives zero-shot
classification from class prompts and cross-modal retrieval.
:class:`~contrastlearn.GLoRIA` (in :mod:`contrastlearn.gloria`) builds on the
same base.
"""

import copy

import joblib
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._model import PretrainModule
from ._trainer import float32_default
from ._validation import POSITIVE, PROBABILITY
from .augment import resolve_augment
from .backbones import MLP
from .evaluation import retrieval_recall
from .heads import projection_head
from .losses import convirt_loss
from .text import PAD, TextTransformer, Vocabulary, check_texts, mean_over_tokens
from .validation import InstanceOf, Options, Predicate

__all__ = ["ConVIRT"]


def _is_vocabulary(value):
    return hasattr(value, "transform") and (hasattr(value, "fit") or hasattr(value, "size_"))


def _has_fitted_attributes(obj):
    """sklearn's test of fittedness, also for objects that are not sklearn estimators."""
    return any(key.endswith("_") and not key.startswith("__") for key in vars(obj))


def _looks_like_texts(paired):
    if isinstance(paired, np.ndarray):
        return paired.dtype.kind in "UO" and paired.ndim == 1
    return isinstance(paired, (list, tuple)) and len(paired) > 0 and isinstance(paired[0], str)


class PairedModule(PretrainModule):
    """A pretrainer's image module plus the encoder and head of the paired data.

    ``forward`` embeds images into the shared space (unit vectors);
    :meth:`encode_paired` does the same for token-id rows or measurement
    vectors.

    Parameters
    ----------
    image : PretrainModule
        Preprocessing, representation, backbone and projection head of the images.
    paired : torch.nn.Module
        Maps a batch of paired data to ``(B, D)`` or, for token ids, ``(B, L, D)``.
    paired_head : torch.nn.Module
        Projects the pooled paired features into the shared space.
    kind : {"texts", "vectors"}
    mean, std : torch.Tensor or None
        Standardisation of measurement vectors, measured on the training set.
    """

    def __init__(self, image, paired, paired_head, kind, mean=None, std=None):
        super().__init__(image.preprocess, image.backbone, image.head, image.represent)
        self.paired = paired
        self.paired_head = paired_head
        self.kind = kind
        self.register_buffer("paired_mean", mean)
        self.register_buffer("paired_std", std)

    def forward(self, x):
        return F.normalize(self.head(super().forward(x)).float(), dim=1)

    def paired_features(self, paired):
        """Pooled ``(B, D)`` features of the paired data and, for texts, the tokens'."""
        if self.kind == "vectors":
            return self.paired((paired.float() - self.paired_mean) / self.paired_std), None
        tokens = self.paired(paired)
        if tokens.ndim == 2:
            return tokens, None
        return mean_over_tokens(tokens, paired), tokens

    def encode_paired(self, paired):
        """Paired data in the shared space, unit vectors ``(B, projection_dims[-1])``."""
        pooled, _ = self.paired_features(paired)
        return F.normalize(self.paired_head(pooled).float(), dim=1)


class _PairedPretrainer(BasePretrainer):
    """What ConVIRT and GLoRIA share: the paired data, its encoder, zero-shot and retrieval."""

    _method_params = {"paired_encoder": "auto", "vocabulary": None}
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "paired_encoder": [
            Options(["auto"]),
            InstanceOf(nn.Module, name="a torch.nn.Module encoding the paired data"),
        ],
        "vocabulary": [
            None,
            Predicate(_is_vocabulary, "a contrastlearn.text.Vocabulary or a tokenizer like it"),
        ],
    }

    _text_only = False

    # ------------------------------------------------------------ paired data
    def _paired_data(self, paired, n_samples, reset):
        """Paired data as token ids (texts) or float32 vectors, checked against the images."""
        if paired is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None: "
                "fit(X, paired) needs one text or measurement vector per image."
            )
        if reset:
            self.paired_kind_ = "texts" if _looks_like_texts(paired) else "vectors"
        if self.paired_kind_ == "texts":
            try:
                texts = check_texts(paired, "paired")
            except ValueError as error:  # sklearn's wording for targets of no known kind
                raise ValueError(
                    f"Unknown label type: {error} Pass texts or numeric vectors."
                ) from None
            if reset:
                vocabulary = Vocabulary() if self.vocabulary is None else self.vocabulary
                if _has_fitted_attributes(vocabulary):
                    self.vocabulary_ = vocabulary
                else:
                    fresh = clone(vocabulary) if hasattr(vocabulary, "get_params") else vocabulary
                    self.vocabulary_ = copy.deepcopy(fresh).fit(texts)
            data = np.asarray(self.vocabulary_.transform(texts), dtype=np.int64)
            if reset:  # the columns after the longest training text are padding only
                self.text_length_ = max(int((data != PAD).sum(1).max(initial=1)), 1)
            data = data[:, : self.text_length_]
        else:
            if self._text_only:
                raise ValueError(
                    f"{type(self).__name__} attends from words to image regions and needs "
                    "texts (a sequence of str) as paired data; use ConVIRT for vectors."
                )
            data = check_array(paired, dtype=np.float32, ensure_2d=False, input_name="paired")
            data = data.reshape(len(data), -1)
            if reset:
                self.n_paired_features_ = data.shape[1]
            elif data.shape[1] != self.n_paired_features_:
                raise ValueError(
                    f"paired has {data.shape[1]} features per sample; {type(self).__name__} "
                    f"was fitted on {self.n_paired_features_}."
                )
        if n_samples is not None and len(data) != n_samples:
            raise ValueError(f"X holds {n_samples} images but paired holds {len(data)} items.")
        return data

    def _make_paired_encoder(self, data):
        """The paired encoder, its pooled feature width and, for vectors, the standardisation."""
        if self.paired_encoder != "auto":
            encoder = copy.deepcopy(self.paired_encoder)
        elif self.paired_kind_ == "texts":
            size = getattr(self.vocabulary_, "size_", None) or int(data.max()) + 1
            encoder = TextTransformer(size, data.shape[1])
        else:
            encoder = MLP(data.shape[1])
        mean = std = None
        if self.paired_kind_ == "vectors":
            mean = torch.as_tensor(data.mean(0))
            std = torch.as_tensor(data.std(0))
            std = torch.where(std > 1e-12, std, torch.ones_like(std))
        sample = torch.as_tensor(data[:2])
        if mean is not None:
            sample = (sample - mean) / std
        was_training = encoder.training
        with torch.no_grad():
            out = encoder.eval()(sample)
        encoder.train(was_training)
        if out.ndim not in (2, 3) or len(out) != len(sample):
            raise ValueError(
                "paired_encoder must map a batch of paired data to (B, D) features (or (B, L, "
                f"D) token features for texts); it gave shape {tuple(out.shape)}."
            )
        if self._text_only and out.ndim != 3:
            raise ValueError(
                f"{type(self).__name__} needs token features (B, L, D) from paired_encoder; "
                f"it gave shape {tuple(out.shape)}."
            )
        return encoder, out.shape[-1], mean, std

    def _make_module(self, X, paired=None):
        image = super()._make_module(X)
        self._n_features_out = self.projection_dims[-1]
        encoder, width, mean, std = self._make_paired_encoder(paired)
        return PairedModule(
            image,
            encoder,
            projection_head(width, self.projection_dims),
            self.paired_kind_,
            mean,
            std,
        )

    def _augmented_embedding(self, module, x):
        """The shared-space embedding of an augmented view (what ``transform`` gives, augmented)."""
        views = module.represent(self.augment_(module.preprocess(x)))
        return F.normalize(module.project(views).float(), dim=1)

    def _pair_loss(self, module, x, paired=None):
        return self._training_loss(module, module.preprocess(x), paired)

    # ------------------------------------------------------------ public API
    def fit(self, X, y, *, eval_set=None):
        self._validate_params()
        if self.pairing != "augment":
            raise ValueError(
                f"{type(self).__name__} pairs every image with its own text or measurement; "
                "pairing must be 'augment'."
            )
        X = self._validate_input(X, reset=True)
        data = self._paired_data(y, len(X), reset=True)
        monitor = self._make_monitor(X, eval_set)
        self.augment_ = resolve_augment(self.augment, self._default_augment())
        return self._train(
            X,
            lambda: self._make_module(X, data),
            y=data,
            data=joblib.hash(data),
            monitor=monitor,
        )

    fit.__doc__ = """Learn a shared space for images and what they are paired with.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images, as for every pretrainer (arrays, tensors, HDF5 datasets).
        y : sequence of str or array-like of shape (n_samples, n_features)
            One item per image: texts (a report, a caption, a logbook line)
            or measurement vectors (simulation parameters, a spectrum,
            catalogue values; standardised with the training set's mean and
            standard deviation): the paired data, named ``y`` for sklearn
            (``GridSearchCV`` splits it with the images).
        eval_set : (X_val, y_val), default=None
            Labelled validation images for the ``valid_knn`` monitor.

        Returns
        -------
        self
        """

    def transform_paired(self, paired):
        """Embed texts or measurement vectors into the shared space.

        Parameters
        ----------
        paired : sequence of str or array-like of shape (n_samples, n_features)
            Of the kind given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, projection_dims[-1]), dtype float32
            Unit vectors: their dot products with ``transform(X)`` are cosine
            similarities.
        """
        check_is_fitted(self, "net_")
        return self._encode_paired(self._paired_data(paired, None, reset=False))

    def _encode_paired(self, data):
        """Checked paired data (token ids or vectors) in the shared space."""
        return self._encode_batches(data, lambda module, batch: module.encode_paired(batch))

    @float32_default()
    def _encode_batches(self, data, encode):
        module = self.net_.module_
        was_training = module.training
        module.eval()
        out = []
        try:
            with torch.no_grad():
                for start in range(0, len(data), self.batch_size):
                    batch = torch.as_tensor(data[start : start + self.batch_size])
                    out.append(encode(module, batch.to(self.device_)).float().cpu())
        finally:
            module.train(was_training)
        return torch.cat(out).numpy() if out else np.zeros((0, self._n_features_out), "float32")

    def predict_zero_shot(self, X, prompts):
        """Classify images by their similarity to class prompts, without training a classifier.

        Every class is the mean embedding of its prompts (renormalised),
        and an image gets the class whose embedding is most similar to its own.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images.
        prompts : dict or sequence
            ``{label: prompt or list of prompts}`` (texts or measurement
            vectors, of the kind given to ``fit``), or a sequence whose
            ``i``-th entry holds the prompts of class ``i``.

        Returns
        -------
        ndarray of shape (n_samples,)
            The predicted labels.
        """
        labels, centres = self._class_embeddings(prompts)
        return labels[np.argmax(self.transform(X) @ centres.T, axis=1)]

    def _class_embeddings(self, prompts):
        if isinstance(prompts, dict):
            labels, groups = list(prompts), list(prompts.values())
        elif isinstance(prompts, (list, tuple)):
            labels, groups = list(range(len(prompts))), list(prompts)
        else:
            raise ValueError(
                "prompts must be a dict {label: prompts} or a sequence of the prompts of each "
                f"class; got {type(prompts).__name__}."
            )
        if len(groups) < 2:
            raise ValueError(f"prompts must name at least 2 classes; got {len(groups)}.")
        centres = []
        for group in groups:
            if isinstance(group, str) or (self.paired_kind_ == "vectors" and np.ndim(group) == 1):
                group = [group]
            centre = self.transform_paired(group).mean(0)
            centres.append(centre / max(np.linalg.norm(centre), 1e-12))
        return np.asarray(labels), np.stack(centres)

    def recall_at_k(self, X, y, k=(1, 5, 10)):
        """Image-to-paired and paired-to-image retrieval recall@k on held-out pairs.

        Each image's own text (or vector) is looked for among all of
        ``paired`` and back (:func:`contrastlearn.evaluation.retrieval_recall`);
        identical texts or vectors count as the same item.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images.
        y : sequence of str or array-like
            Their paired data, in order.
        k : int or sequence of int, default=(1, 5, 10)

        Returns
        -------
        pandas.DataFrame
            Rows ``"image to paired"`` and ``"paired to image"``, a column
            ``recall@k`` for every ``k``.
        """
        images = self.transform(X)
        data = self._paired_data(y, None, reset=False)
        targets = self._encode_paired(data)
        if len(images) != len(targets):
            raise ValueError(f"X holds {len(images)} images but paired {len(targets)} items.")
        if self.paired_kind_ == "texts":  # identical strings, not ids: unknown words differ
            groups = np.asarray(check_texts(y, "paired"), dtype=object)
        else:
            groups = np.unique(data, axis=0, return_inverse=True)[1].ravel()
        rows = {
            "image to paired": retrieval_recall(images, targets, k=k, groups=groups),
            "paired to image": retrieval_recall(targets, images, k=k, groups=groups),
        }
        return pd.DataFrame(rows).T.rename(columns=lambda value: f"recall@{value}")

    def score(self, X, y, k=5):
        """Mean recall@k of both retrieval directions (higher is better; for ``GridSearchCV``).

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images.
        y : sequence of str or array-like
            Their paired data.
        k : int, default=5

        Returns
        -------
        float
        """
        return float(self.recall_at_k(X, y, k=(k,)).to_numpy().mean())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


class ConVIRT(_PairedPretrainer):
    __doc__ = (
        """ConVIRT: contrast images with their paired texts or measurements.

    Every image is augmented once and embedded by the backbone and the
    projection head; its paired text by a small transformer trained from
    scratch on a vocabulary fitted on the corpus (or its measurement vector
    by an MLP) and a projection head of the same widths. The loss
    (:func:`~contrastlearn.losses.convirt_loss`) is InfoNCE over the batch
    in both directions, image to paired weighted ``image_weight`` and paired
    to image ``1 - image_weight``. ``transform(X)`` and
    :meth:`transform_paired` give unit vectors in the shared space.

    Parameters
    ----------
    temperature : float, default=0.1
        :math:`\\tau` of the cosine similarities (ConVIRT's 0.1).
    image_weight : float in [0, 1], default=0.75
        :math:`\\lambda`, the weight of the image-to-paired direction (ConVIRT's 0.75).
    paired_encoder : "auto" or torch.nn.Module, default="auto"
        ``"auto"``: for texts a :class:`~contrastlearn.text.TextTransformer`
        (width 128, 2 layers, 4 heads) over the vocabulary's ids, mean-pooled
        over the tokens; for vectors a :class:`~contrastlearn.backbones.MLP`
        (256, 256). A module gets the token ids ``(B, L)`` (0 = padding) and
        returns ``(B, L, D)`` token features or ``(B, D)``, or gets vectors
        ``(B, F)`` (standardised) and returns ``(B, D)``; it is copied, not
        changed. A local Hugging Face model fits here behind a small wrapper
        (user guide); none is needed.
    vocabulary : Vocabulary or None, default=None
        How texts become token ids: None fits a
        :class:`~contrastlearn.text.Vocabulary` (32 tokens) on the training
        texts; an unfitted one is cloned and fitted; a fitted one (or any
        tokenizer with ``transform(texts) -> int ids``, 0 = padding) is used as it is.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        + """
    paired_kind_ : {"texts", "vectors"}
        What ``fit`` was paired with.
    vocabulary_ : Vocabulary
        With texts: the vocabulary used.
    text_length_ : int
        With texts: token ids per text the encoders see, the longest
        training text's (start token included, at most the vocabulary's
        ``max_length``); longer texts are cut.
    n_paired_features_ : int
        With vectors: their length.

    Notes
    -----
    The vilmedic study's recipe (chest X-rays and radiology reports):
    ResNet-50, a BERT text encoder, 2-layer projections to a shared space,
    ``tau = 0.1``, ``lambda = 0.75``. In contrastlearn: ``ConVIRT(backbone=
    "resnet50", temperature=0.1, image_weight=0.75)`` with a text encoder
    trained from scratch (or a local pretrained one as ``paired_encoder``).
    ConVIRT draws one sentence of the report as its text augmentation; here
    the whole text is used.

    See Also
    --------
    GLoRIA : Adds a local loss between words and image regions.
    contrastlearn.datasets.make_diffraction : ``return_reports=True`` gives paired texts.

    References
    ----------
    Zhang et al., "Contrastive Learning of Medical Visual Representations
    from Paired Images and Text", MLHC 2022, arXiv:2010.00747.

    Examples
    --------
    >>> import contrastlearn as cl
    >>> X, captions, labels = cl.datasets.load_captioned_digits(random_state=0)
    >>> model = cl.ConVIRT(max_epochs=1, batch_size=64, random_state=0).fit(X[:256], captions[:256])
    >>> model.transform(X[:3]).shape, model.transform_paired(["a handwritten seven"]).shape
    ((3, 128), (1, 128))
    >>> prompts = {d: f"the digit {d}" for d in range(10)}
    >>> model.predict_zero_shot(X[:3], prompts).shape
    (3,)
    """
    )

    _method_params = {"temperature": 0.1, "image_weight": 0.75}
    _parameter_constraints = {
        **_PairedPretrainer._parameter_constraints,
        "temperature": POSITIVE,
        "image_weight": PROBABILITY,
    }

    def _training_loss(self, module, x, paired):
        image = module.project(module.represent(self.augment_(x)))
        pooled, _ = module.paired_features(paired)
        return convirt_loss(
            image,
            module.paired_head(pooled),
            self.temperature,
            self.image_weight,
            gather_distributed=True,
        )
