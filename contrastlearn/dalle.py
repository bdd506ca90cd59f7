"""DALL-E (:class:`DALLE`): a causal transformer that writes image tokens after a caption.

The second stage of the text-to-image pipeline of Ramesh et al. (2021) as
dalle-pytorch builds it and the vilmedic study trains it: a caption's word
ids and the image's :class:`~contrastlearn.DiscreteVAE` tokens
form one sequence, and a decoder-only transformer learns to predict every
next token. :meth:`DALLE.generate` samples image tokens for new captions and
decodes them with the discrete VAE.
"""

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ._docs import ATTRIBUTES_DOC, parameters_doc
from ._network import FIT_RAISES_DOC, NetworkTransformer
from ._trainer import float32_default
from ._validation import NONNEGATIVE, POSITIVE, ints
from .discrete_vae import DiscreteVAE
from .losses._generative import dalle_loss
from .text import Vocabulary, check_texts
from .validation import InstanceOf, Interval, check_parameter

__all__ = ["DALLE"]

_UNIT = Interval(numbers.Real, 0, 1, closed="neither")


class _Attention(nn.Module):
    """Multi-head causal self-attention with ``num_heads * dim_head`` inner width and a cache."""

    def __init__(self, dim, num_heads, dim_head, dropout):
        super().__init__()
        self.num_heads, self.dim_head, self.dropout = num_heads, dim_head, dropout
        self.qkv = nn.Linear(dim, 3 * num_heads * dim_head, bias=False)
        self.out = nn.Linear(num_heads * dim_head, dim)

    def forward(self, x, cache=None):
        batch, length, _ = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.num_heads, self.dim_head).unbind(2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, heads, T, dim_head)
        if cache is not None and "k" in cache:  # one new position after a cached prefix
            k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
        if cache is not None:
            cache["k"], cache["v"] = k, v
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=length > 1,
        )
        return self.out(out.transpose(1, 2).flatten(2))


class _Block(nn.Module):
    """Pre-norm transformer block: causal attention, then a GELU MLP of 4x width."""

    def __init__(self, dim, num_heads, dim_head, dropout):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = _Attention(dim, num_heads, dim_head, dropout)
        self.mlp = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(4 * dim, dim)
        )

    def forward(self, x, cache=None):
        x = x + self.attention(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class DALLENetwork(nn.Module):
    """Embeddings, causal transformer and the two output heads of :class:`DALLE`.

    A row is ``text_length`` text ids followed by ``image_length`` image
    tokens. Text and image tokens have their own embeddings and learned
    position embeddings; text positions predict the next text id over the
    text vocabulary (``text_head``), the last text position and the image
    positions predict the next image token over the codebook
    (``image_head``): dalle-pytorch's logits mask, as two heads.

    Parameters
    ----------
    vocabulary_size, n_tokens, text_length, image_length : int
    dim, depth, num_heads, dim_head : int
    dropout : float
    """

    def __init__(
        self,
        vocabulary_size,
        n_tokens,
        text_length,
        image_length,
        dim,
        depth,
        num_heads,
        dim_head,
        dropout,
    ):
        super().__init__()
        self.text_length, self.image_length = text_length, image_length
        self.text_embedding = nn.Embedding(vocabulary_size, dim)
        self.image_embedding = nn.Embedding(n_tokens, dim)
        self.text_positions = nn.Parameter(torch.zeros(text_length, dim))
        self.image_positions = nn.Parameter(torch.zeros(image_length, dim))
        for weight in (self.text_embedding.weight, self.image_embedding.weight):
            nn.init.normal_(weight, std=0.02)
        nn.init.normal_(self.text_positions, std=0.02)
        nn.init.normal_(self.image_positions, std=0.02)
        self.blocks = nn.ModuleList(_Block(dim, num_heads, dim_head, dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(dim)
        self.text_head = nn.Linear(dim, vocabulary_size)
        self.image_head = nn.Linear(dim, n_tokens)

    def embed(self, text, image, image_start=0):
        """Embeddings of text ids and image tokens from image position ``image_start`` on."""
        parts = []
        if text is not None:
            parts.append(self.text_embedding(text) + self.text_positions[: text.shape[1]])
        if image is not None:
            positions = self.image_positions[image_start : image_start + image.shape[1]]
            parts.append(self.image_embedding(image) + positions)
        return torch.cat(parts, 1)

    def run(self, x, caches=None):
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.norm(x)

    def forward(self, rows):
        """Text and image logits for rows ``(B, text_length + image_length)`` of ids."""
        split = self.text_length
        hidden = self.run(self.embed(rows[:, :split], rows[:, split:-1]))
        return self.text_head(hidden[:, : split - 1]), self.image_head(hidden[:, split - 1 :])


def _top_k(logits, filter_thres):
    """Keep the ``max(1, int((1 - filter_thres) * K))`` largest logits of each row."""
    k = max(int((1 - filter_thres) * logits.shape[-1]), 1)
    values, indices = logits.topk(k, dim=-1)
    return torch.full_like(logits, -torch.inf).scatter_(-1, indices, values)


def _never(self):
    return False


class DALLE(NetworkTransformer, auto_wrap_output_keys=None):
    __doc__ = (
        """DALL-E: a causal transformer that writes image tokens after a caption.

    Images are tokenised by a :class:`~contrastlearn.DiscreteVAE`
    (``vae_``), captions by a :class:`~contrastlearn.text.Vocabulary`
    (``vocabulary_``: a start token, the words, padding to
    ``max_text_length``). Each pair becomes one row ``[text ids | image
    tokens]``; a decoder-only transformer (``depth`` pre-norm blocks of
    causal attention with ``num_heads`` heads of ``dim_head`` and a GELU MLP,
    learned position embeddings for the text and image positions) predicts
    every next token, text positions over the words (padding included, as in
    DALL-E) and image positions over the codebook, by two output heads. The
    loss is :func:`contrastlearn.losses.dalle_loss`,
    ``(loss_text + image_loss_weight * loss_image) / (image_loss_weight + 1)``.
    :meth:`generate` writes image tokens for new captions one at a time
    (top-k filtering and temperature) and decodes them with ``vae_``.

    DALLE is not a transformer: it has no ``transform``; :meth:`score` is the
    negative loss, so that ``GridSearchCV(DALLE(), ...).fit(images, texts)``
    works.

    Parameters
    ----------
    vae : DiscreteVAE or None, default=None
        The image tokenizer. None trains a ``DiscreteVAE()`` with this
        estimator's ``image_shape``, ``nan_policy``, ``max_epochs``,
        ``batch_size``, ``device``, ``random_state`` and ``verbose``; an
        unfitted one is cloned and trained on the images; a fitted one
        (with ``net_``) is used as it is, untouched (note that
        :func:`sklearn.base.clone` of a DALLE clones ``vae`` too, unfitted).
    dim : int, default=128
        Width of the token features.
    depth : int, default=2
        Transformer blocks.
    num_heads : int, default=4
        Attention heads.
    dim_head : int, default=32
        Width of each head (``num_heads * dim_head`` need not be ``dim``).
    dropout : float, default=0.0
        Dropout in attention and MLPs (dalle-pytorch's default 0).
    max_text_length : int, default=32
        Text ids per row, the start token included; longer captions are cut.
    image_loss_weight : float, default=7.0
        Weight of the image tokens' loss against the text's (DALL-E: 7).
    validation_fraction : float in (0, 1) or None, default=0.1
        Hold out this fraction of the pairs (drawn with ``random_state``) and
        record the loss on them after every epoch as
        ``history_[:, "valid_loss"]``. None trains on every pair.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` to reshape flat input into images (given
        to the default ``vae`` as well).
    """
        + parameters_doc(("nan_policy", "max_epochs"))
        + """
    batch_size : int, default=64
        Rows per step; :meth:`generate` and :meth:`score` work in batches
        of this size.
    lr : float, default=3e-4
        Peak learning rate (AdamW).
    weight_decay : float, default=0.0
        Decoupled weight decay.
    lr_schedule : {"cosine", None}, default=None
        Cosine decay of the learning rate per optimiser step, or constant.
    """
        + parameters_doc(
            ("optimizer", "warmup_epochs", "accumulate_batches", "max_grad_norm", "device")
        )
        + """
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, the validation split and shuffling (and
        the default ``vae``). With an int, a CPU fit is repeatable bit for bit.
    """
        + parameters_doc(("verbose", "callbacks", "compile", "checkpoint_dir"))
        + ATTRIBUTES_DOC
        + """
    vae_ : DiscreteVAE
        The fitted image tokenizer.
    vocabulary_ : Vocabulary
        The fitted caption vocabulary.

    See Also
    --------
    contrastlearn.DiscreteVAE : The image tokenizer.
    contrastlearn.ConVIRT : Paired image-text contrast.

    Notes
    -----
    The vilmedic study's recipe (256x256 images, validation loss 1.68) is
    ``DALLE(vae=DiscreteVAE(n_tokens=8192, codebook_dim=1024, hidden_dim=64,
    n_layers=3, n_resnet_blocks=1), dim=1024, depth=16, num_heads=16,
    dim_head=64, image_loss_weight=7.0, accumulate_batches=...,
    max_grad_norm=0.5)`` (its gradient accumulation and clipping at 0.5),
    generating with ``filter_thres=0.9``. The defaults are a CPU-sized
    model. dalle-pytorch gives text padding unique per-position tokens and
    uses axial image positions; here padding is one token and positions are
    learned per text and per image position.

    References
    ----------
    A. Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021,
    arXiv:2102.12092.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.dalle import DALLE
    >>> from contrastlearn.discrete_vae import DiscreteVAE
    >>> digits = load_digits()
    >>> X, texts = digits.images[:64], [f"digit {d}" for d in digits.target[:64]]
    >>> vae = DiscreteVAE(n_tokens=32, n_layers=2, max_epochs=1, random_state=0)
    >>> dalle = DALLE(vae, dim=32, depth=1, max_text_length=4, max_epochs=1,
    ...               random_state=0).fit(X, texts)
    >>> dalle.generate(["digit 3", "digit 7"], random_state=0).shape
    (2, 8, 8)
    >>> hasattr(dalle, "transform")
    False
    """
    )

    _parameter_constraints = {
        key: value
        for key, value in NetworkTransformer._parameter_constraints.items()
        if key not in ("normalize", "log_intensity")
    } | {
        "vae": [None, InstanceOf(DiscreteVAE, name="a DiscreteVAE")],
        "dim": ints(1),
        "depth": ints(1),
        "num_heads": ints(1),
        "dim_head": ints(1),
        "dropout": Interval(numbers.Real, 0, 1, closed="left"),
        "max_text_length": ints(2),
        "image_loss_weight": NONNEGATIVE,
        "validation_fraction": [None, _UNIT],
    }

    def __init__(
        self,
        vae=None,
        *,
        dim=128,
        depth=2,
        num_heads=4,
        dim_head=32,
        dropout=0.0,
        max_text_length=32,
        image_loss_weight=7.0,
        validation_fraction=0.1,
        image_shape=None,
        nan_policy="raise",
        max_epochs=20,
        batch_size=64,
        lr=3e-4,
        weight_decay=0.0,
        lr_schedule=None,
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
    ):
        self.vae = vae
        self.dim = dim
        self.depth = depth
        self.num_heads = num_heads
        self.dim_head = dim_head
        self.dropout = dropout
        self.max_text_length = max_text_length
        self.image_loss_weight = image_loss_weight
        self.validation_fraction = validation_fraction
        self.image_shape = image_shape
        self.nan_policy = nan_policy
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

    # ------------------------------------------------------------ training
    def _pair_loss(self, module, x, partner=None):
        # Rows of token ids: nothing preprocesses them as images.
        return self._training_loss(module, x, None)

    def _training_loss(self, module, x, partner):
        split = self.max_text_length
        text_logits, image_logits = module(x)
        return dalle_loss(
            text_logits, x[:, 1:split], image_logits, x[:, split:], self.image_loss_weight
        )

    def _make_vae(self):
        if self.vae is None:
            return DiscreteVAE(
                image_shape=self.image_shape,
                nan_policy=self.nan_policy,
                max_epochs=self.max_epochs,
                batch_size=self.batch_size,
                device=self.device,
                random_state=self.random_state,
                verbose=self.verbose,
            )
        return clone(self.vae)

    def _texts(self, texts, n_images, name="texts"):
        if texts is None:
            raise ValueError(
                f"{type(self).__name__}.fit needs the captions: fit(images, texts) with one "
                "string per image."
            )
        texts = check_texts(texts, name)
        if len(texts) != n_images:
            raise ValueError(
                f"{name} must hold one string per image: got {len(texts)} texts for "
                f"{n_images} images."
            )
        return texts

    def _rows(self, X, texts):
        """``[text ids | image tokens]`` int64 rows for images and their captions."""
        tokens = self.vae_.transform(X)
        return np.concatenate([self.vocabulary_.transform(texts), tokens], axis=1)

    def fit(self, X, y=None):
        self._validate_params()
        images = self._validate_input(X, reset=True)
        texts = self._texts(y, len(images))
        if self.vae is not None and hasattr(self.vae, "net_"):
            self.vae_ = self.vae
            if tuple(self.vae_.input_shape_) != tuple(images.shape[1:]):
                raise ValueError(
                    f"The fitted vae was trained on samples of shape {self.vae_.input_shape_}, "
                    f"but X holds samples of shape {tuple(images.shape[1:])}."
                )
        else:
            self.vae_ = self._make_vae().fit(X)
        self.vocabulary_ = Vocabulary(max_length=self.max_text_length).fit(texts)
        rows = self._rows(X, texts)
        (train, _), valid = self._hold_out(rows)
        vocabulary_size, n_tokens = self.vocabulary_.size_, self.vae_.n_tokens

        def make_module():
            return DALLENetwork(
                vocabulary_size,
                n_tokens,
                self.max_text_length,
                self.vae_.n_tokens_out_,
                self.dim,
                self.depth,
                self.num_heads,
                self.dim_head,
                self.dropout,
            )

        return self._train(
            train, make_module, data=rows, valid=None if valid is None else (valid[0], None)
        )

    fit.__doc__ = (
        """Train the discrete VAE (unless fitted) and the transformer on captioned images.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images ``(n_samples, H, W)`` or ``(n_samples, C, H, W)``, as
            :class:`~contrastlearn.DiscreteVAE` takes them.
        y : sequence of str
            The caption of every image (named ``y`` for sklearn: model
            selection splits it with the images).

        Returns
        -------
        self
            The fitted estimator.

        """
        + FIT_RAISES_DOC
        + """
        ValueError
            For bad parameters, missing captions, captions that are not
            strings or not one per image, or images the vae cannot take.
        """
    )

    # ------------------------------------------------------------ public API
    @float32_default()
    def generate_tokens(self, texts, *, temperature=1.0, filter_thres=0.9, random_state=None):
        """Sample image tokens for captions, one position at a time.

        Parameters
        ----------
        texts : sequence of str
            Captions (unknown words become the unknown token).
        temperature : float, default=1.0
            Logits are divided by it before sampling; lower is greedier.
        filter_thres : float in [0, 1), default=0.9
            Keep only the ``max(1, int((1 - filter_thres) * n_tokens))`` most
            likely tokens at every step (DALL-E's top-k filtering; 0 keeps
            all).
        random_state : int, RandomState or None, default=None
            Seeds the sampling: the same value (and ``batch_size``) gives the
            same tokens.

        Returns
        -------
        ndarray of shape (n_texts, h * w), dtype int64
            Token ids of ``vae_``.
        """
        check_is_fitted(self, "net_")
        check_parameter("DALLE.generate", "temperature", temperature, POSITIVE)
        check_parameter(
            "DALLE.generate",
            "filter_thres",
            filter_thres,
            Interval(numbers.Real, 0, 1, closed="left"),
        )
        text = self.vocabulary_.transform(check_texts(texts))
        module, device = self.net_.module_, self.net_.device
        seed = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
        generator = torch.Generator(device=device).manual_seed(seed)
        was_training, batches = module.training, []
        module.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(text), self.net_.batch_size):
                    batch = torch.from_numpy(text[start : start + self.net_.batch_size])
                    batches.append(
                        self._sample(module, batch.to(device), temperature, filter_thres, generator)
                    )
        finally:
            module.train(was_training)
        if not batches:
            return np.zeros((0, self.vae_.n_tokens_out_), dtype=np.int64)
        return torch.cat(batches).numpy()

    @staticmethod
    def _sample(module, text, temperature, filter_thres, generator):
        caches = [{} for _ in module.blocks]
        hidden = module.run(module.embed(text, None), caches)[:, -1]
        tokens = []
        for position in range(module.image_length):
            logits = _top_k(module.image_head(hidden).float() / temperature, filter_thres)
            token = torch.multinomial(logits.softmax(-1), 1, generator=generator)
            tokens.append(token)
            if position + 1 < module.image_length:
                hidden = module.run(module.embed(None, token, position), caches)[:, -1]
        return torch.cat(tokens, 1).cpu()

    def generate(self, texts, *, temperature=1.0, filter_thres=0.9, random_state=None):
        """Images for captions: sampled image tokens decoded by ``vae_``.

        Parameters
        ----------
        texts : sequence of str
        temperature, filter_thres, random_state
            See :meth:`generate_tokens`.

        Returns
        -------
        ndarray, dtype float32
            One image per caption, shaped like the samples given to ``fit``
            (e.g. ``(n, C, H, W)``), in their intensity scale.
        """
        tokens = self.generate_tokens(
            texts, temperature=temperature, filter_thres=filter_thres, random_state=random_state
        )
        return self.vae_.inverse_transform(tokens)

    @float32_default()
    def score(self, X, y):
        """The negative mean loss on captioned images (as ``valid_loss``): higher is better.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images shaped like those given to ``fit``.
        y : sequence of str
            Their captions.

        Returns
        -------
        float
        """
        check_is_fitted(self, "net_")
        images = self._validate_input(X, reset=False)
        rows = self._rows(X, self._texts(y, len(images), "y"))
        module, total = self.net_.module_, 0.0
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(rows), self.net_.batch_size):
                    batch = torch.from_numpy(rows[start : start + self.net_.batch_size])
                    total += float(self._pair_loss(module, batch.to(self.net_.device))) * len(batch)
        finally:
            module.train(was_training)
        return -total / len(rows)

    # Not a transformer: no transform, fit_transform or feature names.
    @available_if(_never)
    def transform(self, X):  # pragma: no cover
        raise AttributeError("DALLE has no transform")

    @available_if(_never)
    def fit_transform(self, X, y=None, **fit_params):  # pragma: no cover
        raise AttributeError("DALLE has no fit_transform")

    @available_if(_never)
    def get_feature_names_out(self, input_features=None):  # pragma: no cover
        raise AttributeError("DALLE has no get_feature_names_out")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags = None
        tags.target_tags.required = True
        return tags
