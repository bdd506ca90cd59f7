"""Label and metric helpers shared by the evaluation tools (and plotting, model selection)."""

import numbers

import numpy as np
from scipy import sparse
from sklearn.neighbors import VALID_METRICS
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    column_or_1d,
)

from .._validation import ints
from ..validation import ArrayLike, InstanceOf, Interval, Options, Predicate

#: A fraction strictly between 0 and 1 (of the samples, of the labels, ...).
FRACTION = Interval(numbers.Real, 0, 1, closed="neither")
#: Neighbours per sample: an int, or a fraction of the samples (see :func:`neighbor_count`).
NEIGHBORS = [ints(1), FRACTION]
#: A distance: a callable or a name that NearestNeighbors accepts with brute force.
METRIC = [
    Options(sorted(VALID_METRICS["brute"])),
    Predicate(callable, "a callable"),
]
#: The labels that count: class values (1-D Y) or column indices (indicator Y).
LABELS = [None, ArrayLike(), InstanceOf(range, name="a range")]


def _is_names(value):
    """A sized iterable (list, tuple, array, Index, ...), not one string."""
    return (
        not isinstance(value, (str, bytes))
        and hasattr(value, "__len__")
        and hasattr(value, "__iter__")
    )


#: Names (of labels, of titles, ...): any sequence but a string.
NAMES = Predicate(_is_names, "a sequence of names")


def _label_indicator(Y, labels=None, *, name="Y"):
    """Labels as a boolean indicator matrix ``(n_samples, n_labels)`` and the label values.

    1-D ``Y`` holds one class per sample (one-hot encoded over its sorted
    classes); 2-D ``Y`` must be a binary indicator matrix. ``labels``, when
    given, selects classes (1-D) or column indices (2-D).
    """
    if sparse.issparse(Y):
        Y = Y.toarray()
    Y = np.asarray(Y)
    if Y.ndim == 1:
        if Y.dtype.kind in "fc" and not np.all(np.isfinite(Y)):
            raise ValueError(f"{name} contains NaN or infinity.")
        y_type = type_of_target(Y, input_name=name)
        if y_type not in ("binary", "multiclass"):
            raise ValueError(f"1-D {name} must hold class labels; got a {y_type!r} target.")
        classes, codes = np.unique(Y, return_inverse=True)
        indicator = np.zeros((len(Y), len(classes)), dtype=bool)
        indicator[np.arange(len(Y)), codes] = True
        if labels is not None:
            labels = column_or_1d(labels)
            columns = np.searchsorted(classes, labels).clip(0, len(classes) - 1)
            found = classes[columns] == labels
            picked = np.zeros((len(Y), len(labels)), dtype=bool)
            picked[:, found] = indicator[:, columns[found]]
            return picked, labels
        return indicator, classes
    if Y.ndim == 2:
        if Y.dtype.kind not in "biuf" or not np.isin(Y, (0, 1)).all():
            raise ValueError(
                f"2-D {name} must be a binary indicator matrix (0/1 or bool, one column per label)."
            )
        indicator = Y.astype(bool)
        classes = np.arange(Y.shape[1])
        if labels is not None:
            columns = column_or_1d(labels)
            if (
                columns.dtype.kind not in "iu"
                or columns.size
                and (columns.min() < 0 or columns.max() >= Y.shape[1])
            ):
                raise ValueError(
                    f"labels must be column indices of {name} in [0, {Y.shape[1]}); got {labels!r}."
                )
            return indicator[:, columns], columns
        return indicator, classes
    raise ValueError(
        f"{name} must be 1-D class labels or a 2-D indicator matrix; "
        f"got an array of shape {Y.shape}."
    )


def _pair_overlap(a, b):
    """Overlap |a AND b| / max(|a|, |b|) of label sets, broadcast over leading axes.

    NaN where both sets are empty.
    """
    shared = np.logical_and(a, b).sum(-1)
    largest = np.maximum(a.sum(-1), b.sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(largest > 0, shared / np.maximum(largest, 1), np.nan)


def neighbor_count(n_neighbors, n_samples):
    """Neighbours per sample: an int as it is, a fraction of ``n_samples`` rounded (1 to n - 1)."""
    if isinstance(n_neighbors, numbers.Integral):
        return int(n_neighbors)
    return min(max(1, int(round(n_neighbors * n_samples))), n_samples - 1)
