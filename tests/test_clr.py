import pickle
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import contrastlearn as cl
from contrastlearn.demo import DIGITS_AUGMENT
from contrastlearn.evaluation import few_label_accuracy

FAST = dict(max_epochs=2, batch_size=64, random_state=0)


def fitted(X, **params):
    return cl.CLR(**{**FAST, **params}).fit(X)


def test_clr_beats_the_same_backbone_untrained(digits):
    # Measured (3 seeds, 5 epochs): trained 0.946-0.951, untrained 0.891-0.905, raw pixels 0.923.
    images, labels = digits
    params = dict(temperature=0.5, augment=DIGITS_AUGMENT, random_state=0)
    trained = cl.CLR(max_epochs=5, **params).fit_transform(images)
    untrained = cl.CLR(max_epochs=0, **params).fit_transform(images)
    trained_acc = few_label_accuracy(trained, labels, n_splits=3)
    untrained_acc = few_label_accuracy(untrained, labels, n_splits=3)
    assert trained_acc - untrained_acc >= 0.03, (trained_acc, untrained_acc)
    assert trained_acc > few_label_accuracy(images.reshape(len(images), -1), labels, n_splits=3)


def test_transform_gives_float32_backbone_embedding_and_names(small_images):
    X, _ = small_images
    clr = fitted(X)
    embedding = clr.transform(X)
    assert embedding.shape == (len(X), 256) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all()
    assert list(clr.get_feature_names_out()[:2]) == ["clr0", "clr1"]
    assert clr.set_output(transform="pandas").transform(X[:5]).columns[0] == "clr0"


def test_fit_transform_equals_fit_then_transform(small_images):
    X, _ = small_images
    np.testing.assert_array_equal(cl.CLR(**FAST).fit_transform(X), fitted(X).transform(X))


def test_same_random_state_repeats_bit_for_bit_and_other_seeds_differ(small_images):
    X, _ = small_images
    first, second = fitted(X), fitted(X)
    for a, b in zip(
        first.net_.module_.state_dict().values(), second.net_.module_.state_dict().values()
    ):
        assert torch.equal(a, b)
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]
    assert not np.array_equal(first.transform(X), fitted(X, random_state=1).transform(X))


def test_history_records_each_epoch_and_loss_falls(small_images):
    X, _ = small_images
    clr = fitted(X, max_epochs=6)
    losses = clr.history_[:, "train_loss"]
    assert len(losses) == 6 and all(d > 0 for d in clr.history_[:, "dur"])
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.float16, np.float64, bool])
def test_any_real_dtype_is_accepted(small_images, dtype):
    X, _ = small_images
    X = (X > 8) if dtype is bool else (X * 10).astype(dtype)
    embedding = fitted(X, max_epochs=1).transform(X)
    assert embedding.dtype == np.float32 and np.isfinite(embedding).all()


def test_layouts_and_tensors_give_the_same_model(small_images):
    X, _ = small_images
    reference = fitted(X).transform(X)
    for same in (X[:, None], torch.from_numpy(X), X.reshape(len(X), -1)):
        params = {"image_shape": (8, 8)} if same.ndim == 2 else {}
        np.testing.assert_array_equal(fitted(same, **params).transform(same), reference)


def test_multichannel_images_and_flat_vectors(small_images):
    X, _ = small_images
    rgb = np.stack([X, X.T.T[:, ::-1], X * 0.5], axis=1)
    assert fitted(rgb).transform(rgb).shape == (len(X), 256)
    vectors = fitted(X.reshape(len(X), -1))
    assert vectors.net_.module_.backbone.__class__.__name__ == "MLP"
    assert vectors.transform(X.reshape(len(X), -1)).shape[0] == len(X)


@pytest.mark.parametrize("normalize", ["dataset", "image", None])
@pytest.mark.parametrize("log_intensity", [False, True])
def test_normalisation_options_handle_many_decades(normalize, log_intensity):
    rng = np.random.default_rng(0)
    X = rng.lognormal(mean=3, sigma=4, size=(64, 16, 16)).astype(np.float32)  # ~1e-3 .. 1e7
    clr = fitted(X, max_epochs=1, normalize=normalize, log_intensity=log_intensity)
    assert np.isfinite(clr.transform(X)).all()


def test_dataset_normalisation_statistics_are_per_channel():
    X = np.stack(
        [np.full((20, 8, 8), 5.0), np.random.default_rng(0).normal(100, 10, (20, 8, 8))], 1
    )
    preprocess = fitted(X, max_epochs=1).net_.module_.preprocess
    assert preprocess.mean.tolist() == pytest.approx([5.0, 100.0], rel=0.01)
    assert preprocess.std[0].item() == 1.0  # a constant channel is left unscaled, not divided by 0
    assert preprocess.std[1].item() == pytest.approx(10.0, rel=0.05)


def test_user_backbone_is_copied_not_trained_in_place(small_images):
    X, _ = small_images
    backbone = nn.Sequential(nn.Flatten(), nn.Linear(64, 12), nn.ReLU())
    before = [p.clone() for p in backbone.parameters()]
    clr = fitted(X, backbone=backbone)
    assert clr.transform(X).shape == (len(X), 12)
    assert all(torch.equal(a, b) for a, b in zip(before, backbone.parameters()))


def test_named_resnet_backbone(small_images):
    X, _ = small_images
    clr = fitted(X[:32], max_epochs=1, backbone="se_resnet18_small", batch_size=16)
    assert clr.transform(X[:4]).shape == (4, 512)


def test_pickle_joblib_and_clone_round_trips(small_images, tmp_path):
    X, _ = small_images
    clr = fitted(X)
    expected = clr.transform(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clr)).transform(X), expected)
    joblib.dump(clr, tmp_path / "clr.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "clr.joblib").transform(X), expected)
    fresh = clone(clr)
    assert not hasattr(fresh, "net_") and fresh.get_params() == clr.get_params()
    np.testing.assert_array_equal(fresh.fit(X).transform(X), expected)


@pytest.mark.parametrize(
    "estimator",
    [
        cl.CLR(early_stopping=True, n_iter_no_change=1),  # the monitor keeps the best weights
        cl.BYOL(),  # a teacher beside the student
        cl.FineTunedClassifier(),  # a net of its own around a fitted pretrainer
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_model_pickled_on_a_gpu_loads_without_one(small_images, estimator, monkeypatch):
    # Stands in for a GPU here: every tensor pickled is tagged as stored on "cuda:0", and CUDA
    # is missing when it loads. Each one outside skorch's map to the CPU then fails to load.
    X, y = small_images
    estimator.set_params(max_epochs=2, batch_size=64, random_state=0, device="cpu")
    if isinstance(estimator, cl.FineTunedClassifier):
        estimator.fit(X, y)
    else:
        estimator.fit(X[:160], eval_set=(X[160:], y[160:]) if estimator.early_stopping else None)
    expected = estimator.predict(X) if hasattr(estimator, "predict") else estimator.transform(X)
    with monkeypatch.context() as on_gpu:
        on_gpu.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        saved = pickle.dumps(estimator)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Requested to load data to CUDA")
        loaded = pickle.loads(saved)
    found = loaded.predict(X) if hasattr(loaded, "predict") else loaded.transform(X)
    np.testing.assert_array_equal(found, expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_fitted_model_transforms_on_cpu_only_process(small_images, tmp_path):
    import subprocess
    import sys

    X, _ = small_images
    clr = fitted(X, device="cuda")
    assert clr.device_ == "cuda"
    joblib.dump(clr, tmp_path / "clr.joblib")
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "expected.npy", clr.transform(X))
    script = (
        "import joblib, numpy as np, torch; assert not torch.cuda.is_available();"
        f"clr = joblib.load(r'{tmp_path / 'clr.joblib'}');"
        f"out = clr.transform(np.load(r'{tmp_path / 'X.npy'}'));"
        f"np.testing.assert_allclose(out, np.load(r'{tmp_path / 'expected.npy'}'), atol=0.05)"
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        env={**__import__("os").environ, "CUDA_VISIBLE_DEVICES": ""},
    )


def test_verbose_prints_an_epoch_table_and_zero_prints_nothing(small_images, capsys):
    X, _ = small_images
    fitted(X, verbose=0)
    assert capsys.readouterr().out == ""
    fitted(X, verbose=1, max_epochs=3)
    out = capsys.readouterr().out
    assert "train_loss" in out and "dur" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 3
    assert "\x1b[" not in out  # no colour codes when not writing to a terminal
    fitted(X, verbose=2, max_epochs=1)
    progress = capsys.readouterr().err
    assert "it/s" in progress or "s/it" in progress  # a per-batch progress bar


def test_transform_rejects_images_of_another_shape(small_images):
    X, _ = small_images
    clr = fitted(X)
    with pytest.raises(ValueError, match=r"expecting 64 features.*\(1, 8, 8\)"):
        clr.transform(np.zeros((3, 1, 16, 16)))
    with pytest.raises(ValueError, match="expecting 64 features"):
        clr.transform(np.zeros((3, 2, 8, 8)))
    with pytest.raises(ValueError, match=r"shape \(64,\) were given.*fitted on samples of shape"):
        clr.transform(np.zeros((3, 64)))


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"temperature": 0}, "'temperature' parameter of CLR must be a float > 0. Got 0"),
        ({"temperature": "hot"}, "'temperature'"),
        ({"max_epochs": -1}, "'max_epochs'"),
        ({"batch_size": 1}, "'batch_size'"),
        ({"lr": float("nan")}, "'lr'"),
        ({"backbone": "resnet19"}, "'backbone'"),
        ({"normalize": "global"}, "'normalize'"),
        ({"device": "gpu"}, "'device'"),
        ({"projection_dims": ()}, "'projection_dims'"),
        ({"image_shape": (8,)}, "'image_shape'"),
        ({"augment": {"rotation": 10}}, "'augment'"),
        ({"augment": cl.Augment(rotation=-5)}, "'rotation'"),
    ],
)
def test_bad_parameters_raise_naming_the_parameter(small_images, params, fragment):
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        cl.CLR(**params).fit(small_images[0])


def test_auto_device_takes_the_gpu_with_most_free_memory(monkeypatch):
    free = {0: 2e9, 1: 70e9, 2: 30e9}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: (free[i], 80e9))
    assert cl.CLR()._resolve_device() == "cuda:1"
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert cl.CLR()._resolve_device() == "cuda"
    assert cl.CLR(device="cpu")._resolve_device() == "cpu"


def test_compiled_training_follows_the_eager_one_and_pickles(small_images):
    X, _ = small_images
    # Without augmentation the two runs differ only by the compiler's float rounding.
    still = cl.Augment(
        crop_scale=(1.0, 1.0), rotation=0.0, hflip=0.0, vflip=0.0, jitter_prob=0.0, blur_prob=0.0
    )
    params = dict(augment=still, max_epochs=2, batch_size=64, device="cpu", random_state=0)
    eager = cl.CLR(**params).fit(X[:128])
    compiled = cl.CLR(compile=True, **params).fit(X[:128])
    np.testing.assert_allclose(
        compiled.history_[:, "train_loss"], eager.history_[:, "train_loss"], rtol=1e-4
    )
    # Measured: 0.25 % relative difference of the embeddings (Adam amplifies the rounding
    # on near-zero gradients); a model from another seed differs by 120 %.
    difference = compiled.transform(X) - eager.transform(X)
    assert np.linalg.norm(difference) < 0.02 * np.linalg.norm(eager.transform(X))
    restored = pickle.loads(pickle.dumps(compiled))
    np.testing.assert_array_equal(restored.transform(X), compiled.transform(X))
