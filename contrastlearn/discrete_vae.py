"""A discrete VAE (:class:`DiscreteVAE`): images to grids of codebook tokens and back.

The image tokenizer of DALL-E (Ramesh et al., 2021) as dalle-pytorch builds
it and the vilmedic study trains it: a strided convolutional encoder gives
logits over ``n_tokens`` codes at every position of a downsampled grid, a
Gumbel-softmax relaxation mixes the codebook vectors, and a transposed
convolutional decoder reconstructs the image. ``transform`` gives the hard
(argmax) codes, the "image tokens" that :class:`~contrastlearn.DALLE`
learns to write.
"""

import numbers

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn

from ._docs import ATTRIBUTES_DOC, parameters_doc
from ._network import FIT_RAISES_DOC, NetworkTransformer
from ._trainer import float32_default
from ._validation import BOOL, NONNEGATIVE, POSITIVE, ints
from .losses._generative import discrete_vae_loss
from .validation import Interval, Options

__all__ = ["DiscreteVAE"]


def grid_sizes(height, width, n_layers):
    """The image's sides and those after each of ``n_layers`` halvings (rounding down)."""
    sizes = [(height, width)]
    for _ in range(n_layers):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes


class ResBlock(nn.Module):
    """conv 3x3, ReLU, conv 3x3, ReLU, conv 1x1, plus the input (dalle-pytorch's block)."""

    def __init__(self, channels):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 1),
        )

    def forward(self, x):
        return self.net(x) + x


class DiscreteVAENetwork(nn.Module):
    """Preprocessing, encoder to code logits, codebook and decoder of :class:`DiscreteVAE`.

    ``forward(x)`` maps raw images to their hard codes ``(B, h * w)`` (as
    float, for skorch's inference); :meth:`logits` maps preprocessed images
    to ``(B, n_tokens, h, w)``; :meth:`decode` maps code mixtures
    ``(B, n_tokens, h, w)`` (one-hot or relaxed) to images of the input's
    exact shape; :meth:`decode_codes` maps integer codes ``(B, h * w)``.

    Parameters
    ----------
    preprocess : Preprocess
    image_shape : tuple of int
        ``(C, H, W)``, with ``H, W >= 2 ** n_layers``.
    n_tokens, codebook_dim, hidden_dim, n_layers, n_resnet_blocks : int
    """

    def __init__(
        self, preprocess, image_shape, n_tokens, codebook_dim, hidden_dim, n_layers, n_resnet_blocks
    ):
        super().__init__()
        channels, height, width = image_shape
        sizes = grid_sizes(height, width, n_layers)
        encoder, decoder = [], []
        for i in range(n_layers):
            encoder += [
                nn.Conv2d(channels if i == 0 else hidden_dim, hidden_dim, 4, 2, 1),
                nn.ReLU(),
            ]
        encoder += [ResBlock(hidden_dim) for _ in range(n_resnet_blocks)]
        encoder.append(nn.Conv2d(hidden_dim, n_tokens, 1))
        width_in = codebook_dim
        if n_resnet_blocks:
            decoder.append(nn.Conv2d(codebook_dim, hidden_dim, 1))
            decoder += [ResBlock(hidden_dim) for _ in range(n_resnet_blocks)]
            width_in = hidden_dim
        for i, (h, w) in enumerate(reversed(sizes[:-1])):
            # A transposed convolution doubles a side; output_padding restores an odd one.
            decoder += [
                nn.ConvTranspose2d(
                    width_in if i == 0 else hidden_dim,
                    hidden_dim,
                    4,
                    2,
                    1,
                    output_padding=(h % 2, w % 2),
                ),
                nn.ReLU(),
            ]
        decoder.append(nn.Conv2d(hidden_dim, channels, 1))
        self.preprocess = preprocess
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*decoder)
        self.codebook = nn.Embedding(n_tokens, codebook_dim)
        self.grid = sizes[-1]

    def logits(self, x):
        return self.encoder(x)

    def forward(self, x):
        return self.encoder(self.preprocess(x)).argmax(1).flatten(1).float()

    def decode(self, codes):
        mixed = torch.einsum(
            "bnhw,nd->bdhw", codes.to(self.codebook.weight.dtype), self.codebook.weight
        )
        return self.decoder(mixed)

    def decode_codes(self, tokens):
        vectors = self.codebook(tokens)  # (B, h * w, codebook_dim)
        return self.decoder(vectors.transpose(1, 2).unflatten(2, self.grid))


class DiscreteVAE(NetworkTransformer):
    __doc__ = (
        """Discrete VAE: an image tokenizer into a grid of codebook entries (DALL-E's dVAE).

    ``n_layers`` convolutions (kernel 4, stride 2, ``hidden_dim`` channels,
    ReLU; then ``n_resnet_blocks`` residual blocks) turn a ``(C, H, W)``
    image into logits over ``n_tokens`` codes at each position of an
    ``(H / 2**n_layers, W / 2**n_layers)`` grid (sides rounded down). In
    training, a Gumbel-softmax at ``temperature`` (hard, straight-through,
    with ``straight_through=True``) mixes the rows of a ``n_tokens x
    codebook_dim`` codebook at every position; a mirrored decoder of
    transposed convolutions maps the mixture back to an image of the exact
    input shape (odd and non-square sides included). The loss is the mean
    squared error of the reconstruction of the normalised image plus
    ``kl_weight`` times the KL divergence of the code distributions from the
    uniform one (:func:`contrastlearn.losses.discrete_vae_loss`). In eval
    mode (the ``valid_loss`` of ``history_``, :meth:`score`) the hard argmax
    codes are decoded instead, so that loss is deterministic.

    ``transform`` gives those hard codes, int64 ``(n_samples, h * w)`` in
    ``[0, n_tokens)``, row by row of the grid (``token_grid_``);
    :meth:`inverse_transform` decodes codes into images in the input's
    intensity scale.

    Parameters
    ----------
    n_tokens : int, default=512
        Codebook size: the number of distinct image tokens.
    codebook_dim : int, default=64
        Width of a codebook vector.
    hidden_dim : int, default=32
        Channels of every encoder and decoder convolution.
    n_layers : int, default=3
        Stride-2 convolutions: each halves the token grid's sides. Images
        need sides of at least ``2 ** n_layers`` pixels.
    n_resnet_blocks : int, default=0
        Residual blocks after the encoder's convolutions and before the
        decoder's (vilmedic: 1).
    temperature : float, default=0.9
        Gumbel-softmax temperature (dalle-pytorch's and vilmedic's 0.9).
    straight_through : bool, default=False
        Use hard one-hot samples in the forward pass with the relaxed
        gradient (straight-through Gumbel-softmax).
    kl_weight : float, default=0.0
        Weight of the KL divergence of the codes' distributions from the
        uniform one (0 in dalle-pytorch's default and vilmedic).
    validation_fraction : float in (0, 1) or None, default=0.1
        Hold out this fraction of the images (drawn with ``random_state``)
        and record the loss on them after every epoch as
        ``history_[:, "valid_loss"]``. None trains on every image.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` to reshape flat ``(n_samples, n_features)``
        input into images; the network is convolutional, so flat input needs
        it.
    normalize : {"dataset", None}, default="dataset"
        Per-channel standardisation by the training set's mean and standard
        deviation (dalle-pytorch's fixed ``(x - 0.5) / 0.5``, measured here),
        or none. Per-image scalings are not offered: they could not be undone
        by :meth:`inverse_transform`.
    """
        + parameters_doc(("log_intensity", "nan_policy", "max_epochs"))
        + """
    batch_size : int, default=64
        Images per step; ``transform`` and :meth:`inverse_transform` work in
        batches of this size.
    lr : float, default=1e-3
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
        Seeds weight initialisation, the validation split, shuffling and the
        Gumbel noise. With an int, a CPU fit is repeatable bit for bit.
    """
        + parameters_doc(("verbose", "callbacks", "compile", "checkpoint_dir"))
        + ATTRIBUTES_DOC
        + """
    token_grid_ : tuple of int
        ``(h, w)``, the grid of tokens of an image.
    n_tokens_out_ : int
        ``h * w``, the tokens ``transform`` gives per image.

    See Also
    --------
    contrastlearn.DALLE : The text-to-image transformer that writes these tokens.
    contrastlearn.VAE : A continuous β-VAE.

    Notes
    -----
    The vilmedic study's recipe (256x256 images, validation loss 0.00345 on
    images scaled to [-1, 1]) is ``DiscreteVAE(n_tokens=8192,
    codebook_dim=1024, hidden_dim=64, n_layers=3, n_resnet_blocks=1,
    temperature=0.9)``, a 32x32 grid of tokens; vilmedic also decays the
    temperature slowly towards 0.5 during training, which is not done
    here. The defaults are a CPU-sized model.

    References
    ----------
    A. Ramesh et al., "Zero-Shot Text-to-Image Generation", ICML 2021,
    arXiv:2102.12092.

    J.-B. Delbrouck et al., "ViLMedic: a framework for research at the
    intersection of vision and language in medical AI", ACL 2022.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.discrete_vae import DiscreteVAE
    >>> X = load_digits().images[:64]
    >>> dvae = DiscreteVAE(n_tokens=32, n_layers=1, max_epochs=1, random_state=0).fit(X)
    >>> dvae.token_grid_
    (4, 4)
    >>> tokens = dvae.transform(X)
    >>> tokens.shape, tokens.dtype
    ((64, 16), dtype('int64'))
    >>> dvae.inverse_transform(tokens[:3]).shape
    (3, 8, 8)
    """
    )

    _parameter_constraints = {
        **NetworkTransformer._parameter_constraints,
        "n_tokens": ints(2),
        "codebook_dim": ints(1),
        "hidden_dim": ints(1),
        "n_layers": ints(1),
        "n_resnet_blocks": ints(0),
        "temperature": POSITIVE,
        "straight_through": BOOL,
        "kl_weight": NONNEGATIVE,
        "validation_fraction": [None, Interval(numbers.Real, 0, 1, closed="neither")],
        "normalize": Options(["dataset", None]),
    }

    def __init__(
        self,
        *,
        n_tokens=512,
        codebook_dim=64,
        hidden_dim=32,
        n_layers=3,
        n_resnet_blocks=0,
        temperature=0.9,
        straight_through=False,
        kl_weight=0.0,
        validation_fraction=0.1,
        image_shape=None,
        normalize="dataset",
        log_intensity=False,
        nan_policy="raise",
        max_epochs=20,
        batch_size=64,
        lr=1e-3,
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
        self.n_tokens = n_tokens
        self.codebook_dim = codebook_dim
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.n_resnet_blocks = n_resnet_blocks
        self.temperature = temperature
        self.straight_through = straight_through
        self.kl_weight = kl_weight
        self.validation_fraction = validation_fraction
        self.image_shape = image_shape
        self.normalize = normalize
        self.log_intensity = log_intensity
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
    def _make_module(self, X):
        return DiscreteVAENetwork(
            self._make_preprocess(X),
            X.shape[1:],
            self.n_tokens,
            self.codebook_dim,
            self.hidden_dim,
            self.n_layers,
            self.n_resnet_blocks,
        )

    def _training_loss(self, module, x, partner):
        logits = module.logits(x).float()
        if module.training:
            codes = F.gumbel_softmax(
                logits, tau=self.temperature, dim=1, hard=self.straight_through
            )
        else:  # validation: the hard codes transform gives, deterministic
            codes = F.one_hot(logits.argmax(1), logits.shape[1]).permute(0, 3, 1, 2)
        return discrete_vae_loss(module.decode(codes), x, logits, self.kl_weight)

    def _check_images(self, X):
        """Validate ``X`` for fit: a 4-D stack of images large enough for ``n_layers``."""
        self._validate_params()
        images = self._validate_input(X, reset=True)
        name = type(self).__name__
        if images.ndim != 4:
            raise ValueError(
                f"{name} is convolutional and needs images, but X has flat samples of "
                f"{images.shape[1]} features. Pass image_shape=(H, W) or (C, H, W) to reshape "
                "them."
            )
        side = 2**self.n_layers
        if min(images.shape[2:]) < side:
            raise ValueError(
                f"{name} with n_layers={self.n_layers} halves every image side "
                f"{self.n_layers} times and needs images of at least {side}x{side} pixels; got "
                f"samples of shape {tuple(images.shape[1:])}. Use a smaller n_layers or larger "
                "images."
            )
        return images

    def fit(self, X, y=None):
        images = self._check_images(X)
        self._sample_shape = tuple(np.shape(X)[1:])  # what inverse_transform returns
        self.token_grid_ = grid_sizes(*images.shape[2:], self.n_layers)[-1]
        self.n_tokens_out_ = self._n_features_out = int(np.prod(self.token_grid_))
        (train, _), valid = self._hold_out(images)
        return self._train(
            train,
            lambda: self._make_module(train),
            valid=None if valid is None else (valid[0], None),
        )

    fit.__doc__ = (
        """Train the discrete VAE on unlabelled images.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images ``(n_samples, H, W)`` or ``(n_samples, C, H, W)`` (sides
            at least ``2 ** n_layers``) of any real dtype, in memory or on
            disk (h5py datasets; streamed), or flat samples reshaped by
            ``image_shape``.
        y : None
            Ignored.

        Returns
        -------
        self
            The fitted estimator.

        """
        + FIT_RAISES_DOC
        + """
        ValueError
            For bad parameters, flat input without ``image_shape`` or images
            smaller than ``2 ** n_layers`` pixels a side.
        """
    )

    # ------------------------------------------------------------ public API
    def transform(self, X):
        """The hard (argmax) codes of every image: its image tokens.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Samples shaped like those given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, h * w), dtype int64
            Token ids in ``[0, n_tokens)``, the grid ``token_grid_`` row by row.
        """
        return super().transform(X).astype(np.int64)

    @float32_default()
    def inverse_transform(self, X):
        """Decode image tokens into images.

        Parameters
        ----------
        X : array-like of int, shape (n_samples, h * w)
            Token ids in ``[0, n_tokens)``, as from :meth:`transform`.

        Returns
        -------
        ndarray, dtype float32
            Images shaped like the samples given to ``fit``, in their
            intensity scale (the normalisation and ``log_intensity`` undone).
        """
        check_is_fitted(self, "net_")
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        tokens = np.asarray(X)
        if tokens.ndim != 2 or tokens.dtype.kind not in "iu":
            tokens = check_array(X, dtype=None, input_name="tokens", estimator=self)
            if tokens.dtype.kind not in "iu" and not (
                tokens.dtype.kind == "f" and np.array_equal(tokens, np.round(tokens))
            ):
                raise TypeError(
                    f"tokens must be integer token ids from transform; got dtype {tokens.dtype}."
                )
        if tokens.shape[1] != self.n_tokens_out_:
            raise ValueError(
                f"tokens have {tokens.shape[1]} columns, but this DiscreteVAE codes an image "
                f"as {self.n_tokens_out_} tokens (a {self.token_grid_} grid)."
            )
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.n_tokens):
            raise ValueError(
                f"token ids must lie in [0, {self.n_tokens}) (n_tokens={self.n_tokens}); got "
                f"values from {tokens.min()} to {tokens.max()}."
            )
        tokens = tokens.astype(np.int64)
        module, device = self.net_.module_, self.net_.device
        preprocess, batches = module.preprocess, []
        with torch.no_grad():
            for start in range(0, len(tokens), self.net_.batch_size):
                batch = torch.from_numpy(tokens[start : start + self.net_.batch_size]).to(device)
                images = module.decode_codes(batch).float()
                if preprocess.normalize == "dataset":
                    images = images * preprocess.std.view(1, -1, 1, 1) + preprocess.mean.view(
                        1, -1, 1, 1
                    )
                if preprocess.log_intensity:
                    images = torch.expm1(images)
                batches.append(images.cpu())
        shape = (len(tokens), *self._sample_shape)
        if not batches:
            return np.zeros(shape, dtype=np.float32)
        return torch.cat(batches).numpy().reshape(shape)

    @float32_default()
    def score(self, X, y=None):
        """The negative mean loss on images (hard codes, as ``valid_loss``): higher is better.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Samples shaped like those given to ``fit``.
        y : None
            Ignored.

        Returns
        -------
        float
        """
        check_is_fitted(self, "net_")
        images = self._validate_input(X, reset=False)
        module, total = self.net_.module_, 0.0
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                for start in range(0, len(images), self.net_.batch_size):
                    batch = torch.as_tensor(
                        np.asarray(images[start : start + self.net_.batch_size])
                    )
                    x = module.preprocess(batch.to(self.net_.device))
                    total += float(self._training_loss(module, x, x)) * len(batch)
        finally:
            module.train(was_training)
        return -total / len(images)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []
        return tags
