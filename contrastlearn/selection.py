"""Choosing which images to label: the most diverse ones of an embedding.

:func:`select_diverse` picks ``n_samples`` images that cover the embedding,
so that labelling them (instead of a random draw) teaches a probe the most:
``method="kmeans"`` (the default) takes the image nearest to each of
``n_samples`` k-means centres (typical and spread), ``method="kcenter"`` is
the greedy k-center / core-set choice (each pick the image farthest from
those already picked; Sener and Savarese, 2018), which also picks outliers.
"""

import numbers

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances, pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._validation import RANDOM_STATE
from .evaluation._labels import METRIC
from .validation import ArrayLike, Interval, Options, check_parameter, validate_params

__all__ = ["select_diverse"]


@validate_params(
    {
        "embeddings": ArrayLike(),
        "n_samples": Interval(numbers.Integral, 1),
        "method": Options(["kcenter", "kmeans"]),
        "metric": METRIC,
        "already_selected": [None, ArrayLike()],
        "random_state": RANDOM_STATE,
    }
)
def select_diverse(
    embeddings,
    n_samples,
    *,
    method="kmeans",
    metric="euclidean",
    already_selected=None,
    random_state=None,
):
    """The indices of ``n_samples`` images that together cover the embedding best.

    ``"kmeans"``: k-means with ``n_samples`` clusters (Euclidean), and the
    image nearest each centre; with ``already_selected``, k-means fits
    ``n_samples + len(already_selected)`` clusters and the picks come from
    the largest clusters holding no labelled image (as TypiClust does).
    ``"kcenter"`` (core-set): start from ``already_selected`` (the images
    labelled so far) or, with none, from the image nearest the mean; then
    add, one at a time, the image farthest (in ``metric``) from every image
    picked, which greedily minimises the largest distance from any image to
    its nearest pick.

    Parameters
    ----------
    embeddings : array-like of shape (n_images, n_features)
        E.g. a pretrainer's ``transform`` of the unlabelled pool.
    n_samples : int
        How many images to pick (new ones, besides ``already_selected``).
    method : {"kmeans", "kcenter"}, default="kmeans"
        ``benchmarks/selection.py`` measured ``"kmeans"`` above random labels
        on both of its pools at every budget (10-80 labels), and ``"kcenter"``
        in 5 of the 8 cases only (it picks outliers).
    metric : str or callable, default="euclidean"
        Distance for ``"kcenter"`` (any of
        :func:`sklearn.metrics.pairwise_distances`; ``"cosine"`` suits
        unit-norm embeddings).
    already_selected : array-like of int, default=None
        Indices already labelled; never picked again.
    random_state : int, RandomState or None, default=None
        Seeds k-means (``"kcenter"`` is deterministic).

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
        Indices into ``embeddings``, in the order picked (``"kcenter"``) or
        by decreasing cluster size (``"kmeans"``).

    References
    ----------
    Sener and Savarese, "Active Learning for Convolutional Neural Networks:
    A Core-Set Approach", ICLR 2018. Hacohen, Dekel and Weinshall, "Active
    Learning on a Budget: Opposite Strategies Suit High and Low Budgets"
    (TypiClust), ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.selection import select_diverse
    >>> points = np.array([[0, 0], [0.1, 0], [5, 5], [5.1, 5], [10, 0]])
    >>> sorted(select_diverse(points, 3, method="kcenter").tolist())
    [0, 2, 4]
    >>> picks = select_diverse(points, 3, random_state=0)  # one per group of points
    >>> sorted(points[picks, 0].round().tolist())
    [0.0, 5.0, 10.0]
    """
    embeddings = check_array(embeddings, dtype=np.float64, input_name="embeddings")
    n_images = len(embeddings)
    taken = (
        np.zeros(0, dtype=np.int64)
        if already_selected is None
        else np.unique(np.asarray(already_selected, dtype=np.int64))
    )
    if taken.size and (taken.min() < 0 or taken.max() >= n_images):
        raise ValueError(
            f"already_selected must index the {n_images} embeddings; got indices from "
            f"{taken.min()} to {taken.max()}."
        )
    check_parameter(
        "select_diverse",
        "n_samples",
        n_samples,
        Interval(numbers.Integral, 1, n_images - len(taken), closed="both"),
    )
    if method == "kmeans":
        return _kmeans_pick(embeddings, n_samples, taken, random_state)
    nearest = np.full(n_images, np.inf)
    if taken.size:
        for start in range(0, len(taken), 1024):
            nearest = np.minimum(
                nearest,
                pairwise_distances(
                    embeddings, embeddings[taken[start : start + 1024]], metric=metric
                ).min(1),
            )
    picks = []
    if not taken.size:
        first = int(pairwise_distances_argmin(embeddings.mean(0, keepdims=True), embeddings)[0])
        picks.append(first)
        nearest = pairwise_distances(embeddings, embeddings[[first]], metric=metric)[:, 0]
    nearest[taken] = -np.inf
    while len(picks) < n_samples:
        if picks:
            nearest[picks[-1]] = -np.inf
        farthest = int(np.argmax(nearest))
        picks.append(farthest)
        distance = pairwise_distances(embeddings, embeddings[[farthest]], metric=metric)[:, 0]
        nearest = np.minimum(nearest, distance)
    return np.asarray(picks[:n_samples], dtype=np.int64)


def _kmeans_pick(embeddings, n_samples, taken, random_state):
    n_clusters = n_samples + len(taken)
    kmeans = KMeans(n_clusters, n_init=3, random_state=check_random_state(random_state))
    assignment = kmeans.fit_predict(embeddings)
    covered = set(assignment[taken].tolist())
    free = np.ones(len(embeddings), dtype=bool)
    free[taken] = False
    picks = []
    sizes = np.bincount(assignment, minlength=n_clusters)
    for cluster in np.argsort(-sizes, kind="stable"):  # the largest uncovered clusters first
        members = np.flatnonzero((assignment == cluster) & free)
        if cluster in covered or not members.size:
            continue
        centre = kmeans.cluster_centers_[cluster][None]
        picks.append(int(members[np.argmin(((embeddings[members] - centre) ** 2).sum(1))]))
    if len(picks) < n_samples:  # clusters that held only labelled images: fill by distance
        rest = np.setdiff1d(np.flatnonzero(free), picks)
        order = np.argsort(-kmeans.transform(embeddings[rest]).min(1), kind="stable")
        picks += rest[order[: n_samples - len(picks)]].tolist()
    return np.asarray(picks[:n_samples], dtype=np.int64)
