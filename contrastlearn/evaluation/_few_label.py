"""Few-label readouts: accuracy of a classifier trained on a small labelled fraction."""

import inspect

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
)

from .._validation import RANDOM_STATE, ints
from ..validation import ArrayLike, Options, check_parameter, validate_params
from ._labels import FRACTION


def _readout(classifier, n_neighbors):
    """The unfitted classifier (the options are validated already)."""
    if classifier == "linear":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    return KNeighborsClassifier(n_neighbors=n_neighbors, metric="cosine")


@validate_params(
    {
        "embeddings": ArrayLike(),
        "y": ArrayLike(),
        "label_fraction": FRACTION,
        "classifier": Options(["linear", "knn"]),
        "n_neighbors": ints(1),
        "n_splits": ints(1),
        "random_state": RANDOM_STATE,
    }
)
def few_label_accuracy(
    embeddings,
    y,
    *,
    label_fraction=0.1,
    classifier="linear",
    n_neighbors=5,
    n_splits=5,
    random_state=0,
):
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
    model = _readout(classifier, n_neighbors)
    splits = StratifiedShuffleSplit(
        n_splits=n_splits, train_size=label_fraction, random_state=random_state
    )
    scores = [
        model.fit(embeddings[train], y[train]).score(embeddings[test], y[test])
        for train, test in splits.split(embeddings, y)
    ]
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
    # Reject bad options now, not inside a search: an unknown name is Python's TypeError, a bad
    # value few_label_accuracy's rule, named after this function.
    inspect.signature(few_label_accuracy).bind(None, None, **kwargs)
    for name, value in kwargs.items():
        check_parameter(
            "make_few_label_scorer", name, value, few_label_accuracy._parameter_constraints[name]
        )

    def few_label_scorer(estimator, X, y):
        return few_label_accuracy(estimator.transform(X), y, **kwargs)

    return few_label_scorer
