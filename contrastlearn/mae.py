"""Masked autoencoding with a Vision Transformer (:class:`MAE`)."""

import math
import numbers

import torch
from torch import nn

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import BOOL, ints
from .augment import Augment
from .backbones._vit import _Block
from .losses import mae_loss
from .validation import Interval, Options

__all__ = ["MAE"]


class _Pooled(nn.Module):
    """A ViT whose ``forward`` gives its CLS token or the mean of its patch tokens."""

    def __init__(self, vit, pooling):
        super().__init__()
        self.vit, self.pooling = vit, pooling
        self.out_features = vit.out_features

    def forward(self, x):
        tokens = self.vit.forward_tokens(x)
        return tokens[:, 0] if self.pooling == "cls" else tokens[:, 1:].mean(1)


def _sincos_positions(grid, dim):
    """Fixed 2-D sine-cosine position embeddings ``(1, h * w, dim)``, as MAE's decoder uses."""
    h, w = grid
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij"
    )
    quarter = dim // 4
    omega = 1.0 / 10000 ** (torch.arange(quarter, dtype=torch.float64) / max(quarter, 1))
    parts = []
    for coordinate in (cols.flatten(), rows.flatten()):
        angles = coordinate[:, None] * omega[None]
        parts += [torch.sin(angles), torch.cos(angles)]
    table = torch.cat(parts, 1)
    padding = torch.zeros(len(table), dim - table.shape[1], dtype=torch.float64)  # dim % 4
    return torch.cat([table, padding], 1)[None].float()


class _Decoder(nn.Module):
    """MAE's light decoder: encoder tokens + mask tokens, a few blocks, pixels per patch."""

    def __init__(self, encoder_dim, dim, depth, num_heads, grid, patch_pixels):
        super().__init__()
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.register_buffer("positions", _sincos_positions(grid, dim), persistent=False)
        self.blocks = nn.ModuleList(_Block(dim, num_heads, 4.0, 0.0) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.predict = nn.Linear(dim, patch_pixels)
        nn.init.normal_(self.mask_token, std=0.02)

    def forward(self, encoded, restore):
        """Pixels ``(B, n_patches, patch_pixels)`` from ``(B, 1 + n_keep, D)`` tokens."""
        tokens = self.embed(encoded)
        cls, visible = tokens[:, :1], tokens[:, 1:]
        n_masked = restore.shape[1] - visible.shape[1]
        patches = torch.cat([visible, self.mask_token.expand(len(tokens), n_masked, -1)], 1)
        index = restore[..., None].expand(-1, -1, patches.shape[-1])
        patches = torch.gather(patches, 1, index) + self.positions
        tokens = torch.cat([cls, patches], 1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.predict(self.norm(tokens))[:, 1:]


def _patchify(images, patch_size):
    """``(B, C, H, W)`` -> ``(B, n_patches, C * p * p)``, patches in row-major order."""
    b, c, h, w = images.shape
    p = patch_size
    patches = images.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 1, 3, 5)
    return patches.reshape(b, (h // p) * (w // p), c * p * p)


class MAE(BasePretrainer):
    __doc__ = (
        """Masked autoencoder: reconstruct the hidden patches of an image from the visible ones.

    Every image is augmented once (crops and horizontal flips, as in the
    paper), cut into the ViT backbone's patches, and a random ``mask_ratio``
    of them is hidden. The encoder (the backbone) sees only the visible
    patches; a light decoder (``decoder_depth`` transformer blocks of width
    ``decoder_dim``) gets the encoded patches and a mask token at every
    hidden position, with fixed 2-D sine-cosine positions, and predicts the
    hidden patches' pixels, each standardised by its own mean and variance
    (``normalize_targets``); :func:`~contrastlearn.losses.mae_loss` is the
    mean squared error on the hidden patches. ``transform`` runs the encoder
    on the whole image and returns its CLS token (``pooling="cls"``) or the
    mean of its patch tokens (``pooling="mean"``, often better for a linear
    probe of an MAE). There is no projection head: ``projection_dims`` is
    not used.

    Needs a Vision Transformer backbone (``backbone="vit_tiny_p4"`` by
    default), whose patch size divides the images.

    Parameters
    ----------
    mask_ratio : float, default=0.75
        Fraction of the patches hidden from the encoder (the paper's).
    decoder_dim : int, default=128
        Width of the decoder (MAE: 512).
    decoder_depth : int, default=2
        Transformer blocks of the decoder (MAE: 8).
    decoder_heads : int, default=4
        Attention heads of the decoder (MAE: 16).
    normalize_targets : bool, default=True
        Standardise each target patch (MAE's ``norm_pix_loss``).
    pooling : {"cls", "mean"}, default="cls"
        What ``transform`` returns: the CLS token or the mean patch token.
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        .replace(
            'backbone : str or torch.nn.Module, default="auto"',
            'backbone : str or torch.nn.Module, default="vit_tiny_p4"',
        )
        .replace("lr : float, default=1e-3", "lr : float, default=1.5e-4")
        .replace("weight_decay : float, default=1e-6", "weight_decay : float, default=0.05")
        .replace("warmup_epochs : float, default=0", "warmup_epochs : float, default=2")
        + """

    Notes
    -----
    The paper's recipe (ImageNet, ViT-B/16 to ViT-H/14, batch 4096, 800-1600
    epochs): AdamW with betas (0.9, 0.95) and ``lr = 1.5e-4 * batch_size /
    256``, weight decay 0.05, 40 warm-up epochs, cosine decay, mask ratio
    0.75, a decoder of 8 blocks of width 512, normalised pixel targets,
    random resized crops (20-100 %) and flips only. In contrastlearn:
    ``MAE(backbone="vit_base", lr=1.5e-4 * batch_size / 256,
    weight_decay=0.05, warmup_epochs=40, decoder_dim=512, decoder_depth=8,
    decoder_heads=16)`` (AdamW's betas stay torch's 0.9, 0.999). Our
    defaults are a ViT-Tiny with 4-px patches and a 2-block decoder, for
    small images on one device, the paper's learning rate and weight decay,
    and 2 warm-up epochs: the pretrainers' shared ``lr=1e-3`` collapsed the
    embedding (RankMe 1.1 after 20 epochs on 600 digits, against 6 with
    these). A short MAE is a weak linear-probe embedding (the paper's probe
    needs hundreds of epochs; see ``benchmarks/methods.py``).

    See Also
    --------
    iBOT : Masked image modelling against a teacher's patch tokens.

    References
    ----------
    He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022,
    arXiv:2111.06377.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = np.kron(load_digits().images[:64], np.ones((2, 2)))  # 16x16: 4x4 patches of 4 px
    >>> mae = cl.MAE(decoder_depth=1, max_epochs=1, batch_size=32, random_state=0).fit(X)
    >>> mae.transform(X).shape
    (64, 192)
    """
    )

    _method_params = {
        "backbone": "vit_tiny_p4",
        "lr": 1.5e-4,
        "weight_decay": 0.05,
        "warmup_epochs": 2,
        "mask_ratio": 0.75,
        "decoder_dim": 128,
        "decoder_depth": 2,
        "decoder_heads": 4,
        "normalize_targets": True,
        "pooling": "cls",
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "mask_ratio": Interval(numbers.Real, 0, 1, closed="neither"),
        "decoder_dim": ints(1),
        "decoder_depth": ints(0),
        "decoder_heads": ints(1),
        "normalize_targets": BOOL,
        "pooling": Options(["cls", "mean"]),
    }

    def _default_augment(self):
        return Augment(
            crop_scale=(0.2, 1.0),
            rotation=0.0,
            vflip=0.0,
            jitter_prob=0.0,
            blur_prob=0.0,
            feature_drop=0.0,
        )

    def _make_backbone(self, input_shape, device):
        vit, n_out = super()._make_backbone(input_shape, device)
        if not hasattr(vit, "forward_visible"):
            raise ValueError(
                "MAE needs a Vision Transformer backbone (e.g. backbone='vit_tiny_p4'); got "
                f"{type(vit).__name__}."
            )
        return _Pooled(vit, self.pooling), n_out

    def _make_head(self, in_features):
        return nn.Identity()

    def _make_module(self, X):
        if self.decoder_dim % self.decoder_heads:
            raise ValueError(
                f"decoder_dim={self.decoder_dim} must be divisible by "
                f"decoder_heads={self.decoder_heads}."
            )
        module = super()._make_module(X)
        vit = module.backbone.vit
        grid = tuple(side // vit.patch_size for side in X.shape[-2:])
        patch_pixels = X.shape[1] * vit.patch_size**2
        module.decoder = _Decoder(
            vit.out_features,
            self.decoder_dim,
            self.decoder_depth,
            self.decoder_heads,
            grid,
            patch_pixels,
        )
        return module

    def _training_loss(self, module, x, partner):
        vit = module.backbone.vit
        images = module.represent(self.augment_(x))
        n_patches = (images.shape[-2] // vit.patch_size) * (images.shape[-1] // vit.patch_size)
        n_keep = max(1, int(math.floor(n_patches * (1 - self.mask_ratio))))
        order = torch.rand(len(images), n_patches, device=images.device).argsort(1)
        restore = order.argsort(1)
        predictions = module.decoder(vit.forward_visible(images, order[:, :n_keep]), restore)
        mask = restore >= n_keep  # hidden: not among the first n_keep of the shuffled order
        return mae_loss(
            predictions, _patchify(images, vit.patch_size), mask, self.normalize_targets
        )
