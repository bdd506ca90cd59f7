import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_classification, make_multilabel_classification
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import get_tags

import contrastlearn as cl
from contrastlearn.evaluation import (
    LinearProbe,
    few_label_accuracy,
    make_few_label_scorer,
    make_overlap_scorer,
    overlap_score,
)
from contrastlearn.evaluation._labels import _pair_overlap

LABELS = np.repeat(np.arange(4), 60)


@pytest.mark.parametrize("classifier", ["linear", "knn"])
def test_perfect_embedding_scores_one_and_random_scores_chance(classifier):
    assert few_label_accuracy(np.eye(4)[LABELS], LABELS, classifier=classifier) == 1.0
    noise = np.random.default_rng(0).normal(size=(len(LABELS), 16))
    assert few_label_accuracy(noise, LABELS, classifier=classifier) == pytest.approx(0.25, abs=0.08)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="label_fraction"):
        few_label_accuracy(np.eye(4)[LABELS], LABELS, label_fraction=1.5)
    with pytest.raises(ValueError, match="classifier"):
        make_few_label_scorer(classifier="svm")
    with pytest.raises(TypeError, match="n_neighbours"):
        make_few_label_scorer(n_neighbours=3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        few_label_accuracy(np.eye(4)[LABELS], LABELS[:-1])


def test_grid_search_over_temperature_with_a_callable_scorer(small_images):
    X, y = small_images
    grid = {"temperature": [0.05, 0.1, 0.5]}
    search = GridSearchCV(
        cl.CLR(max_epochs=2, batch_size=64, random_state=0),
        grid,
        scoring=make_few_label_scorer(label_fraction=0.5, classifier="knn"),
        cv=2,
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 3 and np.all((scores > 0.3) & (scores <= 1))  # chance is 0.1
    assert search.best_params_["temperature"] == grid["temperature"][int(np.argmax(scores))]
    assert search.transform(X).shape == (len(X), 256)
    again = GridSearchCV(
        cl.CLR(max_epochs=2, batch_size=64, random_state=0),
        grid,
        scoring=make_few_label_scorer(label_fraction=0.5, classifier="knn"),
        cv=2,
    ).fit(X, y)
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"], scores)


def test_grid_search_over_a_pipeline_ending_in_logistic_regression(small_images):
    X, y = small_images
    pipeline = Pipeline(
        [
            ("clr", cl.CLR(max_epochs=2, batch_size=64, random_state=0)),
            ("logisticregression", LogisticRegression(max_iter=2000)),
        ]
    )
    search = GridSearchCV(pipeline, {"clr__temperature": [0.1, 0.5]}, cv=2).fit(X, y)
    assert search.best_params_["clr__temperature"] in (0.1, 0.5)
    assert search.best_score_ > 0.5  # accuracy on 10 classes
    assert search.predict(X[:5]).shape == (5,)


# ---------------------------------------------------------------------------
# LinearProbe
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def single_label():
    return make_classification(
        n_samples=240, n_features=8, n_informative=5, n_classes=3, random_state=0
    )


@pytest.fixture(scope="module")
def multi_label():
    return make_multilabel_classification(
        n_samples=240, n_features=10, n_classes=4, n_labels=2, random_state=0
    )


def test_probe_single_label_outputs(single_label):
    X, y = single_label
    probe = LinearProbe().fit(X, y)
    assert not probe.multilabel_ and probe.n_features_in_ == 8
    np.testing.assert_array_equal(probe.classes_, [0, 1, 2])
    pred = probe.predict(X)
    assert pred.shape == (240,) and set(pred) <= {0, 1, 2}
    proba = probe.predict_proba(X)
    assert proba.shape == (240, 3)
    np.testing.assert_allclose(proba.sum(1), 1)
    np.testing.assert_array_equal(probe.classes_[probe.decision_function(X).argmax(1)], pred)
    assert np.mean(pred == y) > 0.7
    assert probe.score(X, y) == f1_score(y, pred, average="macro")


def test_probe_string_classes_and_binary(single_label):
    X, y = single_label
    names = np.array(["round", "streak", "ring"])[y]
    probe = LinearProbe().fit(X, names)
    assert set(probe.predict(X)) <= set(names)
    binary = LinearProbe().fit(X, y == 0)
    assert binary.decision_function(X).shape == (240,)
    np.testing.assert_array_equal(binary.predict(X), binary.decision_function(X) > 0)


def test_probe_multi_label_outputs(multi_label):
    X, Y = multi_label
    probe = LinearProbe(C=0.5).fit(X, Y)
    assert probe.multilabel_
    np.testing.assert_array_equal(probe.classes_, np.arange(4))
    pred = probe.predict(X)
    assert pred.shape == Y.shape and pred.dtype == Y.dtype and set(np.unique(pred)) <= {0, 1}
    proba = probe.predict_proba(X)
    assert proba.shape == Y.shape and np.all((proba >= 0) & (proba <= 1))
    scores = probe.decision_function(X)
    np.testing.assert_array_equal(pred, (scores > 0).astype(int))
    assert probe.n_iter_.shape == (4,) and np.all(probe.n_iter_ >= 1)
    assert probe.score(X, Y) == f1_score(Y, pred, average="macro")
    assert probe.score(X, Y) > 0.6
    # the same labels as a sparse matrix or a list of lists give the same probe
    np.testing.assert_array_equal(LinearProbe(C=0.5).fit(X, sparse.csr_matrix(Y)).predict(X), pred)
    np.testing.assert_array_equal(LinearProbe(C=0.5).fit(X, Y.tolist()).predict(X), pred)


@pytest.mark.parametrize("data", ["single_label", "multi_label"])
def test_report_equals_precision_recall_fscore_support(data, request):
    X, y = request.getfixturevalue(data)
    probe = LinearProbe().fit(X, y)
    names = [f"label {i}" for i in range(len(probe.classes_))]
    table = probe.report(X, y, label_names=names)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["precision", "recall", "f1", "support"]
    assert list(table.index) == names + ["macro avg", "micro avg"]
    pred = probe.predict(X)
    expected = np.column_stack(precision_recall_fscore_support(y, pred, average=None))
    np.testing.assert_allclose(table.iloc[:-2].to_numpy(dtype=float), expected)
    for row in ("macro", "micro"):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average=row)
        np.testing.assert_allclose(
            table.loc[f"{row} avg", ["precision", "recall", "f1"]], [p, r, f]
        )
        assert table.loc[f"{row} avg", "support"] == expected[:, 3].sum()
    assert table.loc["macro avg", "f1"] == pytest.approx(probe.score(X, y))
    assert list(probe.report(X, y).index[:2]) == ["0", "1"]  # default names: the classes


def test_report_label_names_are_checked(multi_label):
    X, Y = multi_label
    probe = LinearProbe().fit(X, Y)
    with pytest.raises(ValueError, match="one name per class"):
        probe.report(X, Y, label_names=["a", "b"])
    with pytest.raises(ValueError, match="unique"):
        probe.report(X, Y, label_names=["a", "a", "b", "c"])
    with pytest.raises(TypeError, match="label_names"):
        probe.report(X, Y, label_names="abcd")


@pytest.mark.parametrize(
    "params, error, name",
    [
        ({"C": -1.0}, ValueError, "C"),
        ({"C": 0}, ValueError, "C"),
        ({"C": "strong"}, TypeError, "C"),
        ({"C": float("nan")}, ValueError, "C"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"max_iter": 10.5}, TypeError, "max_iter"),
        ({"max_iter": True}, TypeError, "max_iter"),
        ({"tol": -1e-3}, ValueError, "tol"),
        ({"class_weight": "auto"}, ValueError, "class_weight"),
        ({"class_weight": [1, 2]}, TypeError, "class_weight"),
        ({"standardize": "yes"}, TypeError, "standardize"),
        ({"random_state": "seed"}, ValueError, "random_state"),
    ],
)
def test_probe_bad_parameters_raise_naming_them(single_label, params, error, name):
    X, y = single_label
    probe = LinearProbe(**params)
    assert probe.get_params()[name] is params[name]  # stored untouched
    with pytest.raises(error, match=f"'{name}'"):
        probe.fit(X, y)


def test_probe_bad_targets_raise(single_label):
    X, y = single_label
    with pytest.raises(ValueError, match="Unknown label type"):
        LinearProbe().fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="binary indicator"):
        LinearProbe().fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="one class"):
        LinearProbe().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearProbe().fit(X, y[:-1])
    probe = LinearProbe().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        probe.predict(X[:, :3])


def test_probe_is_a_tagged_clonable_picklable_classifier(multi_label):
    X, Y = multi_label
    probe = LinearProbe(C=2.0, class_weight="balanced", random_state=0)
    assert is_classifier(probe)
    assert get_tags(probe).classifier_tags.multi_label
    assert clone(probe).get_params() == probe.get_params()
    probe.fit(X, Y)
    again = pickle.loads(pickle.dumps(probe))
    np.testing.assert_array_equal(again.predict(X), probe.predict(X))
    unscaled = LinearProbe(standardize=False).fit(X, Y)
    assert unscaled.scaler_ is None and unscaled.predict(X).shape == Y.shape


def test_probe_in_cross_val_score_and_pipeline(single_label, multi_label):
    X, Y = multi_label
    scores = cross_val_score(LinearProbe(), X, Y, cv=3)  # default scoring: macro F1
    assert scores.shape == (3,) and np.all((scores > 0.4) & (scores <= 1))
    X1, y1 = single_label
    pipe = make_pipeline(PCA(n_components=5, random_state=0), LinearProbe())
    search = GridSearchCV(pipe, {"linearprobe__C": [0.01, 1.0]}, cv=3).fit(X1, y1)
    assert search.best_params_["linearprobe__C"] in (0.01, 1.0)
    assert search.predict(X1[:7]).shape == (7,)
    assert search.score(X1, y1) == f1_score(y1, search.predict(X1), average="macro")


# ---------------------------------------------------------------------------
# overlap_score and make_overlap_scorer
# ---------------------------------------------------------------------------


def _chance_overlap(Y):
    """Expected overlap score of an embedding unrelated to Y: mean overlap of random pairs."""
    Yb = np.asarray(Y, dtype=bool)
    pairs = _pair_overlap(Yb[:, None, :], Yb[None, :, :])
    np.fill_diagonal(pairs, np.nan)
    per_image = np.nanmean(pairs, axis=1)  # over every possible neighbour j != i
    return np.mean([per_image[Yb[:, c]].mean() for c in range(Yb.shape[1]) if Yb[:, c].any()])


def test_pair_overlap_is_normalised_by_the_larger_label_set():
    a_b, a_c, a, none = [1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 0]
    pairs = np.array([[a_b, a_c], [a_b, a], [a, a], [a, none], [none, none]], dtype=bool)
    np.testing.assert_array_equal(
        _pair_overlap(pairs[:, 0], pairs[:, 1]), [0.5, 0.5, 1.0, 0.0, np.nan]
    )  # Jaccard would give 1/3 first


def test_overlap_by_hand():
    # two tight pairs on a line, far apart, and an unlabelled outlier
    emb = np.array([[0.0], [1.0], [10.0], [11.0], [100.0]])
    Y = np.array([[1, 1, 0], [1, 0, 1], [0, 0, 1], [0, 0, 1], [0, 0, 0]])
    # s_i: o({a,b}, {a,c}) = 1/2 for images 0 and 1, o({c}, {c}) = 1 for 2 and 3; 4 is no query
    kw = dict(n_neighbors=1, metric="euclidean")
    per_label = [0.5, 0.5, (0.5 + 1 + 1) / 3]  # images with a, b, c
    np.testing.assert_allclose(overlap_score(emb, Y, average=None, **kw), per_label)
    assert overlap_score(emb, Y, **kw) == pytest.approx(np.mean(per_label))  # 11/18
    assert overlap_score(emb, Y, average="samples", **kw) == pytest.approx(0.75)
    # only label c counts: image 1 is then {c} beside the empty {} of image 0
    np.testing.assert_allclose(overlap_score(emb, Y, labels=[2], average=None, **kw), [2 / 3])
    # 1-D labels are one-hot label sets: same class 1, otherwise 0
    classes = np.array(["a", "a", "b", "c", "c"])
    np.testing.assert_allclose(overlap_score(emb, classes, average=None, **kw), [1, 0, 0.5])
    assert overlap_score(emb, classes, labels=["a", "z"], average=None, **kw)[0] == 1.0


def test_overlap_is_one_for_an_embedding_that_is_the_labels():
    label_sets = np.array(
        [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0], [0, 0, 0, 1]]
    )
    Y = np.repeat(label_sets, 25, axis=0)  # 25 images per label set
    assert overlap_score(Y.astype(float), Y) == 1.0
    assert overlap_score(Y.astype(float), Y, average="samples") == 1.0
    set_id = np.repeat(np.arange(6), 25)
    assert overlap_score(np.eye(6)[set_id] * 7.0, Y, n_neighbors=24) == 1.0
    assert overlap_score(np.eye(6)[set_id], set_id) == 1.0  # 1-D class labels


def test_overlap_of_a_random_embedding_is_the_chance_level():
    rng = np.random.default_rng(0)
    Y = (rng.random((400, 5)) < 0.35).astype(int)
    emb = rng.normal(size=(400, 16))
    chance = _chance_overlap(Y)
    assert 0.2 < chance < 0.4
    assert overlap_score(emb, Y) == pytest.approx(chance, abs=0.03)
    y = rng.integers(0, 4, 400)
    assert overlap_score(emb, y) == pytest.approx(0.25, abs=0.04)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_overlap_is_invariant_to_positive_scaling(metric):
    rng = np.random.default_rng(1)
    Y = (rng.random((150, 4)) < 0.4).astype(int)
    emb = rng.normal(size=(150, 6)) + Y @ rng.normal(size=(4, 6))
    score = overlap_score(emb, Y, metric=metric)
    assert 0 < score < 1
    assert overlap_score(emb * 13.7, Y, metric=metric) == score
    assert overlap_score(emb * 0.02, Y, metric=metric) == score


def test_overlap_fractional_neighbours_and_input_kinds():
    rng = np.random.default_rng(2)
    Y = (rng.random((200, 3)) < 0.5).astype(int)
    emb = rng.normal(size=(200, 5))
    assert overlap_score(emb, Y, n_neighbors=0.05) == overlap_score(emb, Y, n_neighbors=10)
    assert overlap_score(emb, sparse.csr_matrix(Y)) == overlap_score(emb, Y)
    assert overlap_score(emb, pd.DataFrame(Y.astype(bool))) == overlap_score(emb, Y)
    assert overlap_score(emb.tolist(), Y.tolist()) == overlap_score(emb, Y)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n_neighbors": 0}, ValueError, "n_neighbors"),
        (
            {"n_neighbors": 30},
            ValueError,
            r"'n_neighbors' parameter of overlap_score must be an int in \[1, 29\] or a float",
        ),
        ({"n_neighbors": 1.5}, ValueError, "n_neighbors"),
        ({"n_neighbors": "5"}, TypeError, "n_neighbors"),
        ({"n_neighbors": True}, TypeError, "n_neighbors"),
        ({"metric": "nope"}, ValueError, "metric"),
        ({"metric": 3}, TypeError, "metric"),
        ({"average": "weighted"}, ValueError, "average"),
        ({"labels": [5]}, ValueError, "labels"),
    ],
)
def test_overlap_bad_options_raise(kwargs, error, match):
    rng = np.random.default_rng(3)
    Y = (rng.random((30, 3)) < 0.5).astype(int)
    with pytest.raises(error, match=match):
        overlap_score(rng.normal(size=(30, 4)), Y, **kwargs)


def test_overlap_bad_data_raise():
    rng = np.random.default_rng(4)
    emb, Y = rng.normal(size=(30, 4)), (rng.random((30, 3)) < 0.5).astype(int)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        overlap_score(emb, Y[:-1])
    with pytest.raises(ValueError, match="binary indicator"):
        overlap_score(emb, Y * 2)
    with pytest.raises(ValueError, match="class labels"):
        overlap_score(emb, rng.normal(size=30))
    with pytest.raises(ValueError, match="no positive labels"):
        overlap_score(emb, np.zeros_like(Y))
    with pytest.raises(ValueError, match="NaN"):
        overlap_score(np.full_like(emb, np.nan), Y)
    with pytest.raises(ValueError, match="shape"):
        overlap_score(emb, Y[:, :, None])


def test_overlap_scorer_selects_pca_dimension_in_grid_search():
    # 4 label-carrying directions with large variance + 30 pure-noise dimensions
    rng = np.random.default_rng(0)
    Y = (rng.random((300, 4)) < 0.4).astype(int)
    X = np.hstack([3 * Y + 0.3 * rng.normal(size=(300, 4)), rng.normal(size=(300, 30))])
    pipe = make_pipeline(StandardScaler(with_std=False), PCA(random_state=0))
    search = GridSearchCV(
        pipe, {"pca__n_components": [1, 4, 34]}, scoring=make_overlap_scorer(), cv=3
    ).fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert search.best_params_ == {"pca__n_components": 4}
    assert scores[1] > 0.7 and scores[1] > scores[2] > scores[0]
    assert search.best_score_ == pytest.approx(
        np.mean(
            [
                overlap_score(search.best_estimator_.transform(X[test]), Y[test])
                for test in [np.arange(0, 100), np.arange(100, 200), np.arange(200, 300)]
            ]
        ),
        abs=0.05,
    )


def test_overlap_scorer_arguments_are_checked_at_creation():
    with pytest.raises(ValueError, match="n_neighbors"):
        make_overlap_scorer(n_neighbors=0)
    with pytest.raises(ValueError, match="metric"):
        make_overlap_scorer(metric="cosinus")
    with pytest.raises(ValueError, match="average"):
        make_overlap_scorer(average=None)
    scorer = make_overlap_scorer(n_neighbors=3, metric="euclidean")
    assert repr(scorer).startswith("make_overlap_scorer(n_neighbors=3, metric='euclidean'")
    scorer = pickle.loads(pickle.dumps(scorer))
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(40, 6)), (rng.random((40, 2)) < 0.5).astype(int)
    pca = PCA(n_components=2).fit(X)
    assert scorer(pca, X, Y) == overlap_score(
        pca.transform(X), Y, n_neighbors=3, metric="euclidean"
    )
    with pytest.raises(ValueError, match="needs the labels"):
        scorer(pca, X, None)
    with pytest.raises(TypeError, match="transform"):
        scorer(LogisticRegression(), X, Y)


# --- one validation layer: every bad option names the function and the parameter ---------------
_EMB = np.random.default_rng(7).normal(size=(30, 4))
_Y = np.repeat([0, 1, 2], 10)


@pytest.mark.parametrize(
    "call, owner, name",
    [
        (lambda: overlap_score(_EMB, _Y, n_neighbors=0), "overlap_score", "n_neighbors"),
        (lambda: overlap_score(_EMB, _Y, n_neighbors=True), "overlap_score", "n_neighbors"),
        (lambda: overlap_score(_EMB, _Y, metric="cosinus"), "overlap_score", "metric"),
        (lambda: overlap_score(_EMB, _Y, metric=3), "overlap_score", "metric"),
        (lambda: overlap_score(_EMB, _Y, average="weighted"), "overlap_score", "average"),
        (lambda: overlap_score(_EMB, _Y, labels="a"), "overlap_score", "labels"),
        (lambda: overlap_score("emb.npy", _Y), "overlap_score", "embeddings"),
        (lambda: overlap_score(_EMB, None), "overlap_score", "Y"),
        (lambda: make_overlap_scorer(n_neighbors=1.0), "make_overlap_scorer", "n_neighbors"),
        (lambda: make_overlap_scorer(metric=None), "make_overlap_scorer", "metric"),
        (lambda: make_overlap_scorer(average=None), "make_overlap_scorer", "average"),
        (lambda: make_overlap_scorer(labels={1}), "make_overlap_scorer", "labels"),
        (
            lambda: few_label_accuracy(_EMB, _Y, label_fraction=1.0),
            "few_label_accuracy",
            "label_fraction",
        ),
        (
            lambda: few_label_accuracy(_EMB, _Y, classifier="svm"),
            "few_label_accuracy",
            "classifier",
        ),
        (lambda: few_label_accuracy(_EMB, _Y, n_neighbors=0), "few_label_accuracy", "n_neighbors"),
        (lambda: few_label_accuracy(_EMB, _Y, n_splits=2.5), "few_label_accuracy", "n_splits"),
        (
            lambda: few_label_accuracy(_EMB, _Y, random_state="seed"),
            "few_label_accuracy",
            "random_state",
        ),
        (
            lambda: make_few_label_scorer(label_fraction=0),
            "make_few_label_scorer",
            "label_fraction",
        ),
        (lambda: make_few_label_scorer(classifier="svm"), "make_few_label_scorer", "classifier"),
        (lambda: make_few_label_scorer(n_splits=0), "make_few_label_scorer", "n_splits"),
        (
            lambda: cl.evaluation.linear_evaluation(_EMB, _Y, label_names="abc"),
            "linear_evaluation",
            "label_names",
        ),
        (
            lambda: cl.evaluation.linear_evaluation(_EMB, _Y, n_splits=1),
            "linear_evaluation",
            "n_splits",
        ),
        (
            lambda: cl.evaluation.linear_evaluation(_EMB, _Y, random_state=-1),
            "linear_evaluation",
            "random_state",
        ),
        (
            lambda: cl.evaluation.linear_evaluation(_EMB, _Y, labels=3),
            "linear_evaluation",
            "labels",
        ),
    ],
)
def test_bad_options_raise_naming_the_function_and_the_parameter(call, owner, name):
    with pytest.raises(
        cl.validation.InvalidParameterError, match=f"The '{name}' parameter of {owner} must be"
    ):
        call()


def test_data_dependent_limits_and_shared_rules_use_the_same_words():
    with pytest.raises(
        cl.validation.InvalidParameterError,
        match=r"The 'n_neighbors' parameter of overlap_score must be an int in \[1, 29\] or a "
        r"float in \(0, 1\)\. Got 30\.",
    ):
        overlap_score(_EMB, _Y, n_neighbors=30)
    with pytest.raises(
        cl.validation.InvalidParameterError,
        match=r"The 'label_names' parameter of linear_evaluation must be a sequence of 3 names",
    ):
        cl.evaluation.linear_evaluation(_EMB, _Y, label_names=["a", "b"])
    # overlap_score and make_overlap_scorer word a shared rule alike
    words = set()
    for call in (
        lambda: overlap_score(_EMB, _Y, metric="cosinus"),
        lambda: make_overlap_scorer(metric="cosinus"),
    ):
        with pytest.raises(cl.validation.InvalidParameterError) as raised:
            call()
        words.add(str(raised.value).split(" must be ")[1])
    assert len(words) == 1 and words.pop().endswith("'yule' or a callable. Got 'cosinus'.")
