"""A 2-D map of embeddings coloured by class, with the paired modality in the same map."""

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from .._validation import RANDOM_STATE, ints
from ..evaluation._labels import NAMES
from ..validation import ArrayLike, InstanceOf, Options, Predicate, validate_params
from ._common import FIGSIZE, _is_axes
from ._map import map_2d

__all__ = ["plot_representation"]

_MARKERS = ("o", "^")


def _sorted(values):
    """``values`` sorted when they can be, else as they are (first appearance)."""
    try:
        return sorted(values)
    except TypeError:
        return list(values)


def _select(codes, code_of, classes, max_samples_per_class, random_state):
    """Indices of the points drawn: those of ``classes``, at most ``max`` per class."""
    rng = check_random_state(random_state)
    chosen = []
    for value in classes:
        rows = np.flatnonzero(codes == code_of[value])
        if max_samples_per_class is not None and len(rows) > max_samples_per_class:
            rows = np.sort(rng.choice(rows, size=max_samples_per_class, replace=False))
        chosen.append(rows)
    return chosen


@validate_params(
    {
        "embeddings": ArrayLike(),
        "labels": ArrayLike(),
        "paired_embeddings": [None, ArrayLike()],
        "method": Options(["pca", "tsne"]),
        "labels_keep": [None, NAMES],
        "max_samples_per_class": [None, ints(1)],
        "names": [None, InstanceOf(str), NAMES],
        "random_state": RANDOM_STATE,
        "axes": [None, Predicate(_is_axes, "a matplotlib Axes")],
        "figsize": [None, FIGSIZE],
    }
)
def plot_representation(
    embeddings,
    labels,
    *,
    paired_embeddings=None,
    method="pca",
    labels_keep=None,
    max_samples_per_class=None,
    names=None,
    random_state=None,
    axes=None,
    figsize=None,
):
    """Draw embeddings on a 2-D map coloured by class, with their paired modality.

    The embeddings (e.g. ``ConVIRT.transform(images)``) are mapped to 2-D by
    PCA or t-SNE and drawn as dots, one colour per class. Given
    ``paired_embeddings`` in the same space (e.g.
    ``ConVIRT.transform_paired(texts)``, row ``i`` paired with row ``i`` of
    ``embeddings``), ONE map is fitted on both together, so that distances
    between the modalities mean what they mean in the shared space, and the
    paired points are drawn on the same axes as triangles in their class's
    colour: a well aligned model puts each class's dots and triangles
    together. ``labels_keep`` and ``max_samples_per_class`` thin the figure
    as the ``plot_representation`` post-processing of ViLMedic does: only
    the classes named are drawn, and at most that many pairs of each,
    picked at random (reproducibly with ``random_state``); the map is fitted
    on the points drawn only.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
        One modality's embeddings (e.g. of the images).
    labels : array-like of shape (n_samples,)
        One class label per sample (any hashable values: ints, strings, ...),
        shared by the pair. Multi-label indicator matrices are not supported.
    paired_embeddings : array-like of shape (n_samples, n_features), default=None
        The other modality's embeddings, row for row, in the same space.
    method : {"pca", "tsne"}, default="pca"
        :class:`sklearn.decomposition.PCA` or :class:`sklearn.manifold.TSNE`
        (``init="pca"``, perplexity ``min(30, (n_points - 1) / 3)``).
    labels_keep : sequence, default=None
        Only these classes are drawn, in this order (colours and legend);
        each must occur in ``labels``. Default: every class, sorted.
    max_samples_per_class : int, default=None
        At most this many samples (pairs) per class are drawn, chosen at
        random without replacement. Default: all.
    names : str or sequence of str, default=None
        Legend names of the modalities: one for ``embeddings`` (and a second
        for ``paired_embeddings``). Default ``("images", "paired")``.
    random_state : int, RandomState or None, default=None
        Seeds the choice of samples and the map (PCA's solver, t-SNE).
    axes : matplotlib Axes, default=None
        The axes to draw into; a new figure when None.
    figsize : (float, float), default=None
        Size of a new figure in inches; default (6, 5).

    Returns
    -------
    matplotlib.figure.Figure
        The figure. Its attribute ``points_`` is a DataFrame with one row per
        point drawn: ``x``, ``y`` (map coordinates), ``label``, ``modality``
        (its name) and ``index`` (its row in ``embeddings`` or
        ``paired_embeddings``).

    Raises
    ------
    ValueError
        If the arrays do not match in rows (or, paired, in features), the
        labels are not 1-D, or ``labels_keep`` names a label that does not
        occur.
    ImportError
        If matplotlib is not installed.

    See Also
    --------
    plot_neighbors : Nearest neighbours of a few images in an embedding.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from contrastlearn.plotting import plot_representation
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat(["cat", "dog", "fish"], 20)
    >>> centres = {"cat": [3, 0, 0], "dog": [0, 3, 0], "fish": [0, 0, 3]}
    >>> images = np.array([centres[y] for y in labels]) + rng.normal(size=(60, 3))
    >>> texts = images + 0.1 * rng.normal(size=(60, 3))
    >>> fig = plot_representation(images, labels, paired_embeddings=texts,
    ...                           labels_keep=["cat", "dog"], max_samples_per_class=5,
    ...                           names=("images", "texts"), random_state=0)
    >>> fig.points_.groupby(["modality", "label"]).size().to_dict()
    {('images', 'cat'): 5, ('images', 'dog'): 5, ('texts', 'cat'): 5, ('texts', 'dog'): 5}
    >>> plt.close(fig)
    """
    try:
        import matplotlib
        import matplotlib.pyplot as plt
        from matplotlib.lines import Line2D
    except ImportError as exc:
        raise ImportError(
            "plot_representation needs matplotlib, which contrastlearn does not "
            "install: pip install matplotlib"
        ) from exc

    embeddings = check_array(embeddings, input_name="embeddings", ensure_min_samples=2)
    n_samples = len(embeddings)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(
            "labels must be 1-D, one class label per sample; got an array of shape "
            f"{labels.shape} (multi-label indicator matrices are not supported)."
        )
    if len(labels) != n_samples:
        raise ValueError(
            f"labels has {len(labels)} entries but embeddings has {n_samples} rows; "
            "they must match."
        )
    modalities = [embeddings]
    if paired_embeddings is not None:
        paired = check_array(paired_embeddings, input_name="paired_embeddings")
        if paired.shape != embeddings.shape:
            raise ValueError(
                f"paired_embeddings has shape {paired.shape} but embeddings has shape "
                f"{embeddings.shape}: they must be row-for-row pairs in one shared space."
            )
        modalities.append(paired)
    if names is None:
        names = ("images", "paired")[: len(modalities)]
    else:
        names = (names,) if isinstance(names, str) else tuple(str(n) for n in names)
        if len(names) != len(modalities):
            raise ValueError(
                f"names must give {len(modalities)} name(s), one per modality drawn; "
                f"got {len(names)}: {names!r}."
            )

    codes, uniques = pd.factorize(labels)
    uniques = uniques.tolist()  # Python scalars, not numpy ones
    code_of = {value: code for code, value in enumerate(uniques)}
    present = _sorted(uniques)
    if labels_keep is None:
        classes = present
    else:
        classes = list(labels_keep)
        absent = [c for c in classes if c not in code_of]
        if absent:
            raise ValueError(
                f"labels_keep names labels that do not occur in labels: {absent!r}; "
                f"the labels are {present!r}."
            )
        if len(set(classes)) != len(classes):
            raise ValueError(f"labels_keep names a label twice: {classes!r}.")
    chosen = _select(codes, code_of, classes, max_samples_per_class, random_state)
    rows = np.concatenate(chosen)
    points = np.concatenate([m[rows] for m in modalities])
    if len(points) < 3 or points.shape[1] < 2:
        raise ValueError(
            f"a 2-D map needs at least 3 points and 2 features; the selection has "
            f"{len(points)} points of {points.shape[1]} features."
        )
    coords = map_2d(points, method, random_state)

    if axes is None:
        fig, axes = plt.subplots(layout="constrained", figsize=figsize or (6, 5))
    fig = axes.figure
    if len(classes) <= 10:
        colours = matplotlib.colormaps["tab10"].colors
    elif len(classes) <= 20:
        colours = matplotlib.colormaps["tab20"].colors
    else:
        colours = matplotlib.colormaps["turbo"](np.linspace(0, 1, len(classes)))
    table = []
    for m, name in enumerate(names):
        offset = m * len(rows)
        start = 0
        for c, (value, members) in enumerate(zip(classes, chosen)):
            xy = coords[offset + start : offset + start + len(members)]
            start += len(members)
            axes.scatter(
                xy[:, 0],
                xy[:, 1],
                s=18 if m == 0 else 26,
                marker=_MARKERS[m],
                color=colours[c],
                alpha=0.75,
                edgecolors="none" if m == 0 else "black",
                linewidths=0.3,
                label=str(value) if m == 0 else None,
            )
            table.append(
                pd.DataFrame(
                    {
                        "x": xy[:, 0],
                        "y": xy[:, 1],
                        "label": value,
                        "modality": name,
                        "index": members,
                    }
                )
            )
    legend = axes.legend(title="label", fontsize="small", loc="best")
    if len(modalities) > 1:
        axes.add_artist(legend)
        handles = [
            Line2D([], [], marker=_MARKERS[m], color="grey", linestyle="none", label=name)
            for m, name in enumerate(names)
        ]
        axes.legend(handles=handles, fontsize="small", loc="lower right")
    prefix, title = ("PC", "PCA") if method == "pca" else ("t-SNE ", "t-SNE")
    axes.set_xlabel(f"{prefix}1")
    axes.set_ylabel(f"{prefix}2")
    axes.set_title(f"{' and '.join(names)} ({title})")
    fig.points_ = pd.concat(table, ignore_index=True)
    return fig
