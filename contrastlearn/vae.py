"""A β-VAE baseline estimator (:class:`VAE`) in the architecture of Burgess et al. (2018).

Not a contrastive method: the encoder is trained to reconstruct the images
through a ``n_components``-dimensional Gaussian bottleneck, and ``transform``
returns the posterior mean. The reference CPLR study compares against it
("VAE_vanilla_Burgess", ``beta=1``).
"""

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted
from torch import nn

from ._docs import ATTRIBUTES_DOC, parameters_doc
from ._network import FIT_RAISES_DOC, NetworkTransformer
from ._trainer import float32_default
from ._validation import NONNEGATIVE, ints
from .validation import Options, check_parameter

#: The reconstruction likelihoods of :class:`VAE` (its ``reconstruction``).
RECONSTRUCTIONS = ("bernoulli", "gaussian")

_CHANNELS = 32  # every convolution of Burgess et al.
_HIDDEN = 256  # the two fully connected layers on either side of the latent code
MIN_SIDE = 8


def conv_sizes(height, width):
    """Spatial sizes of the image and of each encoder feature map, first to last.

    Every convolution (kernel 4, stride 2, padding 1) halves a side (rounding
    down); there are ``max(1, floor(log2(min(H, W) / 4)))`` of them, so the
    shorter side of the last map is 4 to 7 pixels (4 convolutions for 64x64,
    as in Burgess et al.).
    """
    n_layers = max(1, (min(height, width) // 4).bit_length() - 1)
    sizes = [(height, width)]
    for _ in range(n_layers):
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    return sizes


class VAENetwork(nn.Module):
    """Preprocessing, convolutional encoder and mirrored decoder of :class:`VAE`.

    ``forward(x)`` maps raw images to the posterior's mean and log-variance,
    concatenated ``(B, 2 * n_components)``; :meth:`decode` maps latent codes
    to logits (or means) of images of exactly the input's shape.

    Parameters
    ----------
    preprocess : Preprocess
    image_shape : tuple of int
        ``(C, H, W)``, with ``H, W >= 8``.
    n_components : int
    """

    def __init__(self, preprocess, image_shape, n_components):
        super().__init__()
        channels, height, width = image_shape
        sizes = conv_sizes(height, width)
        last = _CHANNELS * sizes[-1][0] * sizes[-1][1]
        encoder = []
        for i in range(len(sizes) - 1):
            encoder += [nn.Conv2d(channels if i == 0 else _CHANNELS, _CHANNELS, 4, 2, 1), nn.ReLU()]
        decoder = [
            nn.Linear(n_components, _HIDDEN),
            nn.ReLU(),
            nn.Linear(_HIDDEN, _HIDDEN),
            nn.ReLU(),
            nn.Linear(_HIDDEN, last),
            nn.ReLU(),
            nn.Unflatten(1, (_CHANNELS, *sizes[-1])),
        ]
        for i, (h, w) in enumerate(reversed(sizes[:-1])):
            final = i == len(sizes) - 2
            # A transposed convolution doubles a side; output_padding restores an odd one.
            decoder.append(
                nn.ConvTranspose2d(
                    _CHANNELS,
                    channels if final else _CHANNELS,
                    4,
                    2,
                    1,
                    output_padding=(h % 2, w % 2),
                )
            )
            if not final:
                decoder.append(nn.ReLU())
        self.preprocess = preprocess
        self.encoder = nn.Sequential(
            *encoder,
            nn.Flatten(),
            nn.Linear(last, _HIDDEN),
            nn.ReLU(),
            nn.Linear(_HIDDEN, _HIDDEN),
            nn.ReLU(),
            nn.Linear(_HIDDEN, 2 * n_components),
        )
        self.decoder = nn.Sequential(*decoder)

    def forward(self, x):
        return self.encoder(self.preprocess(x))

    def decode(self, z):
        return self.decoder(z)


def vae_loss(mean, log_var, decoded, x, beta, reconstruction="bernoulli"):
    """The negative β-ELBO, averaged over the batch.

    ``mean over the batch of (reconstruction error summed over pixels +
    beta * KL(N(mean, exp(log_var)) || N(0, I)) summed over latents)``, where
    the error is the binary cross-entropy of the logits ``decoded`` with the
    targets ``x`` (``"bernoulli"``) or ``0.5 * (decoded - x) ** 2``
    (``"gaussian"``, unit variance up to a constant).

    Parameters
    ----------
    mean, log_var : torch.Tensor of shape (B, K)
        The posterior's means and log-variances.
    decoded, x : torch.Tensor of shape (B, ...)
        The decoder's logits (or means) and the targets.
    beta : float
    reconstruction : {"bernoulli", "gaussian"}

    Returns
    -------
    torch.Tensor
        Scalar.
    """
    decoded, x = decoded.float(), x.float()
    if reconstruction == "bernoulli":
        error = F.binary_cross_entropy_with_logits(decoded, x, reduction="none")
    else:
        error = 0.5 * (decoded - x).square()
    kl = 0.5 * (log_var.exp() + mean.square() - 1 - log_var).sum(1)
    return (error.flatten(1).sum(1) + beta * kl).mean()


class VAE(NetworkTransformer):
    __doc__ = (
        """β-VAE: a convolutional variational autoencoder as a baseline embedding.

    The encoder of Burgess et al. (2018) maps an image to a diagonal
    Gaussian posterior over ``n_components`` latents: ``k`` convolutions of
    32 channels (kernel 4, stride 2, ReLU; ``k = 4`` for 64x64 images, in
    general ``max(1, floor(log2(min(H, W) / 4)))``), then fully connected
    layers of 256, 256 and ``2 * n_components`` units (mean and
    log-variance). The decoder mirrors it back to the image's exact shape
    (any size from 8x8, odd and non-square included, any channel count).
    Training minimises, averaged over a batch, the reconstruction error
    summed over pixels plus ``beta`` times the KL divergence of the
    posterior from N(0, I), with one reparameterised sample per image.
    ``beta=1`` is the plain VAE, larger values favour disentangled latents.

    ``transform`` returns the posterior mean, :meth:`encode` mean and
    log-variance, :meth:`inverse_transform` the decoded images and
    :meth:`sample` images decoded from the prior, all in the model's
    normalised intensity scale (``[0, 1]`` per image with
    ``normalize="minmax"``).

    Parameters
    ----------
    n_components : int, default=10
        Size of the latent code, the number of features ``transform`` gives.
    beta : float, default=1.0
        Weight (>= 0) of the KL term. 0 is a plain (noisy) autoencoder.
    reconstruction : {"bernoulli", "gaussian"}, default="bernoulli"
        The decoder's likelihood: binary cross-entropy of logits with the
        normalised pixels as targets (which must lie in [0, 1], as Burgess
        et al.), or a unit-variance Gaussian, ``0.5 * squared error``, for
        any intensity scale.
    image_shape : tuple of int or None, default=None
        ``(H, W)`` or ``(C, H, W)`` to reshape flat ``(n_samples, n_features)``
        input into images; the network is convolutional, so flat input needs
        it.
    normalize : {"minmax", "dataset", "image", None}, default="minmax"
        Intensity normalisation (see :class:`contrastlearn.CLR`): each image
        scaled to [0, 1] by its own minimum and maximum, per-channel
        standardisation by the training set's statistics, each image
        standardised by its own, or none. ``"dataset"`` and ``"image"`` give
        values outside [0, 1] and need ``reconstruction="gaussian"``; with
        None and ``"bernoulli"``, the (``log_intensity``-scaled) pixels must
        already lie in [0, 1].
    """
        + parameters_doc(("log_intensity", "nan_policy", "max_epochs"))
        + """
    batch_size : int, default=64
        Images per step. Data smaller than this trains in one batch;
        otherwise the last incomplete batch of an epoch is dropped.
        ``transform`` and the decoding methods work in batches of this size.
    lr : float, default=5e-4
        Peak learning rate (Burgess et al.: Adam at 5e-4).
    weight_decay : float, default=0.0
        Decoupled weight decay (AdamW; 0 is Adam).
    lr_schedule : {"cosine", None}, default=None
        Cosine decay of the learning rate, per optimiser step, from ``lr``
        after the warm-up to 0 at the end of ``max_epochs``; or constant, as
        in Burgess et al. (short fits then leave the early phase in which the
        latents are unused, the posterior equal to the prior, sooner).
    """
        + parameters_doc(
            ("optimizer", "warmup_epochs", "accumulate_batches", "max_grad_norm", "device")
        )
        + """
    random_state : int, RandomState or None, default=None
        Seeds weight initialisation, shuffling and the reparameterisation
        noise. With an int, a CPU fit is repeatable bit for bit.
    """
        + parameters_doc(("verbose", "callbacks"))
        + """
    """
        + parameters_doc(("compile", "checkpoint_dir"))
        + ATTRIBUTES_DOC
        + """

    See Also
    --------
    contrastlearn.CLR : A contrastive pretrainer, what this baseline is compared with.

    References
    ----------
    C. P. Burgess, I. Higgins, A. Pal, L. Matthey, N. Watters, G. Desjardins
    and A. Lerchner, "Understanding disentangling in β-VAE", 2018,
    arXiv:1804.03599.

    I. Higgins et al., "β-VAE: Learning basic visual concepts with a
    constrained variational framework", ICLR 2017.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.vae import VAE
    >>> X = load_digits().images[:200]
    >>> vae = VAE(max_epochs=5, random_state=0).fit(X)
    >>> Z = vae.transform(X)
    >>> Z.shape
    (200, 10)
    >>> vae.inverse_transform(Z[:3]).shape
    (3, 8, 8)
    >>> vae.sample(4, random_state=0).shape
    (4, 8, 8)
    >>> vae.get_feature_names_out()[:3]
    array(['vae0', 'vae1', 'vae2'], dtype=object)
    """
    )

    _parameter_constraints = {
        "n_components": ints(1),
        "beta": NONNEGATIVE,
        "reconstruction": Options(RECONSTRUCTIONS),
        **NetworkTransformer._parameter_constraints,
    }

    def __init__(
        self,
        *,
        n_components=10,
        beta=1.0,
        reconstruction="bernoulli",
        image_shape=None,
        normalize="minmax",
        log_intensity=False,
        nan_policy="raise",
        max_epochs=20,
        batch_size=64,
        lr=5e-4,
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
        self.n_components = n_components
        self.beta = beta
        self.reconstruction = reconstruction
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
        return VAENetwork(self._make_preprocess(X), X.shape[1:], self.n_components)

    def _training_loss(self, module, x, partner):
        mean, log_var = module.encoder(x).float().chunk(2, dim=1)
        z = mean + (0.5 * log_var).exp() * torch.randn_like(mean)  # reparameterisation
        return vae_loss(mean, log_var, module.decode(z), x, self.beta, self.reconstruction)

    def fit(self, X, y=None):
        self._validate_params()
        if self.reconstruction == "bernoulli" and self.normalize in ("dataset", "image"):
            raise ValueError(
                f"reconstruction='bernoulli' needs targets in [0, 1], but "
                f"normalize={self.normalize!r} gives values outside it. Use normalize='minmax' "
                "(the default), normalize=None for intensities already in [0, 1], or "
                "reconstruction='gaussian'."
            )
        images = self._validate_input(X, reset=True)
        if images.ndim != 4:
            raise ValueError(
                f"VAE is convolutional and needs images, but X has flat samples of "
                f"{images.shape[1]} features. Pass image_shape=(H, W) or (C, H, W) to reshape "
                "them."
            )
        if min(images.shape[2:]) < MIN_SIDE:
            raise ValueError(
                f"VAE needs images of at least {MIN_SIDE}x{MIN_SIDE} pixels; got "
                f"samples of shape {tuple(images.shape[1:])}."
            )
        self._sample_shape = tuple(np.shape(X)[1:])  # what the decoding methods return
        self._n_features_out = self.n_components
        return self._train(images, lambda: self._make_module(images))

    fit.__doc__ = (
        """Train the VAE on unlabelled images.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Images of shape ``(n_samples, H, W)`` or ``(n_samples, C, H, W)``
            (``H, W >= 8``) of any real dtype, in memory or on disk (h5py
            datasets, :func:`~contrastlearn.datasets.load_cxi`; streamed), or
            flat samples ``(n_samples, n_features)`` reshaped by
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
            For bad parameters, ``reconstruction="bernoulli"`` with
            ``normalize="dataset"`` or ``"image"``, flat input without
            ``image_shape``, or images smaller than 8 pixels a side.
        """
    )

    # ------------------------------------------------------------ public API
    def encode(self, X):
        """The posterior of every image: mean and log-variance of its latent code.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Samples shaped like those given to ``fit``.

        Returns
        -------
        mean, log_variance : ndarray of shape (n_samples, n_components), dtype float32
        """
        stats = super().transform(X)
        return (
            np.ascontiguousarray(stats[:, : self.n_components]),
            np.ascontiguousarray(stats[:, self.n_components :]),
        )

    def transform(self, X):
        """The posterior mean of every image's latent code.

        Parameters
        ----------
        X : array-like or torch.Tensor
            Samples shaped like those given to ``fit``.

        Returns
        -------
        ndarray of shape (n_samples, n_components), dtype float32
        """
        return self.encode(X)[0]

    @float32_default()
    def inverse_transform(self, Z):
        """Decode latent codes into images.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        ndarray, dtype float32
            Images shaped like the samples given to ``fit`` (``(n, H, W)``,
            ``(n, C, H, W)`` or flat), in the model's normalised intensity
            scale: the decoder's Bernoulli means (sigmoid of its logits) or
            Gaussian means.
        """
        check_is_fitted(self, "net_")
        if isinstance(Z, torch.Tensor):
            Z = Z.detach().cpu().numpy()
        Z = check_array(Z, dtype=np.float32, input_name="Z", estimator=self)
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but this VAE has n_components="
                f"{self.n_components} latents."
            )
        module, device = self.net_.module_, self.net_.device
        batches = []
        with torch.no_grad():
            for start in range(0, len(Z), self.net_.batch_size):
                decoded = module.decode(
                    torch.from_numpy(Z[start : start + self.net_.batch_size]).to(device)
                ).float()
                if self.reconstruction == "bernoulli":
                    decoded = decoded.sigmoid()
                batches.append(decoded.cpu())
        return torch.cat(batches).numpy().reshape(len(Z), *self._sample_shape)

    def sample(self, n_samples=1, random_state=None):
        """Draw images from the model: decode latent codes drawn from N(0, I).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState or None, default=None
            Seeds the latent codes.

        Returns
        -------
        ndarray, dtype float32
            ``n_samples`` images, as from :meth:`inverse_transform`.
        """
        check_is_fitted(self, "net_")
        check_parameter("VAE.sample", "n_samples", n_samples, ints(1))
        z = check_random_state(random_state).standard_normal((n_samples, self.n_components))
        return self.inverse_transform(z.astype(np.float32))
