import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_score

import contrastlearn as cl


@pytest.fixture(scope="module")
def pretrained(small_images):
    X, _ = small_images
    return cl.SimSiam(max_epochs=2, batch_size=64, random_state=0).fit(X)


def encoder_weights(classifier):
    return [p.detach().clone() for p in classifier.net_.module_.encoder.backbone.parameters()]


def test_frozen_backbone_is_left_alone_and_the_head_learns(small_images, pretrained):
    X, y = small_images
    names = np.array([f"digit {d}" for d in range(10)])[y]
    clf = cl.FineTunedClassifier(FrozenEstimator(pretrained), max_epochs=15, random_state=0)
    clf.fit(X, names)
    for before, after in zip(
        pretrained.net_.module_.backbone.parameters(),
        clf.net_.module_.encoder.backbone.parameters(),
    ):
        assert torch.equal(before, after)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(names) and clf.score(X, names) > 0.5  # chance is 0.1


def test_fine_tuning_moves_the_backbone_at_a_lower_learning_rate(small_images, pretrained):
    X, y = small_images
    clf = cl.FineTunedClassifier(
        FrozenEstimator(pretrained),
        fine_tune=True,
        backbone_lr_scale=0.1,
        lr=1e-3,
        max_epochs=2,
        lr_schedule=None,
        random_state=0,
    ).fit(X, y)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(
            pretrained.net_.module_.backbone.parameters(),
            clf.net_.module_.encoder.backbone.parameters(),
        )
    )
    learning_rates = sorted(g["lr"] for g in clf.net_.optimizer_.param_groups)
    assert learning_rates == pytest.approx([1e-4, 1e-3])


def test_cross_val_score_reuses_a_frozen_pretrainer(small_images, pretrained):
    X, y = small_images
    clf = cl.FineTunedClassifier(FrozenEstimator(pretrained), max_epochs=10, random_state=0)
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.mean() > 0.4


def test_an_unfitted_pretrainer_is_fitted_on_the_training_images(small_images):
    X, y = small_images
    simsiam = cl.SimSiam(max_epochs=1, batch_size=64, random_state=0)
    clf = cl.FineTunedClassifier(simsiam, max_epochs=2, random_state=0).fit(X, y)
    assert hasattr(clf.pretrainer_, "net_") and not hasattr(simsiam, "net_")


def test_supervised_from_scratch_baseline_learns(small_images):
    X, y = small_images
    clf = cl.FineTunedClassifier(None, max_epochs=15, batch_size=64, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.8
    again = cl.FineTunedClassifier(None, max_epochs=15, batch_size=64, random_state=0).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_binary_decision_function_feeds_roc_auc(small_images, pretrained):
    X, y = small_images
    binary = (y >= 5).astype(int)
    clf = cl.FineTunedClassifier(FrozenEstimator(pretrained), max_epochs=10, random_state=0)
    scores = clf.fit(X, binary).decision_function(X)
    assert scores.shape == (len(X),) and roc_auc_score(binary, scores) > 0.7


def test_bad_labels_and_parameters(small_images, pretrained):
    X, y = small_images
    frozen = FrozenEstimator(pretrained)
    with pytest.raises(ValueError, match="at least 2 classes"):
        cl.FineTunedClassifier(frozen).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="y has 3 labels but X has 240"):
        cl.FineTunedClassifier(frozen).fit(X, y[:3])
    with pytest.raises(ValueError, match="'pretrainer'"):
        cl.FineTunedClassifier(pretrainer="dino").fit(X, y)
    with pytest.raises(ValueError, match="'max_epochs'"):
        cl.FineTunedClassifier(frozen, max_epochs=0).fit(X, y)


def test_shared_parameter_checks_apply_to_the_classifier(small_images, pretrained):
    X, y = small_images
    with pytest.raises(ValueError, match="'device' parameter of FineTunedClassifier"):
        cl.FineTunedClassifier(FrozenEstimator(pretrained), device="gpu").fit(X, y)
