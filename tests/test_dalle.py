"""The discrete VAE tokenizer and the DALL-E text-to-image transformer."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from contrastlearn.dalle import DALLE
from contrastlearn.discrete_vae import DiscreteVAE
from contrastlearn.losses._generative import dalle_loss, discrete_vae_loss

CPU = dict(random_state=0, device="cpu")
TOKENIZER = dict(n_tokens=16, n_layers=1, hidden_dim=16, codebook_dim=16, batch_size=32, lr=3e-3)
SMALL = dict(dim=32, depth=1, num_heads=2, dim_head=16, max_text_length=3, batch_size=32, lr=3e-3)


def top_bottom(n=200, seed=0):
    """8x8 images bright in the top or in the bottom half, captioned "top" / "bottom"."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.3, (n, 8, 8)).astype(np.float32)
    top = np.arange(n) % 2 == 0
    X[top, :4] += 2
    X[~top, 4:] += 2
    return X, ["top" if t else "bottom" for t in top], top


def closer(images, own, other):
    """Fraction of images nearer (squared distance) to ``own`` than to ``other``."""
    axes = tuple(range(1, images.ndim))
    return np.mean(((images - own) ** 2).sum(axes) < ((images - other) ** 2).sum(axes))


# ----------------------------------------------------------------- discrete VAE
@pytest.fixture(scope="module")
def tokenizer(digits):
    X = digits[0][:400]
    params = dict(n_tokens=64, n_layers=1, max_epochs=10, batch_size=32, **CPU)
    return DiscreteVAE(**params).fit(X), X


def test_discrete_vae_reconstruction_improves_and_beats_an_untrained_one(tokenizer):
    dvae, X = tokenizer
    loss = dvae.history_[:, "train_loss"]
    assert loss[-1] < 0.6 * loss[0]
    error = np.mean((dvae.inverse_transform(dvae.transform(X)) - X) ** 2)
    untrained = clone(dvae).set_params(max_epochs=0).fit(X)
    untrained_error = np.mean((untrained.inverse_transform(untrained.transform(X)) - X) ** 2)
    assert error < 0.6 * untrained_error
    assert error < np.mean((X.mean(0) - X) ** 2)  # better than the mean image
    assert dvae.score(X) > untrained.score(X)


def test_discrete_vae_tokens_are_ints_in_range_and_decode_to_the_input_shape(tokenizer):
    dvae, X = tokenizer
    tokens = dvae.transform(X)
    assert tokens.shape == (400, 16) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < 64 and len(np.unique(tokens)) > 4
    assert dvae.token_grid_ == (4, 4) and dvae.n_tokens_out_ == 16
    decoded = dvae.inverse_transform(tokens[:5])
    assert decoded.shape == (5, 8, 8) and decoded.dtype == np.float32
    np.testing.assert_array_equal(dvae.inverse_transform(torch.from_numpy(tokens[:5])), decoded)


def test_discrete_vae_records_a_deterministic_validation_loss_every_epoch(tokenizer, digits):
    dvae, X = tokenizer
    valid = dvae.history_[:, "valid_loss"]
    assert len(valid) == 10 and np.all(np.isfinite(valid)) and valid[-1] < valid[0]
    module = dvae.net_.module_.train()
    assert dvae.score(X[:50]) == dvae.score(X[:50])  # hard codes in eval mode
    assert module.training  # score restores the module's mode
    whole = DiscreteVAE(validation_fraction=None, n_layers=1, max_epochs=1, **CPU).fit(X[:64])
    assert "valid_loss" not in whole.history_[-1]


def test_discrete_vae_decodes_in_the_input_intensity_scale():
    rng = np.random.default_rng(0)
    X = (1000 + 50 * rng.random((64, 2, 13, 17))).astype(np.float32)  # odd, non-square, 2 ch
    dvae = DiscreteVAE(n_tokens=16, n_layers=2, max_epochs=3, **CPU).fit(X)
    assert dvae.token_grid_ == (3, 4)
    decoded = dvae.inverse_transform(dvae.transform(X))
    assert decoded.shape == X.shape
    assert abs(decoded.mean() - X.mean()) < 25  # not standardised around 0
    logged = DiscreteVAE(n_layers=2, log_intensity=True, max_epochs=1, **CPU).fit(X)
    assert 500 < logged.inverse_transform(logged.transform(X[:4])).mean() < 2000  # expm1 undone


def test_discrete_vae_fit_repeats_and_takes_flat_input(digits):
    X = digits[0][:64]
    params = dict(n_layers=2, max_epochs=2, **CPU)
    first, second = DiscreteVAE(**params).fit(X), DiscreteVAE(**params).fit(X)
    assert first.history_[:, "train_loss"] == second.history_[:, "train_loss"]
    flat = DiscreteVAE(image_shape=(8, 8), **params).fit(X.reshape(64, 64))
    np.testing.assert_array_equal(flat.transform(X.reshape(64, 64)), first.transform(X))
    assert flat.inverse_transform(flat.transform(X.reshape(64, 64))).shape == (64, 64)


def test_discrete_vae_refuses_bad_input_clearly(digits, tokenizer):
    X = digits[0][:16]
    with pytest.raises(ValueError, match="n_layers=4.*at least 16x16"):
        DiscreteVAE(n_layers=4).fit(X)
    with pytest.raises(ValueError, match="convolutional.*image_shape"):
        DiscreteVAE().fit(X.reshape(16, 64))
    with pytest.raises(ValueError, match="'normalize' parameter of DiscreteVAE"):
        DiscreteVAE(normalize="minmax").fit(X)
    with pytest.raises(ValueError, match="'validation_fraction' parameter"):
        DiscreteVAE(validation_fraction=1.0).fit(X)
    with pytest.raises(NotFittedError):
        DiscreteVAE().inverse_transform(np.zeros((1, 16), dtype=int))
    dvae, _ = tokenizer
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 64\)"):
        dvae.inverse_transform(np.full((2, 16), 64))
    with pytest.raises(ValueError, match=r"token ids must lie in \[0, 64\)"):
        dvae.inverse_transform(np.full((2, 16), -1))
    with pytest.raises(ValueError, match="15 columns.*16 tokens"):
        dvae.inverse_transform(np.zeros((2, 15), dtype=int))
    with pytest.raises(TypeError, match="integer token ids"):
        dvae.inverse_transform(np.full((2, 16), 0.5))


def test_discrete_vae_parameter_contract():
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("DiscreteVAE", DiscreteVAE())
    check_parameters_default_constructible("DiscreteVAE", DiscreteVAE())
    params = DiscreteVAE().get_params()
    assert (params["n_tokens"], params["codebook_dim"], params["hidden_dim"]) == (512, 64, 32)
    assert (params["temperature"], params["validation_fraction"]) == (0.9, 0.1)


# ----------------------------------------------------------------- losses
def test_generative_losses_match_hand_computed_values():
    x = torch.zeros(2, 1, 2, 2)
    assert discrete_vae_loss(x + 2, x, torch.zeros(2, 4, 1, 1), kl_weight=5.0).item() == 4.0
    logits = torch.tensor([0.0, -1e9]).view(1, 2, 1, 1)  # all mass on one of 2 codes
    kl = discrete_vae_loss(x[:1], x[:1], logits, kl_weight=1.0).item()
    assert kl == pytest.approx(np.log(2))
    text = torch.tensor([[[0.0, 0.0]]])  # ln 2
    image = torch.tensor([[[10.0, -10.0, -10.0]]])  # about 0
    loss = dalle_loss(
        text, torch.zeros(1, 1, dtype=torch.long), image, torch.zeros(1, 1).long(), 3.0
    )
    assert loss.item() == pytest.approx(np.log(2) / 4, abs=1e-6)
    with pytest.raises(ValueError, match="image_logits must be 3-D"):
        dalle_loss(text, torch.zeros(1, 1).long(), image[0], torch.zeros(1, 1).long())


# ----------------------------------------------------------------- DALLE
@pytest.fixture(scope="module")
def dalle():
    X, texts, top = top_bottom()
    vae = DiscreteVAE(max_epochs=10, **TOKENIZER, **CPU)
    model = DALLE(vae, max_epochs=15, **SMALL, **CPU).fit(X, texts)
    return model, X, texts, top


def test_dalle_loss_falls_and_is_validated_every_epoch(dalle):
    model, X, texts, _ = dalle
    loss, valid = model.history_[:, "train_loss"], model.history_[:, "valid_loss"]
    assert len(valid) == 15 and loss[-1] < 0.3 * loss[0] and valid[-1] < 0.3 * valid[0]
    assert model.score(X, texts) == pytest.approx(-valid[-1], rel=0.2)
    assert model.vocabulary_.size_ == 5 and model.vae_.n_tokens_out_ == 16


def test_generated_images_follow_their_caption(dalle):
    model, X, _, top = dalle
    images = model.generate(["top"] * 20 + ["bottom"] * 20, random_state=0)
    assert images.shape == (40, 8, 8) and images.dtype == np.float32
    mean_top, mean_bottom = X[top].mean(0), X[~top].mean(0)
    assert closer(images[:20], mean_top, mean_bottom) >= 0.9
    assert closer(images[20:], mean_bottom, mean_top) >= 0.9


def test_generation_is_reproducible_and_its_tokens_decode(dalle):
    model, _, _, _ = dalle
    texts = ["top", "bottom", "a caption of unknown words"]
    tokens = model.generate_tokens(texts, filter_thres=0.0, random_state=3)
    assert tokens.shape == (3, 16) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < 16
    np.testing.assert_array_equal(
        tokens, model.generate_tokens(texts, filter_thres=0.0, random_state=3)
    )
    many = [
        model.generate_tokens(["top"] * 8, temperature=5.0, filter_thres=0.0, random_state=s)
        for s in (0, 1)
    ]
    assert not np.array_equal(*many)
    images = model.generate(texts, filter_thres=0.0, random_state=3)
    np.testing.assert_array_equal(images, model.vae_.inverse_transform(tokens))
    codes = model.vae_.transform(images)
    assert codes.shape == (3, 16) and codes.min() >= 0 and codes.max() < 16


def test_the_cached_generation_step_equals_the_full_forward_pass(dalle):
    model, X, texts, _ = dalle
    module = model.net_.module_.eval()
    rows = torch.from_numpy(model._rows(X[:4], texts[:4]))
    with torch.no_grad():
        _, full = module(rows)
        caches = [{} for _ in module.blocks]
        steps = [module.image_head(module.run(module.embed(rows[:, :3], None), caches)[:, -1])]
        for position in range(15):
            token = rows[:, 3 + position : 4 + position]
            steps.append(
                module.image_head(module.run(module.embed(None, token, position), caches)[:, -1])
            )
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-4)


def test_dalle_pickles_and_generates_identically(dalle):
    model, X, texts, _ = dalle
    copy = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        copy.generate(["top", "bottom"], random_state=0),
        model.generate(["top", "bottom"], random_state=0),
    )
    assert copy.score(X[:20], texts[:20]) == model.score(X[:20], texts[:20])


def test_dalle_is_not_a_transformer_and_follows_the_parameter_contract(dalle):
    model = dalle[0]
    for name in ("transform", "fit_transform", "get_feature_names_out"):
        assert not hasattr(model, name) and not hasattr(DALLE(), name)
    for check in (check_no_attributes_set_in_init, check_get_params_invariance, check_set_params):
        check("DALLE", DALLE())
    check_parameters_default_constructible("DALLE", DALLE())
    copy = clone(model)
    assert copy.get_params()["dim"] == 32 and not hasattr(copy, "net_")
    assert not hasattr(copy.vae, "net_")  # the vae parameter is cloned too
    assert model.get_params()["vae__n_tokens"] == 16


def test_the_vae_parameter_none_unfitted_or_fitted(digits):
    X, texts, _ = top_bottom(48)
    fast = dict(max_epochs=1, **SMALL, **CPU)
    default = DALLE(**fast).fit(X, texts)
    assert isinstance(default.vae_, DiscreteVAE) and default.vae_.n_tokens == 512
    assert default.vae_.token_grid_ == (1, 1)  # 3 halvings of 8x8
    unfitted = DiscreteVAE(max_epochs=1, **TOKENIZER, **CPU)
    model = DALLE(unfitted, **fast).fit(X, texts)
    assert not hasattr(unfitted, "net_") and model.vae_ is not unfitted
    fitted = clone(unfitted).fit(X)
    reused = DALLE(fitted, **fast).fit(X, texts)
    assert reused.vae_ is fitted and len(fitted.history_) == 1
    with pytest.raises(ValueError, match="fitted vae was trained on samples of shape"):
        DALLE(fitted, **fast).fit(digits[0][:16, :, :6], ["x"] * 16)


def test_channels_accumulation_and_clipping_are_accepted():
    X, texts, _ = top_bottom(64)
    rgb = np.stack([X, -X, X**2], axis=1)
    params = dict(vae=DiscreteVAE(max_epochs=1, **TOKENIZER, **CPU), max_epochs=2, **SMALL, **CPU)
    plain = DALLE(**params).fit(rgb, texts)
    assert plain.generate(["top"], random_state=0).shape == (1, 3, 8, 8)
    tuned = DALLE(**params, accumulate_batches=2, max_grad_norm=0.5).fit(rgb, texts)
    assert tuned.get_params()["accumulate_batches"] == 2
    assert tuned.history_[:, "train_loss"] != plain.history_[:, "train_loss"]
    assert np.all(np.isfinite(tuned.history_[:, "valid_loss"]))


def test_grid_search_scores_dalle():
    X, texts, _ = top_bottom(48)
    vae = DiscreteVAE(max_epochs=1, validation_fraction=None, **TOKENIZER, **CPU)
    search = GridSearchCV(
        DALLE(vae, max_epochs=1, validation_fraction=None, **SMALL, **CPU),
        {"image_loss_weight": [1.0, 7.0]},
        cv=2,
    ).fit(X, texts)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(scores < 0) and np.all(np.isfinite(scores))


def test_dalle_refuses_bad_input_clearly(dalle):
    X, texts, _ = top_bottom(16)
    model = DALLE(max_epochs=0, **CPU)
    with pytest.raises(ValueError, match="one string per image: got 15 texts for 16 images"):
        model.fit(X, texts[:15])
    with pytest.raises(ValueError, match="item 3 is int"):
        model.fit(X, texts[:3] + [3] + texts[4:])
    with pytest.raises(ValueError, match="got one string"):
        model.fit(X, "top")
    with pytest.raises(ValueError, match="needs the captions"):
        model.fit(X)
    with pytest.raises(ValueError, match="'vae' parameter of DALLE must be None or a DiscreteVAE"):
        DALLE(vae="dvae").fit(X, texts)
    with pytest.raises(ValueError, match="n_layers=3.*at least 8x8"):
        DALLE(**CPU).fit(X[:, :4, :4], texts)
    with pytest.raises(NotFittedError):
        DALLE().generate(["top"])
    fitted = dalle[0]
    with pytest.raises(ValueError, match="'temperature' parameter of DALLE.generate"):
        fitted.generate(["top"], temperature=0)
    with pytest.raises(ValueError, match="'filter_thres' parameter of DALLE.generate"):
        fitted.generate(["top"], filter_thres=1.0)
    with pytest.raises(ValueError, match="got one string"):
        fitted.generate("top")
    with pytest.raises(ValueError, match="y must hold one string per image"):
        fitted.score(X, texts[:3])
