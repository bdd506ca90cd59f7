"""Input checks shared by the network estimators: finite pixels and on-disk image stacks."""

import math

import h5py
import numpy as np
import scipy.sparse as sp
import torch

from .datasets._cxi_layout import read_rows, reading

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_finite_pixels(X, rows=None, source=None):
    """Raise when ``X`` holds NaN, infinite or beyond-float32 values (``nan_policy="raise"``).

    Parameters
    ----------
    X : ndarray
        Images (or vectors), one per row.
    rows : sequence of int or None, default=None
        The index in the whole data of every row of ``X`` (for the message),
        when ``X`` is a chunk read from ``source``.
    source : object or None, default=None
        Where the chunk was read from, for the message.

    Raises
    ------
    ValueError
        Saying how many values are bad, which image holds the first and
        which ``nan_policy`` would accept them.
    """
    if X.dtype.kind != "f" or X.size == 0:
        return
    low, high = X.min(), X.max()  # NaN propagates through both; no temporary array
    if max(-float(low), float(high)) <= _FLOAT32_MAX:  # False for NaN
        return
    bad = ~np.isfinite(X)
    if X.dtype.itemsize > 4:
        bad |= np.abs(X) > _FLOAT32_MAX
    first = int(np.argmax(bad.reshape(len(X), -1).any(axis=1)))
    first = first if rows is None else int(rows[first])
    read = "" if source is None else f", found while reading {source!r}"
    raise ValueError(
        f"Input X contains {int(bad.sum())} NaN, infinite or beyond-float32 pixel value(s), the "
        f"first in image {first}{read}. Pass nan_policy='replace' (they become 0) or "
        "nan_policy='mask' (left out of the normalisation), or clean X."
    )


def _is_lazy(X):
    """An on-disk array (h5py dataset, CXIImages, ...): indexable, with shape and dtype."""
    if isinstance(X, h5py.Dataset):  # even of a closed file, whose shape cannot be read
        return True
    return (
        not isinstance(X, (np.ndarray, torch.Tensor))
        and not sp.issparse(X)
        and hasattr(X, "shape")
        and hasattr(X, "dtype")
        and hasattr(X, "__getitem__")
    )


class _LazyImages:
    """A lazily read image stack seen as ``(n, C, H, W)``, checked chunk by chunk.

    Validation happens on metadata up front; with ``nan_policy="raise"``,
    NaN/inf pixels are found as the chunks are read (every fit reads all of
    them once for the normalisation statistics). Read errors name the
    file, the dataset and the images (see ``datasets._cxi_layout.read_error``).
    """

    def __init__(self, source, min_samples, estimator_name, nan_policy):
        with reading(source):
            shape, dtype = tuple(source.shape), np.dtype(source.dtype)
        if len(shape) not in (3, 4):
            raise ValueError(
                "Reshape your data: an on-disk X must be images of shape (n_samples, H, W) or "
                f"(n_samples, C, H, W); got shape {shape}."
            )
        if dtype.kind == "c":
            raise ValueError(_complex_message(dtype))
        if dtype.kind not in "biuf":
            raise ValueError(f"X must hold real numbers (numeric dtype); got dtype {dtype}.")
        if shape[0] < min_samples:
            raise ValueError(
                f"Found array with {shape[0]} sample(s) (shape={shape}) while a minimum of "
                f"{min_samples} is required by {estimator_name}."
            )
        self.source = source
        self.nan_policy = nan_policy
        self.shape = shape if len(shape) == 4 else (shape[0], 1, *shape[1:])
        self.dtype = dtype
        self.ndim = 4
        self.size = math.prod(self.shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        if isinstance(rows, slice):
            index, rows = rows, range(len(self))[rows]  # indices for messages, without an array
            with reading(self.source, rows=rows):
                images = np.asarray(self.source[index])
        else:
            images = read_rows(self.source, rows)
        if self.nan_policy == "raise":
            check_finite_pixels(images, rows, self.source)
        return images.reshape(len(images), *self.shape[1:])


class _RowSubset:
    """The rows ``rows`` (sorted) of a lazily read image stack, read only when indexed."""

    def __init__(self, images, rows):
        self.images, self.rows = images, np.asarray(rows)
        self.shape = (len(self.rows), *images.shape[1:])
        self.dtype, self.ndim = images.dtype, images.ndim
        self.size = math.prod(self.shape)

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, rows):
        return self.images[self.rows[rows]]


def take_rows(X, rows):
    """Rows ``rows`` (sorted) of ``X``: a copy of an array, a view of an on-disk stack."""
    return _RowSubset(X, rows) if isinstance(X, (_LazyImages, _RowSubset)) else X[rows]


def _complex_message(dtype):
    return (
        f"Complex data not supported: X has dtype {dtype}. Pass real intensities, e.g. "
        "np.abs(X) ** 2 for a complex wave field."
    )
