"""Public methods that run a fitted model give the same float32 results under any default dtype.

ConVIRT and GLoRIA get a text encoder of the user's that makes a tensor of
the default dtype; the built-in modules of the others make none, so their
cases guard the float32 run of every module-running method.
"""

import numpy as np
import pytest
import torch
from torch import nn

import contrastlearn as cl
from contrastlearn.dalle import DALLE
from contrastlearn.discrete_vae import DiscreteVAE

CPU = dict(max_epochs=1, batch_size=16, device="cpu", random_state=0)
PAIRED = dict(CPU, monitor_samples=0, augment="upright")
PROMPTS = {0: ["the digit 0", "a zero"], 1: ["the digit 1", "a one"]}


class RampedWords(nn.Module):
    """Word features weighted by a ramp over the positions, built in ``forward``.

    ``torch.linspace`` makes a tensor of the default dtype: a user's encoder
    like this one meets float64 under a float64 default unless the library
    runs it in float32.
    """

    def __init__(self, vocabulary_size=64, dim=8):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, dim)

    def forward(self, ids):
        return self.embedding(ids) * torch.linspace(1.0, 0.5, ids.shape[1])[:, None]


def _fit(name):
    X, captions, y = cl.datasets.load_captioned_digits(random_state=0)
    X, captions, y = X[:48] / 16, list(captions[:48]), y[:48]
    if name == "ConVIRT":
        return cl.ConVIRT(paired_encoder=RampedWords(), **PAIRED).fit(X, captions)
    if name == "GLoRIA":
        model = cl.GLoRIA(paired_encoder=RampedWords(), backbone="small_cnn_small", **PAIRED)
        return model.fit(X, captions)
    if name in ("DALLE", "DiscreteVAE"):  # the DiscreteVAE is DALLE's own tokenizer
        vae = DiscreteVAE(n_tokens=16, n_layers=1, hidden_dim=16, codebook_dim=16, **CPU)
        small = dict(dim=32, depth=1, num_heads=2, dim_head=16, max_text_length=3)
        model = DALLE(vae, **small, **CPU).fit(X, captions)
        return model if name == "DALLE" else model.vae_
    if name == "VAE":
        return cl.VAE(**CPU).fit(X)
    return cl.FineTunedClassifier(None, **CPU).fit(X, y)


#: What each test calls, on the estimator its name starts with.
CALLS = {
    "ConVIRT.transform_paired": lambda m, X, c: m.transform_paired(c),
    "ConVIRT.predict_zero_shot": lambda m, X, c: m.predict_zero_shot(X, PROMPTS),
    "ConVIRT.recall_at_k": lambda m, X, c: m.recall_at_k(X, c).to_numpy(),
    "ConVIRT.score": lambda m, X, c: m.score(X, c),
    "GLoRIA.transform_paired": lambda m, X, c: m.transform_paired(c),
    "GLoRIA.attention_maps": lambda m, X, c: m.attention_maps(X[:4], c[:4])[0],
    "DALLE.generate_tokens": lambda m, X, c: m.generate_tokens(c[:4], random_state=0),
    "DALLE.generate": lambda m, X, c: m.generate(c[:4], random_state=0),
    "DALLE.score": lambda m, X, c: m.score(X, c),
    "DiscreteVAE.inverse_transform": lambda m, X, c: m.inverse_transform(m.transform(X)),
    "DiscreteVAE.score": lambda m, X, c: m.score(X),
    "VAE.inverse_transform": lambda m, X, c: m.inverse_transform(m.transform(X)),
    "VAE.sample": lambda m, X, c: m.sample(4, random_state=0),
    "FineTunedClassifier.predict_proba": lambda m, X, c: m.predict_proba(X),
    "FineTunedClassifier.predict": lambda m, X, c: m.predict(X),
}


@pytest.fixture(scope="module")
def fitted():
    """Every estimator fitted once under the float32 default, on first use."""
    cache = {}
    return lambda name: cache[name] if name in cache else cache.setdefault(name, _fit(name))


@pytest.mark.parametrize("call", CALLS)
def test_method_gives_its_float32_result_under_a_float64_default(call, fitted):
    name, method = call.split(".")[0], CALLS[call]
    X, captions, _ = cl.datasets.load_captioned_digits(random_state=0)
    X, captions = X[48:96] / 16, list(captions[48:96])
    model = fitted(name)
    expected = np.asarray(method(model, X, captions))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        result = np.asarray(method(model, X, captions))
        assert torch.get_default_dtype() == torch.float64
    finally:
        torch.set_default_dtype(previous)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result, expected)


def test_a_backbone_built_under_a_float64_default_trains_in_float32():
    X = cl.datasets.load_captioned_digits(random_state=0)[0][:48] / 16
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        backbone = nn.Sequential(nn.Flatten(), nn.Linear(64, 16))  # float64 weights
    finally:
        torch.set_default_dtype(previous)
    model = cl.CLR(backbone=backbone, projection_dims=(16, 8), **CPU).fit(X)
    assert {p.dtype for p in model.net_.module_.parameters()} == {torch.float32}
    assert model.transform(X).dtype == np.float32


def test_augmentation_by_hand_gives_its_float32_result_under_a_float64_default():
    x = torch.rand(4, 1, 16, 16)
    torch.manual_seed(0)
    expected = cl.augment.random_affine(x, hflip=0.5, vflip=0.5)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        torch.manual_seed(0)
        result = cl.augment.random_affine(x, hflip=0.5, vflip=0.5)
    finally:
        torch.set_default_dtype(previous)
    assert result.dtype == torch.float32
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
