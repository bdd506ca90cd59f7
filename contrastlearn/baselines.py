"""The reference CPLR study's baselines, with the distances and probes it scored them by.

Zimmermann et al. (2023) compare contrastive embeddings with PCA, PCA under
a correlation distance, KernelPCA, factor analysis, UMAP, a random embedding
and a β-VAE, all fitted on min-max scaled pixels, with as many components as
the contrastive embedding has features. Neighbourhoods (the overlap score)
are measured with the euclidean distance for the baselines (cosine for the
contrastive embeddings), with ``1 - |corr|`` for "PCA (correlation)" and
with the 2-Wasserstein distance between the posterior Gaussians for the VAE,
whose linear probe runs on an Isomap of that distance.

:func:`baseline_embeddings` computes all of them for a fit set and one or
more evaluation sets; :func:`contrastlearn.model_selection.projection_grid_search`
adds them as rows of its table. UMAP is used when ``umap-learn`` is installed
(it is not a dependency).
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.decomposition import PCA, FactorAnalysis, KernelPCA
from sklearn.manifold import Isomap
from sklearn.metrics import pairwise_distances
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from ._validation import BOOL, RANDOM_STATE, ints
from .evaluation._labels import NEIGHBORS, neighbor_count
from .validation import (
    ArrayLike,
    InstanceOf,
    Options,
    Predicate,
    validate_parameters,
    validate_params,
)

__all__ = [
    "BASELINES",
    "BaselineEmbedding",
    "RandomEmbedding",
    "baseline_embeddings",
    "minmax_pixels",
    "squared_w2_distances",
    "w2_features",
]

#: The baselines :func:`baseline_embeddings` knows, in the order of the reference's tables.
BASELINES = ("PCA", "PCA (correlation)", "KernelPCA", "FactorAnalysis", "UMAP", "Random", "VAE")


class RandomEmbedding(TransformerMixin, BaseEstimator):
    """Uniform random numbers in [0, 1) as an "embedding": the floor any method must clear.

    Parameters
    ----------
    n_components : int, default=2
        Features per sample.
    random_state : int or None, default=None
        Seeds the numbers; every ``transform`` call starts from this seed.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.baselines import RandomEmbedding
    >>> RandomEmbedding(3, random_state=0).fit_transform(np.zeros((4, 10))).shape
    (4, 3)
    """

    _parameter_constraints = {"n_components": ints(1), "random_state": RANDOM_STATE}

    def __init__(self, n_components=2, random_state=None):
        self.n_components = n_components
        self.random_state = random_state

    def fit(self, X, y=None):
        """Record the number of input features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : RandomEmbedding
        """
        validate_parameters(self)
        validate_data(self, X)
        return self

    def transform(self, X):
        """Uniform random features, one row per sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False)
        return np.random.default_rng(self.random_state).uniform(size=(len(X), self.n_components))


@validate_params({"X": ArrayLike(), "log_intensity": BOOL, "batch_size": ints(1)})
def minmax_pixels(X, *, log_intensity=False, batch_size=512):
    """Images as flat pixel rows, each image min-max scaled to [0, 1] (the baselines' input).

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, C, H, W)
        In memory or on disk (read in batches).
    log_intensity : bool, default=False
        Apply ``log1p(max(x, 0))`` first, as a pretrainer with
        ``log_intensity=True`` does.
    batch_size : int, default=512
        Images read at a time.

    Returns
    -------
    ndarray of shape (n, C * H * W), dtype float32
        A constant image becomes zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.baselines import minmax_pixels
    >>> minmax_pixels(np.array([[[1.0, 3.0], [5.0, 9.0]]]))
    array([[0.  , 0.25, 0.5 , 1.  ]], dtype=float32)
    """
    rows = []
    for start in range(0, len(X), batch_size):
        batch = np.asarray(X[start : start + batch_size], dtype=np.float32).reshape(
            min(batch_size, len(X) - start), -1
        )
        if log_intensity:
            batch = np.log1p(np.maximum(batch, 0))
        low, high = batch.min(1, keepdims=True), batch.max(1, keepdims=True)
        span = high - low
        rows.append(np.where(span > 0, (batch - low) / np.where(span > 0, span, 1), 0))
    return np.concatenate(rows).astype(np.float32, copy=False)


@validate_params({"mean": ArrayLike(), "log_var": ArrayLike()})
def w2_features(mean, log_var):
    r"""Features whose euclidean distance is the 2-Wasserstein distance of diagonal Gaussians.

    For :math:`N(\mu_1, \mathrm{diag}\,\sigma_1^2)` and
    :math:`N(\mu_2, \mathrm{diag}\,\sigma_2^2)`,
    :math:`W_2^2 = \lVert \mu_1 - \mu_2 \rVert^2 + \lVert \sigma_1 - \sigma_2 \rVert^2`,
    so ``[mean, exp(log_var / 2)]`` in euclidean space has exactly these
    distances (the reference's ``w2_multi_normal``, which returns
    :math:`W_2^2`, orders neighbours the same way).

    Parameters
    ----------
    mean, log_var : ndarray of shape (n_samples, n_latents)
        Posterior means and log-variances, e.g. from :meth:`contrastlearn.VAE.encode`.

    Returns
    -------
    ndarray of shape (n_samples, 2 * n_latents)

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.baselines import w2_features
    >>> a, b = w2_features(np.array([[0.0], [3.0]]), np.log(np.array([[1.0], [25.0]])))
    >>> round(float(np.linalg.norm(a - b)), 6)       # sqrt(3**2 + (1 - 5)**2)
    5.0
    """
    return np.hstack([mean, np.exp(0.5 * np.asarray(log_var))])


@validate_params({"features": ArrayLike(), "other": [None, ArrayLike()]})
def squared_w2_distances(features, other=None):
    """Squared 2-Wasserstein distances between posteriors given as :func:`w2_features`.

    Parameters
    ----------
    features : ndarray of shape (n, 2 * n_latents)
    other : ndarray of shape (m, 2 * n_latents), default=None
        Default: ``features``.

    Returns
    -------
    ndarray of shape (n, m)
        What the reference's ``w2_multi_normal`` gives for every pair.
    """
    return pairwise_distances(features, other, metric="sqeuclidean")


@dataclass
class BaselineEmbedding:
    """One baseline's view of one evaluation set.

    Attributes
    ----------
    probe : ndarray of shape (n, d)
        The features a linear probe is trained on.
    neighbors : ndarray
        What neighbourhoods are measured in: features, or a square distance
        matrix when ``metric="precomputed"``.
    metric : str
        The distance for :func:`~contrastlearn.evaluation.overlap_score`.
    description : str
        Components and distance, for a table.
    """

    probe: np.ndarray
    neighbors: np.ndarray
    metric: str
    description: str


def _one_minus_abs_correlation(features):
    with np.errstate(invalid="ignore", divide="ignore"):
        distance = 1 - np.abs(np.corrcoef(features))
    return np.nan_to_num(distance, nan=1.0)


@validate_params(
    {
        "name": Options(BASELINES),
        "X_fit": ArrayLike(),
        "X_eval": Predicate(
            lambda v: (
                isinstance(v, (list, tuple)) and all(ArrayLike().is_satisfied_by(X) for X in v)
            ),
            "a list of array-like image sets",
        ),
        "n_components": ints(1),
        "n_neighbors": NEIGHBORS,
        "log_intensity": BOOL,
        "vae_params": [None, InstanceOf(Mapping, name="a dict of VAE parameters")],
        "random_state": RANDOM_STATE,
    }
)
def baseline_embeddings(
    name,
    X_fit,
    X_eval,
    *,
    n_components,
    n_neighbors=0.01,
    log_intensity=False,
    vae_params=None,
    random_state=0,
):
    """Fit one baseline on ``X_fit`` and embed every set of ``X_eval`` the reference's way.

    Parameters
    ----------
    name : str
        One of :data:`BASELINES`.
    X_fit : array-like of shape (n, H, W) or (n, C, H, W)
        Images the baseline is fitted on.
    X_eval : list of array-like
        Image sets to embed (e.g. ``[X_fit]``, or ``[X_train, X_test]``).
        Correlation distances and the VAE's Isomap relate each set to
        itself; the Isomap is fitted on ``X_fit``.
    n_components : int
        Components of PCA, KernelPCA, FactorAnalysis, UMAP and the random
        embedding (the reference: the contrastive embedding's size).
    n_neighbors : int or float, default=0.01
        Neighbours of the VAE's Isomap (a float: that fraction of
        ``X_fit``; the reference: 13 of 1,260).
    log_intensity : bool, default=False
        ``log1p`` the pixels first (:func:`minmax_pixels`; the VAE's own
        ``log_intensity``).
    vae_params : dict, default=None
        Parameters of :class:`contrastlearn.VAE` (``max_epochs``, ...).
    random_state : int, default=0

    Returns
    -------
    list of BaselineEmbedding
        One per set of ``X_eval``.

    Raises
    ------
    ImportError
        For ``"UMAP"`` without ``umap-learn`` installed.
    """
    if name == "VAE":
        return _vae_embeddings(
            X_fit, X_eval, n_neighbors, log_intensity, vae_params or {}, random_state
        )
    fit_pixels = minmax_pixels(X_fit, log_intensity=log_intensity)
    pixels = [
        fit_pixels,
        *(
            fit_pixels if X is X_fit else minmax_pixels(X, log_intensity=log_intensity)
            for X in X_eval
        ),
    ]
    n_components = min(n_components, len(X_fit) - 1, fit_pixels.shape[1])
    if name in ("PCA", "PCA (correlation)"):
        model = PCA(n_components, random_state=random_state)
    elif name == "KernelPCA":
        model = KernelPCA(n_components, random_state=random_state)
    elif name == "FactorAnalysis":
        model = FactorAnalysis(n_components, random_state=random_state)
    elif name == "Random":
        model = RandomEmbedding(n_components, random_state=random_state)
    else:
        try:
            import umap
        except ImportError:
            raise ImportError(
                "The 'UMAP' baseline needs umap-learn, which is not a dependency "
                "of contrastlearn: pip install umap-learn."
            ) from None

        model = umap.UMAP(n_components=n_components, random_state=random_state)
    model = make_pipeline(MinMaxScaler(), model).fit(pixels[0])
    embeddings = [model.transform(p) for p in pixels[1:]]
    if name == "PCA (correlation)":
        return [
            BaselineEmbedding(
                e,
                _one_minus_abs_correlation(e),
                "precomputed",
                f"{n_components} components, 1 - abs(corr)",
            )
            for e in embeddings
        ]
    return [
        BaselineEmbedding(e, e, "euclidean", f"{n_components} components, euclidean")
        for e in embeddings
    ]


def _vae_embeddings(X_fit, X_eval, n_neighbors, log_intensity, vae_params, random_state):
    from .vae import VAE

    vae = VAE(**{"log_intensity": log_intensity, "random_state": random_state, **vae_params}).fit(
        X_fit
    )
    fit_features = w2_features(*vae.encode(X_fit))
    k = min(neighbor_count(n_neighbors, len(X_fit)), len(X_fit) - 1)
    isomap = Isomap(n_neighbors=k, n_components=vae.n_components, metric="precomputed")
    isomap.fit(squared_w2_distances(fit_features))
    out = []
    for X in X_eval:
        if X is X_fit:
            features, probe = fit_features, isomap.embedding_
        else:
            features = w2_features(*vae.encode(X))
            probe = isomap.transform(squared_w2_distances(features, fit_features))
        out.append(
            BaselineEmbedding(
                probe, features, "euclidean", f"{vae.n_components} latents, 2-Wasserstein"
            )
        )
    return out
