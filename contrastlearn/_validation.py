"""Parameter validation: each estimator's table of checks, applied at the start of fit."""

import math
import numbers

import torch
from torch import nn

from . import backbones


class InvalidParameterError(ValueError, TypeError):
    """A constructor parameter has a wrong type or value (raised by ``fit``)."""


def _is_int(v, low):
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= low


def _is_positive_real(v):
    return (isinstance(v, numbers.Real) and not isinstance(v, bool)
            and math.isfinite(v) and v > 0)


def _is_nonnegative_real(v):
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v) and v >= 0


def _is_dims(v):
    return isinstance(v, (tuple, list)) and len(v) >= 1 and all(_is_int(d, 1) for d in v)


def _is_image_shape(v):
    return v is None or (isinstance(v, (tuple, list)) and len(v) in (2, 3)
                         and all(_is_int(d, 1) for d in v))


def _is_device(v):
    if v == "auto":
        return True
    try:
        torch.device(v)
    except (RuntimeError, TypeError):
        return False
    return True


def _is_backbone(v):
    return isinstance(v, nn.Module) or v == "auto" or backbones.is_backbone_name(v)


def validate_parameters(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_checks`` table.

    Raises
    ------
    InvalidParameterError
        Naming the first bad parameter, what was expected and what was given.
    """
    name = type(estimator).__name__
    for param, (is_valid, expected) in estimator._parameter_checks.items():
        value = getattr(estimator, param)
        if not is_valid(value):
            raise InvalidParameterError(
                f"The {param!r} parameter of {name} must be {expected}. Got {value!r}."
            )
