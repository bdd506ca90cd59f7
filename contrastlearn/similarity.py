"""Similarity search and outliers in a pretrainer's embedding (:class:`SimilaritySearch`).

Embed a collection once with a fitted pretrainer, then ask for the images
most similar to new query images (:meth:`SimilaritySearch.kneighbors`,
sklearn's :class:`~sklearn.neighbors.NearestNeighbors` underneath, any of
its metrics) or for the most unusual images of the collection (the distance
to their ``n_neighbors``-th neighbour, :attr:`SimilaritySearch.outlier_scores_`),
as arrays and as figures.
"""

import numbers

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.frozen import FrozenEstimator
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.validation import check_array, check_is_fitted

from .plotting._neighbors import _image
from .validation import Interval, Predicate, check_parameter, validate_parameters

__all__ = ["SimilaritySearch"]


def _transformer(value):
    return value is None or hasattr(value, "transform")


class SimilaritySearch(BaseEstimator):
    """The images of a collection most similar to a query, and the collection's outliers.

    ``fit(X)`` embeds the collection with ``pretrainer`` (already fitted;
    not refitted) and indexes the embeddings; :meth:`kneighbors` embeds
    query images and returns the ``n_neighbors`` most similar images of the
    collection; :attr:`outlier_scores_` gives every image of the collection
    the distance to its ``n_neighbors``-th nearest other image (large:
    nothing like it), and :meth:`plot_outliers` shows the most unusual.

    Parameters
    ----------
    pretrainer : fitted transformer or None
        Anything with ``transform(images) -> embeddings``: a fitted
        pretrainer (or a ``FrozenEstimator`` of one, which survives
        ``clone``). None: ``fit`` and the queries take embeddings directly.
    n_neighbors : int, default=5
        Neighbours per query, and the rank whose distance is the outlier score.
    metric : str or callable, default="cosine"
        Any metric of :class:`sklearn.neighbors.NearestNeighbors`.

    Attributes
    ----------
    embeddings_ : ndarray of shape (n_images, n_features)
        The collection's embeddings.
    outlier_scores_ : ndarray of shape (n_images,)
        Distance of every image to its ``n_neighbors``-th nearest other image.
    index_ : sklearn.neighbors.NearestNeighbors
        The fitted index.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.similarity import SimilaritySearch
    >>> points = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [-1.0, -1.0]])
    >>> search = SimilaritySearch(n_neighbors=1).fit(points)
    >>> search.kneighbors([[1.0, 0.05]])[1]
    array([[0]])
    >>> int(np.argmax(search.outlier_scores_))
    4
    """

    _parameter_constraints = {
        "pretrainer": [Predicate(_transformer, "None or a fitted transformer (a pretrainer)")],
        "n_neighbors": [Interval(numbers.Integral, 1)],
        "metric": [
            Predicate(lambda v: isinstance(v, str) or callable(v), "a metric name or callable")
        ],
    }

    def __init__(self, pretrainer=None, *, n_neighbors=5, metric="cosine"):
        self.pretrainer = pretrainer
        self.n_neighbors = n_neighbors
        self.metric = metric

    def _embed(self, X, name):
        if self.pretrainer is None:
            return check_array(X, dtype=np.float64, input_name=name)
        model = self.pretrainer
        model = model.estimator if isinstance(model, FrozenEstimator) else model
        if hasattr(model, "get_params"):  # an sklearn estimator: it must be fitted
            check_is_fitted(model)
        return np.asarray(self.pretrainer.transform(X), dtype=np.float64)

    def fit(self, X, y=None):
        """Embed and index the collection.

        Parameters
        ----------
        X : array-like or torch.Tensor
            The collection's images (embeddings when ``pretrainer`` is None).
        y : None
            Ignored.

        Returns
        -------
        self
        """
        validate_parameters(self)
        self.embeddings_ = self._embed(X, "X")
        n_images = len(self.embeddings_)
        if n_images <= self.n_neighbors:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} needs more than {self.n_neighbors} images in "
                f"the collection; got {n_images}."
            )
        self.index_ = NearestNeighbors(n_neighbors=self.n_neighbors + 1, metric=self.metric)
        self.index_.fit(self.embeddings_)
        distances, _ = self.index_.kneighbors(self.embeddings_)
        # the nearest point found for an image is itself (distance 0) unless it has a twin
        self.outlier_scores_ = distances[:, self.n_neighbors]
        return self

    def kneighbors(self, queries, n_neighbors=None):
        """The images of the collection most similar to each query image.

        Parameters
        ----------
        queries : array-like or torch.Tensor
            Query images, shaped like the collection's (embeddings when
            ``pretrainer`` is None).
        n_neighbors : int, default=None
            Defaults to ``n_neighbors``.

        Returns
        -------
        distances : ndarray of shape (n_queries, n_neighbors)
        indices : ndarray of shape (n_queries, n_neighbors)
            Indices into the collection, most similar first.
        """
        check_is_fitted(self, "index_")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if not isinstance(k, numbers.Integral) or not 1 <= k <= len(self.embeddings_):
            raise ValueError(
                f"n_neighbors must be an int in [1, {len(self.embeddings_)}]; got {k!r}."
            )
        return self.index_.kneighbors(self._embed(queries, "queries"), n_neighbors=k)

    def plot_neighbors(self, X, queries, *, log_scale=False, cmap="viridis", figsize=None):
        """Show each query image beside its most similar images of the collection.

        Parameters
        ----------
        X : array-like or torch.Tensor
            The collection's images (as given to ``fit``; only those shown are read).
        queries : array-like or torch.Tensor
            Query images.
        log_scale : bool, default=False
            Logarithmic colour scale (diffraction patterns).
        cmap : str, default="viridis"
        figsize : (float, float), default=None

        Returns
        -------
        matplotlib.figure.Figure
            With ``indices_`` and ``distances_``: the neighbours shown.
        """
        distances, indices = self.kneighbors(queries)
        rows = [
            [(queries, q, "query")]
            + [(X, i, f"{i}: {d:.2f}") for i, d in zip(indices[q], distances[q])]
            for q in range(len(indices))
        ]
        figure = _grid(rows, log_scale, cmap, figsize)
        figure.indices_, figure.distances_ = indices, distances
        return figure

    def plot_outliers(self, X, n_images=8, *, log_scale=False, cmap="viridis", figsize=None):
        """Show the ``n_images`` images of the collection with the highest outlier scores.

        Parameters
        ----------
        X : array-like or torch.Tensor
            The collection's images.
        n_images : int, default=8
        log_scale : bool, default=False
        cmap : str, default="viridis"
        figsize : (float, float), default=None

        Returns
        -------
        matplotlib.figure.Figure
            With ``indices_``: the images shown, most unusual first.
        """
        check_is_fitted(self, "index_")
        check_parameter("plot_outliers", "n_images", n_images, Interval(numbers.Integral, 1))
        order = np.argsort(-self.outlier_scores_, kind="stable")[:n_images]
        figure = _grid(
            [[(X, i, f"{i}: {self.outlier_scores_[i]:.2f}") for i in order]],
            log_scale,
            cmap,
            figsize,
        )
        figure.indices_ = order
        return figure


def _grid(rows, log_scale, cmap, figsize):
    """A figure of image rows; each cell ``(images, index, title)``."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    width = max(len(row) for row in rows)
    figure, axes = plt.subplots(
        len(rows), width, figsize=figsize or (1.6 * width, 1.7 * len(rows)), squeeze=False
    )
    for ax in axes.flat:
        ax.set_axis_off()
    for r, row in enumerate(rows):
        for c, (images, index, title) in enumerate(row):
            image = _image(images, index)
            norm = None
            if log_scale and image.ndim == 2 and (image > 0).any():
                norm = LogNorm(image[image > 0].min(), image.max())
            axes[r, c].imshow(image, cmap=cmap, norm=norm, interpolation="nearest")
            axes[r, c].set_title(title, fontsize="small")
    figure.tight_layout()
    return figure
