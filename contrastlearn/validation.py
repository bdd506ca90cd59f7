"""Declarative parameter validation, shared by every estimator (torch-free).

An estimator lists, in its class attribute ``_parameter_constraints``, the
constraints each parameter must meet (any one of a list); ``fit`` calls
:func:`validate_parameters`, which raises :class:`InvalidParameterError`
with a message generated from the constraints, the same words for the same
rule everywhere::

    The 'lr' parameter of CLR must be a float > 0. Got -1.

A constraint is an :class:`Interval`, :class:`Options`, :class:`InstanceOf`,
:class:`Pair` or :class:`Predicate` (a rule no other one expresses), or
``None`` (the value None is allowed). A public function declares its
constraints with the :func:`validate_params` decorator instead, and raises
the same error from its call. The ideas are those of scikit-learn's
``Interval``, ``StrOptions`` and ``validate_params``; the code is this
library's.
"""

import functools
import inspect
import math
import numbers
import os
import sys
import warnings

__all__ = [
    "ArrayLike",
    "Constraint",
    "InstanceOf",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Pair",
    "Predicate",
    "check_parameter",
    "renamed_parameter",
    "validate_params",
    "validate_parameters",
]


class InvalidParameterError(ValueError, TypeError):
    """A parameter has a wrong type or value (raised by ``fit`` and by functions)."""


class Constraint:
    """A rule a parameter value may satisfy, with the words that describe it."""

    def is_satisfied_by(self, value):
        """bool: Whether ``value`` meets the rule."""
        raise NotImplementedError

    def __str__(self):
        raise NotImplementedError


def _bound(value):
    """A bound as people write it: whole numbers in full (4294967295), others with %g."""
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return f"{value:g}"


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


class Interval(Constraint):
    """An int or a finite float between bounds.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Ints only, or any finite real number (ints included; never bool).
    left, right : float or None, default=None
        Bounds; None leaves that side open.
    closed : {"left", "right", "both", "neither"}, default="left"
        Which bounds belong to the interval.

    Examples
    --------
    >>> import numbers
    >>> from contrastlearn.validation import Interval
    >>> str(Interval(numbers.Integral, 1)), str(Interval(numbers.Real, 0, 1, closed="both"))
    ('an int >= 1', 'a float in [0, 1]')
    >>> Interval(numbers.Real, 0, closed="neither").is_satisfied_by(0.0)
    False
    """

    def __init__(self, kind, left=None, right=None, *, closed="left"):
        if kind not in (numbers.Integral, numbers.Real):
            raise ValueError("kind must be numbers.Integral or numbers.Real")
        if closed not in ("left", "right", "both", "neither"):
            raise ValueError("closed must be 'left', 'right', 'both' or 'neither'")
        self.kind, self.left, self.right, self.closed = kind, left, right, closed

    def is_satisfied_by(self, value):
        if not (_is_int(value) if self.kind is numbers.Integral else _is_real(value)):
            return False
        left_closed = self.closed in ("left", "both")
        right_closed = self.closed in ("right", "both")
        if self.left is not None and not (value >= self.left if left_closed else value > self.left):
            return False
        return self.right is None or (value <= self.right if right_closed else value < self.right)

    def __str__(self):
        noun = "an int" if self.kind is numbers.Integral else "a float"
        left_closed = self.closed in ("left", "both")
        right_closed = self.closed in ("right", "both")
        if self.left is not None and self.right is not None:
            return (
                f"{noun} in {'[' if left_closed else '('}{_bound(self.left)}, {_bound(self.right)}"
                f"{']' if right_closed else ')'}"
            )
        if self.left is not None:
            return f"{noun} {'>=' if left_closed else '>'} {_bound(self.left)}"
        if self.right is not None:
            return f"{noun} {'<=' if right_closed else '<'} {_bound(self.right)}"
        return noun


class Options(Constraint):
    """One of a few values (strings, None, ...), compared by equality of the same type.

    Parameters
    ----------
    values : iterable

    Examples
    --------
    >>> from contrastlearn.validation import Options
    >>> str(Options(["cosine", None]))
    "one of 'cosine', None"
    """

    def __init__(self, values):
        self.values = tuple(values)

    def is_satisfied_by(self, value):
        # A string option takes str subclasses (numpy's str_); other options their own type
        # only, so that True is not taken for 1.
        return any(
            value is option
            or (
                (type(value) is type(option) or isinstance(option, str) and isinstance(value, str))
                and value == option
            )
            for option in self.values
        )

    def __str__(self):
        return "one of " + ", ".join(repr(option) for option in self.values)


class InstanceOf(Constraint):
    """An instance of one of ``types``.

    Parameters
    ----------
    *types : type
    name : str, default=None
        How the message names them (default: the type names).

    Examples
    --------
    >>> from contrastlearn.validation import InstanceOf
    >>> str(InstanceOf(bool))
    'a bool'
    """

    def __init__(self, *types, name=None):
        self.types = types
        self.name = name or " or ".join(f"a {t.__name__}" for t in types)

    def is_satisfied_by(self, value):
        return isinstance(value, self.types)

    def __str__(self):
        return self.name


class Pair(Constraint):
    """A pair ``(low, high)`` of finite numbers with ``low <= high`` (``<`` when strict).

    Parameters
    ----------
    low, high : float or None, default=None
        Bounds both elements must respect (``low`` open when ``positive``).
    positive : bool, default=False
        Both elements > 0.
    strict : bool, default=False
        ``low < high``.

    Examples
    --------
    >>> from contrastlearn.validation import Pair
    >>> str(Pair(positive=True, high=1))
    'a pair (low, high) of numbers in (0, 1] with low <= high'
    """

    def __init__(self, low=None, high=None, *, positive=False, strict=False):
        self.low, self.high, self.positive, self.strict = low, high, positive, strict

    def is_satisfied_by(self, value):
        if not (
            isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_real(v) for v in value)
        ):
            return False
        first, second = value
        if (first >= second) if self.strict else (first > second):
            return False
        if self.positive and first <= 0:
            return False
        if self.low is not None and first < self.low:
            return False
        return self.high is None or second <= self.high

    def __str__(self):
        order = "low < high" if self.strict else "low <= high"
        if self.positive:
            bounds = f" in (0, {_bound(self.high)}]" if self.high is not None else " > 0"
        elif self.low is not None:
            bounds = (
                f" in [{_bound(self.low)}, {_bound(self.high)}]"
                if self.high is not None
                else f" >= {_bound(self.low)}"
            )
        else:
            bounds = f" <= {_bound(self.high)}" if self.high is not None else ""
        return f"a pair (low, high) of numbers{bounds} with {order}"


class ArrayLike(Constraint):
    """Data: an array, tensor, HDF5 dataset, data frame or (nested) sequence.

    Only the kind of object is checked; shapes and values are checked where
    the data is read, with messages about the data.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.validation import ArrayLike
    >>> ArrayLike().is_satisfied_by(np.zeros(3)), ArrayLike().is_satisfied_by("x")
    (True, False)
    """

    def is_satisfied_by(self, value):
        if isinstance(value, (str, bytes)):
            return False
        return (
            isinstance(value, (list, tuple))
            or hasattr(value, "__array__")
            or (hasattr(value, "shape") and hasattr(value, "dtype"))
        )

    def __str__(self):
        return "array-like"


class Predicate(Constraint):
    """A rule no other constraint expresses: a function and the words for it.

    Parameters
    ----------
    function : callable
        ``function(value) -> bool``.
    description : str
        What the value must be, e.g. ``"a torch device such as 'cpu'"``.
    """

    def __init__(self, function, description):
        self.function, self.description = function, description

    def is_satisfied_by(self, value):
        try:
            return bool(self.function(value))
        except Exception:  # noqa: BLE001 - a rule that cannot be evaluated is not met
            return False

    def __str__(self):
        return self.description


def _as_constraints(constraints):
    if isinstance(constraints, (list, tuple)):
        return [Options([None]) if c is None else c for c in constraints]
    return [Options([None]) if constraints is None else constraints]


def _describe(constraints):
    words = [
        "None" if isinstance(c, Options) and c.values == (None,) else str(c) for c in constraints
    ]
    return " or ".join(words)


def _invalid(owner, name, constraints, value):
    shown = repr(value)
    if len(shown) > 80:
        shown = f"{type(value).__name__} {shown[:60]}..."
    return InvalidParameterError(
        f"The {name!r} parameter of {owner} must be {_describe(constraints)}. Got {shown}."
    )


def check_parameter(owner, name, value, constraints):
    """Raise :class:`InvalidParameterError` unless ``value`` meets one of ``constraints``.

    Parameters
    ----------
    owner : str
        The estimator or function the parameter belongs to (for the message).
    name : str
    value : object
    constraints : Constraint, None or list of them

    Returns
    -------
    object
        ``value``.

    Examples
    --------
    >>> import numbers
    >>> from contrastlearn.validation import Interval, check_parameter
    >>> check_parameter("f", "k", 0, Interval(numbers.Integral, 1))
    Traceback (most recent call last):
    ...
    contrastlearn.validation.InvalidParameterError: The 'k' parameter of f must be an int >= 1...
    """
    constraints = _as_constraints(constraints)
    if not any(c.is_satisfied_by(value) for c in constraints):
        raise _invalid(owner, name, constraints, value)
    return value


def validate_parameters(estimator):
    """Check ``estimator``'s parameters against its ``_parameter_constraints``.

    Parameters
    ----------
    estimator : object
        With a class attribute ``_parameter_constraints``:
        ``{name: constraint or list of constraints}``.

    Raises
    ------
    InvalidParameterError
        Naming the first bad parameter, what was expected and what was given.
    """
    owner = type(estimator).__name__
    for name, constraints in estimator._parameter_constraints.items():
        check_parameter(owner, name, getattr(estimator, name), constraints)


#: The default of a renamed parameter's old name: "not given".
DEPRECATED = "deprecated"


def _caller_stacklevel():
    """The stacklevel of the first frame outside contrastlearn (the user's call)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def renamed_parameter(owner, old, old_value, new, new_value, new_default):
    """The value of a renamed parameter, taken from its old name with a FutureWarning.

    Parameters
    ----------
    owner : str
        The estimator or function (for the messages).
    old, new : str
        The old and the new name.
    old_value, new_value : object
        What each was given; ``old_value`` is :data:`DEPRECATED` when not given.
    new_default : object
        The new name's default.

    Returns
    -------
    object
        ``new_value``, or ``old_value`` when only the old name was given.

    Raises
    ------
    InvalidParameterError
        If both names were given.
    """
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    if not (new_value is new_default or new_value == new_default):
        raise InvalidParameterError(
            f"{owner} got both {old}={old_value!r} and {new}={new_value!r}; "
            f"{old!r} is the old name of {new!r}: give {new} only."
        )
    warnings.warn(
        f"The {old!r} parameter of {owner} was renamed {new!r}; use {new}={old_value!r}. "
        f"{old!r} will be removed in a future release.",
        FutureWarning,
        stacklevel=_caller_stacklevel(),
    )
    return old_value


def validate_params(constraints):
    """Decorate a public function so that each call checks its arguments.

    Parameters
    ----------
    constraints : dict
        ``{parameter name: constraint or list of constraints}``, one entry
        for every parameter of the function (a typo fails at import). On a
        class's ``__init__`` the message names the class.

    Returns
    -------
    callable
        The decorator. The decorated function keeps its name, docstring and
        signature, raises :class:`InvalidParameterError` naming itself and
        the first bad argument, and lists its rules in
        ``_parameter_constraints``.

    Examples
    --------
    >>> import numbers
    >>> from contrastlearn.validation import Interval, validate_params
    >>> @validate_params({"k": Interval(numbers.Integral, 1)})
    ... def top(k=5):
    ...     return k
    >>> top(k=0)
    Traceback (most recent call last):
    ...
    contrastlearn.validation.InvalidParameterError: The 'k' parameter of top must be an int >= 1...
    """
    constraints = {name: _as_constraints(c) for name, c in constraints.items()}

    def decorate(function):
        parameters = inspect.signature(function).parameters
        unknown = set(constraints) - set(parameters)
        if unknown:
            raise ValueError(f"{function.__qualname__} has no parameters {sorted(unknown)}")
        positional = [
            name
            for name, p in parameters.items()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        defaults = {name: p.default for name, p in parameters.items() if p.default is not p.empty}
        owner = function.__qualname__.removesuffix(".__init__").rsplit(".", 1)[-1]

        # The arguments are matched by hand, not with Signature.bind, so that a call
        # traced by torch.compile stays one graph.
        @functools.wraps(function)
        def checked(*args, **kwargs):
            arguments = dict(zip(positional, args))
            for name, constraint in constraints.items():
                if name in arguments:
                    value = arguments[name]
                elif name in kwargs:
                    value = kwargs[name]
                elif name in defaults:
                    value = defaults[name]
                else:
                    continue  # missing: the call itself raises Python's TypeError
                if not any(c.is_satisfied_by(value) for c in constraint):
                    raise _invalid(owner, name, constraint, value)
            return function(*args, **kwargs)

        checked._parameter_constraints = constraints
        return checked

    return decorate
