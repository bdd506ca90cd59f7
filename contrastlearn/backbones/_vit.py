"""Vision Transformers with any patch size, patch tokens and masking (DINO, iBOT)."""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import Interval, InvalidParameterError, validate_params
from ._common import CHANNELS, POSITIVE_REAL, SIDES

_DROP_PATH = Interval(numbers.Real, 0, 1, closed="left")


class _PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` convolution, flattened to tokens ``(B, h * w, D)``."""

    def __init__(self, in_channels, embed_dim, patch_size):
        super().__init__()
        self.proj = nn.Conv2d(in_channels, embed_dim, patch_size, stride=patch_size)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)


class _DropPath(nn.Module):
    """Stochastic depth: zero a residual branch for a random subset of samples in training."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        # One Bernoulli draw per sample, broadcast over tokens and channels.
        return x * x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep).div_(keep)


class _Attention(nn.Module):
    """Multi-head self-attention with a fused qkv projection (names as in DINO/timm)."""

    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        q, k, v = (
            self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
        )
        x = F.scaled_dot_product_attention(q, k, v)  # (B, heads, N, D // heads)
        return self.proj(x.transpose(1, 2).reshape(B, N, D))


class _Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    """Pre-norm transformer block: ``x + attn(norm1(x))``, then ``x + mlp(norm2(x))``."""

    def __init__(self, dim, num_heads, mlp_ratio, drop_path):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = _Attention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = _Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = _DropPath(drop_path)

    def forward(self, x):
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    """Vision Transformer (Dosovitskiy et al. 2021) as used by DINO and iBOT.

    The image is cut into non-overlapping ``patch_size`` x ``patch_size``
    patches, each linearly embedded (a strided convolution); a learnable CLS
    token is prepended and learnable position embeddings are added; ``depth``
    pre-norm transformer blocks (LayerNorm, multi-head self-attention through
    :func:`torch.nn.functional.scaled_dot_product_attention`, LayerNorm, MLP
    with GELU, each with a residual connection) and a final LayerNorm
    follow. :meth:`forward` returns the CLS token. The architecture, the
    parameter names and the initialisation (truncated normal, std 0.02, for
    linear layers, position embeddings, CLS and mask tokens; LayerNorm
    weight 1 and bias 0; LayerNorm eps 1e-6; qkv bias) follow DINO's
    ``vision_transformer.py``, so that ViT-S/16 at 224 px has the reference
    21,665,664 parameters plus the ``embed_dim`` of the mask token.

    Any input whose height and width are multiples of ``patch_size`` is
    accepted: when its patch grid differs from the one of ``image_size``, the
    patch position embeddings are resized by bicubic interpolation (as in
    DINO's ``interpolate_pos_encoding``), so one network embeds both the
    global and the smaller local crops of multi-crop training.

    Parameters
    ----------
    image_size : int or (int, int), default=32
        Image size ``(H, W)`` the position embeddings are built for; both
        sides must be multiples of ``patch_size``.
    patch_size : int, default=8
        Side of the square patches.
    in_channels : int, default=3
        Number of input channels.
    embed_dim : int, default=384
        Token width; must be divisible by ``num_heads``.
    depth : int, default=12
        Number of transformer blocks.
    num_heads : int, default=6
        Number of attention heads.
    mlp_ratio : float, default=4.0
        Hidden width of the MLPs relative to ``embed_dim``.
    drop_path : float, default=0.0
        Stochastic depth rate of the last block; it increases linearly from 0
        in the first block. Active in training mode only.

    Attributes
    ----------
    out_features : int
        Size of the output vector, ``embed_dim``.
    patch_size : int
        Side of the patches.
    grid_size : (int, int)
        Patch grid ``(H // patch_size, W // patch_size)`` of ``image_size``.
    cls_token, mask_token : torch.nn.Parameter of shape (1, 1, embed_dim)
        Learnable CLS token, and the token that replaces masked patch
        embeddings in :meth:`forward_tokens`.
    pos_embed : torch.nn.Parameter of shape (1, 1 + n_patches, embed_dim)
        Learnable position embeddings, CLS position first.

    Examples
    --------
    >>> import torch
    >>> net = VisionTransformer(image_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 64])
    >>> net(torch.randn(2, 3, 16, 16)).shape  # a local crop: interpolated position embeddings
    torch.Size([2, 64])
    >>> net.forward_tokens(torch.randn(2, 3, 32, 32)).shape  # CLS + 4 x 4 patches
    torch.Size([2, 17, 64])
    >>> mask = torch.zeros(2, 16, dtype=torch.bool)
    >>> mask[:, :8] = True  # hide the top half of the patches
    >>> net.forward_tokens(torch.randn(2, 3, 32, 32), mask=mask).shape
    torch.Size([2, 17, 64])
    """

    @validate_params(
        {
            "image_size": SIDES,
            "patch_size": CHANNELS,
            "in_channels": CHANNELS,
            "embed_dim": CHANNELS,
            "depth": CHANNELS,
            "num_heads": CHANNELS,
            "mlp_ratio": POSITIVE_REAL,
            "drop_path": _DROP_PATH,
        }
    )
    def __init__(
        self,
        image_size=32,
        patch_size=8,
        in_channels=3,
        embed_dim=384,
        depth=12,
        num_heads=6,
        mlp_ratio=4.0,
        drop_path=0.0,
    ):
        super().__init__()
        image_size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        if any(side % patch_size for side in image_size):
            raise InvalidParameterError(
                f"image_size {image_size} must have sides that are multiples of "
                f"patch_size={patch_size}"
            )
        if embed_dim % num_heads:
            raise InvalidParameterError(
                f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}"
            )

        self.patch_size = patch_size
        self.in_channels = in_channels
        self.grid_size = (image_size[0] // patch_size, image_size[1] // patch_size)
        self.out_features = embed_dim
        self.patch_embed = _PatchEmbed(in_channels, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, 1 + self.grid_size[0] * self.grid_size[1], embed_dim)
        )
        rates = [
            drop_path * i / max(depth - 1, 1) for i in range(depth)
        ]  # linear from 0, as in DINO
        self.blocks = nn.ModuleList(_Block(embed_dim, num_heads, mlp_ratio, rate) for rate in rates)
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6)

        for p in (self.pos_embed, self.cls_token, self.mask_token):
            nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def interpolate_pos_encoding(self, height, width):
        """Position embeddings for images of ``height`` x ``width`` pixels.

        The CLS position is kept; the patch positions, seen as an image on
        the patch grid of ``image_size``, are resized bicubically to the
        patch grid of the input (unchanged when the grids agree).

        Parameters
        ----------
        height, width : int
            Input image size; multiples of ``patch_size``.

        Returns
        -------
        torch.Tensor of shape (1, 1 + n_patches, embed_dim)
            With ``n_patches = (height // patch_size) * (width // patch_size)``.

        Examples
        --------
        >>> net = VisionTransformer(image_size=32, patch_size=8, embed_dim=64, depth=1, num_heads=4)
        >>> net.interpolate_pos_encoding(16, 24).shape  # 2 x 3 patches + CLS
        torch.Size([1, 7, 64])
        """
        grid = (height // self.patch_size, width // self.patch_size)
        if grid == self.grid_size:
            return self.pos_embed
        cls_pos, patch_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        patch_pos = patch_pos.reshape(1, *self.grid_size, -1).permute(0, 3, 1, 2)
        patch_pos = F.interpolate(patch_pos, size=grid, mode="bicubic", align_corners=False)
        return torch.cat((cls_pos, patch_pos.flatten(2).transpose(1, 2)), dim=1)

    def _check_input(self, x):
        if not isinstance(x, torch.Tensor) or x.ndim != 4:
            got = f"shape {tuple(x.shape)}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"VisionTransformer expects images of shape (B, C, H, W), got {got}")
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"VisionTransformer was built for {self.in_channels} input channels, got images "
                f"of shape "
                f"{tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"image height and width must be multiples of patch_size={self.patch_size}, got "
                f"{H}x{W}; "
                f"crop or resize the images, or use a patch size that divides both"
            )

    def forward_tokens(self, x, mask=None):
        """All output tokens: the CLS token followed by one token per patch.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            Images; ``H`` and ``W`` multiples of ``patch_size``.
        mask : torch.Tensor of bool, shape (B, n_patches) or (B, H // p, W // p), optional
            Patches to mask (True), in row-major order of the patch grid. Their
            patch embeddings are replaced by ``mask_token`` before the position
            embeddings are added, as in iBOT's masked image modelling; their
            pixels then have no influence on the output.

        Returns
        -------
        torch.Tensor of shape (B, 1 + n_patches, embed_dim)
            Tokens after the final LayerNorm, CLS token first.

        Raises
        ------
        ValueError
            If ``x`` is not a batch of images with ``in_channels`` channels and
            sides that are multiples of ``patch_size``, or ``mask`` is not a
            boolean tensor matching the batch and patch grid.

        Examples
        --------
        >>> import torch
        >>> net = VisionTransformer(image_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2)
        >>> mask = torch.rand(3, 4, 4) < 0.5  # per-sample patch masks on the 4 x 4 grid
        >>> net.forward_tokens(torch.randn(3, 3, 16, 16), mask=mask).shape
        torch.Size([3, 17, 32])
        """
        self._check_input(x)
        B, _, H, W = x.shape
        tokens = self.patch_embed(x)  # (B, n_patches, D)
        if mask is not None:
            n_patches = tokens.shape[1]
            if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
                raise ValueError(
                    f"mask must be a boolean tensor, got "
                    f"{getattr(mask, 'dtype', type(mask).__name__)}"
                )
            if mask.shape not in ((B, n_patches), (B, H // self.patch_size, W // self.patch_size)):
                raise ValueError(
                    f"mask must have shape (B, n_patches) = {(B, n_patches)} or (B, h, w) = "
                    f"{(B, H // self.patch_size, W // self.patch_size)} for images of shape "
                    f"{tuple(x.shape)}, "
                    f"got {tuple(mask.shape)}"
                )
            mask = mask.reshape(B, n_patches, 1).to(tokens.device)
            tokens = torch.where(mask, self.mask_token, tokens)
        # Under autocast the patch tokens are low precision; where/cat/+ promote them to
        # the parameters' dtype, which is what DINO does (the residual stream stays float32).
        tokens = torch.cat((self.cls_token.expand(B, -1, -1), tokens), dim=1)
        tokens = tokens + self.interpolate_pos_encoding(H, W)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def feature_map(self, x):
        """The patch tokens as a map ``(B, embed_dim, H // patch_size, W // patch_size)``."""
        patches = self.forward_tokens(x)[:, 1:]
        grid = (x.shape[2] // self.patch_size, x.shape[3] // self.patch_size)
        return patches.transpose(1, 2).reshape(len(x), -1, *grid)

    def forward_visible(self, x, keep):
        """The CLS token and the tokens of the kept patches only (MAE's encoder).

        The patches not in ``keep`` are dropped before the transformer blocks,
        so they cost nothing and have no influence on the output.

        Parameters
        ----------
        x : torch.Tensor of shape (B, C, H, W)
            Images; ``H`` and ``W`` multiples of ``patch_size``.
        keep : torch.Tensor of int64, shape (B, n_keep)
            Indices of the visible patches, in row-major order of the patch
            grid, for each image.

        Returns
        -------
        torch.Tensor of shape (B, 1 + n_keep, embed_dim)
            Tokens after the final LayerNorm, CLS token first, then the kept
            patches in the order of ``keep``.

        Examples
        --------
        >>> import torch
        >>> net = VisionTransformer(image_size=16, patch_size=4, embed_dim=32, depth=1, num_heads=2)
        >>> keep = torch.rand(3, 16).argsort(1)[:, :4]  # a random quarter of the patches
        >>> net.forward_visible(torch.randn(3, 3, 16, 16), keep).shape
        torch.Size([3, 5, 32])
        """
        self._check_input(x)
        B, _, H, W = x.shape
        position = self.interpolate_pos_encoding(H, W)
        tokens = self.patch_embed(x) + position[:, 1:]
        index = keep.to(tokens.device)[..., None].expand(-1, -1, tokens.shape[-1])
        tokens = torch.gather(tokens, 1, index)
        cls = (self.cls_token + position[:, :1]).expand(B, -1, -1)
        tokens = torch.cat((cls, tokens), dim=1)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, x):
        """Map images ``(B, C, H, W)`` to their CLS token embeddings ``(B, embed_dim)``."""
        return self.forward_tokens(x)[:, 0]


def _vit(embed_dim, depth, num_heads, in_channels, patch_size, image_size, drop_path):
    return VisionTransformer(
        image_size=image_size,
        patch_size=patch_size,
        in_channels=in_channels,
        embed_dim=embed_dim,
        depth=depth,
        num_heads=num_heads,
        drop_path=drop_path,
    )


@validate_params(
    {
        name: VisionTransformer.__init__._parameter_constraints[name]
        for name in ("in_channels", "patch_size", "image_size", "drop_path")
    }
)
def vit_tiny(in_channels=3, *, patch_size=8, image_size=32, drop_path=0.0):
    """ViT-Tiny: width 192, 12 blocks, 3 heads (DeiT-Ti).

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    patch_size : int, default=8
        Side of the square patches.
    image_size : int or (int, int), default=32
        Image size the position embeddings are built for; other sizes that
        are multiples of ``patch_size`` are interpolated.
    drop_path : float, default=0.0
        Stochastic depth rate of the last block, see :class:`VisionTransformer`.

    Returns
    -------
    VisionTransformer
        The backbone, 192 output features.

    Examples
    --------
    >>> import torch
    >>> net = vit_tiny(in_channels=1, patch_size=8)
    >>> net(torch.randn(2, 1, 32, 32)).shape
    torch.Size([2, 192])
    """
    return _vit(192, 12, 3, in_channels, patch_size, image_size, drop_path)


@validate_params(
    {
        name: VisionTransformer.__init__._parameter_constraints[name]
        for name in ("in_channels", "patch_size", "image_size", "drop_path")
    }
)
def vit_small(in_channels=3, *, patch_size=8, image_size=32, drop_path=0.0):
    """ViT-Small: width 384, 12 blocks, 6 heads (the DINO ViT-S).

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    patch_size : int, default=8
        Side of the square patches.
    image_size : int or (int, int), default=32
        Image size the position embeddings are built for; other sizes that
        are multiples of ``patch_size`` are interpolated.
    drop_path : float, default=0.0
        Stochastic depth rate of the last block, see :class:`VisionTransformer`.

    Returns
    -------
    VisionTransformer
        The backbone, 384 output features (21,665,664 parameters plus the 384
        of the mask token for ViT-S/16 at 224 px, 3 channels).

    Examples
    --------
    >>> vit_small(patch_size=16, image_size=224).out_features
    384
    """
    return _vit(384, 12, 6, in_channels, patch_size, image_size, drop_path)


@validate_params(
    {
        name: VisionTransformer.__init__._parameter_constraints[name]
        for name in ("in_channels", "patch_size", "image_size", "drop_path")
    }
)
def vit_base(in_channels=3, *, patch_size=8, image_size=32, drop_path=0.0):
    """ViT-Base: width 768, 12 blocks, 12 heads.

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    patch_size : int, default=8
        Side of the square patches.
    image_size : int or (int, int), default=32
        Image size the position embeddings are built for; other sizes that
        are multiples of ``patch_size`` are interpolated.
    drop_path : float, default=0.0
        Stochastic depth rate of the last block, see :class:`VisionTransformer`.

    Returns
    -------
    VisionTransformer
        The backbone, 768 output features (85,798,656 parameters plus the 768
        of the mask token for ViT-B/16 at 224 px, 3 channels).

    Examples
    --------
    >>> import torch
    >>> with torch.device("meta"):  # build without allocating or initialising weights
    ...     net = vit_base(patch_size=16, image_size=224)
    >>> net.out_features, net.grid_size
    (768, (14, 14))
    """
    return _vit(768, 12, 12, in_channels, patch_size, image_size, drop_path)
