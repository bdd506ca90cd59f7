"""Small encoders for quick CPU runs: a four-stage CNN and an MLP for vectors."""

from itertools import chain

from torch import nn

from ..validation import validate_params
from ._common import CHANNELS, WIDTHS, _conv_bn, _init_weights


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

    @validate_params({"in_channels": CHANNELS, "widths": WIDTHS, "stem_stride": CHANNELS})
    def __init__(self, in_channels=1, widths=(32, 64, 128, 256), stem_stride=2):
        super().__init__()
        widths = tuple(widths)
        layers = [_conv_bn(in_channels, widths[0], 3, stride=stem_stride)]
        layers += [_conv_bn(a, b, 3, stride=2) for a, b in zip(widths, widths[1:])]
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = widths[-1]
        _init_weights(self)

    def forward(self, x):
        """Map images ``(B, C, H, W)`` to features ``(B, out_features)``."""
        return self.features(x)

    def feature_map(self, x):
        """Sub-region features ``(B, widths[-2], h, w)``: the map before the last convolution.

        GLoRIA attends over them (its "layer 3" of four); with one width, the
        last map.
        """
        return self.features[: max(len(self.features) - 3, 1)](x)


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

    @validate_params({"in_features": CHANNELS, "hidden": WIDTHS})
    def __init__(self, in_features, hidden=(256, 256)):
        super().__init__()
        hidden = tuple(hidden)
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
