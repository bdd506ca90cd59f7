"""Declarative parameter validation, shared by every estimator (torch-free).

An estimator lists, in its class attribute ``_parameter_constraints``, the
constraints each parameter must meet (any one of a list); ``fit`` calls
:func:`validate_parameters`, which raises :class:`InvalidParameterError`
with a message generated from the constraints, the same words for the same
rule everywhere::

    The 'lr' parameter of CLR must be a float > 0. Got -1.

A constraint is an :class:`Interval`, :class:`Options`, :class:`InstanceOf`,
:class:`Pair` or :class:`Predicate` (a rule no other one expresses), or
``None`` (the value None is allowed). The ideas are those of scikit-learn's
``Interval`` and ``StrOptions``; the code is this library's.
"""

import math
import numbers

__all__ = [
    "Constraint",
    "InstanceOf",
    "Interval",
    "InvalidParameterError",
    "Options",
    "Pair",
    "Predicate",
    "check_parameter",
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
                f"{noun} in {'[' if left_closed else '('}{self.left:g}, {self.right:g}"
                f"{']' if right_closed else ')'}"
            )
        if self.left is not None:
            return f"{noun} {'>=' if left_closed else '>'} {self.left:g}"
        if self.right is not None:
            return f"{noun} {'<=' if right_closed else '<'} {self.right:g}"
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
            bounds = f" in (0, {self.high:g}]" if self.high is not None else " > 0"
        elif self.low is not None:
            bounds = (
                f" in [{self.low:g}, {self.high:g}]"
                if self.high is not None
                else f" >= {self.low:g}"
            )
        else:
            bounds = f" <= {self.high:g}" if self.high is not None else ""
        return f"a pair (low, high) of numbers{bounds} with {order}"


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
        raise InvalidParameterError(
            f"The {name!r} parameter of {owner} must be {_describe(constraints)}. Got {value!r}."
        )
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
