"""Cross-modal retrieval: recall@k of the true partner among candidates."""

import numbers

import numpy as np
from sklearn.preprocessing import normalize
from sklearn.utils.validation import check_array

from ..validation import ArrayLike, Predicate, validate_params

_CHUNK = 1024


def _is_ks(value):
    values = [value] if isinstance(value, numbers.Integral) else value
    return (
        hasattr(values, "__iter__")
        and len(list(values)) > 0
        and all(
            isinstance(k, numbers.Integral) and not isinstance(k, bool) and k >= 1 for k in values
        )
    )


@validate_params(
    {
        "queries": ArrayLike(),
        "candidates": ArrayLike(),
        "k": Predicate(_is_ks, "an int >= 1 or a sequence of them"),
        "groups": [None, ArrayLike()],
    }
)
def retrieval_recall(queries, candidates, *, k=(1, 5, 10), groups=None):
    """Recall@k of retrieving each query's partner among the candidates by cosine similarity.

    Query ``i``'s partner is candidate ``i``. A query counts as a hit at
    ``k`` when one of its ``k`` most similar candidates is its partner or,
    with ``groups``, any candidate of the partner's group: give the same
    group to candidates whose content is the same (identical captions), so
    that retrieving an identical twin of the partner counts. For images
    queried by texts, the group of image ``j`` is that of its text.

    Parameters
    ----------
    queries : array-like of shape (n_pairs, n_features)
    candidates : array-like of shape (n_pairs, n_features)
        In the same embedding space as the queries (e.g.
        :meth:`contrastlearn.ConVIRT.transform` and ``transform_paired``).
    k : int or sequence of int, default=(1, 5, 10)
    groups : array-like of shape (n_pairs,), default=None
        Content labels of the pairs (None: every pair is its own group).

    Returns
    -------
    dict
        ``{k: recall}`` for every ``k``; chance is about ``k / n_pairs``
        without groups.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.evaluation import retrieval_recall
    >>> texts = np.eye(3)
    >>> images = np.array([[1, 0, 0], [0, 0.3, 1], [0, 1, 0.3]])  # 1 and 2 swapped, nearly
    >>> retrieval_recall(images, texts, k=(1, 2))
    {1: 0.3333333333333333, 2: 1.0}
    """
    queries = normalize(check_array(queries, dtype=np.float64, input_name="queries"))
    candidates = normalize(check_array(candidates, dtype=np.float64, input_name="candidates"))
    if queries.shape != candidates.shape:
        raise ValueError(
            "queries and candidates must be pairs in one space, of the same shape; got "
            f"{queries.shape} and {candidates.shape}."
        )
    n = len(queries)
    if groups is None:
        groups = np.arange(n)
    else:
        groups = np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} pairs.")
    ks = sorted({int(k)} if isinstance(k, numbers.Integral) else {int(v) for v in k})
    largest = min(ks[-1], n)
    hits = np.zeros((n, largest), dtype=bool)
    for start in range(0, n, _CHUNK):
        similarity = queries[start : start + _CHUNK] @ candidates.T
        top = np.argsort(-similarity, axis=1, kind="stable")[:, :largest]
        hits[start : start + _CHUNK] = groups[top] == groups[start : start + _CHUNK, None]
    first_hit = np.cumsum(hits, axis=1) > 0
    return {k: float(first_hit[:, min(k, n) - 1].mean()) for k in ks}
