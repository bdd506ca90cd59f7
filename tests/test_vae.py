"""The β-VAE baseline: training, reconstruction, latents, shapes, streaming, checkpoints."""

import pickle

import h5py
import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)
from skorch.callbacks import Callback

from contrastlearn.vae import VAE, conv_sizes

FAST = dict(max_epochs=2, batch_size=32, random_state=0, device="cpu")


def minmax(X):
    flat = X.reshape(len(X), -1)
    low, high = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    return ((flat - low) / (high - low)).reshape(X.shape)


def mean_kl(vae, X):
    mean, log_var = vae.encode(X)
    return float((0.5 * (np.exp(log_var) + mean**2 - 1 - log_var).sum(1)).mean())


@pytest.fixture(scope="module")
def trained(digits):
    """A 20-epoch fit on 400 digits: enough steps to leave the posterior-collapse plateau."""
    X, y = digits[0][:400], digits[1][:400]
    return VAE(max_epochs=20, batch_size=32, lr=3e-3, random_state=0, device="cpu").fit(X), X, y


def test_training_lowers_the_loss(trained):
    vae, _, _ = trained
    loss = vae.history_[:, "train_loss"]
    assert len(loss) == 20 and loss[-1] < 0.85 * loss[0]


def test_reconstructions_beat_the_mean_image_and_an_untrained_model(trained):
    vae, X, _ = trained
    target = minmax(X)
    reconstruction = vae.inverse_transform(vae.transform(X))
    assert reconstruction.shape == X.shape and reconstruction.dtype == np.float32
    assert 0 <= reconstruction.min() and reconstruction.max() <= 1
    error = np.mean((reconstruction - target) ** 2)
    mean_image = np.mean((target.mean(0) - target) ** 2)
    untrained = clone(vae).set_params(max_epochs=0).fit(X)
    untrained_error = np.mean((untrained.inverse_transform(untrained.transform(X)) - target) ** 2)
    assert error < 0.8 * mean_image and error < 0.5 * untrained_error


def test_the_latent_mean_separates_digit_classes(trained):
    vae, X, y = trained
    Z = vae.transform(X)
    assert Z.shape == (400, 10) and Z.dtype == np.float32
    assert cross_val_score(KNeighborsClassifier(5), Z, y, cv=3).mean() > 0.5  # chance: 0.1


def test_encode_gives_the_transform_as_mean_and_a_log_variance(trained):
    vae, X, _ = trained
    mean, log_var = vae.encode(X[:50])
    np.testing.assert_array_equal(mean, vae.transform(X[:50]))
    assert log_var.shape == (50, 10) and log_var.dtype == np.float32
    assert np.all(log_var < 1) and not np.allclose(log_var, 0)  # narrower than the prior
    assert list(vae.get_feature_names_out()[:2]) == ["vae0", "vae1"]


def test_sample_decodes_the_prior_repeatably(trained):
    vae, _, _ = trained
    images = vae.sample(5, random_state=0)
    assert images.shape == (5, 8, 8) and 0 <= images.min() and images.max() <= 1
    np.testing.assert_array_equal(images, vae.sample(5, random_state=0))
    assert not np.array_equal(images, vae.sample(5, random_state=1))
    z = np.random.RandomState(0).standard_normal((5, 10)).astype(np.float32)
    np.testing.assert_array_equal(images, vae.inverse_transform(z))


def test_pickle_and_joblib_round_trips_embed_and_decode_identically(trained, tmp_path):
    vae, X, _ = trained
    joblib.dump(vae, tmp_path / "vae.joblib")
    for copy in (pickle.loads(pickle.dumps(vae)), joblib.load(tmp_path / "vae.joblib")):
        np.testing.assert_array_equal(copy.transform(X), vae.transform(X))
        np.testing.assert_array_equal(copy.sample(3, random_state=0), vae.sample(3, random_state=0))


def test_a_larger_beta_pulls_the_posterior_towards_the_prior(digits):
    X = digits[0][:200]
    params = dict(FAST, max_epochs=5)
    free, tight = VAE(beta=0.0, **params).fit(X), VAE(beta=20.0, **params).fit(X)
    assert mean_kl(tight, X) < 0.1 * mean_kl(free, X)


@pytest.mark.parametrize("shape", [(8, 8), (13, 17), (32, 32), (64, 64), (63, 40)])
def test_any_image_size_round_trips_with_its_shape(shape):
    X = np.random.default_rng(0).random((6, *shape)).astype(np.float32)
    vae = VAE(max_epochs=1, random_state=0, device="cpu").fit(X)
    assert vae.transform(X).shape == (6, 10)
    assert vae.inverse_transform(vae.transform(X)).shape == X.shape
    assert vae.sample(2).shape == (2, *shape)
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in vae.net_.module_.encoder)
    assert n_convs == len(conv_sizes(*shape)) - 1
    assert 4 <= min(conv_sizes(*shape)[-1]) <= 7


def test_conv_layers_follow_burgess_for_64_pixels():
    assert conv_sizes(64, 64) == [(64, 64), (32, 32), (16, 16), (8, 8), (4, 4)]
    assert conv_sizes(8, 8) == [(8, 8), (4, 4)]
    assert conv_sizes(15, 100) == [(15, 100), (7, 50)]


def test_channels_and_flat_input_keep_their_shape(digits):
    X = digits[0][:64]
    rgb = np.stack([X, X[::-1], 16 - X], axis=1)  # three different channels
    vae = VAE(**FAST).fit(rgb)
    assert vae.input_shape_ == (3, 8, 8)
    assert vae.inverse_transform(vae.transform(rgb)).shape == (64, 3, 8, 8)
    assert vae.sample(2).shape == (2, 3, 8, 8)
    flat = VAE(image_shape=(8, 8), **FAST).fit(X.reshape(64, 64))
    assert flat.inverse_transform(flat.transform(X.reshape(64, 64))).shape == (64, 64)
    # the same images, reshaped by image_shape, train the same network
    np.testing.assert_array_equal(
        flat.transform(X.reshape(64, 64)), VAE(**FAST).fit(X).transform(X)
    )


def test_gaussian_reconstruction_trains_on_standardised_images(digits):
    X = digits[0][:200]
    vae = VAE(reconstruction="gaussian", normalize="dataset", **dict(FAST, max_epochs=5)).fit(X)
    loss = vae.history_[:, "train_loss"]
    assert loss[-1] < loss[0]
    reconstruction = vae.inverse_transform(vae.transform(X))
    assert reconstruction.shape == X.shape and reconstruction.min() < 0  # not squashed to [0, 1]


def test_fit_on_an_h5py_dataset_equals_fit_in_memory(digits, tmp_path):
    X = digits[0][:128]
    with h5py.File(tmp_path / "digits.h5", "w") as f:
        f["images"] = X
    with h5py.File(tmp_path / "digits.h5", "r") as f:
        streamed = VAE(**FAST).fit(f["images"])
        from_file = streamed.transform(f["images"])
        decoded = streamed.inverse_transform(from_file[:3])
    in_memory = VAE(**FAST).fit(X)
    assert streamed.history_[:, "train_loss"] == in_memory.history_[:, "train_loss"]
    np.testing.assert_array_equal(from_file, in_memory.transform(X))
    assert decoded.shape == (3, 8, 8)


def test_a_seeded_fit_repeats_bit_for_bit(digits):
    X = digits[0][:128]
    first, second = VAE(**FAST).fit(X), VAE(**FAST).fit(X)
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]
    np.testing.assert_array_equal(first.encode(X)[1], second.encode(X)[1])
    other = VAE(**dict(FAST, random_state=1)).fit(X)
    assert not np.array_equal(other.transform(X), first.transform(X))


class InterruptMidEpoch(Callback):
    """Ctrl-C after the second batch of ``epoch``."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_batch_end(self, net, training=False, **kwargs):
        if training and len(net.history) == self.epoch and len(net.history[-1]["batches"]) == 2:
            raise KeyboardInterrupt


def test_an_interrupted_fit_resumes_from_its_checkpoint_like_an_uninterrupted_one(digits, tmp_path):
    X = digits[0][:128]
    params = dict(FAST, max_epochs=4)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 3"):
        VAE(checkpoint_dir=tmp_path, callbacks=[InterruptMidEpoch(3)], **params).fit(X)
    resumed = VAE(checkpoint_dir=tmp_path, **params).fit(X)
    uninterrupted = VAE(**params).fit(X)
    assert resumed.history_[:, "epoch"] == [1, 2, 3, 4]
    assert resumed.history_[:, "train_loss"] == uninterrupted.history_[:, "train_loss"]
    np.testing.assert_array_equal(resumed.transform(X), uninterrupted.transform(X))


def test_sklearn_parameter_contract():
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("VAE", VAE())
    check_parameters_default_constructible("VAE", VAE())
    params = VAE().get_params()
    assert (params["n_components"], params["beta"], params["reconstruction"]) == (
        10,
        1.0,
        "bernoulli",
    )
    assert (params["normalize"], params["batch_size"], params["lr"]) == ("minmax", 64, 5e-4)


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_components", 0),
        ("n_components", 2.5),
        ("beta", -1.0),
        ("beta", float("nan")),
        ("reconstruction", "poisson"),
        ("normalize", "zscore"),
        ("lr", 0),
        ("batch_size", 1),
    ],
)
def test_bad_parameters_are_named(digits, param, value):
    with pytest.raises(ValueError, match=f"'{param}' parameter of VAE"):
        VAE(**{param: value}).fit(digits[0][:16])


@pytest.mark.parametrize("normalize", ["dataset", "image"])
def test_bernoulli_needs_targets_in_the_unit_interval(digits, normalize):
    with pytest.raises(ValueError, match=f"reconstruction='bernoulli'.*normalize='{normalize}'"):
        VAE(normalize=normalize).fit(digits[0][:16])


def test_bad_input_is_refused_clearly(digits):
    X = digits[0][:16]
    with pytest.raises(ValueError, match="convolutional.*image_shape"):
        VAE().fit(X.reshape(16, 64))
    with pytest.raises(ValueError, match="at least 8x8"):
        VAE().fit(X[:, :7, :])
    vae = VAE()
    for method, arg in [
        (vae.transform, X),
        (vae.encode, X),
        (vae.inverse_transform, X[:, 0]),
        (vae.sample, 2),
    ]:
        with pytest.raises(NotFittedError):
            method(arg)
    vae = VAE(**dict(FAST, max_epochs=0)).fit(X)
    with pytest.raises(ValueError, match="Z has 9 columns.*n_components=10"):
        vae.inverse_transform(np.zeros((2, 9)))
    with pytest.raises(ValueError, match="n_samples"):
        vae.sample(0)
    with pytest.raises(ValueError, match="features"):
        vae.transform(np.zeros((2, 9, 9)))
