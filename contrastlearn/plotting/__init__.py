"""Figures for judging embeddings and training by eye.

Nearest neighbours (:func:`plot_neighbors`), a 2-D map of an embedding with
image thumbnails (:func:`plot_embedding_map`), a 2-D map of one or two paired
modalities coloured by class (:func:`plot_representation`) and training
histories (:func:`plot_history`).

matplotlib is not a dependency of contrastlearn; it is imported only when a
figure is drawn (``pip install matplotlib``). :func:`nearest_neighbors`, the
neighbour search behind the figures, needs only numpy and scikit-learn.
"""

# FIGSIZE, HISTORY_PANELS and QUERIES were module attributes of plotting.py: still here.
from ._common import FIGSIZE  # noqa: F401
from ._history import HISTORY_PANELS, plot_history  # noqa: F401
from ._map import MAP_METHODS, plot_embedding_map  # noqa: F401
from ._neighbors import QUERIES, nearest_neighbors, plot_neighbors  # noqa: F401
from ._representation import plot_representation

__all__ = [
    "nearest_neighbors",
    "plot_neighbors",
    "plot_embedding_map",
    "plot_representation",
    "plot_history",
]
