"""Reading generative factors (shape, scale, position, ...) back from embeddings."""

import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import (
    check_array,
)

from .._validation import BOOL, POSITIVE, RANDOM_STATE, ints
from ..pairing import latent_table
from ..validation import ArrayLike, InstanceOf, Predicate, check_parameter, validate_params
from ._labels import FRACTION, _is_names

#: What :func:`~contrastlearn.pairing.latent_table` reads.
LATENTS = InstanceOf(
    pd.DataFrame,
    pd.Series,
    Mapping,
    np.ndarray,
    list,
    tuple,
    name="a pandas DataFrame, a dict of 1-D arrays or a 2-D array",
)


def _names(value):
    """A list of column names from None, one name, or a sequence of names."""
    if value is None:
        return []
    if isinstance(value, (str, numbers.Number)):
        return [value]
    return list(value)


def _is_column_names(value):
    return isinstance(value, (str, numbers.Number)) or _is_names(value)


def _is_distinct_column_names(value):
    if not _is_column_names(value):
        return False
    names = _names(value)
    return all(names.count(name) == 1 for name in names)


def _is_periods(value):
    return isinstance(value, Mapping) and all(POSITIVE.is_satisfied_by(p) for p in value.values())


def _check_columns(value, names, table, argument, words):
    """``names`` (from the parameter ``argument``, given as ``value``) are columns of ``table``."""
    columns = list(table.columns)
    check_parameter(
        "latent_readout",
        argument,
        value,
        Predicate(
            lambda _: all(name in table.columns for name in names),
            f"{words} (latents has the columns {columns!r})",
        ),
    )


def _factor_kinds(table, factors, categorical, periodic):
    """The kind ("categorical", "continuous" or "periodic") and period of each factor."""
    if factors is None:
        factors = list(table.columns)
    else:
        names = _names(factors)
        _check_columns(
            factors, names, table, "factors", "a column name or a list of column names of latents"
        )
        factors = names
    if not factors:
        raise ValueError(
            "There is no factor to read out: latents has no columns or factors is empty."
        )
    names = _names(categorical)
    _check_columns(
        categorical,
        names,
        table,
        "categorical",
        "a column name or a list of column names of latents",
    )
    categorical = names
    if periodic is None:
        periodic = {}
    _check_columns(periodic, list(periodic), table, "periodic", "a dict {column name: period}")

    kinds = {}
    for name in factors:
        column = table[name]
        dtype = column.dtype
        by_dtype = (
            isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
        )
        if name in periodic:
            if name in categorical or by_dtype:
                why = (
                    "is named in categorical"
                    if name in categorical
                    else f"has the categorical dtype {dtype}"
                )
                raise ValueError(
                    f"Factor {name!r} cannot be both categorical and periodic: "
                    f"it is named in periodic and {why}."
                )
            kinds[name] = ("periodic", float(periodic[name]))
        elif name in categorical or by_dtype:
            kinds[name] = ("categorical", None)
        else:
            kinds[name] = ("continuous", None)
        if column.isna().any():
            raise ValueError(
                f"latents column {name!r} has missing values (NaN or None); "
                "every sample needs a value of every factor read out."
            )
        if kinds[name][0] != "categorical":
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
                raise ValueError(
                    f"Factor {name!r} is {kinds[name][0]} and needs real numbers; "
                    f"got dtype {dtype}. Name it in categorical if its values "
                    "are classes."
                )
            if not np.isfinite(column.to_numpy(dtype=float)).all():
                raise ValueError(f"latents column {name!r} contains infinity.")
    return kinds


def _circular_distance(a, b, period):
    """Distance between values on a circle of circumference ``period``, in [0, period / 2]."""
    d = np.mod(np.abs(np.asarray(a, dtype=float) - b), period)
    return np.minimum(d, period - d)


def _grid_hits(predicted, true_index, grid, period=None):
    """Whether each prediction is closer to its true grid value than to the adjacent ones.

    ``grid`` holds the sorted distinct values of the factor, ``true_index``
    the position of each sample's true value in it. For a periodic factor
    (``period`` given) distances are circular and the grid wraps around, so
    the neighbours of the first grid value are the second and the last one.
    A tie with a neighbour counts as a miss.
    """
    predicted = np.asarray(predicted, dtype=float)
    n = len(grid)
    if period is None:

        def distance(a, b):
            return np.abs(a - b)
    else:

        def distance(a, b):
            return _circular_distance(a, b, period)

    own = distance(predicted, grid[true_index])
    hit = np.ones(len(predicted), dtype=bool)
    for step in (-1, 1):
        neighbour = true_index + step
        if period is None:
            exists = (neighbour >= 0) & (neighbour < n)
        else:
            neighbour = np.mod(neighbour, n)
            exists = neighbour != true_index  # a grid of one value has no neighbour
        other = distance(predicted, grid[np.clip(neighbour, 0, n - 1)])
        hit &= ~exists | (own < other)
    return hit


def _chance(codes):
    """Relative frequency of the most common value among integer codes."""
    return float(np.bincount(codes).max() / len(codes)) if len(codes) else np.nan


@validate_params(
    {
        "embeddings": ArrayLike(),
        "latents": LATENTS,
        "factors": [
            None,
            Predicate(
                _is_distinct_column_names,
                "a column name or a list of distinct column names of latents",
            ),
        ],
        "categorical": [
            None,
            Predicate(_is_column_names, "a column name or a list of column names of latents"),
        ],
        "periodic": [
            None,
            Predicate(
                _is_periods, "a dict {column name: period > 0}, e.g. {'orientation': 2 * np.pi}"
            ),
        ],
        "test_size": [FRACTION, ints(1)],
        "random_state": RANDOM_STATE,
        "return_predictions": BOOL,
    }
)
def latent_readout(
    embeddings,
    latents,
    *,
    factors=None,
    categorical=None,
    periodic=None,
    test_size=0.25,
    random_state=None,
    return_predictions=False,
):
    r"""How well each generative factor can be read back linearly from frozen embeddings.

    For data generated from known factors (dSprites: shape, scale,
    orientation, position x and y), a linear readout is trained per factor
    on the embeddings of a training part and scored on a held-out test part.
    The samples are split once (shuffled,
    :func:`~sklearn.model_selection.train_test_split`) and the same split
    serves every factor. The embeddings are standardised
    (:class:`~sklearn.preprocessing.StandardScaler`, fitted on the training
    part) before each readout:

    - **categorical** factors (e.g. shape): multinomial
      :class:`~sklearn.linear_model.LogisticRegression` (``max_iter=5000``);
    - **continuous** factors (e.g. scale, position): ordinary least squares,
      :class:`~sklearn.linear_model.LinearRegression`;
    - **periodic** factors (e.g. orientation with period :math:`2\pi`): one
      least-squares regression of the two targets :math:`(\cos\varphi,
      \sin\varphi)`, :math:`\varphi = 2\pi\,v / \text{period}`; the
      prediction is :math:`\operatorname{atan2}` of the two outputs, mapped
      back to a value in ``[0, period)``. Values are taken modulo the
      period, so 0 and the period are the same value.

    The **grid** of a factor is its sorted distinct values over all rows of
    ``latents``. Three scores are reported on the test part:

    - ``r2``, how much of the factor's variance the readout explains:
      :func:`~sklearn.metrics.r2_score` for a continuous factor; for a
      periodic factor the circular :math:`R^2 = 1 - \sum_i d(\hat v_i, v_i)^2
      / \sum_i d(v_i, \bar v)^2`, with :math:`d` the circular distance
      :math:`\min(|a - b| \bmod p,\; p - |a - b| \bmod p)` and :math:`\bar v`
      the circular mean of the true values. 1 is perfect, 0 is no better than
      always predicting the mean, and it can be negative. NaN for a
      categorical factor, or when the true values of the test part are all
      equal.
    - ``accuracy``, the fraction of correctly predicted classes of a
      categorical factor; NaN for the others.
    - ``grid_accuracy``, the fraction of test samples whose prediction is
      closer to the true grid value than to the grid values adjacent to it,
      i.e. whose nearest grid value is the true one (circular distances, with
      the grid wrapping around, for a periodic factor; a tie counts as a
      miss). It makes factors of different ranges and grid sizes comparable;
      for a categorical factor it is the accuracy.

    ``chance`` is the ``grid_accuracy`` of the best constant guess, the
    relative frequency of the most common grid value in the test part;
    an embedding that knows nothing of a factor scores about this (a
    regression towards the mean may score somewhat less).

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        Frozen embeddings, e.g. ``pretrainer.transform(X)``; finite.
    latents : pandas.DataFrame, dict of 1-D arrays or 2-D array
        The factors of each sample, one column per factor and one row per
        sample (``n_samples`` rows). A 2-D array's columns are named
        ``"factor0"``, ``"factor1"``, ...
    factors : list of str, default=None
        The columns to read out, in this order. Default: all columns.
    categorical : list of str, default=None
        Columns to treat as classes although their values are numbers (e.g.
        a shape index 0, 1, 2). Columns of Categorical, bool, object or
        string dtype are categorical anyway.
    periodic : dict, default=None
        ``{column: period}`` for periodic factors, e.g.
        ``{"orientation": 2 * np.pi}``. A factor cannot be both categorical
        and periodic.
    test_size : float or int, default=0.25
        The held-out part: a fraction in (0, 1) of the samples, or a number
        of samples in ``[1, n_samples - 1]``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffled split; pass an int to score different embeddings
        on the same split.
    return_predictions : bool, default=False
        Also return the test part's true and predicted values.

    Returns
    -------
    scores : pandas.DataFrame
        One row per factor (index name ``"factor"``) with columns ``kind``
        (``"categorical"``, ``"continuous"`` or ``"periodic"``), ``n_values``
        (grid size), ``r2``, ``accuracy``, ``grid_accuracy`` and ``chance``.
    predictions : pandas.DataFrame
        Only with ``return_predictions=True``: the test rows (indexed like
        ``latents``) with, per factor, a column ``<factor>`` holding the true
        value and ``<factor>_predicted`` holding the predicted class
        (categorical), the raw regression output (continuous) or the
        predicted value in ``[0, period)`` (periodic), e.g. for plotting
        predicted against true values.

    See Also
    --------
    LinearProbe : A linear classifier of class labels on embeddings.
    few_label_accuracy : Accuracy of a readout trained on few labels.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from contrastlearn.evaluation import latent_readout
    >>> rng = np.random.default_rng(0)
    >>> latents = pd.DataFrame({
    ...     "shape": rng.choice(["square", "ellipse", "heart"], 400),
    ...     "scale": rng.choice(np.linspace(0.5, 1, 6), 400),
    ...     "orientation": rng.choice(np.linspace(0, 2 * np.pi, 40, endpoint=False), 400)})
    >>> embeddings = np.column_stack([         # shape and orientation exactly, scale roughly
    ...     latents["shape"] == "heart", latents["shape"] == "square",
    ...     np.cos(latents["orientation"]), np.sin(latents["orientation"]),
    ...     latents["scale"] + rng.normal(scale=0.04, size=400)])
    >>> latent_readout(embeddings, latents, periodic={"orientation": 2 * np.pi},
    ...                random_state=0).round(2)
                        kind  n_values    r2  accuracy  grid_accuracy  chance
    factor
    shape        categorical         3   NaN       1.0           1.00    0.37
    scale         continuous         6  0.94       NaN           0.81    0.22
    orientation     periodic        40  1.00       NaN           1.00    0.06
    """
    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    table = latent_table(latents)
    n_samples = len(embeddings)
    if len(table) != n_samples:
        raise ValueError(
            f"embeddings and latents must have one row per sample; got "
            f"{n_samples} embeddings and {len(table)} rows of latents."
        )
    kinds = _factor_kinds(table, factors, categorical, periodic)
    check_parameter("latent_readout", "test_size", test_size, [FRACTION, ints(1, n_samples - 1)])
    train, test = train_test_split(
        np.arange(n_samples), test_size=test_size, random_state=random_state
    )
    X_train, X_test = embeddings[train], embeddings[test]

    rows, predicted_columns = [], {}
    for name, (kind, period) in kinds.items():
        column = table[name]
        r2 = accuracy = np.nan
        if kind == "categorical":
            try:
                codes, classes = pd.factorize(column.to_numpy(), sort=True)
            except TypeError:  # classes that do not sort
                codes, classes = pd.factorize(column.to_numpy(), sort=False)
            n_train_classes = len(np.unique(codes[train]))
            if n_train_classes < 2:
                raise ValueError(
                    f"Categorical factor {name!r} needs at least 2 classes in the "
                    f"training part; got {n_train_classes} "
                    f"({classes[codes[train][0]]!r}). Use more samples or a "
                    "smaller test_size."
                )
            model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
            predicted_codes = model.fit(X_train, codes[train]).predict(X_test)
            hits = predicted_codes == codes[test]
            accuracy = float(hits.mean())
            true_index, n_values = codes[test], len(classes)
            predicted = np.asarray(classes)[predicted_codes]
            if isinstance(column.dtype, pd.CategoricalDtype):
                predicted = pd.Categorical(predicted, dtype=column.dtype)
        else:
            values = column.to_numpy(dtype=float)
            if kind == "periodic":
                values = np.mod(values, period)
            grid, index = np.unique(values, return_inverse=True)
            true_index, n_values = index[test], len(grid)
            y_true = values[test]
            model = make_pipeline(StandardScaler(), LinearRegression())
            if kind == "continuous":
                predicted = model.fit(X_train, values[train]).predict(X_test)
                residual = np.sum((predicted - y_true) ** 2)
                spread = np.sum((y_true - y_true.mean()) ** 2)
            else:
                angle = 2 * np.pi * values / period
                targets = np.column_stack([np.cos(angle), np.sin(angle)])
                cos_sin = model.fit(X_train, targets[train]).predict(X_test)
                predicted = np.mod(
                    np.arctan2(cos_sin[:, 1], cos_sin[:, 0]) / (2 * np.pi) * period, period
                )
                predicted[predicted >= period] = 0.0  # -tiny mod period rounds to period
                mean_angle = np.arctan2(targets[test, 1].mean(), targets[test, 0].mean())
                mean = np.mod(mean_angle / (2 * np.pi) * period, period)
                residual = np.sum(_circular_distance(predicted, y_true, period) ** 2)
                spread = np.sum(_circular_distance(y_true, mean, period) ** 2)
            if len(y_true) > 1 and np.ptp(y_true) > 0:
                r2 = (
                    float(1 - residual / spread)
                    if kind == "periodic"
                    else float(r2_score(y_true, predicted))
                )
            hits = _grid_hits(predicted, true_index, grid, period)
        rows.append((kind, n_values, r2, accuracy, float(hits.mean()), _chance(true_index)))
        predicted_columns[name] = column.iloc[test]
        predicted_columns[f"{name}_predicted"] = predicted

    scores = pd.DataFrame(
        rows,
        columns=["kind", "n_values", "r2", "accuracy", "grid_accuracy", "chance"],
        index=pd.Index(list(kinds), name="factor"),
    )
    scores = scores.astype(
        {"n_values": int, "r2": float, "accuracy": float, "grid_accuracy": float, "chance": float}
    )
    if not return_predictions:
        return scores
    index = table.index[test]
    predictions = pd.DataFrame(
        {
            key: (value.to_numpy() if isinstance(value, pd.Series) else value)
            for key, value in predicted_columns.items()
        },
        index=index,
    )
    for name in kinds:  # keep a Categorical column's dtype
        if isinstance(table[name].dtype, pd.CategoricalDtype):
            predictions[name] = predictions[name].astype(table[name].dtype)
    return scores, predictions
