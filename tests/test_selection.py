"""Choosing what to label: select_diverse covers the embedding."""

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from contrastlearn.selection import select_diverse
from contrastlearn.validation import InvalidParameterError

CENTRES = np.array([[0, 0], [20, 0], [0, 20], [20, 20], [10, 10]], dtype=float)


@pytest.fixture
def clusters():
    rng = np.random.RandomState(0)
    points = np.concatenate([rng.randn(40, 2) + centre for centre in CENTRES])
    return points, np.repeat(np.arange(len(CENTRES)), 40)


@pytest.mark.parametrize("method", ["kcenter", "kmeans"])
def test_one_pick_per_cluster_covers_every_cluster(clusters, method):
    points, cluster = clusters
    picks = select_diverse(points, 5, method=method, random_state=0)
    assert len(picks) == len(set(picks.tolist())) == 5
    assert sorted(cluster[picks].tolist()) == [0, 1, 2, 3, 4]
    # random picks of 5 miss a cluster most of the time
    rng = np.random.RandomState(1)
    covered = [len(set(cluster[rng.choice(200, 5, replace=False)])) for _ in range(200)]
    assert np.mean(np.array(covered) == 5) < 0.5


def test_kcenter_keeps_the_largest_gap_small(clusters):
    points, _ = clusters
    picks = select_diverse(points, 20, method="kcenter")
    radius = pairwise_distances(points, points[picks]).min(1).max()
    rng = np.random.RandomState(0)
    random_radius = [
        pairwise_distances(points, points[rng.choice(200, 20, replace=False)]).min(1).max()
        for _ in range(20)
    ]
    assert radius < min(random_radius)


def test_already_selected_images_are_not_picked_and_their_clusters_count(clusters):
    points, cluster = clusters
    labelled = np.flatnonzero(cluster < 3)[::10]
    for method in ("kcenter", "kmeans"):
        picks = select_diverse(points, 2, method=method, already_selected=labelled, random_state=0)
        assert not set(picks.tolist()) & set(labelled.tolist())
        assert sorted(cluster[picks].tolist()) == [3, 4]


def test_bad_requests_are_refused():
    points = np.random.RandomState(0).randn(10, 3)
    with pytest.raises(InvalidParameterError, match="n_samples"):
        select_diverse(points, 11)
    with pytest.raises(InvalidParameterError, match="n_samples"):
        select_diverse(points, 9, already_selected=[0, 1])
    with pytest.raises(ValueError, match="already_selected must index"):
        select_diverse(points, 2, already_selected=[10])
    with pytest.raises(InvalidParameterError, match="method"):
        select_diverse(points, 2, method="random")
