"""The constraints contrastlearn's estimators share (those that know torch and backbones).

The constraint classes and :func:`~contrastlearn.validation.validate_parameters`
are in :mod:`contrastlearn.validation`; here are the named instances the
parameter tables reuse, so that one rule has one wording everywhere.
"""

import numbers

import numpy as np
import torch
from torch import nn

from . import backbones
from .validation import (
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    Pair,
    Predicate,
    validate_parameters,
)

__all__ = [
    "BOOL",
    "NONNEGATIVE",
    "POSITIVE",
    "PROBABILITY",
    "RANDOM_STATE",
    "ints",
    "InvalidParameterError",
    "validate_parameters",
]


def ints(low, high=None):
    """An int >= ``low`` (and <= ``high``)."""
    return Interval(numbers.Integral, low, high, closed="both" if high is not None else "left")


BOOL = InstanceOf(bool, np.bool_, name="a bool")
POSITIVE = Interval(numbers.Real, 0, closed="neither")
NONNEGATIVE = Interval(numbers.Real, 0)
PROBABILITY = Interval(numbers.Real, 0, 1, closed="both")
RANDOM_STATE = [None, ints(0), InstanceOf(np.random.RandomState, name="a numpy RandomState")]
DIMS = Predicate(
    lambda v: (
        isinstance(v, (tuple, list)) and len(v) >= 1 and all(ints(1).is_satisfied_by(d) for d in v)
    ),
    "a non-empty tuple of ints >= 1",
)
IMAGE_SHAPE = Predicate(
    lambda v: (
        isinstance(v, (tuple, list))
        and len(v) in (2, 3)
        and all(ints(1).is_satisfied_by(d) for d in v)
    ),
    "a tuple (H, W) or (C, H, W) of ints >= 1",
)
SCALE = Pair(positive=True, high=1)


def _is_device(value):
    try:
        torch.device(value)
    except (RuntimeError, TypeError):
        return False
    return True


TORCH_DEVICE = Predicate(_is_device, "a torch device such as 'cpu' or 'cuda:0'")
DEVICE = [Options(["auto"]), TORCH_DEVICE]
BACKBONE = [
    Options(["auto"]),
    Predicate(backbones.is_backbone_name, "a name from contrastlearn.backbones.BACKBONE_NAMES"),
    InstanceOf(nn.Module, name="a torch.nn.Module mapping images to vectors"),
]
