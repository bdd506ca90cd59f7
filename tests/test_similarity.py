"""Similarity search and outlier scores in an embedding."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402

from contrastlearn.similarity import SimilaritySearch  # noqa: E402


@pytest.fixture
def images():
    """Noisy copies of 4 random 8x8 patterns, and one image unlike any of them."""
    rng = np.random.RandomState(0)
    patterns = rng.rand(4, 8, 8)
    X = np.concatenate([patterns[i % 4] + 0.05 * rng.randn(1, 8, 8) for i in range(40)])
    X = np.concatenate([X, np.full((1, 8, 8), 3.0)])
    return X, np.arange(41) % 4


def test_the_most_similar_images_are_copies_of_the_same_pattern(images):
    X, pattern = images
    pca = PCA(5, random_state=0).fit(X.reshape(41, -1))

    class Flatten:  # a fitted "pretrainer" on images
        def transform(self, images):
            return pca.transform(np.asarray(images).reshape(len(images), -1))

    search = SimilaritySearch(Flatten(), n_neighbors=3, metric="euclidean").fit(X)
    query = X[[0, 1]] + 0.01
    distances, indices = search.kneighbors(query)
    assert indices.shape == distances.shape == (2, 3)
    assert (pattern[indices[0]] == 0).all() and (pattern[indices[1]] == 1).all()
    assert (np.diff(distances, axis=1) >= 0).all()
    assert int(np.argmax(search.outlier_scores_)) == 40  # the odd one out
    figure = search.plot_neighbors(X, query)
    assert len(figure.axes) == 2 * 4 and figure.indices_.shape == (2, 3)
    outliers = search.plot_outliers(X, 3)
    assert outliers.indices_[0] == 40 and len(outliers.axes) == 3


def test_an_unfitted_pretrainer_or_too_few_images_are_refused():
    from contrastlearn import CLR

    with pytest.raises(NotFittedError):
        SimilaritySearch(CLR()).fit(np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="needs more than 5 images"):
        SimilaritySearch().fit(np.eye(5))
    search = SimilaritySearch(n_neighbors=2).fit(np.eye(6))
    with pytest.raises(ValueError, match="n_neighbors must be an int in"):
        search.kneighbors(np.eye(6)[:1], n_neighbors=7)
