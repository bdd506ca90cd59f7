import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import contrastlearn as cl
from contrastlearn.detection import ParticleDetector, detection_report


def blobs(n_background, n_particles, seed=0):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n_background, 5)), rng.normal(5, 1, (n_particles, 5))])
    return X, np.r_[np.zeros(n_background, int), np.ones(n_particles, int)]


def crops(n=120, size=12, seed=0):
    """Noise crops, a third of them with a bright disc: a toy particle-detection task."""
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(int)
    rows, cols = np.mgrid[:size, :size]
    centre = rng.uniform(4, size - 4, (n, 2))
    disc = np.hypot(rows - centre[:, :1, None], cols - centre[:, 1:, None]) < 3
    X = rng.normal(0, 1, (n, size, size)) + 3 * disc * y[:, None, None]
    return X.astype(np.float32), y


def test_detects_the_particles_of_a_known_toy_case_without_labels():
    X, y = blobs(90, 30)
    detector = ParticleDetector(random_state=0).fit(X)
    np.testing.assert_array_equal(detector.predict(X), y)
    scores = detector.decision_function(X)
    assert ((scores > 0) == (detector.predict(X) == 1)).all() and roc_auc_score(y, scores) == 1


def test_labels_flip_the_orientation_when_particles_are_the_majority():
    X, y = blobs(25, 75)  # here the largest cluster holds the particles
    unsupervised = ParticleDetector(random_state=0).fit(X)
    np.testing.assert_array_equal(unsupervised.predict(X), 1 - y)  # the documented rule misfires
    oriented = ParticleDetector(random_state=0).fit(X, y)
    np.testing.assert_array_equal(oriented.predict(X), y)
    assert oriented.score(X, y) == 1.0
    fixed = ParticleDetector(random_state=0, background_cluster=int(
        oriented.cluster_is_particle_.argmin())).fit(X)
    np.testing.assert_array_equal(fixed.predict(X), y)


def test_more_clusters_are_mapped_by_majority():
    X, y = blobs(60, 60)
    detector = ParticleDetector(n_clusters=4, random_state=0).fit(X, y)
    assert detector.cluster_is_particle_.sum() in (1, 2, 3)
    assert detector.score(X, y) > 0.95


@pytest.mark.parametrize("scoring", ["roc_auc", "f1"])
def test_in_a_pipeline_and_grid_search(scoring):
    X, y = crops()
    pipeline = make_pipeline(cl.CLR(max_epochs=2, batch_size=32, random_state=0),
                             ParticleDetector(random_state=0))
    search = GridSearchCV(pipeline, {"particledetector__n_clusters": [2, 3]}, scoring=scoring,
                          cv=3).fit(X, y)
    assert search.best_params_["particledetector__n_clusters"] in (2, 3)
    assert 0 <= search.best_score_ <= 1
    assert set(np.unique(search.predict(X))) <= {0, 1}


def test_pca_pipeline_finds_the_discs():
    X, y = crops()
    pipeline = make_pipeline(PCA(5, random_state=0), ParticleDetector(random_state=0))
    pipeline.fit(X.reshape(len(X), -1), y)
    # Measured F1 0.75; calling every crop a particle scores 0.5 here.
    assert pipeline.score(X.reshape(len(X), -1), y) > 0.65


def test_report_matches_sklearn():
    X, y = blobs(50, 20, seed=1)
    X[:5] += 5  # five background samples that look like particles
    detector = ParticleDetector(random_state=0).fit(X)
    report = detector.report(X, y)
    predicted = detector.predict(X)
    assert report["F1"] == pytest.approx(f1_score(y, predicted))
    assert report["precision"] == pytest.approx(precision_score(y, predicted))
    assert report["recall"] == pytest.approx(recall_score(y, predicted))
    assert report["ROC AUC"] == pytest.approx(roc_auc_score(y, detector.decision_function(X)))
    assert report[["TP", "FP", "FN", "TN"]].sum() == len(y) and report["FP"] == 5
    assert np.isnan(detection_report(y, predicted)["ROC AUC"])


@pytest.mark.parametrize("call,fragment", [
    (lambda X, y: ParticleDetector().fit(X, y * 2), "0/1"),
    (lambda X, y: ParticleDetector().fit(X, y[:3]), "y has 3 labels"),
    (lambda X, y: ParticleDetector(n_clusters=1).fit(X), "'n_clusters'"),
    (lambda X, y: ParticleDetector(background_cluster=5).fit(X), "not a cluster index"),
])
def test_bad_input(call, fragment):
    X, y = blobs(20, 10)
    with pytest.raises(ValueError, match=fragment):
        call(X, y)
