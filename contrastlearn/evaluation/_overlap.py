"""The similarity overlap of Zimmermann et al. (2023) as a metric and a scorer."""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import (
    check_array,
    check_consistent_length,
    column_or_1d,
)

from .._validation import ints
from ..validation import ArrayLike, Options, check_parameter, validate_params
from ._labels import (
    FRACTION,
    LABELS,
    METRIC,
    NEIGHBORS,
    _label_indicator,
    _pair_overlap,
    neighbor_count,
)

# The options overlap_score and make_overlap_scorer share, so that both word a rule alike.
_OPTIONS = {"n_neighbors": NEIGHBORS, "metric": METRIC, "labels": LABELS}


@validate_params(
    {
        "embeddings": ArrayLike(),
        "Y": ArrayLike(),
        **_OPTIONS,
        "average": Options(["macro", "samples", None]),
    }
)
def overlap_score(
    embeddings, Y, n_neighbors=0.01, metric="cosine", *, average="macro", labels=None
):
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
    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    indicator, _ = _label_indicator(Y, labels)
    check_consistent_length(embeddings, indicator)
    n_samples = len(embeddings)
    # an image is not its own neighbour: at most n_samples - 1 (a fraction is clipped to it)
    check_parameter("overlap_score", "n_neighbors", n_neighbors, [ints(1, n_samples - 1), FRACTION])
    k = neighbor_count(n_neighbors, n_samples)
    n_positive = indicator.sum(0)
    if not n_positive.any():
        raise ValueError(
            "Y has no positive labels: every label set is empty, so no image "
            "has anything to share with its neighbours."
        )

    neighbors = (
        NearestNeighbors(n_neighbors=k, metric=metric)
        .fit(embeddings)
        .kneighbors(return_distance=False)
    )
    per_image = np.zeros(n_samples)  # s_i; 0 for unlabelled images, never used
    has_label = indicator.any(1)
    chunk = max(1, 2**22 // max(1, k * indicator.shape[1]))
    for start in range(0, n_samples, chunk):
        rows = np.arange(start, min(start + chunk, n_samples))
        rows = rows[has_label[rows]]
        overlaps = _pair_overlap(indicator[rows, None, :], indicator[neighbors[rows]])
        per_image[rows] = overlaps.mean(1)  # never NaN: the query has a label

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
            raise ValueError(
                "The overlap scorer needs the labels: pass them as y, e.g. "
                "GridSearchCV(...).fit(X, Y); the pretrainer itself ignores them."
            )
        if not hasattr(estimator, "transform"):
            raise TypeError(
                "The overlap scorer needs an estimator with a transform method "
                "(a pretrainer or a pipeline ending in a transformer); got "
                f"{type(estimator).__name__}."
            )
        return overlap_score(estimator.transform(X), y, **self._options)

    def __repr__(self):
        options = ", ".join(f"{key}={value!r}" for key, value in self._options.items())
        return f"make_overlap_scorer({options})"


@validate_params({**_OPTIONS, "average": Options(["macro", "samples"])})
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
    if labels is not None:
        labels = column_or_1d(labels)
    return _OverlapScorer(
        {"n_neighbors": n_neighbors, "metric": metric, "average": average, "labels": labels}
    )
