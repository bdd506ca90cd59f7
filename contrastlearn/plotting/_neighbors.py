"""Query images beside their nearest neighbours in one or more embeddings."""

import numbers
from collections.abc import Mapping

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.utils.validation import check_array

from .._validation import BOOL, ints
from ..evaluation._labels import METRIC, NAMES, _label_indicator, _pair_overlap
from ..validation import (
    DEPRECATED,
    ArrayLike,
    InstanceOf,
    Options,
    Predicate,
    check_parameter,
    renamed_parameter,
    validate_params,
)
from ._common import FIGSIZE, _is_axes_array

__all__ = ["nearest_neighbors", "plot_neighbors"]


def _indices(queries):
    """Query indices as a 1-D int array (not checked against the number of samples)."""
    if isinstance(queries, numbers.Integral) and not isinstance(queries, bool):
        queries = [queries]
    return np.asarray(queries)


def _is_indices(queries):
    queries = _indices(queries)
    return queries.ndim == 1 and queries.size > 0 and queries.dtype.kind in "iu"


#: Sample indices: one int, or a non-empty 1-D sequence of ints.
QUERIES = Predicate(_is_indices, "an int or a non-empty 1-D sequence of int sample indices")


def _check_queries(owner, queries, n_samples):
    """Query indices as a 1-D int array in [0, n_samples)."""
    indices = _indices(queries)
    check_parameter(
        owner,
        "queries",
        queries,
        Predicate(
            lambda _: indices.min() >= 0 and indices.max() < n_samples,
            f"an int or a sequence of ints in [0, {n_samples - 1}] (sample indices)",
        ),
    )
    return indices.astype(np.intp)


_OLD_N_NEIGHBORS = [Options([DEPRECATED]), ints(1)]


def _check_n_neighbors(owner, n_neighbors, k, n_samples):
    """``n_neighbors`` (or its old name ``k``) as an int in ``[1, n_samples)``."""
    n_neighbors = renamed_parameter(owner, "k", k, "n_neighbors", n_neighbors, 5)
    # a query is not its own neighbour: at most n_samples - 1
    return int(check_parameter(owner, "n_neighbors", n_neighbors, ints(1, n_samples - 1)))


def _is_colormap(value):
    from matplotlib.colors import Colormap

    return isinstance(value, Colormap)


@validate_params(
    {
        "embeddings": ArrayLike(),
        "queries": QUERIES,
        "n_neighbors": ints(1),
        "metric": METRIC,
        "return_distance": BOOL,
        "k": _OLD_N_NEIGHBORS,
    }
)
def nearest_neighbors(
    embeddings, queries, n_neighbors=5, *, metric="cosine", return_distance=False, k=DEPRECATED
):
    """Find each query's ``n_neighbors`` nearest neighbours in embedding space.

    The query itself is excluded; ties are broken by the lower index.
    Distances are computed only between the queries and all samples, so this
    is cheap for a few queries on a large data set.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        The embedding, e.g. ``pretrainer.transform(X)``.
    queries : int or sequence of int
        Indices of the query samples.
    n_neighbors : int, default=5
        Neighbours per query, in ``[1, n_samples)``.
    metric : str or callable, default="cosine"
        Any metric of :func:`sklearn.metrics.pairwise_distances`.
    return_distance : bool, default=False
        Also return the distances.
    k : int, default="deprecated"
        The old name of ``n_neighbors``; still taken, with a ``FutureWarning``.

    Returns
    -------
    neighbors : ndarray of shape (n_queries, n_neighbors)
        Sample indices, nearest first.
    distances : ndarray of shape (n_queries, n_neighbors)
        Only when ``return_distance=True``.

    See Also
    --------
    plot_neighbors : Shows the query images beside these neighbours.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.plotting import nearest_neighbors
    >>> emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [1.0, 0.05]])
    >>> nearest_neighbors(emb, [0, 2], n_neighbors=2)
    array([[4, 1],
           [3, 1]])
    """
    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    n_samples = len(embeddings)
    queries = _check_queries("nearest_neighbors", queries, n_samples)
    n_neighbors = _check_n_neighbors("nearest_neighbors", n_neighbors, k, n_samples)
    distances = pairwise_distances(embeddings[queries], embeddings, metric=metric)
    distances[np.arange(len(queries)), queries] = np.inf
    neighbors = np.argsort(distances, axis=1, kind="stable")[:, :n_neighbors]
    if return_distance:
        return neighbors, np.take_along_axis(distances, neighbors, axis=1)
    return neighbors


def _image(X, index):
    """One image as a 2-D array, or (H, W, 3) in [0, 1] for three channels.

    Only this image is read, so ``X`` may be an on-disk HDF5 dataset.
    """
    image = X[int(index)]
    if hasattr(image, "detach"):  # a torch tensor
        image = image.detach().cpu().numpy()
    image = np.asarray(image, dtype=np.float64)
    if image.ndim == 3:
        if image.shape[0] == 3:
            image = np.moveaxis(image, 0, -1)
            low, high = image.min(), image.max()
            image = (image - low) / (high - low) if high > low else np.zeros_like(image)
        else:
            image = image[0]
    return image


@validate_params(
    {
        "X": [
            ArrayLike(),
            Predicate(
                lambda v: hasattr(v, "shape") and hasattr(v, "__getitem__"),
                "an indexable stack of images with a shape (e.g. an HDF5 dataset)",
            ),
        ],
        "embeddings": [
            ArrayLike(),
            Predicate(
                lambda v: (
                    isinstance(v, Mapping)
                    and len(v) > 0
                    and all(ArrayLike().is_satisfied_by(e) for e in v.values())
                ),
                "a non-empty dict {method name: embedding}",
            ),
        ],
        "queries": QUERIES,
        "n_neighbors": ints(1),
        "metric": METRIC,
        "labels": [None, ArrayLike()],
        "label_names": [None, NAMES],
        "titles": [None, InstanceOf(str), NAMES],
        "log_scale": BOOL,
        "cmap": [InstanceOf(str), Predicate(_is_colormap, "a matplotlib Colormap")],
        "axes": [None, Predicate(_is_axes_array, "an array of matplotlib Axes")],
        "figsize": [None, FIGSIZE],
        "k": _OLD_N_NEIGHBORS,
    }
)
def plot_neighbors(
    X,
    embeddings,
    queries,
    n_neighbors=5,
    *,
    metric="cosine",
    labels=None,
    label_names=None,
    titles=None,
    log_scale=False,
    cmap="viridis",
    axes=None,
    figsize=None,
    k=DEPRECATED,
):
    """Show query images beside their nearest neighbours in one or more embeddings.

    Each row shows a query image and then its ``n_neighbors`` nearest neighbours in
    embedding space (itself excluded), nearest first, as in Fig. 3 of
    Zimmermann et al. (2023). Given a dict of embeddings, e.g.
    ``{"CPLR": ..., "CLR": ..., "PCA": ...}``, the figure has one block of
    rows per method, in the dict's order, each row labelled with the
    method's name, so the methods' neighbours of the same queries can be
    compared.

    Parameters
    ----------
    X : array-like of shape (n_samples, H, W) or (n_samples, C, H, W)
        The images: a numpy array, a torch tensor or an on-disk HDF5 dataset
        (only the images shown are read). With ``C == 3`` the images are
        shown in RGB, otherwise the first channel is shown.
    embeddings : array-like of shape (n_samples, n_features) or dict
        One embedding, or a dict ``{method name: embedding}``.
    queries : int or sequence of int
        Indices of the query images, one row each (per method).
    n_neighbors : int, default=5
        Neighbours shown per query.
    metric : str or callable, default="cosine"
        Distance in embedding space.
    labels : array-like of shape (n_samples,) or (n_samples, n_labels), default=None
        Class labels or a binary indicator matrix. When given, each image
        shows its label names and each neighbour its overlap with the
        query's label set (as in :func:`~contrastlearn.evaluation.overlap_score`).
    label_names : sequence of str, default=None
        Names of the labels (indicator columns, or sorted classes). Default:
        the column indices or the class values.
    titles : sequence of str, default=None
        One title per query, shown above the query image (e.g. its class).
        Default: ``"query <index>"``. Neighbours are titled with their index.
    log_scale : bool, default=False
        Show single-channel images on a logarithmic colour scale (from each
        image's smallest positive value to its maximum), as usual for
        diffraction patterns. RGB images are always shown linearly.
    cmap : str or Colormap, default="viridis"
        Colour map for single-channel images.
    axes : array-like of matplotlib Axes, default=None
        Axes to draw into, of shape ``(n_methods * n_queries, n_neighbors + 1)``.
        Default: a new figure.
    figsize : (float, float), default=None
        Size of the new figure in inches; default 1.6 inch per image.
    k : int, default="deprecated"
        The old name of ``n_neighbors``; still taken, with a ``FutureWarning``.

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Its attribute ``neighbors_`` is a dict ``{method name:
        ndarray of shape (n_queries, n_neighbors)}`` of the neighbour indices shown
        (the name is ``"embedding"`` when one array was given).

    Raises
    ------
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    nearest_neighbors : The neighbour indices alone.
    contrastlearn.evaluation.overlap_score : The same comparison as one number.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from contrastlearn.plotting import plot_neighbors
    >>> rng = np.random.default_rng(0)
    >>> images = rng.random((40, 16, 16))
    >>> flat = images.reshape(40, -1)
    >>> fig = plot_neighbors(images, {"pixels": flat, "random": rng.normal(size=(40, 8))},
    ...                      queries=[0, 1], n_neighbors=3)
    >>> len(fig.axes)                     # 2 methods x 2 queries x (1 + 3) images
    16
    >>> fig.neighbors_["pixels"].shape
    (2, 3)
    >>> plt.close(fig)
    """
    try:
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
    except ImportError as exc:
        raise ImportError(
            "plot_neighbors needs matplotlib, which contrastlearn does not "
            "install: pip install matplotlib"
        ) from exc

    shape = getattr(X, "shape", None)
    if shape is None:
        X = np.asarray(X)
        shape = X.shape
    if len(shape) not in (3, 4):
        raise ValueError(
            "X must hold images of shape (n_samples, H, W) or "
            f"(n_samples, C, H, W); got shape {tuple(shape)}."
        )
    n_samples = shape[0]

    if isinstance(embeddings, Mapping):
        methods = [(str(name), emb) for name, emb in embeddings.items()]
        named = True
    else:
        methods = [("embedding", embeddings)]
        named = False
    for name, emb in methods:
        n_emb = len(emb) if hasattr(emb, "__len__") else None
        if n_emb != n_samples:
            raise ValueError(
                f"embedding {name!r} has {n_emb} rows but X has {n_samples} "
                "images; they must match."
            )
    queries = _check_queries("plot_neighbors", queries, n_samples)
    n_neighbors = _check_n_neighbors("plot_neighbors", n_neighbors, k, n_samples)
    found = {
        name: nearest_neighbors(emb, queries, n_neighbors, metric=metric) for name, emb in methods
    }

    if titles is not None:
        given = titles
        titles = [str(t) for t in titles] if not isinstance(titles, str) else [titles]
        check_parameter(
            "plot_neighbors",
            "titles",
            given,
            Predicate(
                lambda _: len(titles) == len(queries),
                f"{len(queries)} titles, one per query",
            ),
        )
    if labels is not None:
        indicator, classes = _label_indicator(labels, name="labels")
        if len(indicator) != n_samples:
            raise ValueError(f"labels has {len(indicator)} rows but X has {n_samples} images.")
        if label_names is None:
            label_names = [str(c) for c in classes]
        else:
            check_parameter(
                "plot_neighbors",
                "label_names",
                label_names,
                Predicate(
                    lambda v: len(v) == indicator.shape[1],
                    f"a sequence of {indicator.shape[1]} names, one per label",
                ),
            )
    else:
        check_parameter(
            "plot_neighbors",
            "label_names",
            label_names,
            Predicate(lambda v: v is None, "None when labels is None"),
        )

    n_rows, n_cols = len(methods) * len(queries), n_neighbors + 1
    if axes is None:
        fig, axes = plt.subplots(
            n_rows,
            n_cols,
            squeeze=False,
            layout="constrained",
            figsize=figsize or (1.6 * n_cols, 1.6 * n_rows + 0.2),
        )
    else:
        given = axes
        axes = np.asarray(axes, dtype=object)
        check_parameter(
            "plot_neighbors",
            "axes",
            given,
            Predicate(
                lambda _: axes.size == n_rows * n_cols,
                f"an array of n_methods * n_queries x (n_neighbors + 1) = {n_rows} x {n_cols} Axes",
            ),
        )
        axes = axes.reshape(n_rows, n_cols)
        fig = axes[0, 0].figure

    colormap = matplotlib.colormaps.get_cmap(cmap)
    colormap = colormap.with_extremes(bad=colormap(0.0))
    cache = {}
    text_style = dict(
        color="white",
        fontsize="x-small",
        bbox=dict(facecolor="black", alpha=0.5, linewidth=0, pad=1),
    )
    for block, (name, neighbors) in enumerate(found.items()):
        for row, query in enumerate(queries):
            shown = [query, *neighbors[row]]
            for col, index in enumerate(shown):
                ax = axes[block * len(queries) + row, col]
                if index not in cache:
                    cache[index] = _image(X, index)
                image = cache[index]
                norm = None
                if log_scale and image.ndim == 2:
                    positive = image[image > 0]
                    if positive.size and positive.min() < image.max():
                        norm = LogNorm(vmin=positive.min(), vmax=image.max(), clip=True)
                ax.imshow(image, cmap=colormap, norm=norm, interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if col == 0:
                    ax.set_title(
                        titles[row] if titles is not None else f"query {index}",
                        fontsize="small",
                        fontweight="bold",
                    )
                    if named:
                        ax.set_ylabel(name, fontweight="bold")
                else:
                    ax.set_title(str(index), fontsize="small")
                if labels is not None:
                    style = {**text_style, "transform": ax.transAxes}
                    names = [label_names[j] for j in np.flatnonzero(indicator[index])]
                    ax.text(0.04, 0.96, "\n".join(names), va="top", ha="left", **style)
                    if col > 0:
                        overlap = _pair_overlap(indicator[query], indicator[index])
                        text = "–" if np.isnan(overlap) else f"{overlap:.2f}"
                        ax.text(0.96, 0.04, f"overlap {text}", va="bottom", ha="right", **style)
    fig.neighbors_ = found
    return fig
