"""Evaluating embeddings: linear probes, the overlap score, few-label and factor readouts.

Everything here works on embeddings (``(n_samples, n_features)`` arrays, e.g.
the output of a pretrainer's ``transform``) and is a plain scikit-learn
estimator, metric or scorer:

- :class:`LinearProbe` -- standardisation + logistic regression, multi-label
  aware, scored by macro F1, with a per-label precision/recall/F1 table;
- :func:`linear_evaluation` -- the reference CPLR study's protocol: a
  perceptron per label, 5-fold cross-validated on all images;
- :func:`overlap_score` and :func:`make_overlap_scorer` -- how much of an
  image's label set its nearest neighbours in embedding space share (the
  similarity overlap of the CPLR paper), as a metric and as a ``scoring=``
  callable for ``GridSearchCV``;
- :func:`few_label_accuracy` and :func:`make_few_label_scorer` -- accuracy of
  a readout trained on a small labelled fraction;
- :func:`latent_readout` -- how well each generative factor of the data
  (shape, scale, orientation, position, ...) can be read back linearly
  from frozen embeddings: R^2, accuracy and grid accuracy per factor.
"""

import inspect
import numbers
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
from sklearn.metrics import (f1_score, make_scorer, precision_recall_fscore_support,
                             precision_score, r2_score, recall_score)
from sklearn.model_selection import StratifiedShuffleSplit, cross_validate, train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.neighbors import VALID_METRICS, KNeighborsClassifier, NearestNeighbors
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._base import BasePretrainer, _is_int, _is_positive_real, validate_parameters
from .pairing import latent_table

__all__ = [
    "LinearProbe",
    "few_label_accuracy",
    "latent_readout",
    "linear_evaluation",
    "make_few_label_scorer",
    "make_overlap_scorer",
    "overlap_score",
]


def _readout(label_fraction, classifier, n_neighbors):
    """Validate the readout options and return the unfitted classifier."""
    if not 0 < label_fraction < 1:
        raise ValueError(f"label_fraction must be in (0, 1); got {label_fraction!r}.")
    if classifier == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    if classifier == "knn":
        return KNeighborsClassifier(n_neighbors=n_neighbors, metric="cosine")
    raise ValueError(f"classifier must be 'linear' or 'knn'; got {classifier!r}.")


def few_label_accuracy(embeddings, y, *, label_fraction=0.1, classifier="linear",
                       n_neighbors=5, n_splits=5, random_state=0):
    """Accuracy of a classifier trained on a small labelled fraction of the embeddings.

    The samples are split ``n_splits`` times (stratified) into a labelled part
    of ``label_fraction`` and a held-out rest; a classifier is trained on the
    labelled part and scored on the rest. The mean accuracy over splits is
    returned. Raw pixels, PCA scores and learnt embeddings can be compared on
    equal terms because every one is standardised first.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels.
    label_fraction : float, default=0.1
        Fraction of samples whose labels the classifier sees, in (0, 1).
    classifier : {"linear", "knn"}, default="linear"
        ``"linear"``: standardisation + multinomial logistic regression (the
        linear probe). ``"knn"``: ``n_neighbors``-nearest-neighbour vote with
        cosine distance.
    n_neighbors : int, default=5
        Neighbours for ``classifier="knn"``.
    n_splits : int, default=5
        Number of random labelled/held-out splits averaged.
    random_state : int, default=0
        Seeds the splits, so different embeddings are scored on the same splits.

    Returns
    -------
    float
        Mean held-out accuracy.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.evaluation import few_label_accuracy
    >>> y = np.repeat([0, 1, 2], 50)
    >>> few_label_accuracy(np.eye(3)[y], y)
    1.0
    """
    embeddings = check_array(embeddings, input_name="embeddings")
    y = column_or_1d(y)
    check_consistent_length(embeddings, y)
    model = _readout(label_fraction, classifier, n_neighbors)
    splits = StratifiedShuffleSplit(n_splits=n_splits, train_size=label_fraction,
                                    random_state=random_state)
    scores = [model.fit(embeddings[train], y[train]).score(embeddings[test], y[test])
              for train, test in splits.split(embeddings, y)]
    return float(np.mean(scores))


def make_few_label_scorer(**kwargs):
    """A scorer for ``GridSearchCV(scoring=...)`` that rates a pretrainer's embedding.

    The returned callable ``scorer(estimator, X, y)`` embeds ``X`` with the
    fitted ``estimator`` (a pretrainer, a search's best estimator or a pipeline
    ending in a transformer) and returns :func:`few_label_accuracy` of that
    embedding. The ``y`` given to ``GridSearchCV.fit`` reaches only the
    scorer; pretrainers ignore it.

    Parameters
    ----------
    **kwargs
        Passed to :func:`few_label_accuracy` (``label_fraction``,
        ``classifier``, ``n_neighbors``, ``n_splits``, ``random_state``).

    Returns
    -------
    callable
        ``scorer(estimator, X, y) -> float``, higher is better.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> import contrastlearn as cl
    >>> search = GridSearchCV(cl.CLR(max_epochs=2), {"temperature": [0.1, 0.5]},
    ...                       scoring=cl.evaluation.make_few_label_scorer(classifier="knn"))
    """
    options = inspect.signature(few_label_accuracy).bind(None, None, **kwargs)
    options.apply_defaults()
    _readout(options.arguments["label_fraction"], options.arguments["classifier"],
             options.arguments["n_neighbors"])  # reject bad options now, not inside a search

    def few_label_scorer(estimator, X, y):
        return few_label_accuracy(estimator.transform(X), y, **kwargs)

    return few_label_scorer


# ----------------------------------------------------------------------------
# Linear probe
# ----------------------------------------------------------------------------

class LinearProbe(ClassifierMixin, BaseEstimator):
    """Linear classifier on embeddings, single- or multi-label.

    The standard linear evaluation of a learnt representation: the embeddings
    are standardised (:class:`~sklearn.preprocessing.StandardScaler`) and a
    logistic regression is trained on them. With 1-D class labels it is one
    multinomial :class:`~sklearn.linear_model.LogisticRegression`. With a 2-D
    binary indicator matrix ``y`` (multi-label, e.g. diffraction patterns
    labelled *spherical* and *dimer* at once) it is one binary logistic
    regression per label (:class:`~sklearn.multiclass.OneVsRestClassifier`),
    and :meth:`predict` returns a 0/1 matrix of the same shape.

    :meth:`score` returns the **macro-averaged F1**, not the accuracy that
    :class:`~sklearn.base.ClassifierMixin` would give, so that rare labels
    count as much as frequent ones and single- and multi-label probes are
    scored alike. :meth:`report` gives precision, recall and F1 per label.

    Parameters
    ----------
    C : float, default=1.0
        Inverse L2 regularisation strength of the logistic regression, > 0.
    max_iter : int, default=1000
        Maximum number of L-BFGS iterations per logistic regression.
    tol : float, default=1e-4
        Tolerance of the L-BFGS stopping criterion, > 0.
    class_weight : dict, "balanced" or None, default=None
        Passed to :class:`~sklearn.linear_model.LogisticRegression`. For
        multi-label ``y`` it applies to each label's binary problem, so a
        dict is keyed by 0 and 1.
    standardize : bool, default=True
        Standardise the embeddings (zero mean, unit variance per feature)
        before the logistic regression.
    random_state : int, RandomState instance or None, default=None
        Passed to :class:`~sklearn.linear_model.LogisticRegression` (the
        default L-BFGS solver is deterministic and does not use it).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels; for multi-label ``y`` the column indices
        ``0, ..., n_labels - 1``.
    multilabel_ : bool
        Whether ``y`` was a 2-D indicator matrix.
    scaler_ : StandardScaler or None
        The fitted scaler (None when ``standardize=False``).
    estimator_ : LogisticRegression or OneVsRestClassifier
        The fitted logistic regression(s) on the scaled embeddings.
    n_iter_ : ndarray of shape (1,) or (n_labels,)
        Iterations run by each logistic regression (0 for a label that was
        constant in ``y``, which needs no fitting).
    n_features_in_ : int
        Number of embedding dimensions seen in :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    overlap_score : Label agreement of nearest neighbours, needing no training.
    few_label_accuracy : Accuracy of a probe trained on a small labelled fraction.

    Examples
    --------
    >>> import numpy as np
    >>> import contrastlearn as cl
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.integers(0, 2, size=(200, 3))          # three labels per image
    >>> emb = Y + 0.1 * rng.normal(size=(200, 3))      # an embedding that knows them
    >>> probe = cl.evaluation.LinearProbe().fit(emb, Y)
    >>> Y[:2]
    array([[1, 1, 1],
           [0, 0, 0]])
    >>> probe.predict(emb[:2])
    array([[1, 1, 1],
           [0, 0, 0]])
    >>> probe.score(emb, Y)                            # macro F1
    1.0
    >>> probe.report(emb, Y, label_names=["spherical", "dimer", "streak"]).round(2)
               precision  recall   f1  support
    label
    spherical        1.0     1.0  1.0      110
    dimer            1.0     1.0  1.0      110
    streak           1.0     1.0  1.0      102
    macro avg        1.0     1.0  1.0      322
    micro avg        1.0     1.0  1.0      322
    """

    _parameter_checks = {
        "C": (_is_positive_real, "a float > 0"),
        "max_iter": (lambda v: _is_int(v, 1), "an int >= 1"),
        "tol": (_is_positive_real, "a float > 0"),
        "class_weight": (lambda v: v is None or isinstance(v, Mapping) or v == "balanced",
                         "None, 'balanced' or a dict mapping classes to weights"),
        "standardize": (lambda v: isinstance(v, (bool, np.bool_)), "a bool"),
        "random_state": BasePretrainer._parameter_checks["random_state"],
    }

    def __init__(self, C=1.0, *, max_iter=1000, tol=1e-4, class_weight=None,
                 standardize=True, random_state=None):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.standardize = standardize
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y):
        """Fit the scaler and the logistic regression(s).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, or a binary indicator matrix for multi-label data.

        Returns
        -------
        self : LinearProbe
            The fitted probe.
        """
        validate_parameters(self)
        X, y = validate_data(self, X, y, multi_output=True, dtype=[np.float64, np.float32])
        if sparse.issparse(y):
            y = y.toarray()
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type == "multiclass-multioutput":
            raise ValueError("LinearProbe needs 1-D class labels or a 2-D binary indicator "
                             "matrix (multi-label); got a 2-D y with values other than 0 and 1.")
        self.multilabel_ = y_type == "multilabel-indicator"
        if not self.multilabel_:
            y = column_or_1d(y, warn=True)
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError("LinearProbe needs samples of at least 2 classes in y; "
                                 f"got only one class, {self.classes_[0]}.")
        else:
            self.classes_ = np.arange(y.shape[1])
        self._y_dtype = y.dtype

        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        Xs = self.scaler_.transform(X) if self.scaler_ is not None else X
        logreg = LogisticRegression(C=self.C, max_iter=self.max_iter, tol=self.tol,
                                    class_weight=self.class_weight,
                                    random_state=self.random_state)
        if self.multilabel_:
            self.estimator_ = OneVsRestClassifier(logreg).fit(Xs, y)
            self.n_iter_ = np.array([getattr(est, "n_iter_", [0])[0]
                                     for est in self.estimator_.estimators_], dtype=np.int32)
        else:
            self.estimator_ = logreg.fit(Xs, y)
            self.n_iter_ = np.asarray(self.estimator_.n_iter_, dtype=np.int32)
        return self

    def _scaled(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self.scaler_.transform(X) if self.scaler_ is not None else X

    def predict(self, X):
        """Predict class labels, or the 0/1 label matrix for multi-label data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted classes; for multi-label data a 0/1 matrix with the
            dtype of the ``y`` given to :meth:`fit`.
        """
        X = self._scaled(X)
        y_pred = self.estimator_.predict(X)
        if self.multilabel_:
            y_pred = np.asarray(y_pred).astype(self._y_dtype, copy=False)
        return y_pred

    def predict_proba(self, X):
        """Class probabilities, or per-label probabilities for multi-label data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples, n_classes) or (n_samples, n_labels)
            Single-label: rows sum to 1, columns follow ``classes_``.
            Multi-label: the probability of each label independently.
        """
        X = self._scaled(X)
        return self.estimator_.predict_proba(X)

    def decision_function(self, X):
        """Logistic-regression scores (log-odds for binary and multi-label problems).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.

        Returns
        -------
        ndarray of shape (n_samples,), (n_samples, n_classes) or (n_samples, n_labels)
            Binary: the score of ``classes_[1]``. Multi-class: one column per
            class. Multi-label: one column per label, positive where
            :meth:`predict` gives 1.
        """
        X = self._scaled(X)
        return self.estimator_.decision_function(X)

    def score(self, X, y, sample_weight=None):
        """Macro-averaged F1 score of the predictions (not the accuracy).

        ``sklearn.metrics.f1_score(y, self.predict(X), average="macro")`` for
        single- and multi-label data alike; a label without predicted or true
        positives contributes 0. This is also what ``cross_val_score`` and
        ``GridSearchCV`` use when no ``scoring`` is given.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            True labels, of the same kind as in :meth:`fit`.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        float
            Macro F1 in [0, 1].
        """
        return float(f1_score(y, self.predict(X), average="macro",
                              sample_weight=sample_weight, zero_division=0))

    def report(self, X, y, label_names=None):
        """Precision, recall, F1 and support per label, with macro and micro averages.

        The numbers are those of
        :func:`sklearn.metrics.precision_recall_fscore_support` (with
        ``zero_division=0``) on ``y`` and ``self.predict(X)``, over all
        classes seen in :meth:`fit`. "macro avg" is the unweighted mean over
        the labels, "micro avg" pools all decisions (for single-label data it
        equals the accuracy); their support is the total support.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            True labels, of the same kind as in :meth:`fit`.
        label_names : sequence of str, default=None
            Row names, one per entry of ``classes_`` (per indicator column for
            multi-label data). Default: ``classes_`` as strings.

        Returns
        -------
        pandas.DataFrame
            Index: the label names, then "macro avg" and "micro avg" (index
            name "label"). Columns: precision, recall, f1 (floats) and support
            (int).
        """
        check_is_fitted(self)
        if label_names is None:
            names = [str(c) for c in self.classes_]
        else:
            if isinstance(label_names, str) or not hasattr(label_names, "__len__"):
                raise TypeError("label_names must be a sequence of names, one per class; "
                                f"got {label_names!r}.")
            names = [str(name) for name in label_names]
            if len(names) != len(self.classes_):
                raise ValueError(f"label_names must have one name per class "
                                 f"({len(self.classes_)}); got {len(names)}.")
            if len(set(names)) != len(names):
                raise ValueError(f"label_names must be unique; got {names!r}.")
        y_pred = self.predict(X)
        labels = None if self.multilabel_ else self.classes_
        precision, recall, f1, support = precision_recall_fscore_support(
            y, y_pred, labels=labels, average=None, zero_division=0)
        rows = [(p, r, f, s) for p, r, f, s in zip(precision, recall, f1, support)]
        for average in ("macro", "micro"):
            p, r, f, _ = precision_recall_fscore_support(
                y, y_pred, labels=labels, average=average, zero_division=0)
            rows.append((p, r, f, support.sum()))
        table = pd.DataFrame(rows, columns=["precision", "recall", "f1", "support"],
                             index=pd.Index(names + ["macro avg", "micro avg"], name="label"))
        return table.astype({"precision": float, "recall": float, "f1": float,
                             "support": int})


def linear_evaluation(embeddings, Y, *, labels=None, label_names=None, n_splits=5,
                      random_state=0):
    """The reference CPLR study's linear evaluation: a perceptron per label, cross-validated.

    For every label with at least one positive image (of ``labels``, if
    given), a binary classifier -- :class:`~sklearn.preprocessing.StandardScaler`
    then :class:`~sklearn.linear_model.SGDClassifier` with
    ``loss="perceptron", eta0=1, learning_rate="invscaling", penalty="l2",
    alpha=1e-4`` -- is scored by ``n_splits``-fold
    :func:`~sklearn.model_selection.cross_validate` (stratified folds over
    all images, whose order is shuffled once by ``random_state``). Accuracy,
    precision, recall and F1 of the positive class (``zero_division=0``) are
    averaged over the folds, then over the labels ("macro avg"), exactly as
    ``scripts/overlap_score_and_lin_accuracy.py`` of the authors' code does.
    Labels without positives are skipped, not scored 0.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
    Y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels (one-hot encoded) or a binary indicator matrix.
    labels : array-like, default=None
        The labels to evaluate: column indices of an indicator ``Y`` (class
        values for 1-D ``Y``). Default: all.
    label_names : sequence of str, default=None
        Names of the evaluated labels for the index; default their indices.
    n_splits : int, default=5
        Cross-validation folds.
    random_state : int, default=0
        Seeds the shuffled order and the classifiers (the reference used
        5635786).

    Returns
    -------
    pandas.DataFrame
        One row per evaluated label and a last row "macro avg" (index name
        "label"), columns accuracy, precision, recall, f1 and support
        (positives).

    See Also
    --------
    LinearProbe : A logistic-regression probe trained on one split.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.evaluation import linear_evaluation
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.integers(0, 2, size=(100, 2))
    >>> table = linear_evaluation(Y + 0.05 * rng.normal(size=(100, 2)), Y)
    >>> table.loc["macro avg", ["accuracy", "f1"]].round(2).tolist()
    [1.0, 1.0]
    """
    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    indicator, columns = _label_indicator(Y, labels)
    check_consistent_length(embeddings, indicator)
    if label_names is None:
        names = [str(column) for column in columns]
    else:
        names = [str(name) for name in label_names]
        if len(names) != len(columns):
            raise ValueError(f"label_names must name the {len(columns)} evaluated labels; got "
                             f"{len(names)}.")
    order = np.arange(len(embeddings))
    np.random.default_rng(random_state).shuffle(order)
    scoring = {"accuracy": "accuracy",
               **{name: make_scorer(metric, zero_division=0) for name, metric in
                  [("precision", precision_score), ("recall", recall_score), ("f1", f1_score)]}}
    rows, index = [], []
    for column, name in enumerate(names):
        target = indicator[order, column].astype(int)
        if not target.any():
            continue
        classifier = make_pipeline(StandardScaler(), SGDClassifier(
            loss="perceptron", eta0=1, learning_rate="invscaling", penalty="l2", alpha=1e-4,
            shuffle=True, random_state=random_state))
        folds = cross_validate(classifier, embeddings[order], target, cv=n_splits,
                               scoring=scoring)
        rows.append([np.mean(folds[f"test_{key}"]) for key in scoring] + [int(target.sum())])
        index.append(name)
    if not rows:
        raise ValueError("Y has no positive labels among those evaluated; there is nothing to "
                         "classify.")
    table = pd.DataFrame(rows, columns=[*scoring, "support"], index=pd.Index(index, name="label"))
    table.loc["macro avg"] = [*table[list(scoring)].mean(), table["support"].sum()]
    return table.astype({"support": int})


# ----------------------------------------------------------------------------
# Similarity overlap
# ----------------------------------------------------------------------------

_AVERAGES = ("macro", "samples", None)


def _check_overlap_options(n_neighbors, metric, average, *, owner="overlap_score"):
    """Validate the options that do not depend on the data."""
    if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, numbers.Real):
        raise TypeError(f"n_neighbors of {owner} must be an int >= 1 or a float in (0, 1); "
                        f"got {n_neighbors!r} of type {type(n_neighbors).__name__}.")
    if isinstance(n_neighbors, numbers.Integral):
        if n_neighbors < 1:
            raise ValueError(f"n_neighbors of {owner} must be an int >= 1 or a float in "
                             f"(0, 1); got {n_neighbors!r}.")
    elif not 0 < n_neighbors < 1:
        raise ValueError(f"n_neighbors of {owner} must be an int >= 1 or a float in (0, 1) "
                         f"(a fraction of the samples); got {n_neighbors!r}.")
    _check_metric(metric, owner=owner)
    if not any(average is a or (isinstance(average, str) and average == a) for a in _AVERAGES):
        raise ValueError(f"average of {owner} must be 'macro', 'samples' or None; "
                         f"got {average!r}.")


def _check_metric(metric, *, owner):
    """A metric is a callable or a name that NearestNeighbors accepts with brute force."""
    if callable(metric):
        return
    if not isinstance(metric, str):
        raise TypeError(f"metric of {owner} must be a string or a callable; got {metric!r}.")
    if metric not in VALID_METRICS["brute"]:
        raise ValueError(f"metric of {owner} must be one of {sorted(VALID_METRICS['brute'])} "
                         f"or a callable; got {metric!r}.")


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
            raise ValueError(f"2-D {name} must be a binary indicator matrix (0/1 or bool, "
                             "one column per label).")
        indicator = Y.astype(bool)
        classes = np.arange(Y.shape[1])
        if labels is not None:
            columns = column_or_1d(labels)
            if columns.dtype.kind not in "iu" or columns.size and (
                    columns.min() < 0 or columns.max() >= Y.shape[1]):
                raise ValueError(f"labels must be column indices of {name} in "
                                 f"[0, {Y.shape[1]}); got {labels!r}.")
            return indicator[:, columns], columns
        return indicator, classes
    raise ValueError(f"{name} must be 1-D class labels or a 2-D indicator matrix; "
                     f"got an array of shape {Y.shape}.")


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


def overlap_score(embeddings, Y, n_neighbors=0.01, metric="cosine", *, average="macro",
                  labels=None):
    r"""Similarity overlap: how much of an image's label set its nearest neighbours share.

    The metric of Zimmermann et al. (2023) for judging an embedding of
    diffraction images without training anything on it. For every image,
    its ``n_neighbors`` nearest neighbours in embedding space are found
    (excluding the image itself) and the overlap of its label set
    :math:`Y_i` with each neighbour's :math:`Y_j` is

    .. math::

        o(Y_i, Y_j) = \frac{|Y_i \cap Y_j|}{\max(|Y_i|, |Y_j|)},

    1 for identical label sets, 0 for disjoint ones. The image's score is
    the mean over its neighbours :math:`N_k(i)`,
    :math:`s_i = \frac{1}{k} \sum_{j \in N_k(i)} o(Y_i, Y_j)`, and the
    overlap score is the mean of :math:`s_i` over the images of each label,
    averaged over labels (``average="macro"``, as in the paper):

    .. math::

        \text{overlap} = \frac{1}{|L|} \sum_{l \in L}
            \frac{1}{|I_l|} \sum_{i \in I_l} s_i ,
        \qquad I_l = \{i : l \in Y_i\},

    where :math:`L` are the labels that occur. An image with several labels
    counts once for each; an image with no label is never a query (its
    :math:`s_i` is undefined) but, as a neighbour, overlaps 0 with any
    labelled image. With ``average="samples"`` the score is instead the mean
    of :math:`s_i` over all images that have a label. 1-D class labels are
    treated as one-hot label sets, so the overlap is 1 for a neighbour of the
    same class and 0 otherwise, and the macro score is the class-balanced
    fraction of same-class neighbours.

    The score is 1 when every image's nearest neighbours carry exactly its
    labels, and near the chance level (the mean overlap of random pairs,
    class-averaged the same way) for an embedding unrelated to the labels.
    It depends on the embedding only through neighbour ranks, so it is
    invariant to scaling the embedding by a positive constant.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        The embedding to judge, e.g. ``pretrainer.transform(X)``.
    Y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels, or a binary indicator matrix of label sets
        (multi-label). A sparse indicator matrix is accepted.
    n_neighbors : int or float, default=0.01
        Neighbours per image: an int in ``[1, n_samples)``, or a float in
        (0, 1) for a fraction of the samples (rounded, at least 1). The
        default is the paper's 1 % of the images (13 of 1,260).
    metric : str or callable, default="cosine"
        Distance in embedding space, any metric of
        :class:`~sklearn.neighbors.NearestNeighbors` (brute force), or
        ``"precomputed"`` when ``embeddings`` is a square matrix of
        distances. The paper used cosine for contrastive embeddings and
        euclidean for PCA and the other baselines.
    average : {"macro", "samples"} or None, default="macro"
        ``"macro"``: mean over labels of the mean over their images (the
        paper's score). ``"samples"``: mean over labelled images. ``None``:
        return the per-label means instead (NaN for a label that no image
        carries).
    labels : array-like, default=None
        Only these labels count, both as queries and in the overlaps (the
        paper scored 7 "relevant" classes of 11): column indices for an
        indicator ``Y``, class values for 1-D ``Y``. Default: all. A label
        that no image carries is skipped: it does not enter the macro mean
        (``average=None`` gives NaN for it).

    Returns
    -------
    float or ndarray of shape (n_labels,)
        The overlap score in [0, 1]; per label when ``average=None``.

    See Also
    --------
    make_overlap_scorer : This score as a ``scoring=`` callable for GridSearchCV.
    LinearProbe : A trained linear readout of the same labels.

    Notes
    -----
    Reference implementation: ``overlap_score`` and ``get_scores`` in
    ``scripts/overlap_score_and_lin_accuracy.py`` of the authors' code,
    https://github.com/julian-carpenter/contrastive_projection_learning
    (mirrored from gitlab.ethz.ch/nux/machine-learning/contrastive_projection_learning).
    That script drops the first entry of each sorted distance row as the
    image itself; here the image is excluded by index, so ties among
    duplicate embeddings may be broken differently.

    References
    ----------
    .. [1] J. Zimmermann, F. Beguet, D. Guthruf, B. Langbehn and D. Rupp,
       "Finding the semantic similarity in single-particle diffraction images
       using self-supervised contrastive projection learning",
       npj Computational Materials 9, 24 (2023),
       https://doi.org/10.1038/s41524-023-00966-0

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.evaluation import overlap_score
    >>> y = np.repeat([0, 1, 2], 20)
    >>> overlap_score(np.eye(3)[y], y, n_neighbors=5)      # neighbours share the class
    1.0
    >>> emb = np.array([[0., 1], [0, 2], [1, 0], [2, 0]])  # two tight pairs
    >>> Y = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 1]])
    >>> overlap_score(emb, Y, n_neighbors=1, average=None)  # per label: a, b, c
    array([0.5, 0.5, 1. ])
    >>> round(overlap_score(emb, Y, n_neighbors=1), 4)     # their mean
    0.6667
    """
    _check_overlap_options(n_neighbors, metric, average)
    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    indicator, _ = _label_indicator(Y, labels)
    check_consistent_length(embeddings, indicator)
    n_samples = len(embeddings)
    k = neighbor_count(n_neighbors, n_samples)
    if k >= n_samples:
        raise ValueError(f"n_neighbors must be < n_samples = {n_samples} (an image is not "
                         f"its own neighbour); got {n_neighbors}.")
    n_positive = indicator.sum(0)
    if not n_positive.any():
        raise ValueError("Y has no positive labels: every label set is empty, so no image "
                         "has anything to share with its neighbours.")

    neighbors = NearestNeighbors(n_neighbors=k, metric=metric).fit(embeddings) \
        .kneighbors(return_distance=False)
    per_image = np.zeros(n_samples)           # s_i; 0 for unlabelled images, never used
    has_label = indicator.any(1)
    chunk = max(1, 2**22 // max(1, k * indicator.shape[1]))
    for start in range(0, n_samples, chunk):
        rows = np.arange(start, min(start + chunk, n_samples))
        rows = rows[has_label[rows]]
        overlaps = _pair_overlap(indicator[rows, None, :], indicator[neighbors[rows]])
        per_image[rows] = overlaps.mean(1)    # never NaN: the query has a label

    if average == "samples":
        return float(per_image[has_label].mean())
    with np.errstate(invalid="ignore", divide="ignore"):
        per_label = (indicator.T @ per_image) / n_positive
    per_label[n_positive == 0] = np.nan
    if average is None:
        return per_label
    return float(per_label[n_positive > 0].mean())


class _OverlapScorer:
    """``scorer(estimator, X, Y)``: the overlap score of ``estimator.transform(X)``."""

    def __init__(self, options):
        self._options = options

    def __call__(self, estimator, X, y=None):
        if y is None:
            raise ValueError("The overlap scorer needs the labels: pass them as y, e.g. "
                             "GridSearchCV(...).fit(X, Y); the pretrainer itself ignores them.")
        if not hasattr(estimator, "transform"):
            raise TypeError("The overlap scorer needs an estimator with a transform method "
                            "(a pretrainer or a pipeline ending in a transformer); got "
                            f"{type(estimator).__name__}.")
        return overlap_score(estimator.transform(X), y, **self._options)

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in self._options.items())
        return f"make_overlap_scorer({options})"


def make_overlap_scorer(n_neighbors=0.01, metric="cosine", *, average="macro", labels=None):
    """A scorer for ``GridSearchCV(scoring=...)`` that rates an embedding by its overlap score.

    The returned callable ``scorer(estimator, X, Y)`` embeds ``X`` with the
    fitted ``estimator`` (a pretrainer, or a pipeline ending in a
    transformer) and returns :func:`overlap_score` of that embedding and
    ``Y``. The ``Y`` given to ``GridSearchCV.fit(X, Y)`` reaches only the
    scorer; pretrainers ignore it. The options are checked here, so that a
    typo fails at once rather than inside a long search.

    Parameters
    ----------
    n_neighbors : int or float, default=0.01
        Neighbours per image, int >= 1 or a fraction of the samples in
        (0, 1) (the default: the paper's 1 %); an int must also be below the
        size of each scored fold.
    metric : str or callable, default="cosine"
        Distance in embedding space.
    average : {"macro", "samples"}, default="macro"
        See :func:`overlap_score`; a scorer must return one number, so
        ``None`` is not allowed.
    labels : array-like, default=None
        Labels that count, see :func:`overlap_score`.

    Returns
    -------
    callable
        ``scorer(estimator, X, Y) -> float``, higher is better; picklable, so
        it works with ``n_jobs``.

    See Also
    --------
    overlap_score : The metric itself.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.decomposition import PCA
    >>> from sklearn.model_selection import GridSearchCV
    >>> from contrastlearn.evaluation import make_overlap_scorer
    >>> rng = np.random.default_rng(0)
    >>> Y = rng.integers(0, 2, size=(150, 3))                         # multi-label
    >>> X = np.hstack([4 * Y, rng.normal(size=(150, 20))])            # signal + noise
    >>> search = GridSearchCV(PCA(), {"n_components": [1, 3, 23]},
    ...                       scoring=make_overlap_scorer(n_neighbors=5), cv=3)
    >>> search.fit(X, Y).best_params_
    {'n_components': 3}
    """
    _check_overlap_options(n_neighbors, metric, average, owner="make_overlap_scorer")
    if average is None:
        raise ValueError("average of make_overlap_scorer must be 'macro' or 'samples'; "
                         "a scorer returns one number, so None is not allowed.")
    if labels is not None:
        labels = column_or_1d(labels)
    return _OverlapScorer({"n_neighbors": n_neighbors, "metric": metric,
                           "average": average, "labels": labels})


# ----------------------------------------------------------------------------
# Reading generative factors back from embeddings
# ----------------------------------------------------------------------------

def _names(value, argument):
    """A list of column names from None, one name, or a sequence of names."""
    if value is None:
        return []
    if isinstance(value, (str, numbers.Number)):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{argument} must be a list of column names of latents; "
                        f"got {value!r}.") from None


def _check_columns(names, table, argument):
    unknown = [name for name in names if name not in table.columns]
    if unknown:
        raise ValueError(f"{argument} names {unknown!r}, which are not columns of latents; "
                         f"the columns are {list(table.columns)!r}.")


def _factor_kinds(table, factors, categorical, periodic):
    """The kind ("categorical", "continuous" or "periodic") and period of each factor."""
    if factors is None:
        factors = list(table.columns)
    else:
        factors = _names(factors, "factors")
        _check_columns(factors, table, "factors")
    if not factors:
        raise ValueError("There is no factor to read out: latents has no columns or factors "
                         "is empty.")
    duplicated = sorted({str(name) for name in factors if factors.count(name) > 1})
    if duplicated:
        raise ValueError(f"factors must not repeat a name; got {duplicated} more than once.")
    categorical = _names(categorical, "categorical")
    _check_columns(categorical, table, "categorical")
    if periodic is None:
        periodic = {}
    if not isinstance(periodic, Mapping):
        raise TypeError("periodic must be a dict {factor name: period}, e.g. "
                        f"{{'orientation': 2 * np.pi}}; got {periodic!r}.")
    _check_columns(list(periodic), table, "periodic")

    kinds = {}
    for name in factors:
        column = table[name]
        dtype = column.dtype
        by_dtype = (isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype)
                    or pd.api.types.is_object_dtype(dtype)
                    or pd.api.types.is_string_dtype(dtype))
        if name in periodic:
            if name in categorical or by_dtype:
                why = ("is named in categorical" if name in categorical
                       else f"has the categorical dtype {dtype}")
                raise ValueError(f"Factor {name!r} cannot be both categorical and periodic: "
                                 f"it is named in periodic and {why}.")
            period = periodic[name]
            if (isinstance(period, bool) or not isinstance(period, numbers.Real)
                    or not np.isfinite(period) or period <= 0):
                raise ValueError(f"The period of factor {name!r} must be a finite number > 0; "
                                 f"got {period!r}.")
            kinds[name] = ("periodic", float(period))
        elif name in categorical or by_dtype:
            kinds[name] = ("categorical", None)
        else:
            kinds[name] = ("continuous", None)
        if column.isna().any():
            raise ValueError(f"latents column {name!r} has missing values (NaN or None); "
                             "every sample needs a value of every factor read out.")
        if kinds[name][0] != "categorical":
            if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
                raise ValueError(f"Factor {name!r} is {kinds[name][0]} and needs real numbers; "
                                 f"got dtype {dtype}. Name it in categorical if its values "
                                 "are classes.")
            if not np.isfinite(column.to_numpy(dtype=float)).all():
                raise ValueError(f"latents column {name!r} contains infinity.")
    return kinds


def _check_test_size(test_size, n_samples):
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"test_size must be a float in (0, 1) or an int in [1, n_samples - 1] "
                        f"= [1, {n_samples - 1}]; got {test_size!r} of type "
                        f"{type(test_size).__name__}.")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n_samples - 1:
            raise ValueError(f"test_size must be a float in (0, 1) or an int in "
                             f"[1, n_samples - 1] = [1, {n_samples - 1}]; got {test_size!r}.")
    elif not 0 < test_size < 1:
        raise ValueError(f"test_size must be a float in (0, 1) or an int in "
                         f"[1, n_samples - 1] = [1, {n_samples - 1}]; got {test_size!r}.")


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
            exists = neighbour != true_index        # a grid of one value has no neighbour
        other = distance(predicted, grid[np.clip(neighbour, 0, n - 1)])
        hit &= ~exists | (own < other)
    return hit


def _chance(codes):
    """Relative frequency of the most common value among integer codes."""
    return float(np.bincount(codes).max() / len(codes)) if len(codes) else np.nan


def latent_readout(embeddings, latents, *, factors=None, categorical=None, periodic=None,
                   test_size=0.25, random_state=None, return_predictions=False):
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
        raise ValueError(f"embeddings and latents must have one row per sample; got "
                         f"{n_samples} embeddings and {len(table)} rows of latents.")
    kinds = _factor_kinds(table, factors, categorical, periodic)
    _check_test_size(test_size, n_samples)
    if not isinstance(return_predictions, (bool, np.bool_)):
        raise TypeError(f"return_predictions must be a bool; got {return_predictions!r}.")
    train, test = train_test_split(np.arange(n_samples), test_size=test_size,
                                   random_state=random_state)
    X_train, X_test = embeddings[train], embeddings[test]

    rows, predicted_columns = [], {}
    for name, (kind, period) in kinds.items():
        column = table[name]
        r2 = accuracy = np.nan
        if kind == "categorical":
            try:
                codes, classes = pd.factorize(column.to_numpy(), sort=True)
            except TypeError:                           # classes that do not sort
                codes, classes = pd.factorize(column.to_numpy(), sort=False)
            n_train_classes = len(np.unique(codes[train]))
            if n_train_classes < 2:
                raise ValueError(f"Categorical factor {name!r} needs at least 2 classes in the "
                                 f"training part; got {n_train_classes} "
                                 f"({classes[codes[train][0]]!r}). Use more samples or a "
                                 "smaller test_size.")
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
                predicted = np.mod(np.arctan2(cos_sin[:, 1], cos_sin[:, 0]) / (2 * np.pi)
                                   * period, period)
                predicted[predicted >= period] = 0.0     # -tiny mod period rounds to period
                mean_angle = np.arctan2(targets[test, 1].mean(), targets[test, 0].mean())
                mean = np.mod(mean_angle / (2 * np.pi) * period, period)
                residual = np.sum(_circular_distance(predicted, y_true, period) ** 2)
                spread = np.sum(_circular_distance(y_true, mean, period) ** 2)
            if len(y_true) > 1 and np.ptp(y_true) > 0:
                r2 = float(1 - residual / spread) if kind == "periodic" \
                    else float(r2_score(y_true, predicted))
            hits = _grid_hits(predicted, true_index, grid, period)
        rows.append((kind, n_values, r2, accuracy, float(hits.mean()), _chance(true_index)))
        predicted_columns[name] = column.iloc[test]
        predicted_columns[f"{name}_predicted"] = predicted

    scores = pd.DataFrame(rows, columns=["kind", "n_values", "r2", "accuracy",
                                         "grid_accuracy", "chance"],
                          index=pd.Index(list(kinds), name="factor"))
    scores = scores.astype({"n_values": int, "r2": float, "accuracy": float,
                            "grid_accuracy": float, "chance": float})
    if not return_predictions:
        return scores
    index = table.index[test]
    predictions = pd.DataFrame(
        {key: (value.to_numpy() if isinstance(value, pd.Series) else value)
         for key, value in predicted_columns.items()}, index=index)
    for name in kinds:                                  # keep a Categorical column's dtype
        if isinstance(table[name].dtype, pd.CategoricalDtype):
            predictions[name] = predictions[name].astype(table[name].dtype)
    return scores, predictions
