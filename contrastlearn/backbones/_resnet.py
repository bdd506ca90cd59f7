"""The ResNet family, with squeeze-and-excitation and selective-kernel attention."""

import numbers

import torch
import torch.nn.functional as F
from torch import nn

from ..validation import Interval, InvalidParameterError, Options, check_parameter, validate_params
from ._common import CHANNELS, POSITIVE_REAL, WIDTHS, _conv_bn, _init_weights


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
    contrastlearn.validation.InvalidParameterError
        If both are given, or either is not a positive number of its kind.

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

    @validate_params(
        {"channels": CHANNELS, "reduction": [None, CHANNELS], "ratio": [None, POSITIVE_REAL]}
    )
    def __init__(self, channels, reduction=None, *, ratio=None):
        super().__init__()
        if reduction is not None and ratio is not None:
            raise InvalidParameterError(
                f"give either reduction or ratio, not both (got reduction={reduction!r}, "
                f"ratio={ratio!r})"
            )
        if ratio is not None:
            hidden = max(1, int(channels * float(ratio)))
        else:
            reduction = 16 if reduction is None else reduction
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

    @validate_params(
        {
            "in_channels": CHANNELS,
            "out_channels": CHANNELS,
            "stride": CHANNELS,
            "reduction": CHANNELS,
            "min_dim": CHANNELS,
        }
    )
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
        self,
        in_channels,
        planes,
        stride,
        bottleneck,
        attention,
        se_ratio=1 / 16,
        shortcut="conv",
        project=False,
    ):
        super().__init__()
        out_channels = planes * (4 if bottleneck else 1)
        spatial_in = planes if bottleneck else in_channels
        if attention in ("sk", "se+sk"):
            spatial = SelectiveKernelConv(spatial_in, planes, stride)
        else:
            spatial = _conv_bn(spatial_in, planes, 3, stride)
        if bottleneck:
            layers = [
                _conv_bn(in_channels, planes, 1),
                spatial,
                _conv_bn(planes, out_channels, 1, relu=False),
            ]
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
    contrastlearn.validation.InvalidParameterError
        If an argument is not one of the values listed, ``layers`` is empty or
        holds a count below 1, ``width`` is below 1 (2 for the deep stem), or
        ``se_ratio`` is not a positive number.

    Examples
    --------
    >>> import torch
    >>> net = ResNet("basic", (1, 1), in_channels=1, stem="small", width=16)
    >>> net.out_features
    32
    >>> net(torch.randn(2, 1, 28, 28)).shape
    torch.Size([2, 32])
    >>> net = ResNet("basic", (1, 1), 1, attention="se+sk", stem="deep", width=16,
    ...              shortcut="avgpool")
    >>> net.stem(torch.randn(2, 1, 64, 64)).shape
    torch.Size([2, 16, 16, 16])
    """

    @validate_params(
        {
            "block": Options(["basic", "bottleneck"]),
            "layers": WIDTHS,
            "in_channels": CHANNELS,
            "attention": Options(_ATTENTION_KINDS),
            "stem": Options(["imagenet", "small", "deep"]),
            "width": CHANNELS,
            "se_ratio": POSITIVE_REAL,
            "shortcut": Options(["conv", "avgpool"]),
        }
    )
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
        se_ratio = float(se_ratio)
        layers = tuple(layers)
        if stem == "deep":
            check_parameter("ResNet", "width", width, Interval(numbers.Integral, 2))
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

        bottleneck = block == "bottleneck"
        stages, channels = [], width
        for i, n_blocks in enumerate(layers):
            planes = width * 2**i
            blocks = []
            for j in range(n_blocks):
                stride = 2 if i > 0 and j == 0 else 1
                project = shortcut == "avgpool" and j == 0
                blocks.append(
                    _ResidualBlock(
                        channels, planes, stride, bottleneck, attention, se_ratio, shortcut, project
                    )
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

    def feature_map(self, x):
        """Sub-region features: the output of the stage before the last ("layer 3").

        With one stage, that stage's output. GLoRIA attends over these maps.
        """
        return self.stages[: max(len(self.stages) - 1, 1)](self.stem(x))


@validate_params(
    {
        name: ResNet.__init__._parameter_constraints[name]
        for name in ("in_channels", "attention", "stem", "se_ratio", "shortcut")
    }
)
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
        "basic",
        (2, 2, 2, 2),
        in_channels,
        attention=attention,
        stem=stem,
        se_ratio=se_ratio,
        shortcut=shortcut,
    )


@validate_params(
    {
        name: ResNet.__init__._parameter_constraints[name]
        for name in ("in_channels", "attention", "stem", "se_ratio", "shortcut")
    }
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
        "basic",
        (3, 4, 6, 3),
        in_channels,
        attention=attention,
        stem=stem,
        se_ratio=se_ratio,
        shortcut=shortcut,
    )


@validate_params(
    {
        name: ResNet.__init__._parameter_constraints[name]
        for name in ("in_channels", "attention", "stem", "se_ratio", "shortcut")
    }
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
        "bottleneck",
        (3, 4, 6, 3),
        in_channels,
        attention=attention,
        stem=stem,
        se_ratio=se_ratio,
        shortcut=shortcut,
    )
