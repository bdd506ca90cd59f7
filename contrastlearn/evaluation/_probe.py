"""Linear evaluation: the multi-label probe estimator and the CPLR study's protocol."""

from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.metrics import (
    f1_score,
    make_scorer,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
)
from sklearn.model_selection import cross_validate
from sklearn.multiclass import OneVsRestClassifier
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

from .._validation import BOOL, POSITIVE, RANDOM_STATE, ints
from ..validation import (
    ArrayLike,
    InstanceOf,
    Options,
    Predicate,
    check_parameter,
    validate_parameters,
    validate_params,
)
from ._labels import LABELS, NAMES, _label_indicator


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

    _parameter_constraints = {
        "C": POSITIVE,
        "max_iter": ints(1),
        "tol": POSITIVE,
        "class_weight": [
            None,
            Options(["balanced"]),
            InstanceOf(Mapping, name="a dict mapping classes to weights"),
        ],
        "standardize": BOOL,
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        C=1.0,
        *,
        max_iter=1000,
        tol=1e-4,
        class_weight=None,
        standardize=True,
        random_state=None,
    ):
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
            raise ValueError(
                "LinearProbe needs 1-D class labels or a 2-D binary indicator "
                "matrix (multi-label); got a 2-D y with values other than 0 and 1."
            )
        self.multilabel_ = y_type == "multilabel-indicator"
        if not self.multilabel_:
            y = column_or_1d(y, warn=True)
            self.classes_ = np.unique(y)
            if len(self.classes_) < 2:
                raise ValueError(
                    "LinearProbe needs samples of at least 2 classes in y; "
                    f"got only one class, {self.classes_[0]}."
                )
        else:
            self.classes_ = np.arange(y.shape[1])
        self._y_dtype = y.dtype

        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        Xs = self.scaler_.transform(X) if self.scaler_ is not None else X
        logreg = LogisticRegression(
            C=self.C,
            max_iter=self.max_iter,
            tol=self.tol,
            class_weight=self.class_weight,
            random_state=self.random_state,
        )
        if self.multilabel_:
            self.estimator_ = OneVsRestClassifier(logreg).fit(Xs, y)
            self.n_iter_ = np.array(
                [getattr(est, "n_iter_", [0])[0] for est in self.estimator_.estimators_],
                dtype=np.int32,
            )
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
        return float(
            f1_score(
                y, self.predict(X), average="macro", sample_weight=sample_weight, zero_division=0
            )
        )

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
                raise TypeError(
                    f"label_names must be a sequence of names, one per class; got {label_names!r}."
                )
            names = [str(name) for name in label_names]
            if len(names) != len(self.classes_):
                raise ValueError(
                    f"label_names must have one name per class "
                    f"({len(self.classes_)}); got {len(names)}."
                )
            if len(set(names)) != len(names):
                raise ValueError(f"label_names must be unique; got {names!r}.")
        y_pred = self.predict(X)
        labels = None if self.multilabel_ else self.classes_
        precision, recall, f1, support = precision_recall_fscore_support(
            y, y_pred, labels=labels, average=None, zero_division=0
        )
        rows = [(p, r, f, s) for p, r, f, s in zip(precision, recall, f1, support)]
        for average in ("macro", "micro"):
            p, r, f, _ = precision_recall_fscore_support(
                y, y_pred, labels=labels, average=average, zero_division=0
            )
            rows.append((p, r, f, support.sum()))
        table = pd.DataFrame(
            rows,
            columns=["precision", "recall", "f1", "support"],
            index=pd.Index(names + ["macro avg", "micro avg"], name="label"),
        )
        return table.astype({"precision": float, "recall": float, "f1": float, "support": int})


@validate_params(
    {
        "embeddings": ArrayLike(),
        "Y": ArrayLike(),
        "labels": LABELS,
        "label_names": [None, NAMES],
        "n_splits": ints(2),
        "random_state": RANDOM_STATE,
    }
)
def linear_evaluation(embeddings, Y, *, labels=None, label_names=None, n_splits=5, random_state=0):
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
        check_parameter(
            "linear_evaluation",
            "label_names",
            label_names,
            Predicate(
                lambda _: len(names) == len(columns),
                f"a sequence of {len(columns)} names, one per evaluated label",
            ),
        )
    order = np.arange(len(embeddings))
    np.random.default_rng(random_state).shuffle(order)
    scoring = {
        "accuracy": "accuracy",
        **{
            name: make_scorer(metric, zero_division=0)
            for name, metric in [
                ("precision", precision_score),
                ("recall", recall_score),
                ("f1", f1_score),
            ]
        },
    }
    rows, index = [], []
    for column, name in enumerate(names):
        target = indicator[order, column].astype(int)
        if not target.any():
            continue
        classifier = make_pipeline(
            StandardScaler(),
            SGDClassifier(
                loss="perceptron",
                eta0=1,
                learning_rate="invscaling",
                penalty="l2",
                alpha=1e-4,
                shuffle=True,
                random_state=random_state,
            ),
        )
        folds = cross_validate(classifier, embeddings[order], target, cv=n_splits, scoring=scoring)
        rows.append([np.mean(folds[f"test_{key}"]) for key in scoring] + [int(target.sum())])
        index.append(name)
    if not rows:
        raise ValueError(
            "Y has no positive labels among those evaluated; there is nothing to classify."
        )
    table = pd.DataFrame(rows, columns=[*scoring, "support"], index=pd.Index(index, name="label"))
    table.loc["macro avg"] = [*table[list(scoring)].mean(), table["support"].sum()]
    return table.astype({"support": int})
