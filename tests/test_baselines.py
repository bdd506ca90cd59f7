"""The reference study's baselines and its linear evaluation."""

import numpy as np
import pytest
from sklearn import linear_model, model_selection, pipeline, preprocessing
from sklearn.decomposition import PCA

from contrastlearn.baselines import (
    RandomEmbedding,
    baseline_embeddings,
    minmax_pixels,
    squared_w2_distances,
    w2_features,
)
from contrastlearn.evaluation import linear_evaluation, overlap_score
from contrastlearn.validation import InvalidParameterError


def w2_multi_normal(us1, us2):
    """The reference's distance (overlap_score_and_lin_accuracy.py), without numba."""
    ds1 = int(len(us1) / 2)
    u1, u2 = us1[:ds1], us2[:ds1]
    s1, s2 = np.exp(us1[ds1:]), np.exp(us2[ds1:])
    squaredcovs1 = np.sqrt(np.diag(s1))
    covs2 = np.diag(s2)
    tr_covs = 2 * np.trace(np.sqrt(squaredcovs1.dot(covs2.dot(squaredcovs1))))
    return np.sum((u2 - u1) ** 2) + s1.sum() + s2.sum() - tr_covs


def test_w2_features_give_the_references_wasserstein_distance():
    rng = np.random.default_rng(0)
    mean, log_var = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    expected = np.array(
        [
            [
                w2_multi_normal(np.r_[mean[i], log_var[i]], np.r_[mean[j], log_var[j]])
                for j in range(6)
            ]
            for i in range(6)
        ]
    )
    np.testing.assert_allclose(
        squared_w2_distances(w2_features(mean, log_var)), expected, atol=1e-10
    )


def test_linear_evaluation_is_the_references_loop():
    rng = np.random.default_rng(1)
    Y = rng.integers(0, 2, size=(120, 3))
    E = Y @ rng.normal(size=(3, 8)) + rng.normal(size=(120, 8))
    seed = 5635786
    order = np.arange(120)
    np.random.default_rng(seed).shuffle(order)
    clf = pipeline.make_pipeline(
        preprocessing.StandardScaler(),
        linear_model.SGDClassifier(
            loss="perceptron",
            eta0=1,
            learning_rate="invscaling",
            penalty="l2",
            alpha=1e-4,
            shuffle=True,
            random_state=seed,
        ),
    )
    expected = [
        np.mean(
            model_selection.cross_validate(clf, E[order], Y[order, label], cv=5, scoring="f1")[
                "test_score"
            ]
        )
        for label in range(3)
    ]
    table = linear_evaluation(E, Y, label_names=["a", "b", "c"], random_state=seed)
    np.testing.assert_allclose(table.loc[["a", "b", "c"], "f1"], expected)
    assert table.loc["macro avg", "f1"] == pytest.approx(np.mean(expected))
    assert table.loc["macro avg", "support"] == Y.sum()


def test_labels_without_positives_are_skipped_not_scored_zero():
    rng = np.random.default_rng(2)
    Y = np.zeros((100, 3), int)
    Y[:, 0] = rng.integers(0, 2, 100)
    Y[:, 2] = 1 - Y[:, 0]
    E = Y + 0.1 * rng.normal(size=(100, 3))
    table = linear_evaluation(E, Y)
    assert list(table.index) == ["0", "2", "macro avg"]
    assert table.loc["macro avg", "f1"] > 0.9  # not dragged to 2/3 by the empty label
    with pytest.raises(ValueError, match="no positive labels"):
        linear_evaluation(E, np.zeros_like(Y))
    with pytest.raises(ValueError, match="'label_names' parameter of linear_evaluation .* 3 names"):
        linear_evaluation(E, Y, label_names=["a"])


def test_overlap_uses_one_percent_of_the_images_by_default():
    rng = np.random.default_rng(3)
    Y = rng.integers(0, 2, size=(1000, 4))
    E = Y + rng.normal(size=(1000, 4))
    assert overlap_score(E, Y) == overlap_score(E, Y, n_neighbors=10)
    assert overlap_score(E, Y) != overlap_score(E, Y, n_neighbors=30)


def test_minmax_pixels_and_pca_as_the_reference_scales_them():
    rng = np.random.default_rng(4)
    X = rng.gamma(2.0, size=(40, 6, 6)) * rng.uniform(1, 100, size=(40, 1, 1))
    pixels = minmax_pixels(X)
    assert pixels.shape == (40, 36) and pixels.min(1).max() == 0 and pixels.max(1).min() == 1
    np.testing.assert_allclose(
        minmax_pixels(X, log_intensity=True), minmax_pixels(np.log1p(X)), atol=1e-6
    )
    ours = baseline_embeddings("PCA", X, [X], n_components=5, random_state=0)[0]
    scaled = preprocessing.MinMaxScaler().fit_transform(pixels)
    np.testing.assert_allclose(
        np.abs(ours.probe), np.abs(PCA(5, random_state=0).fit_transform(scaled)), atol=1e-4
    )
    assert ours.metric == "euclidean"


def test_correlation_pca_measures_neighbours_by_one_minus_abs_correlation():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(30, 5, 5))
    plain, corr = (
        baseline_embeddings(name, X, [X], n_components=6)[0]
        for name in ("PCA", "PCA (correlation)")
    )
    np.testing.assert_array_equal(plain.probe, corr.probe)
    assert corr.metric == "precomputed" and corr.neighbors.shape == (30, 30)
    np.testing.assert_allclose(corr.neighbors, 1 - np.abs(np.corrcoef(corr.probe)), atol=1e-12)


def test_split_baselines_embed_held_out_images_with_the_fitted_model():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 4, 4))
    train, test = baseline_embeddings("FactorAnalysis", X[:40], [X[:40], X[40:]], n_components=3)
    assert train.probe.shape == (40, 3) and test.probe.shape == (10, 3)


def test_random_embedding_is_repeatable_uniform_noise():
    X = np.zeros((500, 3))
    a = RandomEmbedding(8, random_state=0).fit_transform(X)
    np.testing.assert_array_equal(a, RandomEmbedding(8, random_state=0).fit_transform(X))
    assert a.shape == (500, 8) and 0 <= a.min() and a.max() < 1 and abs(a.mean() - 0.5) < 0.02
    with pytest.raises(ValueError, match="'n_components' parameter of RandomEmbedding"):
        RandomEmbedding(0).fit(X)


def test_vae_baseline_neighbours_by_wasserstein_and_probes_an_isomap(digits):
    images, y = digits
    X, y = images[:200], y[:200]
    embedded = baseline_embeddings(
        "VAE",
        X,
        [X],
        n_components=64,
        vae_params={"max_epochs": 15, "n_components": 6},
        random_state=0,
    )[0]
    assert embedded.neighbors.shape == (200, 12) and embedded.probe.shape == (200, 6)
    assert embedded.description == "6 latents, 2-Wasserstein"
    chance = overlap_score(np.random.default_rng(0).normal(size=(200, 6)), y, 5)
    assert overlap_score(embedded.neighbors, y, 5, embedded.metric) > chance + 0.2


def test_unknown_baseline():
    with pytest.raises(ValueError, match="'name' parameter of baseline_embeddings .* Got 'ICA'"):
        baseline_embeddings("ICA", np.zeros((4, 2, 2)), [], n_components=2)


def test_umap_is_optional():
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install umap-learn"):
            baseline_embeddings("UMAP", np.random.rand(20, 4, 4), [], n_components=2)
    else:
        X = np.random.default_rng(0).random((30, 4, 4))
        assert baseline_embeddings("UMAP", X, [X], n_components=2)[0].probe.shape == (30, 2)


@pytest.mark.parametrize(
    "call, owner, name",
    [
        (
            lambda X: baseline_embeddings("PCA", X, X, n_components=2),
            "baseline_embeddings",
            "X_eval",
        ),
        (
            lambda X: baseline_embeddings("PCA", X, [X], n_components=0),
            "baseline_embeddings",
            "n_components",
        ),
        (
            lambda X: baseline_embeddings("VAE", X, [X], n_components=2, n_neighbors=1.5),
            "baseline_embeddings",
            "n_neighbors",
        ),
        (
            lambda X: baseline_embeddings("PCA", X, [X], n_components=2, log_intensity=None),
            "baseline_embeddings",
            "log_intensity",
        ),
        (
            lambda X: baseline_embeddings("VAE", X, [X], n_components=2, vae_params=[1]),
            "baseline_embeddings",
            "vae_params",
        ),
        (
            lambda X: baseline_embeddings("PCA", X, [X], n_components=2, random_state=1.5),
            "baseline_embeddings",
            "random_state",
        ),
        (lambda X: minmax_pixels("images"), "minmax_pixels", "X"),
        (lambda X: minmax_pixels(X, batch_size=0), "minmax_pixels", "batch_size"),
        (lambda X: minmax_pixels(X, log_intensity="yes"), "minmax_pixels", "log_intensity"),
        (lambda X: w2_features(X, None), "w2_features", "log_var"),
        (lambda X: squared_w2_distances(X[0], other="X"), "squared_w2_distances", "other"),
    ],
)
def test_bad_parameters_raise_naming_the_function_and_the_parameter(call, owner, name):
    X = np.random.default_rng(0).random((6, 3, 3))
    with pytest.raises(InvalidParameterError, match=f"The '{name}' parameter of {owner} must be"):
        call(X)
