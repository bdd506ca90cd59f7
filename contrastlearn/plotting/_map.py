"""A 2-D map of an embedding with image thumbnails on a spread-out subset."""

import numbers

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_array

from .._validation import BOOL, RANDOM_STATE
from ..validation import ArrayLike, Interval, Options, Predicate, validate_params
from ._common import FIGSIZE, _is_axes
from ._neighbors import _image

__all__ = ["plot_embedding_map", "MAP_METHODS"]

#: The 2-D maps of :func:`plot_embedding_map` (sklearn.decomposition / sklearn.manifold).
MAP_METHODS = ("pca", "tsne", "isomap", "spectral")


def map_2d(points, method, random_state):
    """``points`` mapped to 2-D by one of :data:`MAP_METHODS`."""
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(points)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(points) - 1) / 3)
        return TSNE(
            n_components=2, perplexity=perplexity, init="pca", random_state=random_state
        ).fit_transform(points)
    n_neighbors = min(max(10, len(points) // 10), len(points) - 1)  # a connected graph
    if method == "isomap":
        from sklearn.manifold import Isomap

        return Isomap(n_neighbors=n_neighbors, n_components=2).fit_transform(points)
    from sklearn.manifold import SpectralEmbedding

    return SpectralEmbedding(
        n_components=2, n_neighbors=n_neighbors, random_state=random_state
    ).fit_transform(points)


@validate_params(
    {
        "embeddings": ArrayLike(),
        "images": [
            None,
            Predicate(lambda v: hasattr(v, "__getitem__") and hasattr(v, "__len__"), "images"),
        ],
        "labels": [None, ArrayLike()],
        "method": Options(MAP_METHODS),
        "n_thumbnails": Interval(numbers.Integral, 0),
        "thumbnail_zoom": Interval(numbers.Real, 0, closed="neither"),
        "log_scale": BOOL,
        "cmap": Predicate(lambda v: isinstance(v, str), "a colour map name"),
        "random_state": RANDOM_STATE,
        "ax": [None, Predicate(_is_axes, "a matplotlib Axes")],
        "figsize": [None, FIGSIZE],
    }
)
def plot_embedding_map(
    embeddings,
    *,
    images=None,
    labels=None,
    method="pca",
    n_thumbnails=30,
    thumbnail_zoom=1.0,
    log_scale=False,
    cmap="gray",
    random_state=None,
    ax=None,
    figsize=None,
):
    """A 2-D map of an embedding, coloured by label, with thumbnails of what lives where.

    The embedding is mapped to 2-D by PCA (default), t-SNE, Isomap or a
    spectral embedding (sklearn), drawn as points coloured by ``labels``,
    and ``n_thumbnails`` images are drawn at their points. The thumbnails
    are spread over the map: greedy k-center on the 2-D coordinates
    (:func:`contrastlearn.selection.select_diverse`) picks points far from
    each other, so that every region shows an example.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
    images : array-like of shape (n_samples, H, W) or (n_samples, C, H, W), default=None
        The images (arrays, tensors or an HDF5 dataset: only those shown are
        read); three channels are shown in RGB, otherwise the first.
    labels : array-like of shape (n_samples,), default=None
        Class labels for the colours.
    method : {"pca", "tsne", "isomap", "spectral"}, default="pca"
    n_thumbnails : int, default=30
        Thumbnails drawn (0: none).
    thumbnail_zoom : float, default=1.0
        Scale of the thumbnails (1: 24 pixels on the longer side).
    log_scale : bool, default=False
        Show thumbnails on a logarithmic scale (diffraction patterns).
    cmap : str, default="gray"
        Colour map of single-channel thumbnails.
    random_state : int, RandomState or None, default=None
        Seeds t-SNE and the spectral embedding.
    ax : matplotlib Axes, default=None
    figsize : (float, float), default=None

    Returns
    -------
    matplotlib.figure.Figure
        With ``coordinates_`` (a DataFrame of ``x``, ``y`` and ``label``
        per sample) and ``thumbnails_`` (the indices of the images drawn).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.plotting import plot_embedding_map
    >>> digits = load_digits()
    >>> fig = plot_embedding_map(digits.data[:200], images=digits.images[:200],
    ...                          labels=digits.target[:200], n_thumbnails=12)
    >>> len(fig.thumbnails_), fig.coordinates_.shape
    (12, (200, 3))
    >>> plt.close(fig)
    """
    try:
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.colors import LogNorm
        from matplotlib.offsetbox import AnnotationBbox, OffsetImage
    except ImportError as exc:
        raise ImportError(
            "plot_embedding_map needs matplotlib, which contrastlearn does not install: "
            "pip install matplotlib"
        ) from exc
    from ..selection import select_diverse

    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=3)
    n_samples = len(embeddings)
    for name, value in (("images", images), ("labels", labels)):
        if value is not None and len(value) != n_samples:
            raise ValueError(
                f"{name} has {len(value)} entries but embeddings has {n_samples} rows."
            )
    if n_thumbnails and images is None:
        raise ValueError("n_thumbnails > 0 needs the images: pass images=..., or n_thumbnails=0.")
    coords = map_2d(embeddings, method, random_state)
    if ax is None:
        _, ax = plt.subplots(layout="constrained", figsize=figsize or (7, 6))
    figure = ax.figure
    table = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1]})
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=10, alpha=0.6, color="tab:blue")
        table["label"] = None
    else:
        labels = np.asarray(labels)
        classes = pd.unique(labels)
        colours = matplotlib.colormaps["tab10" if len(classes) <= 10 else "turbo"]
        for c, value in enumerate(classes):
            members = labels == value
            colour = colours(c if len(classes) <= 10 else c / max(len(classes) - 1, 1))
            ax.scatter(*coords[members].T, s=10, alpha=0.6, color=colour, label=str(value))
        ax.legend(title="label", fontsize="small", markerscale=2, loc="best")
        table["label"] = labels
    shown = np.zeros(0, dtype=np.int64)
    if n_thumbnails:
        shown = select_diverse(coords, min(n_thumbnails, n_samples), method="kcenter")
        for index in shown:
            image = _image(images, index)
            norm = None
            if log_scale and image.ndim == 2 and (image > 0).any():
                norm = LogNorm(image[image > 0].min(), image.max())
            zoom = thumbnail_zoom * 24 / max(image.shape[:2])
            box = OffsetImage(image, zoom=zoom, cmap=cmap, norm=norm)
            ax.add_artist(AnnotationBbox(box, coords[index], frameon=True, pad=0.1))
    names = {"pca": "PC", "tsne": "t-SNE ", "isomap": "Isomap ", "spectral": "spectral "}
    ax.set_xlabel(f"{names[method]}1")
    ax.set_ylabel(f"{names[method]}2")
    figure.coordinates_ = table
    figure.thumbnails_ = shown
    return figure
