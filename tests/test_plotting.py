import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from sklearn.metrics import pairwise_distances  # noqa: E402

from contrastlearn.plotting import nearest_neighbors, plot_neighbors  # noqa: E402

N, H, W = 30, 6, 7


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    images = rng.random((N, H, W))
    embeddings = {
        "CPLR": rng.normal(size=(N, 4)),
        "CLR": rng.normal(size=(N, 4)),
        "PCA": rng.normal(size=(N, 3)),
    }
    return images, embeddings


def brute_force_neighbors(embedding, query, k, metric="cosine"):
    distances = pairwise_distances(embedding[[query]], embedding, metric=metric)[0]
    distances[query] = np.inf
    return np.argsort(distances)[:k]


def shown(ax):
    """The image data drawn in one axes."""
    assert len(ax.images) == 1
    return np.asarray(ax.images[0].get_array())


def test_nearest_neighbors_are_the_true_nearest(data):
    _, embeddings = data
    emb = embeddings["CPLR"]
    found, distances = nearest_neighbors(emb, [0, 7, 29], k=4, return_distance=True)
    assert found.shape == distances.shape == (3, 4)
    for row, query in enumerate([0, 7, 29]):
        np.testing.assert_array_equal(found[row], brute_force_neighbors(emb, query, 4))
        assert query not in found[row] and np.all(np.diff(distances[row]) >= 0)
    euclid = nearest_neighbors(emb, 3, k=2, metric="euclidean")
    np.testing.assert_array_equal(euclid[0], brute_force_neighbors(emb, 3, 2, "euclidean"))


def test_single_embedding_figure_shows_query_then_its_neighbours(data):
    images, embeddings = data
    queries, k = [2, 11, 5], 4
    fig = plot_neighbors(images, embeddings["CPLR"], queries, k=k)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == len(queries) * (k + 1)
    neighbors = fig.neighbors_["embedding"]
    assert neighbors.shape == (len(queries), k)
    axes = np.array(fig.axes).reshape(len(queries), k + 1)
    for row, query in enumerate(queries):
        expected = brute_force_neighbors(embeddings["CPLR"], query, k)
        np.testing.assert_array_equal(neighbors[row], expected)
        np.testing.assert_array_equal(shown(axes[row, 0]), images[query])
        assert axes[row, 0].get_title() == f"query {query}"
        for col, index in enumerate(expected, start=1):
            np.testing.assert_array_equal(shown(axes[row, col]), images[index])
            assert axes[row, col].get_title() == str(index)
        assert axes[row, 0].get_ylabel() == ""  # one unnamed embedding: no method label


def test_dict_gives_one_labelled_block_per_method(data):
    images, embeddings = data
    queries, k = [0, 9], 3
    fig = plot_neighbors(images, embeddings, queries, k=k, titles=["round", "streak"])
    assert list(fig.neighbors_) == ["CPLR", "CLR", "PCA"]
    assert len(fig.axes) == 3 * len(queries) * (k + 1)
    axes = np.array(fig.axes).reshape(3 * len(queries), k + 1)
    for block, (name, emb) in enumerate(embeddings.items()):
        for row, query in enumerate(queries):
            ax_row = axes[block * len(queries) + row]
            assert ax_row[0].get_ylabel() == name
            assert ax_row[0].get_title() == ["round", "streak"][row]
            expected = brute_force_neighbors(emb, query, k)
            np.testing.assert_array_equal(fig.neighbors_[name][row], expected)
            np.testing.assert_array_equal(shown(ax_row[0]), images[query])
            for col, index in enumerate(expected, start=1):
                np.testing.assert_array_equal(shown(ax_row[col]), images[index])
    # the three methods do find different neighbours here
    assert not np.array_equal(fig.neighbors_["CPLR"], fig.neighbors_["CLR"])


def test_channels_rgb_and_log_scale(data):
    images, embeddings = data
    emb = embeddings["CLR"]
    stack = np.stack([images, 2 * images], axis=1)  # (n, 2, H, W)
    fig = plot_neighbors(stack, emb, [1], k=2)
    np.testing.assert_array_equal(shown(fig.axes[0]), images[1])  # first channel
    rgb = np.stack([images, images**2, 1 - images], axis=1)  # (n, 3, H, W)
    fig = plot_neighbors(rgb, emb, [1], k=2)
    assert shown(fig.axes[0]).shape == (H, W, 3)
    assert 0 <= shown(fig.axes[0]).min() and shown(fig.axes[0]).max() <= 1
    fig = plot_neighbors(images, emb, [1], k=2, log_scale=True)
    assert all(isinstance(ax.images[0].norm, LogNorm) for ax in fig.axes)


def test_labels_are_annotated_with_names_and_overlap(data):
    images, embeddings = data
    Y = np.zeros((N, 3), dtype=int)
    Y[:, 0] = 1
    Y[::2, 1] = 1
    fig = plot_neighbors(
        images, embeddings["PCA"], [0], k=3, labels=Y, label_names=["spherical", "dimer", "streak"]
    )
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert texts[0] == ["spherical\ndimer"]  # the query: both labels
    for ax_texts, index in zip(texts[1:], fig.neighbors_["embedding"][0]):
        expected = "1.00" if index % 2 == 0 else "0.50"
        assert ax_texts[1] == f"overlap {expected}"


def test_draws_into_given_axes_and_reads_only_shown_images(data):
    images, embeddings = data

    class LazyStack:  # like an HDF5 dataset
        shape = images.shape
        read = []

        def __len__(self):
            return N

        def __getitem__(self, index):
            self.read.append(index)
            return torch.from_numpy(images[index])

    fig, axes = plt.subplots(2, 3)
    out = plot_neighbors(LazyStack(), embeddings["CPLR"], [4, 8], k=2, axes=axes)
    assert out is fig
    assert set(LazyStack.read) == {4, 8, *fig.neighbors_["embedding"].ravel()}
    np.testing.assert_array_equal(shown(axes[1, 0]), images[8])
    with pytest.raises(ValueError, match="axes"):
        plot_neighbors(images, embeddings["CPLR"], [4, 8], k=3, axes=axes)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"queries": [N]}, ValueError, "queries"),
        ({"queries": [-1]}, ValueError, "queries"),
        ({"queries": [0.5]}, ValueError, "queries"),
        ({"k": N}, ValueError, "k must be"),
        ({"k": 2.0}, TypeError, "k must be"),
        ({"metric": "nope"}, ValueError, "metric"),
        ({"embeddings": np.zeros((N - 1, 3))}, ValueError, "rows"),
        ({"embeddings": {}}, ValueError, "empty"),
        ({"X": np.zeros((N, 4))}, ValueError, "H, W"),
        ({"titles": ["a", "b"]}, ValueError, "titles"),
        ({"labels": np.zeros(N - 1)}, ValueError, "labels"),
        ({"label_names": ["a"]}, ValueError, "label_names"),
    ],
)
def test_bad_arguments_raise(data, kwargs, error, match):
    images, embeddings = data
    args = {"X": images, "embeddings": embeddings["CPLR"], "queries": [0], "k": 2, **kwargs}
    with pytest.raises(error, match=match):
        plot_neighbors(args.pop("X"), args.pop("embeddings"), args.pop("queries"), **args)


def test_missing_matplotlib_says_how_to_install(data, monkeypatch):
    images, embeddings = data
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_neighbors(images, embeddings["CPLR"], [0], k=2)
    assert nearest_neighbors(embeddings["CPLR"], [0], k=2).shape == (1, 2)  # needs no matplotlib
