"""Building blocks and checks shared by the backbones."""

import numbers

from torch import nn

from ..validation import Interval, Predicate

CHANNELS = Interval(numbers.Integral, 1)
POSITIVE_REAL = Interval(numbers.Real, 0, closed="neither")
WIDTHS = Predicate(
    lambda v: (
        isinstance(v, (tuple, list)) and len(v) >= 1 and all(map(CHANNELS.is_satisfied_by, v))
    ),
    "a non-empty sequence of ints >= 1",
)
SIDES = [
    CHANNELS,
    Predicate(
        lambda v: (
            isinstance(v, (tuple, list)) and len(v) == 2 and all(map(CHANNELS.is_satisfied_by, v))
        ),
        "a pair (H, W) of ints >= 1",
    ),
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
