"""How a pretrainer forms its positive pairs.

Every pretrainer takes a ``pairing`` parameter:

- ``"augment"`` (the default): the two views of a pair are two independent
  augmentations of one image;
- :class:`LatentNeighbors`: the second view is an augmentation of *another*
  image whose latent factors (shape, scale, orientation, position, ... from a
  simulator's table such as :func:`contrastlearn.datasets.make_sprites`) lie
  within a small step of the first image's factors. The table is given to
  ``fit`` as ``latents``.
"""

import itertools
import math
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from .validation import Interval, Predicate, validate_parameters

__all__ = ["LatentNeighbors"]

_MAX_OFFSETS = 100_000
_CHUNK = 4096


_STEP = Interval(numbers.Integral, 0)


def _is_names(value):
    """A non-empty list (or tuple) of strings: column names."""
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(name, str) for name in value)
    )


class LatentNeighbors(BaseEstimator):
    """Positive pairs of images whose latent factors differ by a small step.

    For an image with factor grid positions ``p``, the partner is drawn
    uniformly from the other images of the training set whose positions
    ``q`` satisfy ``|q_f - p_f| <= step_f`` for every factor ``f`` and
    ``q != p``. A factor's grid positions are the ranks of its distinct
    values in ``latents`` (values or indices both work; a categorical column
    such as a shape name is ranked too, so hold it fixed with step 0). An
    image without such a neighbour is paired with itself, i.e. with a second
    augmentation of itself, and ``fit`` warns how many there are.

    The lookup is vectorised: for a batch it enumerates the neighbouring grid
    positions, finds them by binary search in the sorted table and draws one
    partner per image, without a Python loop over images.

    Parameters
    ----------
    step : int or dict, default=1
        Largest change of a factor's grid position between an image and its
        partner. A dict gives a step per factor; 0 holds a factor fixed.
    factors : list of str or None, default=None
        The columns of ``latents`` that define neighbourhoods. None means the
        keys of ``step`` when it is a dict, otherwise every column.
    periodic : sequence of str, default=()
        Factors whose grid wraps around, such as an orientation in
        ``[0, 2 pi)``: the last grid value neighbours the first. A dict
        ``{factor: period}``, as :func:`~contrastlearn.evaluation.latent_readout`
        takes, works too (its keys are used).

    Attributes
    ----------
    factors_ : list of str
        The factors used, after ``fit``.
    steps_ : ndarray of int
        Step per factor.
    n_values_ : ndarray of int
        Grid size (distinct values) per factor.

    See Also
    --------
    contrastlearn.datasets.make_sprites : Images with a factor table.
    contrastlearn.evaluation.latent_readout : Read the factors back.

    References
    ----------
    R. S. Zimmermann, Y. Sharma, S. Schneider, M. Bethge, W. Brendel,
    "Contrastive Learning Inverts the Data Generating Process", ICML 2021,
    arXiv:2102.08850.

    Examples
    --------
    >>> import pandas as pd
    >>> from contrastlearn.pairing import LatentNeighbors
    >>> latents = pd.DataFrame({"shape": ["a", "a", "a", "b"], "size": [1, 2, 4, 2]})
    >>> pairs = LatentNeighbors(step={"shape": 0, "size": 1}).fit(latents)
    >>> pairs.count_neighbors()   # the only "b" has no neighbour of its own shape
    array([1, 2, 1, 0])
    >>> pairs.sample([0, 3], random=[0.5, 0.5])
    array([1, 3])
    """

    def __init__(self, step=1, factors=None, periodic=()):
        self.step = step
        self.factors = factors
        self.periodic = periodic

    _parameter_constraints = {
        "step": [
            _STEP,
            Predicate(
                lambda v: isinstance(v, dict) and v and all(map(_STEP.is_satisfied_by, v.values())),
                "a non-empty dict of ints >= 0",
            ),
        ],
        "factors": [None, Predicate(_is_names, "a non-empty list of column names")],
        "periodic": Predicate(
            lambda v: isinstance(v, (list, tuple)) and all(isinstance(name, str) for name in v),
            "a list of factor names",
        ),
    }

    def _validate(self, table):
        validate_parameters(self)
        step, factors = self.step, self.factors
        if factors is None:
            factors = list(step) if isinstance(step, dict) else list(table.columns)
        factors = list(factors)
        named = list(step) if isinstance(step, dict) else []
        for name in [*factors, *named, *self.periodic]:
            if name not in table.columns:
                raise ValueError(
                    f"LatentNeighbors uses the factor {name!r}, which is not a "
                    f"column of latents; the columns are {list(table.columns)}."
                )
            if name not in factors:
                raise ValueError(
                    f"{name!r} is named in 'step' or 'periodic' but is not one of "
                    f"the factors {factors}."
                )
        steps = np.array([step.get(f, 0) if isinstance(step, dict) else step for f in factors])
        if not steps.any():
            raise ValueError(
                "LatentNeighbors needs at least one factor with a step >= 1; "
                f"got steps {dict(zip(factors, steps.tolist()))}."
            )
        return factors, steps

    def fit(self, latents, n_samples=None):
        """Index the factor table of the training images.

        Parameters
        ----------
        latents : pandas.DataFrame, dict of 1-D arrays or 2-D array
            One row per training image, one column per factor (2-D arrays get
            the column names ``"factor0"``, ``"factor1"``, ...).
        n_samples : int or None, default=None
            The number of training images, to check ``latents`` against.

        Returns
        -------
        self : LatentNeighbors
        """
        if latents is None:
            raise ValueError(
                "pairing=LatentNeighbors(...) needs the latent factors of the "
                "training images: call fit(X, latents=table) with one row per image."
            )
        table = latent_table(latents)
        if n_samples is not None and len(table) != n_samples:
            raise ValueError(
                f"latents has {len(table)} rows but X has {n_samples} images; "
                "give one row of factors per image."
            )
        factors, steps = self._validate(table)
        positions, sizes = [], []
        for name in factors:
            codes, uniques = pd.factorize(table[name], sort=True)
            if (codes < 0).any():
                raise ValueError(f"latents[{name!r}] contains missing values (NaN or None).")
            positions.append(codes)
            sizes.append(len(uniques))
        self.factors_, self.steps_ = factors, steps
        self.n_values_ = np.array(sizes, dtype=np.int64)
        if math.prod(sizes) >= 2**62:
            raise ValueError(f"The factor grid of {factors} has too many cells to index.")
        self._positions = np.stack(positions, axis=1).astype(np.int64)
        self._strides = np.cumprod([1, *sizes[:0:-1]])[::-1].astype(np.int64)
        self._periodic = np.array([f in self.periodic for f in factors])
        self._offsets = self._neighbour_offsets()
        keys = self._positions @ self._strides
        self._order = np.argsort(keys, kind="stable")
        self._sorted_keys = keys[self._order]
        return self

    def _neighbour_offsets(self):
        """Every nonzero change of grid positions within the steps, periodic ones deduplicated."""
        deltas = []
        for step, size, periodic in zip(self.steps_, self.n_values_, self._periodic):
            d = range(-int(step), int(step) + 1)
            deltas.append(sorted({v % size for v in d}) if periodic else list(d))
        n_offsets = math.prod(len(d) for d in deltas) - 1
        if n_offsets > _MAX_OFFSETS:
            raise ValueError(
                f"LatentNeighbors steps {dict(zip(self.factors_, self.steps_.tolist()))} span "
                f"{n_offsets} neighbouring grid cells (at most {_MAX_OFFSETS}); use smaller "
                "steps or hold some factors fixed with step 0."
            )
        offsets = np.array(list(itertools.product(*deltas)), dtype=np.int64)
        return offsets[offsets.any(axis=1)]

    def _candidates(self, rows):
        """For each row, the (start, count) of the table rows at every neighbouring offset."""
        target = self._positions[rows][:, None, :] + self._offsets[None]
        target = np.where(self._periodic, target % self.n_values_, target)
        inside = ((target >= 0) & (target < self.n_values_)).all(axis=2)
        keys = target @ self._strides
        start = np.searchsorted(self._sorted_keys, keys, side="left")
        count = np.searchsorted(self._sorted_keys, keys, side="right") - start
        return start, np.where(inside, count, 0)

    def count_neighbors(self):
        """Number of latent neighbours of every training image.

        Returns
        -------
        ndarray of shape (n_samples,), dtype int64
        """
        n = len(self._positions)
        return np.concatenate(
            [
                self._candidates(np.arange(i, min(i + _CHUNK, n)))[1].sum(axis=1)
                for i in range(0, n, _CHUNK)
            ]
        )

    def sample(self, rows, random):
        """Draw one latent neighbour for each of ``rows``.

        Parameters
        ----------
        rows : array-like of int
            Positions of images in the training set.
        random : array-like of float in [0, 1)
            One uniform number per row that picks the neighbour.

        Returns
        -------
        ndarray of int64
            Positions of the partners; a row without neighbours is its own
            partner.
        """
        rows = np.asarray(rows, dtype=np.int64)
        start, count = self._candidates(rows)
        cumulative = count.cumsum(axis=1)
        total = cumulative[:, -1]
        pick = np.minimum(
            (np.asarray(random, dtype=np.float64) * total).astype(np.int64),
            np.maximum(total - 1, 0),
        )
        offset = (cumulative > pick[:, None]).argmax(axis=1)
        at = np.arange(len(rows))
        within = pick - (cumulative[at, offset] - count[at, offset])
        partners = self._order[np.minimum(start[at, offset] + within, len(self._order) - 1)]
        return np.where(total > 0, partners, rows)


def latent_table(latents):
    """``latents`` as a DataFrame: a DataFrame, a Series, a dict of 1-D arrays or a 2-D array."""
    if isinstance(latents, pd.DataFrame):
        return latents
    if isinstance(latents, pd.Series):
        return latents.to_frame(name="factor0" if latents.name is None else latents.name)
    if isinstance(latents, Mapping):
        columns = {}
        for name, values in latents.items():
            values = values if isinstance(values, pd.Series) else np.asarray(values)
            if values.ndim != 1:
                raise ValueError(
                    f"latents[{name!r}] must be 1-D (one value per sample); got "
                    f"an array of shape {values.shape}."
                )
            columns[name] = values
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(
                f"The arrays of latents must all have the same length; got lengths {lengths}."
            )
        return pd.DataFrame({name: np.asarray(values) for name, values in columns.items()})
    if isinstance(latents, (np.ndarray, list, tuple)):
        array = np.asarray(latents)
        if array.ndim != 2:
            raise ValueError(
                "latents given as an array must be 2-D (n_samples, n_factors); "
                f"got an array of shape {array.shape}."
            )
        return pd.DataFrame(array, columns=[f"factor{i}" for i in range(array.shape[1])])
    raise TypeError(
        "latents must be a pandas DataFrame, a dict of 1-D arrays or a 2-D array; "
        f"got {type(latents).__name__}."
    )
