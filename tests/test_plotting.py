import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from sklearn.metrics import pairwise_distances  # noqa: E402

from contrastlearn.plotting import (  # noqa: E402
    nearest_neighbors,
    plot_history,
    plot_neighbors,
    plot_representation,
)
from contrastlearn.validation import InvalidParameterError  # noqa: E402

N, H, W = 30, 6, 7
HISTORY = pd.DataFrame({"train_loss": [2.0, 1.0]}, index=pd.Index([1, 2], name="epoch"))


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
    found, distances = nearest_neighbors(emb, [0, 7, 29], n_neighbors=4, return_distance=True)
    assert found.shape == distances.shape == (3, 4)
    for row, query in enumerate([0, 7, 29]):
        np.testing.assert_array_equal(found[row], brute_force_neighbors(emb, query, 4))
        assert query not in found[row] and np.all(np.diff(distances[row]) >= 0)
    euclid = nearest_neighbors(emb, 3, n_neighbors=2, metric="euclidean")
    np.testing.assert_array_equal(euclid[0], brute_force_neighbors(emb, 3, 2, "euclidean"))


def test_single_embedding_figure_shows_query_then_its_neighbours(data):
    images, embeddings = data
    queries, k = [2, 11, 5], 4
    fig = plot_neighbors(images, embeddings["CPLR"], queries, n_neighbors=k)
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
    fig = plot_neighbors(images, embeddings, queries, n_neighbors=k, titles=["round", "streak"])
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
    fig = plot_neighbors(stack, emb, [1], n_neighbors=2)
    np.testing.assert_array_equal(shown(fig.axes[0]), images[1])  # first channel
    rgb = np.stack([images, images**2, 1 - images], axis=1)  # (n, 3, H, W)
    fig = plot_neighbors(rgb, emb, [1], n_neighbors=2)
    assert shown(fig.axes[0]).shape == (H, W, 3)
    assert 0 <= shown(fig.axes[0]).min() and shown(fig.axes[0]).max() <= 1
    fig = plot_neighbors(images, emb, [1], n_neighbors=2, log_scale=True)
    assert all(isinstance(ax.images[0].norm, LogNorm) for ax in fig.axes)


def test_labels_are_annotated_with_names_and_overlap(data):
    images, embeddings = data
    Y = np.zeros((N, 3), dtype=int)
    Y[:, 0] = 1
    Y[::2, 1] = 1
    fig = plot_neighbors(
        images,
        embeddings["PCA"],
        [0],
        n_neighbors=3,
        labels=Y,
        label_names=["spherical", "dimer", "streak"],
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
    out = plot_neighbors(LazyStack(), embeddings["CPLR"], [4, 8], n_neighbors=2, axes=axes)
    assert out is fig
    assert set(LazyStack.read) == {4, 8, *fig.neighbors_["embedding"].ravel()}
    np.testing.assert_array_equal(shown(axes[1, 0]), images[8])
    with pytest.raises(ValueError, match="axes"):
        plot_neighbors(images, embeddings["CPLR"], [4, 8], n_neighbors=3, axes=axes)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"queries": [N]}, ValueError, "queries"),
        ({"queries": [-1]}, ValueError, "queries"),
        ({"queries": [0.5]}, ValueError, "queries"),
        (
            {"n_neighbors": N},
            ValueError,
            rf"'n_neighbors' parameter of plot_neighbors must be an int in \[1, {N - 1}\]",
        ),
        (
            {"n_neighbors": 2.0},
            TypeError,
            "'n_neighbors' parameter of plot_neighbors must be an int >= 1",
        ),
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
    args = {
        "X": images,
        "embeddings": embeddings["CPLR"],
        "queries": [0],
        "n_neighbors": 2,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        plot_neighbors(args.pop("X"), args.pop("embeddings"), args.pop("queries"), **args)


def test_missing_matplotlib_says_how_to_install(data, monkeypatch):
    images, embeddings = data
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_neighbors(images, embeddings["CPLR"], [0], n_neighbors=2)
    # needs no matplotlib
    assert nearest_neighbors(embeddings["CPLR"], [0], n_neighbors=2).shape == (1, 2)


@pytest.mark.parametrize(
    "call, owner, name",
    [
        (lambda e: nearest_neighbors("emb", [0]), "nearest_neighbors", "embeddings"),
        (lambda e: nearest_neighbors(e, []), "nearest_neighbors", "queries"),
        (lambda e: nearest_neighbors(e, [0.5]), "nearest_neighbors", "queries"),
        (lambda e: nearest_neighbors(e, [N]), "nearest_neighbors", "queries"),
        (lambda e: nearest_neighbors(e, [0], n_neighbors=0), "nearest_neighbors", "n_neighbors"),
        (lambda e: nearest_neighbors(e, [0], k=0), "nearest_neighbors", "k"),
        (lambda e: nearest_neighbors(e, [0], metric="cosinus"), "nearest_neighbors", "metric"),
        (
            lambda e: nearest_neighbors(e, [0], return_distance=1),
            "nearest_neighbors",
            "return_distance",
        ),
        (lambda e: plot_neighbors(5, e, [0]), "plot_neighbors", "X"),
        (lambda e: plot_neighbors(np.zeros((N, 2, 2)), {}, [0]), "plot_neighbors", "embeddings"),
        (lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [-1]), "plot_neighbors", "queries"),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], n_neighbors=N),
            "plot_neighbors",
            "n_neighbors",
        ),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], metric=None),
            "plot_neighbors",
            "metric",
        ),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], log_scale="yes"),
            "plot_neighbors",
            "log_scale",
        ),
        (lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], cmap=3), "plot_neighbors", "cmap"),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], axes=[[1, 2]]),
            "plot_neighbors",
            "axes",
        ),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], figsize=(4, -1)),
            "plot_neighbors",
            "figsize",
        ),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0], label_names=["a"]),
            "plot_neighbors",
            "label_names",
        ),
        (
            lambda e: plot_neighbors(np.zeros((N, 2, 2)), e, [0, 1], titles=["a"]),
            "plot_neighbors",
            "titles",
        ),
        (lambda e: plot_history(e), "plot_history", "history"),
        (lambda e: plot_history(HISTORY, axes=[None]), "plot_history", "axes"),
        (lambda e: plot_history(HISTORY, axes=plt.subplots(1, 2)[1]), "plot_history", "axes"),
        (lambda e: plot_history(HISTORY, figsize=5), "plot_history", "figsize"),
    ],
)
def test_bad_parameters_raise_naming_the_function_and_the_parameter(data, call, owner, name):
    _, embeddings = data
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {owner} must be"):
        call(embeddings["CPLR"])


def test_data_dependent_limits_use_the_layers_words(data):
    _, embeddings = data
    with pytest.raises(
        InvalidParameterError,
        match=(
            rf"The 'n_neighbors' parameter of nearest_neighbors must be an int in \[1, {N - 1}\]"
            r"\. Got 50\."
        ),
    ):
        nearest_neighbors(embeddings["CPLR"], [0], n_neighbors=50)
    with pytest.raises(
        InvalidParameterError,
        match=rf"The 'queries' parameter of nearest_neighbors must be .* in \[0, {N - 1}\]",
    ):
        nearest_neighbors(embeddings["CPLR"], [0, N])
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'axes' parameter of plot_history must be a sequence of 1 Axes, one per panel "
        r"\(training loss\)",
    ):
        plot_history(HISTORY, axes=plt.subplots(1, 2)[1])


def test_plotting_imports_no_matplotlib():
    import subprocess

    code = "import sys, contrastlearn.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_k_is_the_old_name_of_n_neighbors(data):
    images, embeddings = data
    emb = embeddings["CPLR"]
    with pytest.warns(FutureWarning, match="'k' parameter of nearest_neighbors was renamed"):
        old = nearest_neighbors(emb, [0, 3], k=3)
    np.testing.assert_array_equal(old, nearest_neighbors(emb, [0, 3], n_neighbors=3))
    with pytest.warns(FutureWarning, match="'k' parameter of plot_neighbors was renamed"):
        fig = plot_neighbors(images, emb, [0], k=3)
    assert len(fig.axes) == 4
    with pytest.raises(InvalidParameterError, match="got both k=3 and n_neighbors=4"):
        nearest_neighbors(emb, [0], n_neighbors=4, k=3)


# ---------------------------------------------------------------- plot_representation


@pytest.fixture(scope="module")
def paired():
    """Three string classes (20, 12 and 6 samples) in 5-D, and a noisy paired modality."""
    rng = np.random.default_rng(1)
    labels = np.array(["cat"] * 20 + ["dog"] * 12 + ["fish"] * 6)
    centres = {"cat": 0, "dog": 1, "fish": 2}
    images = rng.normal(size=(len(labels), 5))
    images[np.arange(len(labels)), [centres[y] for y in labels]] += 4.0
    texts = images + 0.3 * rng.normal(size=images.shape)
    return images, texts, labels


def test_plot_representation_draws_every_sample_coloured_by_class(paired):
    images, _, labels = paired
    fig = plot_representation(images, labels, random_state=0)
    points = fig.points_
    assert len(points) == len(labels)
    assert points.groupby("label").size().to_dict() == {"cat": 20, "dog": 12, "fish": 6}
    assert set(points["modality"]) == {"images"}
    ax = fig.axes[0]
    assert [len(c.get_offsets()) for c in ax.collections] == [20, 12, 6]
    colours = {tuple(c.get_facecolor()[0]) for c in ax.collections}
    assert len(colours) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["cat", "dog", "fish"]
    # the coordinates are the PCA map of the embeddings
    from sklearn.decomposition import PCA

    expected = PCA(n_components=2, random_state=0).fit_transform(images)
    np.testing.assert_allclose(
        np.abs(points.sort_values("index")[["x", "y"]].to_numpy()), np.abs(expected), atol=1e-8
    )


def test_max_samples_per_class_caps_each_class_reproducibly(paired):
    images, texts, labels = paired
    fig = plot_representation(
        images, labels, paired_embeddings=texts, max_samples_per_class=8, random_state=0
    )
    sizes = fig.points_.groupby(["modality", "label"]).size().to_dict()
    assert sizes == {
        ("images", "cat"): 8,
        ("images", "dog"): 8,
        ("images", "fish"): 6,  # fewer than the cap: all of them
        ("paired", "cat"): 8,
        ("paired", "dog"): 8,
        ("paired", "fish"): 6,
    }
    assert [len(c.get_offsets()) for c in fig.axes[0].collections] == [8, 8, 6] * 2
    chosen = fig.points_.query("modality == 'images'")["index"].to_numpy()
    assert np.all(labels[chosen] == fig.points_.query("modality == 'images'")["label"])
    # the same pairs in both modalities, the same choice for the same seed
    np.testing.assert_array_equal(
        chosen, fig.points_.query("modality == 'paired'")["index"].to_numpy()
    )
    again = plot_representation(images, labels, max_samples_per_class=8, random_state=0)
    np.testing.assert_array_equal(again.points_["index"].to_numpy(), chosen)
    other = plot_representation(images, labels, max_samples_per_class=8, random_state=1)
    assert not np.array_equal(other.points_["index"].to_numpy(), chosen)


def test_labels_keep_draws_only_those_labels_in_that_order(paired):
    images, _, labels = paired
    fig = plot_representation(images, labels, labels_keep=["fish", "cat"])
    assert list(fig.points_["label"].unique()) == ["fish", "cat"]
    assert len(fig.points_) == 26
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == ["fish", "cat"]
    ints = plot_representation(images, np.arange(len(labels)) % 3, labels_keep=[2])
    assert set(ints.points_["label"]) == {2}


def test_both_modalities_share_one_map_with_different_markers(paired):
    images, texts, labels = paired
    fig = plot_representation(
        images, labels, paired_embeddings=texts, names=("images", "texts"), random_state=0
    )
    ax = fig.axes[0]
    assert len(ax.collections) == 6  # 3 classes x 2 modalities
    image_paths = {c.get_paths()[0].vertices.tobytes() for c in ax.collections[:3]}
    text_paths = {c.get_paths()[0].vertices.tobytes() for c in ax.collections[3:]}
    assert len(image_paths) == len(text_paths) == 1 and image_paths != text_paths
    for a, b in zip(ax.collections[:3], ax.collections[3:]):  # a class's colour in both
        np.testing.assert_allclose(a.get_facecolor()[0][:3], b.get_facecolor()[0][:3])
    assert len(ax.get_legend().get_texts()) == 2  # the marker legend; the class legend too
    assert set(fig.points_["modality"]) == {"images", "texts"}
    # one map fitted on both: a paired copy of the images lands exactly on them
    same = plot_representation(images, labels, paired_embeddings=images, random_state=0)
    first = same.points_.query("modality == 'images'")[["x", "y"]].to_numpy()
    second = same.points_.query("modality == 'paired'")[["x", "y"]].to_numpy()
    np.testing.assert_allclose(first, second)
    # duplicated points leave the map as it is; the texts, fitted with the images, move it
    alone = plot_representation(images, labels, random_state=0).points_[["x", "y"]].to_numpy()
    np.testing.assert_allclose(np.abs(first), np.abs(alone), atol=1e-8)
    joint = fig.points_.query("modality == 'images'")[["x", "y"]].to_numpy()
    assert not np.allclose(np.abs(joint), np.abs(alone), atol=1e-3)


def test_plot_representation_tsne_and_given_axes(paired):
    images, texts, labels = paired
    fig, ax = plt.subplots()
    out = plot_representation(
        images, labels, paired_embeddings=texts, method="tsne", random_state=0, axes=ax
    )
    assert out is fig and len(ax.collections) == 6
    assert ax.get_xlabel() == "t-SNE 1"
    xy = out.points_[["x", "y"]].to_numpy()
    assert xy.shape == (2 * len(labels), 2) and np.isfinite(xy).all()
    again = plot_representation(
        images, labels, paired_embeddings=texts, method="tsne", random_state=0
    )
    np.testing.assert_allclose(again.points_[["x", "y"]].to_numpy(), xy)


def test_plot_representation_bad_input(paired):
    images, texts, labels = paired
    with pytest.raises(ValueError, match="labels has 37 entries but embeddings has 38 rows"):
        plot_representation(images, labels[:-1])
    with pytest.raises(ValueError, match=r"paired_embeddings has shape \(38, 4\)"):
        plot_representation(images, labels, paired_embeddings=texts[:, :4])
    with pytest.raises(ValueError, match=r"paired_embeddings has shape \(30, 5\)"):
        plot_representation(images, labels, paired_embeddings=texts[:30])
    with pytest.raises(ValueError, match=r"labels_keep names labels that do not occur.*'bird'"):
        plot_representation(images, labels, labels_keep=["cat", "bird"])
    with pytest.raises(ValueError, match="labels_keep names a label twice"):
        plot_representation(images, labels, labels_keep=["cat", "cat"])
    with pytest.raises(ValueError, match="labels must be 1-D.*multi-label"):
        plot_representation(images, np.zeros((38, 3), dtype=int))
    with pytest.raises(ValueError, match="names must give 2 name"):
        plot_representation(images, labels, paired_embeddings=texts, names="images")
    with pytest.raises(
        InvalidParameterError,
        match="'max_samples_per_class' parameter of plot_representation must be None or an int",
    ):
        plot_representation(images, labels, max_samples_per_class=0)
    with pytest.raises(InvalidParameterError, match="'method' parameter of plot_representation"):
        plot_representation(images, labels, method="umap")
    with pytest.raises(InvalidParameterError, match="'axes' parameter .* a matplotlib Axes"):
        plot_representation(images, labels, axes=[None])
    with pytest.raises(ValueError, match="needs at least 3 points and 2 features"):
        plot_representation(images[:, :1], labels)


def test_the_embedding_map_spreads_its_thumbnails_and_colours_by_label():
    from sklearn.datasets import load_digits

    from contrastlearn.plotting import plot_embedding_map

    digits = load_digits()
    X, y = digits.images[:300], digits.target[:300]
    fig = plot_embedding_map(X.reshape(300, -1), images=X, labels=y, n_thumbnails=15)
    coords = fig.coordinates_[["x", "y"]].to_numpy()
    assert len(set(fig.thumbnails_.tolist())) == 15
    # spread out: the thumbnails are farther apart than 15 random points are
    from scipy.spatial.distance import pdist

    rng = np.random.RandomState(0)
    random_gap = np.median(
        [pdist(coords[rng.choice(300, 15, replace=False)]).min() for _ in range(20)]
    )
    assert pdist(coords[fig.thumbnails_]).min() > random_gap
    assert len(fig.axes[0].artists) == 15
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == [
        str(d) for d in range(10)
    ]
    plt.close(fig)
    fig = plot_embedding_map(X.reshape(300, -1), method="spectral", n_thumbnails=0, random_state=0)
    assert fig.coordinates_["label"].isna().all() and not len(fig.thumbnails_)
    plt.close(fig)
    with pytest.raises(ValueError, match="needs the images"):
        plot_embedding_map(X.reshape(300, -1))
    with pytest.raises(ValueError, match="labels has 5 entries"):
        plot_embedding_map(X.reshape(300, -1), labels=y[:5], n_thumbnails=0)
