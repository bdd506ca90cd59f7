"""Monitoring during fit: health columns, the eval_set k-NN probe, early stopping, plots."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits
from skorch.callbacks import Callback
from torch import nn

import contrastlearn as cl
from contrastlearn.monitor import (
    CollapseWarning,
    alignment,
    history_frame,
    knn_score,
    rankme,
    uniformity,
)

DIGITS = load_digits()
X_TRAIN, X_VAL, Y_VAL = DIGITS.images[:256], DIGITS.images[256:356], DIGITS.target[256:356]
FAST = dict(max_epochs=2, batch_size=64, random_state=0)


# ------------------------------------------------------------------ the measures
def test_rankme_matches_the_papers_formula_on_known_singular_values():
    Z = np.diag([3.0, 1.0, 0.0])
    p = np.array([0.75, 0.25, 0.0]) + 1e-7
    assert rankme(Z) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    rotated = Z @ np.linalg.qr(np.random.RandomState(0).normal(size=(3, 3)))[0]
    assert rankme(rotated) == pytest.approx(rankme(Z))  # depends on the singular values only
    assert rankme(np.ones((50, 8))) == pytest.approx(1.0, abs=1e-4)
    assert rankme(np.eye(16)) == pytest.approx(16.0, abs=1e-3)


def test_alignment_and_uniformity_match_brute_force_sums():
    rng = np.random.RandomState(1)
    z, zp = rng.normal(size=(20, 5)), rng.normal(size=(20, 5))
    zn, zpn = (a / np.linalg.norm(a, axis=1, keepdims=True) for a in (z, zp))
    assert alignment(z, zp) == pytest.approx(np.mean(np.sum((zn - zpn) ** 2, axis=1)))
    assert alignment(z, 3 * z) == pytest.approx(0.0, abs=1e-12)  # scale does not matter
    pairs = [np.exp(-2 * np.sum((zn[i] - zn[j]) ** 2)) for i in range(20) for j in range(i + 1, 20)]
    assert uniformity(z) == pytest.approx(np.log(np.mean(pairs)))
    assert uniformity(np.tile(z[:1], (10, 1))) == pytest.approx(0.0)  # collapse


def test_knn_score_is_accuracy_for_classes_and_macro_f1_for_multi_hot():
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], 20)
    separated = rng.normal(size=(60, 4)) + 10 * np.eye(4)[y]
    assert knn_score(separated, y) == 1.0
    assert knn_score(rng.normal(size=(60, 4)), y) < 0.6  # noise: near chance (1/3)
    multi_hot = np.stack([y == 0, y != 0], axis=1).astype(int)
    assert knn_score(separated, multi_hot) == 1.0


def test_bad_embeddings_raise_a_clear_error():
    with pytest.raises(ValueError, match="2-D array of at least 2 rows"):
        rankme(np.ones(5))


# ------------------------------------------------------------ during fit
@pytest.mark.parametrize(
    "make",
    [
        lambda: cl.CLR(**FAST),
        lambda: cl.CPLR(**FAST),
        lambda: cl.SimSiam(**FAST),
        lambda: cl.DINO(n_prototypes=64, projection_dims=(64, 32), n_local_crops=0, **FAST),
    ],
    ids=["CLR", "CPLR", "SimSiam", "DINO"],
)
def test_every_pretrainer_records_the_monitor_columns(make):
    model = make().fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    frame = history_frame(model)
    assert list(frame.index) == [1, 2]
    for column in ("rankme", "alignment", "uniformity", "valid_knn", "monitor_dur"):
        assert frame[column].notna().all(), column
    assert (frame["rankme"] >= 1).all() and (frame["rankme"] <= model._n_features_out).all()
    assert ((frame["alignment"] >= 0) & (frame["alignment"] <= 4)).all()
    assert (frame["uniformity"] <= 0).all()
    assert 0.3 < frame["valid_knn"].iloc[-1] <= 1  # 10 classes: chance is 0.1
    assert model.best_epoch_ == int(frame["valid_knn"].idxmax())


def test_valid_knn_is_the_knn_score_of_the_final_embedding():
    model = cl.CLR(**FAST).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    expected = knn_score(model.transform(X_VAL), Y_VAL)
    assert model.history_[-1, "valid_knn"] == pytest.approx(expected)
    health = history_frame(model).iloc[-1]
    sample = X_TRAIN  # monitor_samples=256 covers all 256 training images
    assert health["rankme"] == pytest.approx(rankme(model.transform(sample)), rel=1e-4)
    assert health["uniformity"] == pytest.approx(uniformity(model.transform(sample)), rel=1e-4)


def test_the_monitors_do_not_change_what_is_learnt():
    watched = cl.CLR(**FAST).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    unwatched = cl.CLR(**FAST, monitor_samples=0).fit(X_TRAIN)
    assert "rankme" not in history_frame(unwatched)
    np.testing.assert_array_equal(watched.transform(X_VAL), unwatched.transform(X_VAL))


def test_eval_every_scores_every_nth_epoch_and_the_last():
    model = cl.CLR(**{**FAST, "max_epochs": 5}, eval_every=2, monitor_samples=0)
    frame = history_frame(model.fit(X_TRAIN, eval_set=(X_VAL, Y_VAL)))
    assert frame["valid_knn"].notna().tolist() == [False, True, False, True, True]


def test_the_verbose_table_shows_the_monitors(capsys):
    cl.CLR(**FAST, verbose=1).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    header = capsys.readouterr().out.splitlines()[0]
    for column in ("rankme", "alignment", "uniformity", "valid_knn"):
        assert column in header


def test_multi_hot_validation_labels_are_scored_with_macro_f1():
    y = np.stack([Y_VAL < 5, Y_VAL % 2 == 0], axis=1).astype(int)
    model = cl.CLR(**FAST, monitor_samples=0).fit(X_TRAIN, eval_set=(X_VAL, y))
    assert model.history_[-1, "valid_knn"] == pytest.approx(knn_score(model.transform(X_VAL), y))


class _Rank1(nn.Module):
    """A backbone whose embedding of every image lies on one line: a collapsed representation."""

    def __init__(self):
        super().__init__()
        self.score = nn.Linear(64, 1)
        self.register_buffer("direction", torch.randn(32))

    def forward(self, x):
        return self.score(x.flatten(1)) * self.direction


def test_a_collapsed_embedding_is_visible_in_rankme_and_fit_warns():
    with pytest.warns(CollapseWarning, match="effective rank"):
        model = cl.CLR(backbone=_Rank1(), **FAST).fit(X_TRAIN)
    assert model.history_[-1, "rankme"] < 1.1


def test_a_healthy_fit_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        cl.CLR(**FAST).fit(X_TRAIN)


# ------------------------------------------------------------ early stopping
class _RecordEmbeddings(Callback):
    """Keeps the validation embedding after every epoch."""

    def initialize(self):
        self.embeddings = {}
        return self

    def on_epoch_end(self, net, **kwargs):
        self.embeddings[len(net.history)] = net.forward(X_VAL[:, None]).numpy()


def test_early_stopping_stops_and_keeps_the_best_epochs_weights():
    record = _RecordEmbeddings()
    # tol=1: no later epoch can beat the first by more, so the 2nd miss stops after epoch 3.
    model = cl.CLR(
        **{**FAST, "max_epochs": 8},
        early_stopping=True,
        n_iter_no_change=2,
        tol=1.0,
        callbacks=[record],
    ).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    assert len(model.history_) == 3
    assert model.best_epoch_ == 1
    np.testing.assert_array_equal(model.transform(X_VAL), record.embeddings[1])
    assert not np.array_equal(record.embeddings[1], record.embeddings[3])


def test_without_a_plateau_early_stopping_keeps_the_best_evaluated_epoch():
    model = cl.CLR(
        **{**FAST, "max_epochs": 3}, early_stopping=True, n_iter_no_change=5, monitor_samples=0
    ).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    scores = model.history_[:, "valid_knn"]
    assert len(model.history_) == 3
    assert model.best_validation_score_ == max(scores)
    assert knn_score(model.transform(X_VAL), Y_VAL) == pytest.approx(max(scores))


class _InterruptAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epoch:
            raise KeyboardInterrupt


def test_a_resumed_fit_stops_early_where_an_uninterrupted_one_does(tmp_path):
    params = dict(
        **{**FAST, "max_epochs": 8},
        early_stopping=True,
        n_iter_no_change=2,
        tol=1.0,
        checkpoint_dir=tmp_path,
    )
    with pytest.raises(KeyboardInterrupt):
        cl.CLR(**params, callbacks=[("stop", _InterruptAfter(2))]).fit(
            X_TRAIN, eval_set=(X_VAL, Y_VAL)
        )
    resumed = cl.CLR(**params).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    uninterrupted = cl.CLR(**{**params, "checkpoint_dir": None}).fit(
        X_TRAIN, eval_set=(X_VAL, Y_VAL)
    )
    assert len(resumed.history_) == len(uninterrupted.history_) == 3
    assert resumed.best_epoch_ == uninterrupted.best_epoch_ == 1
    np.testing.assert_array_equal(resumed.transform(X_VAL), uninterrupted.transform(X_VAL))
    again = cl.CLR(**params).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))  # already stopped: no training
    assert len(again.history_) == 3
    np.testing.assert_array_equal(again.transform(X_VAL), uninterrupted.transform(X_VAL))


# ------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    "eval_set, message",
    [
        (X_VAL, "eval_set must be a pair"),
        ((X_VAL[:, :4], Y_VAL), "X_val must be shaped like X"),
        ((X_VAL, Y_VAL[:50]), "100 images but 50 labels"),
        ((X_VAL, Y_VAL + 0.5), "class labels .* got continuous"),
        ((X_VAL[:5], Y_VAL[:5]), "at least 10 labelled images"),
        ((X_VAL, np.zeros(100)), "at least 10 labelled images of at least 2 classes"),
    ],
)
def test_a_bad_eval_set_raises_an_error_naming_it(eval_set, message):
    with pytest.raises(ValueError, match=message):
        cl.CLR(**FAST).fit(X_TRAIN, eval_set=eval_set)


def test_early_stopping_needs_an_eval_set():
    with pytest.raises(ValueError, match=r"early_stopping=True .* eval_set=\(X_val, y_val\)"):
        cl.CLR(**FAST, early_stopping=True).fit(X_TRAIN)


@pytest.mark.parametrize(
    "params",
    [
        {"monitor_samples": -1},
        {"eval_every": 0},
        {"n_iter_no_change": 0},
        {"tol": -1.0},
        {"early_stopping": "yes"},
    ],
)
def test_bad_monitor_parameters_are_refused(params):
    name = next(iter(params))
    with pytest.raises(cl._validation.InvalidParameterError, match=name):
        cl.CLR(**FAST, **params).fit(X_TRAIN)


# ------------------------------------------------------------ tables and figures
def test_history_frame_and_plot_history():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = cl.CLR(**FAST).fit(X_TRAIN, eval_set=(X_VAL, Y_VAL))
    frame = history_frame(model.history_)
    assert isinstance(frame, pd.DataFrame) and "batches" not in frame
    assert frame["train_loss"].tolist() == model.history_[:, "train_loss"]
    fig = cl.plotting.plot_history(model)
    assert [ax.get_title() for ax in fig.axes] == [
        "training loss",
        "k-NN score on eval_set",
        "effective rank (RankMe)",
        "alignment and uniformity",
    ]
    assert fig.axes[2].lines[0].get_ydata().tolist() == frame["rankme"].tolist()
    plt.close(fig)
    with pytest.raises(ValueError, match="'axes' parameter of plot_history"):
        cl.plotting.plot_history(model, axes=[None])
    with pytest.raises(ValueError, match="'axes' parameter of plot_history .* 4 Axes, one per"):
        cl.plotting.plot_history(model, axes=plt.subplots(1, 3)[1])


@pytest.mark.parametrize(
    "call, owner, name",
    [
        (lambda: rankme("Z"), "rankme", "embeddings"),
        (lambda: rankme(np.eye(3), eps=-1.0), "rankme", "eps"),
        (lambda: alignment(np.eye(3), None), "alignment", "positives"),
        (lambda: alignment(np.eye(3), np.eye(3), alpha=0), "alignment", "alpha"),
        (lambda: uniformity(np.eye(3), t="2"), "uniformity", "t"),
        (
            lambda: knn_score(np.eye(10), np.arange(10) % 2, n_neighbors=0),
            "knn_score",
            "n_neighbors",
        ),
        (lambda: knn_score(np.eye(10), np.arange(10) % 2, n_splits=1), "knn_score", "n_splits"),
        (
            lambda: knn_score(np.eye(10), np.arange(10) % 2, random_state="0"),
            "knn_score",
            "random_state",
        ),
        (lambda: knn_score(np.eye(10), "labels"), "knn_score", "y"),
        (lambda: history_frame(cl.CLR()), "history_frame", "history"),
        (lambda: history_frame(5), "history_frame", "history"),
    ],
)
def test_bad_parameters_raise_naming_the_function_and_the_parameter(call, owner, name):
    with pytest.raises(
        cl.validation.InvalidParameterError, match=f"The '{name}' parameter of {owner} must be"
    ):
        call()
