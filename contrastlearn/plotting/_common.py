"""What the figures share: figure sizes and checks of matplotlib Axes."""

import numpy as np

from .._validation import POSITIVE
from ..validation import Predicate


def _is_axes(value):
    from matplotlib.axes import Axes

    return isinstance(value, Axes)


def _is_axes_array(value):
    from matplotlib.axes import Axes

    axes = np.asarray(value, dtype=object)
    return axes.size > 0 and all(isinstance(ax, Axes) for ax in axes.flat)


def _is_axes_sequence(value):
    from matplotlib.axes import Axes

    return len(value) > 0 and all(isinstance(ax, Axes) for ax in value)


#: A figure size (width, height) in inches.
FIGSIZE = Predicate(
    lambda v: (
        isinstance(v, (tuple, list)) and len(v) == 2 and all(POSITIVE.is_satisfied_by(x) for x in v)
    ),
    "a pair (width, height) of numbers > 0",
)
