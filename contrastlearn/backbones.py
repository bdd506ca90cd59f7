"""Backbones: encoders that map images (or flat vectors) to representation vectors.

Every backbone in this module is a :class:`torch.nn.Module` that maps a float
batch of images ``(B, C, H, W)`` -- or of vectors ``(B, F)`` for :class:`MLP` --
to a batch of representations ``(B, D)``, and stores ``D`` in the integer
attribute ``out_features``. Contrastive learners put a projection head on top
of this representation during training and keep the representation itself for
downstream tasks.

Contents
--------
SmallCNN
    Four-stage convolutional encoder, fast on CPU, for small images (8 px up).
MLP
    Fully connected encoder for flat vector inputs.
ResNet, resnet18, resnet34, resnet50
    ResNet trunks (He et al. 2016) without the classification layer, with the
    torchvision ("imagenet") stem, the SimCLR CIFAR ("small") stem or the
    ResNet-D / SimCLR v2 ("deep") stem, 1x1-convolution or ResNet-D
    average-pooling projection shortcuts, and optional squeeze-and-excitation
    (:class:`SqueezeExcitation`) and/or selective-kernel
    (:class:`SelectiveKernelConv`) attention. ``make_backbone("cplr_resnet18")``
    is the SimCLR v2 ResNet-18 of the contrastive projection learning study
    (Zimmermann et al. 2023).
VisionTransformer, vit_tiny, vit_small, vit_base
    Vision Transformers (Dosovitskiy et al. 2021) as used by DINO and iBOT:
    any patch size, any input size that is a multiple of it (position
    embeddings are interpolated, so one network takes global and local
    crops), the CLS token as representation, all tokens and patch masking
    for masked image modelling through
    :meth:`VisionTransformer.forward_tokens`.
make_backbone, BACKBONE_NAMES
    Build a backbone from its name.
embedding_dim
    Output size of any backbone, user-written modules included.
"""

import math
import numbers
import re
from itertools import chain

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "BACKBONE_NAMES",
    "MLP",
    "ResNet",
    "SelectiveKernelConv",
    "SmallCNN",
    "SqueezeExcitation",
    "VisionTransformer",
    "embedding_dim",
    "is_backbone_name",
    "make_backbone",
    "resnet18",
    "resnet34",
    "resnet50",
    "vit_base",
    "vit_small",
    "vit_tiny",
]


def _conv_bn(in_channels, out_channels, kernel_size, stride=1, dilation=1, relu=True):
    """Bias-free convolution + BatchNorm (+ ReLU), padded to keep "same" size at stride 1."""
    layers = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _positive_real(value, name):
    """``value`` as a float after checking that it is a finite real number > 0."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _init_weights(module):
    """Kaiming-normal (fan_out, ReLU) convolutions with zero bias; BatchNorm weight 1, bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SmallCNN(nn.Module):
    """Small convolutional encoder, fast on CPU.

    A 3x3 convolution of stride ``stem_stride`` to ``widths[0]`` channels, then
    one 3x3 stride-2 convolution per further width (each followed by BatchNorm
    and ReLU), then global average pooling. Works for any image size of at
    least 1 pixel.

    Parameters
    ----------
    in_channels : int, default=1
        Number of input channels.
    widths : sequence of int, default=(32, 64, 128, 256)
        Output channels of the successive convolutions (about 390k parameters
        at the default).
    stem_stride : int, default=2
        Stride of the first convolution. 2 halves the resolution at once
        (about 5x faster at 64x64 on a CPU); 1 keeps full resolution in the
        first layer, better for images below 32 px (backbone name
        ``"small_cnn_small"``).

    Attributes
    ----------
    out_features : int
        Size of the output vector, ``widths[-1]``.

    Examples
    --------
    >>> import torch
    >>> net = SmallCNN(in_channels=1)
    >>> net(torch.randn(4, 1, 8, 8)).shape
    torch.Size([4, 256])
    """

    def __init__(self, in_channels=1, widths=(32, 64, 128, 256), stem_stride=2):
        super().__init__()
        widths = tuple(widths)
        if not widths:
            raise ValueError("widths must contain at least one width")
        layers = [_conv_bn(in_channels, widths[0], 3, stride=stem_stride)]
        layers += [_conv_bn(a, b, 3, stride=2) for a, b in zip(widths, widths[1:])]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = widths[-1]
        _init_weights(self)

    def forward(self, x):
        """Map images ``(B, C, H, W)`` to features ``(B, out_features)``."""
        return self.features(x)


class MLP(nn.Module):
    """Fully connected encoder for flat vector inputs ``(B, F)``.

    Each hidden width is a Linear layer followed by BatchNorm1d and ReLU.

    Parameters
    ----------
    in_features : int
        Size ``F`` of the input vectors.
    hidden : sequence of int, default=(256, 256)
        Widths of the hidden layers.

    Attributes
    ----------
    out_features : int
        Size of the output vector, ``hidden[-1]``.

    Examples
    --------
    >>> import torch
    >>> net = MLP(in_features=20, hidden=(64, 32))
    >>> net(torch.randn(8, 20)).shape
    torch.Size([8, 32])
    """

    def __init__(self, in_features, hidden=(256, 256)):
        super().__init__()
        hidden = tuple(hidden)
        if not hidden:
            raise ValueError("hidden must contain at least one width")
        widths = (in_features,) + hidden
        self.layers = nn.Sequential(
            *chain.from_iterable(
                (nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True))
                for a, b in zip(widths, widths[1:])
            )
        )
        self.out_features = hidden[-1]

    def forward(self, x):
        """Map vectors ``(B, in_features)`` to features ``(B, out_features)``."""
        return self.layers(x)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-excitation channel gate (Hu et al. 2018).

    Global average pooling, a bottleneck of two fully connected layers
    (implemented as 1x1 convolutions, with biases) with a ReLU between them,
    and a sigmoid give one gate in (0, 1) per sample and channel; the input is
    multiplied by it.

    Parameters
    ----------
    channels : int
        Number of input (and output) channels.
    reduction : int, optional
        Ratio between ``channels`` and the bottleneck width: the width is
        ``max(channels // reduction, 1)``. The default, used when ``ratio``
        is not given either, is 16.
    ratio : float, optional
        Bottleneck width as a fraction of ``channels``: the width is
        ``max(1, int(channels * ratio))``, as ``se_ratio`` in SimCLR v2
        (which uses 0.25). Give either ``reduction`` or ``ratio``, not both;
        ``ratio=1/16`` and ``reduction=16`` build the same layer.

    Attributes
    ----------
    hidden_channels : int
        The bottleneck width.

    Raises
    ------
    TypeError
        If ``reduction`` is not an int or ``ratio`` not a real number.
    ValueError
        If both are given, or either is not positive.

    Examples
    --------
    >>> import torch
    >>> se = SqueezeExcitation(64)
    >>> x = torch.randn(2, 64, 8, 8)
    >>> se.gate(x).shape
    torch.Size([2, 64, 1, 1])
    >>> torch.allclose(se(x), x * se.gate(x))
    True
    >>> se.hidden_channels, SqueezeExcitation(64, ratio=0.25).hidden_channels
    (4, 16)
    """

    def __init__(self, channels, reduction=None, *, ratio=None):
        super().__init__()
        if reduction is not None and ratio is not None:
            raise ValueError(
                f"give either reduction or ratio, not both (got reduction={reduction!r}, ratio={ratio!r})"
            )
        if ratio is not None:
            hidden = max(1, int(channels * _positive_real(ratio, "ratio")))
        else:
            reduction = 16 if reduction is None else reduction
            if not isinstance(reduction, numbers.Integral) or isinstance(reduction, bool):
                raise TypeError(f"reduction must be an int, got {type(reduction).__name__}")
            if reduction < 1:
                raise ValueError(f"reduction must be at least 1, got {reduction!r}")
            hidden = max(channels // int(reduction), 1)
        self.hidden_channels = hidden
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x):
        """Scale each channel of ``x`` by its gate."""
        return x * self.gate(x)


class SelectiveKernelConv(nn.Module):
    """Selective-kernel convolution unit (Li et al. 2019, SKNet), two branches.

    *Split*: a 3x3 convolution and a 3x3 convolution with dilation 2 (a 5x5
    receptive field), each followed by BatchNorm and ReLU. *Fuse*: the branch
    outputs are summed, globally average pooled and reduced by a fully
    connected layer (with BatchNorm and ReLU) to ``max(out_channels //
    reduction, min_dim)`` dimensions. *Select*: a fully connected layer gives
    one logit per branch and channel, a softmax over the branches turns them
    into weights, and the output is the weighted sum of the branches.

    Parameters
    ----------
    in_channels : int
        Number of input channels.
    out_channels : int
        Number of output channels.
    stride : int, default=1
        Stride of both branch convolutions.
    reduction : int, default=16
        Ratio between ``out_channels`` and the fused descriptor size.
    min_dim : int, default=32
        Lower bound on the fused descriptor size.

    Examples
    --------
    >>> import torch
    >>> sk = SelectiveKernelConv(16, 32, stride=2)
    >>> x = torch.randn(2, 16, 8, 8)
    >>> sk(x).shape
    torch.Size([2, 32, 4, 4])
    >>> sk.branch_weights(x).shape  # (B, branches, C, 1, 1), summing to 1 over branches
    torch.Size([2, 2, 32, 1, 1])
    """

    def __init__(self, in_channels, out_channels, stride=1, reduction=16, min_dim=32):
        super().__init__()
        self.branches = nn.ModuleList(
            _conv_bn(in_channels, out_channels, 3, stride=stride, dilation=d) for d in (1, 2)
        )
        hidden = max(out_channels // reduction, min_dim)
        self.fuse = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(out_channels, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
        )
        self.select = nn.Conv2d(hidden, out_channels * len(self.branches), 1)

    def _split(self, x):
        return torch.stack([branch(x) for branch in self.branches], dim=1)  # (B, M, C, H, W)

    def _weights(self, feats):
        logits = self.select(self.fuse(feats.sum(dim=1)))  # (B, M * C, 1, 1)
        return logits.unflatten(1, (feats.shape[1], feats.shape[2])).softmax(dim=1)

    def branch_weights(self, x):
        """Return the branch weights ``(B, 2, out_channels, 1, 1)`` for input ``x``."""
        return self._weights(self._split(x))

    def forward(self, x):
        """Return the attention-weighted sum of the two branches."""
        feats = self._split(x)
        return (feats * self._weights(feats)).sum(dim=1)


class _MaxPool2dSame(nn.Module):
    """Max pooling with TensorFlow's ``padding='SAME'``.

    The output has ``ceil(H / stride)`` rows; the padding needed for that is
    split with the extra row (or column) at the end, so for an even input at
    stride 2 the windows start at row 0 -- unlike ``nn.MaxPool2d(3, 2, 1)``,
    whose windows start at row -1. Padded elements never win the maximum.
    """

    def __init__(self, kernel_size, stride):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}"

    def forward(self, x):
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: last dimension first
            total = max((-(-size // self.stride) - 1) * self.stride + self.kernel_size - size, 0)
            pads += [total // 2, total - total // 2]
        x = F.pad(x, pads, value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride)


class _AvgPoolShortcut(nn.Module):
    """2x2 average pooling of a ResNet-D shortcut, as in SimCLR v2 (TensorFlow).

    Stride 1: TensorFlow ``'SAME'`` pooling, which pads one row and column at
    the end and averages over the valid elements only; padding by replicating
    the last row and column, then averaging all four, gives the same values.
    Stride 2: zero padding of one row and column at the end (SimCLR's
    ``FixedPadding(2)``), then ``'VALID'`` pooling; the zeros count in the
    average, and are only reached for odd sizes.
    """

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def extra_repr(self):
        return f"stride={self.stride}"

    def forward(self, x):
        x = F.pad(x, (0, 1, 0, 1), mode="replicate" if self.stride == 1 else "constant")
        return F.avg_pool2d(x, 2, self.stride)


_ATTENTION_KINDS = (None, "se", "sk", "se+sk")


class _ResidualBlock(nn.Module):
    """ResNet basic (two 3x3) or bottleneck (1x1, 3x3, 1x1 with 4x expansion) block.

    The stride sits on the (first) 3x3 convolution, as in torchvision
    ("ResNet v1.5"). With ``attention="sk"`` that 3x3 convolution is a
    :class:`SelectiveKernelConv`; with ``attention="se"`` a
    :class:`SqueezeExcitation` (bottleneck ``se_ratio`` times the block's
    output channels) scales the residual branch, after its last BatchNorm and
    before the addition; ``"se+sk"`` does both.

    The shortcut is the identity unless ``project`` is true, or the stride or
    channel count changes; a projection is a 1x1 convolution at the block's
    stride (``shortcut="conv"``) or, ResNet-D style, 2x2 average pooling at
    that stride followed by a 1x1 convolution (``shortcut="avgpool"``), then
    BatchNorm.
    """

    def __init__(
        self, in_channels, planes, stride, bottleneck, attention, se_ratio=1 / 16, shortcut="conv", project=False
    ):
        super().__init__()
        out_channels = planes * (4 if bottleneck else 1)
        spatial_in = planes if bottleneck else in_channels
        if attention in ("sk", "se+sk"):
            spatial = SelectiveKernelConv(spatial_in, planes, stride)
        else:
            spatial = _conv_bn(spatial_in, planes, 3, stride)
        if bottleneck:
            layers = [_conv_bn(in_channels, planes, 1), spatial, _conv_bn(planes, out_channels, 1, relu=False)]
        else:
            layers = [spatial, _conv_bn(planes, planes, 3, relu=False)]
        if attention in ("se", "se+sk"):
            layers.append(SqueezeExcitation(out_channels, ratio=se_ratio))
        self.residual = nn.Sequential(*layers)
        if not (project or stride != 1 or in_channels != out_channels):
            self.shortcut = nn.Identity()
        elif shortcut == "avgpool":
            self.shortcut = nn.Sequential(
                _AvgPoolShortcut(stride), *_conv_bn(in_channels, out_channels, 1, relu=False)
            )
        else:
            self.shortcut = _conv_bn(in_channels, out_channels, 1, stride, relu=False)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.residual(x) + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet trunk (He et al. 2016) without the classification layer.

    Stem, four (or ``len(layers)``) stages of residual blocks with
    ``width * 2**i`` planes (the first stage at stride 1, the others halving
    the spatial size), then global average pooling. With the defaults the
    architecture matches torchvision's ``resnet*`` minus ``fc``; with
    ``stem="deep", shortcut="avgpool"`` it has the ResNet-D stem and
    shortcuts of SimCLR v2 (Chen et al. 2020), whose SE ResNet-18 is
    ``make_backbone("cplr_resnet18")``, layer for layer. (SimCLR v2's
    bottleneck blocks size the SE gate from the planes instead of the output
    channels, so its ``se_ratio`` r is ``se_ratio=r / 4`` here, and its
    selective kernel uses two undilated 3x3 convolutions.) Any spatial size
    works: stages reaching 1x1 simply stay there.

    Parameters
    ----------
    block : {"basic", "bottleneck"}
        Residual block type: two 3x3 convolutions, or 1x1-3x3-1x1 with a
        four-fold channel expansion.
    layers : sequence of int
        Number of blocks per stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
    in_channels : int, default=3
        Number of input channels.
    attention : {None, "se", "sk", "se+sk"}, default=None
        ``"se"`` adds a :class:`SqueezeExcitation` gate to each block's
        residual branch, after its last BatchNorm and before the addition;
        ``"sk"`` replaces each block's 3x3 convolution by a
        :class:`SelectiveKernelConv`; ``"se+sk"`` does both.
    stem : {"imagenet", "small", "deep"}, default="imagenet"
        ``"imagenet"``: 7x7 stride-2 convolution and 3x3 stride-2 max pooling
        (4x downsampling, as in torchvision). ``"small"``: a single 3x3
        stride-1 convolution and no pooling (the SimCLR CIFAR variant, for
        images of 32 px or less). ``"deep"``: the ResNet-D stem of SimCLR v2,
        three 3x3 convolutions to ``width // 2``, ``width // 2`` and ``width``
        channels (the first at stride 2), each with BatchNorm and ReLU, then
        3x3 stride-2 max pooling with TensorFlow ``'SAME'`` padding (also 4x
        downsampling: 224 -> 112 -> 56 px).
    width : int, default=64
        Number of stem channels and of planes in the first stage.
    se_ratio : float, default=1/16
        Bottleneck width of the squeeze-and-excitation gates as a fraction of
        the block's output channels, see :class:`SqueezeExcitation`. Used by
        ``attention="se"`` and ``"se+sk"`` only. SimCLR v2 uses 0.25.
    shortcut : {"conv", "avgpool"}, default="conv"
        ``"conv"``: a block whose stride or channel count changes gets a 1x1
        convolution at its stride plus BatchNorm as shortcut; the others the
        identity. ``"avgpool"``: the ResNet-D shortcut of SimCLR v2: the first
        block of every stage (the first stage's included) projects, by 2x2
        average pooling at the block's stride, then a 1x1 convolution and
        BatchNorm; the other blocks keep the identity.

    Attributes
    ----------
    out_features : int
        Size of the output vector: ``width * 2**(len(layers) - 1)``, times 4
        for bottleneck blocks (512 for ResNet-18/34, 2048 for ResNet-50).

    Raises
    ------
    ValueError
        If an argument is not one of the values listed, ``layers`` is empty or
        holds a count below 1, ``width`` is below 1 (2 for the deep stem), or
        ``se_ratio`` is not positive.
    TypeError
        If ``se_ratio`` is not a real number.

    Examples
    --------
    >>> import torch
    >>> net = ResNet("basic", (1, 1), in_channels=1, stem="small", width=16)
    >>> net.out_features
    32
    >>> net(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 32])
    >>> net = ResNet("basic", (1, 1), 1, attention="se+sk", stem="deep", width=16, shortcut="avgpool")
    >>> net.stem(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2, 16, 16, 16])
    """

    def __init__(
        self,
        block,
        layers,
        in_channels=3,
        attention=None,
        stem="imagenet",
        width=64,
        *,
        se_ratio=1 / 16,
        shortcut="conv",
    ):
        super().__init__()
        if block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        if attention not in _ATTENTION_KINDS:
            raise ValueError(f"attention must be None, 'se', 'sk' or 'se+sk', got {attention!r}")
        if shortcut not in ("conv", "avgpool"):
            raise ValueError(f"shortcut must be 'conv' or 'avgpool', got {shortcut!r}")
        se_ratio = _positive_real(se_ratio, "se_ratio")
        layers = tuple(layers)
        if not layers or any(n < 1 for n in layers):
            raise ValueError(f"layers must be a non-empty sequence of positive block counts, got {layers!r}")
        min_width = 2 if stem == "deep" else 1
        if not isinstance(width, numbers.Integral) or isinstance(width, bool) or width < min_width:
            raise ValueError(f"width must be an int of at least {min_width} for stem={stem!r}, got {width!r}")
        if stem == "imagenet":
            self.stem = nn.Sequential(
                _conv_bn(in_channels, width, 7, stride=2), nn.MaxPool2d(3, stride=2, padding=1)
            )
        elif stem == "small":
            self.stem = _conv_bn(in_channels, width, 3)
        elif stem == "deep":
            self.stem = nn.Sequential(
                _conv_bn(in_channels, width // 2, 3, stride=2),
                _conv_bn(width // 2, width // 2, 3),
                _conv_bn(width // 2, width, 3),
                _MaxPool2dSame(3, stride=2),
            )
        else:
            raise ValueError(f"stem must be 'imagenet', 'small' or 'deep', got {stem!r}")

        bottleneck = block == "bottleneck"
        stages, channels = [], width
        for i, n_blocks in enumerate(layers):
            planes = width * 2**i
            blocks = []
            for j in range(n_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                project = shortcut == "avgpool" and j == 0
                blocks.append(
                    _ResidualBlock(channels, planes, stride, bottleneck, attention, se_ratio, shortcut, project)
                )
                channels = planes * (4 if bottleneck else 1)
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = channels

        _init_weights(self)
        # Zero-init the last BatchNorm gamma of each residual branch so that
        # every block starts as the identity (Goyal et al. 2017), which helps
        # large-batch contrastive training.
        for m in self.modules():
            if isinstance(m, _ResidualBlock):
                last_bn = [b for b in m.residual.modules() if isinstance(b, nn.BatchNorm2d)][-1]
                nn.init.zeros_(last_bn.weight)

    def forward(self, x):
        """Map images ``(B, C, H, W)`` to features ``(B, out_features)``."""
        return self.pool(self.stages(self.stem(x)))


def resnet18(in_channels=3, *, attention=None, stem="imagenet", se_ratio=1 / 16, shortcut="conv"):
    """ResNet-18 trunk: basic blocks, layers (2, 2, 2, 2), 512 output features.

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    attention : {None, "se", "sk", "se+sk"}, default=None
        Optional block attention, see :class:`ResNet`.
    stem : {"imagenet", "small", "deep"}, default="imagenet"
        Stem type, see :class:`ResNet`.
    se_ratio : float, default=1/16
        Squeeze-and-excitation bottleneck ratio, see :class:`ResNet`.
    shortcut : {"conv", "avgpool"}, default="conv"
        Projection shortcut type, see :class:`ResNet`.

    Returns
    -------
    ResNet
        The backbone (11,176,512 parameters for 3 channels, no attention).

    Examples
    --------
    >>> import torch
    >>> net = resnet18(in_channels=1, stem="small")
    >>> net(torch.randn(2, 1, 16, 16)).shape
    torch.Size([2, 512])
    >>> # The SimCLR v2 ResNet-18 of the CPLR study (make_backbone("cplr_resnet18", 1))
    >>> net = resnet18(1, attention="se", se_ratio=0.25, stem="deep", shortcut="avgpool")
    >>> net(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2, 512])
    """
    return ResNet(
        "basic", (2, 2, 2, 2), in_channels, attention=attention, stem=stem, se_ratio=se_ratio, shortcut=shortcut
    )


def resnet34(in_channels=3, *, attention=None, stem="imagenet", se_ratio=1 / 16, shortcut="conv"):
    """ResNet-34 trunk: basic blocks, layers (3, 4, 6, 3), 512 output features.

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    attention : {None, "se", "sk", "se+sk"}, default=None
        Optional block attention, see :class:`ResNet`.
    stem : {"imagenet", "small", "deep"}, default="imagenet"
        Stem type, see :class:`ResNet`.
    se_ratio : float, default=1/16
        Squeeze-and-excitation bottleneck ratio, see :class:`ResNet`.
    shortcut : {"conv", "avgpool"}, default="conv"
        Projection shortcut type, see :class:`ResNet`.

    Returns
    -------
    ResNet
        The backbone.

    Examples
    --------
    >>> resnet34(attention="se").out_features
    512
    """
    return ResNet(
        "basic", (3, 4, 6, 3), in_channels, attention=attention, stem=stem, se_ratio=se_ratio, shortcut=shortcut
    )


def resnet50(in_channels=3, *, attention=None, stem="imagenet", se_ratio=1 / 16, shortcut="conv"):
    """ResNet-50 trunk: bottleneck blocks, layers (3, 4, 6, 3), 2048 output features.

    Parameters
    ----------
    in_channels : int, default=3
        Number of input channels.
    attention : {None, "se", "sk", "se+sk"}, default=None
        Optional block attention, see :class:`ResNet`.
    stem : {"imagenet", "small", "deep"}, default="imagenet"
        Stem type, see :class:`ResNet`.
    se_ratio : float, default=1/16
        Squeeze-and-excitation bottleneck ratio, see :class:`ResNet`.
    shortcut : {"conv", "avgpool"}, default="conv"
        Projection shortcut type, see :class:`ResNet`.

    Returns
    -------
    ResNet
        The backbone (23,508,032 parameters for 3 channels, no attention).

    Examples
    --------
    >>> import torch
    >>> net = resnet50(in_channels=3)
    >>> net(torch.randn(2, 3, 32, 32)).shape
    torch.Size([2, 2048])
    """
    return ResNet(
        "bottleneck", (3, 4, 6, 3), in_channels, attention=attention, stem=stem, se_ratio=se_ratio, shortcut=shortcut
    )


def _pair(value, name):
    """``value`` as a pair of positive ints ``(H, W)``; an int ``n`` gives ``(n, n)``."""
    pair = (value, value) if isinstance(value, int) else tuple(value) if isinstance(value, (tuple, list)) else None
    if (
        pair is None
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in pair)
    ):
        raise ValueError(f"{name} must be a positive int or a pair (H, W) of positive ints, got {value!r}")
    return pair


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
        q, k, v = self.qkv(x).reshape(B, N, 3, self.num_heads, D // self.num_heads).permute(2, 0, 3, 1, 4)
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
        for value, name in ((patch_size, "patch_size"), (in_channels, "in_channels"),
                            (embed_dim, "embed_dim"), (depth, "depth"), (num_heads, "num_heads")):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        image_size = _pair(image_size, "image_size")
        if any(side % patch_size for side in image_size):
            raise ValueError(
                f"image_size {image_size} must have sides that are multiples of patch_size={patch_size}"
            )
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} must be divisible by num_heads={num_heads}")
        if not mlp_ratio > 0:
            raise ValueError(f"mlp_ratio must be positive, got {mlp_ratio!r}")
        if not 0.0 <= drop_path < 1.0:
            raise ValueError(f"drop_path must be in [0, 1), got {drop_path!r}")

        self.patch_size = patch_size
        self.in_channels = in_channels
        self.grid_size = (image_size[0] // patch_size, image_size[1] // patch_size)
        self.out_features = embed_dim
        self.patch_embed = _PatchEmbed(in_channels, embed_dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid_size[0] * self.grid_size[1], embed_dim))
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]  # linear from 0, as in DINO
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
                f"VisionTransformer was built for {self.in_channels} input channels, got images of shape "
                f"{tuple(x.shape)}"
            )
        H, W = x.shape[-2:]
        if H % self.patch_size or W % self.patch_size:
            raise ValueError(
                f"image height and width must be multiples of patch_size={self.patch_size}, got {H}x{W}; "
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
                raise ValueError(f"mask must be a boolean tensor, got {getattr(mask, 'dtype', type(mask).__name__)}")
            if mask.shape not in ((B, n_patches), (B, H // self.patch_size, W // self.patch_size)):
                raise ValueError(
                    f"mask must have shape (B, n_patches) = {(B, n_patches)} or (B, h, w) = "
                    f"{(B, H // self.patch_size, W // self.patch_size)} for images of shape {tuple(x.shape)}, "
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


_RESNETS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
_ATTENTIONS = {"": None, "se_": "se", "sk_": "sk", "sesk_": "se+sk"}
# Name suffix -> stem and shortcut. "_small" (CIFAR stem) and "d" (ResNet-D) exclude each other.
_RESNET_SUFFIXES = {
    "": {"stem": "imagenet"},
    "_small": {"stem": "small"},
    "d": {"stem": "deep", "shortcut": "avgpool"},
}
# Named reference architectures: name -> (factory, keyword arguments).
_REFERENCE_RESNETS = {
    # The SimCLR v2 ResNet-18 of Zimmermann et al. 2023 (contrastive projection learning):
    # ResNet-D stem and shortcuts, squeeze-and-excitation with ratio 0.25 in every block.
    "cplr_resnet18": (resnet18, {"attention": "se", "se_ratio": 0.25, "stem": "deep", "shortcut": "avgpool"}),
}
_VITS = {"vit_tiny": vit_tiny, "vit_small": vit_small, "vit_base": vit_base}
_VIT_NAME = re.compile(r"(vit_tiny|vit_small|vit_base)(?:_p([1-9][0-9]*))?")

BACKBONE_NAMES = (
    ("small_cnn", "mlp")
    + tuple(p + r for p in _ATTENTIONS for r in _RESNETS)
    + tuple(_REFERENCE_RESNETS)
    + tuple(_VITS)
)
"""Base names accepted by :func:`make_backbone`. ``"small_cnn"`` and the resnets (not
``"cplr_resnet18"``) also take a ``"_small"`` suffix, the resnets a ``"d"`` suffix (ResNet-D:
``"resnet18d"``, ``"sesk_resnet50d"``), the ViTs a patch-size suffix ``"_p<k>"``."""

_RESNET_SPECS = {
    prefix + depth + suffix: (factory, {"attention": attention, **trunk})
    for prefix, attention in _ATTENTIONS.items()
    for depth, factory in _RESNETS.items()
    for suffix, trunk in _RESNET_SUFFIXES.items()
} | _REFERENCE_RESNETS


def _parse_vit_name(name):
    """``(factory, patch_size)`` for a ViT name such as ``"vit_small_p16"``, else None."""
    match = _VIT_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return None
    return _VITS[match[1]], int(match[2] or 8)


def is_backbone_name(name):
    """Whether :func:`make_backbone` knows ``name``.

    Parameters
    ----------
    name : object

    Returns
    -------
    bool

    Examples
    --------
    >>> is_backbone_name("sk_resnet34_small"), is_backbone_name("resnet19")
    (True, False)
    >>> is_backbone_name("sesk_resnet50d"), is_backbone_name("resnet18d_small")
    (True, False)
    >>> is_backbone_name("vit_small_p16"), is_backbone_name("vit_huge")
    (True, False)
    """
    return (
        name in ("small_cnn", "small_cnn_small", "mlp")
        or name in _RESNET_SPECS
        or _parse_vit_name(name) is not None
    )


def make_backbone(name, in_channels, *, n_features=None, image_size=None):
    """Build a backbone from its name.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONE_NAMES`: ``"small_cnn"``, ``"mlp"``,
        ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, their
        squeeze-and-excitation (``"se_resnet18"``, ...), selective-kernel
        (``"sk_resnet18"``, ...) and combined (``"sesk_resnet18"``, ...)
        variants, ``"cplr_resnet18"``, and the Vision Transformers
        ``"vit_tiny"``, ``"vit_small"``, ``"vit_base"``. Any of the 12 resnet
        names may end in ``"_small"`` (e.g. ``"se_resnet18_small"``) to use
        the 3x3 stride-1 stem without max pooling, for images of 32 px or
        less, or in ``"d"`` (e.g. ``"resnet18d"``, ``"sk_resnet50d"``) for
        ResNet-D as in SimCLR v2: the deep stem (three 3x3 convolutions) and
        average-pooling projection shortcuts in the first block of every
        stage (``stem="deep", shortcut="avgpool"``, see :class:`ResNet`);
        not both. ``"cplr_resnet18"`` is the SimCLR v2 ResNet-18 of the
        contrastive projection learning study (Zimmermann et al. 2023):
        ``"se_resnet18d"`` with squeeze-and-excitation ratio 0.25 instead of
        1/16 (11,550,528 parameters for 3 channels, 11,549,952 for 1).
        ``"small_cnn_small"`` is the small CNN with a stride-1 first layer.
        A ViT name may end in ``"_p<k>"`` for patch size ``k`` (e.g.
        ``"vit_small_p16"``, ``"vit_tiny_p4"``); the default is 8.
    in_channels : int
        Number of input image channels (ignored by ``"mlp"``).
    n_features : int, optional
        Size of the flat input vectors; required for ``"mlp"``, ignored
        otherwise.
    image_size : int or (int, int), optional
        Image size ``(H, W)`` the ViT position embeddings are built for
        (default 32; other multiples of the patch size are interpolated at
        run time). Ignored by the other backbones.

    Returns
    -------
    torch.nn.Module
        The backbone, with an integer ``out_features`` attribute.

    Raises
    ------
    ValueError
        If ``name`` is unknown, if ``name="mlp"`` and ``n_features`` is None,
        or if a ViT's ``image_size`` is not a multiple of its patch size.

    Examples
    --------
    >>> import torch
    >>> make_backbone("small_cnn", in_channels=1).out_features
    256
    >>> make_backbone("se_resnet18_small", in_channels=3).out_features
    512
    >>> net = make_backbone("cplr_resnet18", in_channels=1)
    >>> net.stem(torch.zeros(1, 1, 224, 224)).shape  # deep stem, 4x downsampling
    torch.Size([1, 64, 56, 56])
    >>> make_backbone("mlp", in_channels=1, n_features=64).out_features
    256
    >>> net = make_backbone("vit_tiny_p4", in_channels=1, image_size=16)
    >>> net.out_features, net.patch_size, net.grid_size
    (192, 4, (4, 4))
    """
    if name in ("small_cnn", "small_cnn_small"):
        return SmallCNN(in_channels, stem_stride=1 if name.endswith("_small") else 2)
    if name == "mlp":
        if n_features is None:
            raise ValueError("make_backbone('mlp', ...) needs n_features, the size of the flat input vectors")
        return MLP(n_features)
    vit = _parse_vit_name(name)
    if vit is not None:
        factory, patch_size = vit
        return factory(in_channels, patch_size=patch_size, image_size=32 if image_size is None else image_size)
    if name not in _RESNET_SPECS:
        raise ValueError(
            f"unknown backbone name {name!r}; valid names are {', '.join(BACKBONE_NAMES)} "
            "(small_cnn and the resnets other than cplr_resnet18 may also end in '_small', those "
            "resnets in 'd' for ResNet-D (e.g. 'se_resnet18d'), the vits in '_p<k>' for patch size k "
            "(e.g. 'vit_small_p16'))"
        )
    factory, kwargs = _RESNET_SPECS[name]
    return factory(in_channels, **kwargs)


def embedding_dim(module, input_shape):
    """Return the size ``D`` of the vectors that a backbone outputs.

    Runs a batch of two all-zero samples through the module in eval mode
    under :func:`torch.no_grad` (on the device and dtype of its parameters)
    and restores every submodule's training flag afterwards; so a module
    that cannot take such samples is found before training.

    Parameters
    ----------
    module : torch.nn.Module
        The backbone, e.g. a user-written encoder.
    input_shape : int or tuple of int
        Shape of one input sample without the batch dimension, e.g.
        ``(C, H, W)`` for images or ``F`` for vectors.

    Returns
    -------
    int
        The output vector size ``D``.

    Raises
    ------
    TypeError
        If ``module`` is not a :class:`torch.nn.Module`.
    ValueError
        If the module fails on such input (e.g. it expects other channels),
        or does not return a 2-D ``(B, D)`` tensor.

    Examples
    --------
    >>> from torch import nn
    >>> embedding_dim(nn.Sequential(nn.Flatten(), nn.Linear(64, 7)), (1, 8, 8))
    7
    >>> embedding_dim(SmallCNN(3), (3, 32, 32))
    256
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"the backbone must be a torch.nn.Module, got {type(module).__name__}")
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    param = next(chain(module.parameters(), module.buffers()), None)
    like = {"device": param.device, "dtype": param.dtype} if param is not None and param.is_floating_point() else {}
    x = torch.zeros((2, *shape), **like)
    modes = [m.training for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except RuntimeError as error:
        raise ValueError(
            f"the backbone failed on a batch of shape {tuple(x.shape)} (two samples shaped "
            f"like those of X): {error}"
        ) from error
    finally:
        for m, mode in zip(module.modules(), modes):
            m.training = mode

    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        got = f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor) else f"a {type(out).__name__}"
        raise ValueError(
            f"the backbone returned {got} for an input of shape {tuple(x.shape)}; "
            "a backbone must map (B, C, H, W) images to (B, D) vectors"
        )
    return out.shape[1]
