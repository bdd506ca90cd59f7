"""ConVIRT and GLoRIA: images contrasted with their texts or measurement vectors."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GridSearchCV

import contrastlearn as cl
from contrastlearn.datasets import DIGIT_NAMES
from contrastlearn.text import Vocabulary

FAST = dict(batch_size=64, monitor_samples=0, augment="upright", random_state=0)
PROMPTS = {d: [f"a handwritten {DIGIT_NAMES[d]}", f"the digit {d}"] for d in range(10)}


@pytest.fixture(scope="module")
def digits():
    """400 captioned digits to train on, 397 held out (their captions are written from labels)."""
    X, captions, y = cl.datasets.load_captioned_digits(random_state=0)
    return (X[:400], captions[:400], y[:400]), (X[1400:], captions[1400:], y[1400:])


@pytest.fixture(scope="module")
def convirt(digits):
    (X, captions, _), _ = digits
    return cl.ConVIRT(max_epochs=8, **FAST).fit(X, captions)


@pytest.fixture(scope="module")
def gloria(digits):
    (X, captions, _), _ = digits
    return cl.GLoRIA(max_epochs=8, backbone="small_cnn_small", **FAST).fit(X, captions)


@pytest.mark.parametrize("name", ["convirt", "gloria"])
def test_zero_shot_classification_of_held_out_digits_beats_chance_by_far(name, request, digits):
    model = request.getfixturevalue(name)
    _, (X, _, y) = digits
    accuracy = accuracy_score(y, model.predict_zero_shot(X, PROMPTS))
    # measured: ConVIRT 0.872, GLoRIA 0.814; chance is 0.1
    assert accuracy > 0.6
    untrained = cl.ConVIRT(max_epochs=0, **FAST).fit(*digits[0][:2])
    assert accuracy_score(y, untrained.predict_zero_shot(X, PROMPTS)) < 0.3


def test_images_and_texts_meet_in_one_space_of_unit_vectors(convirt, digits):
    _, (X, captions, y) = digits
    images, texts = convirt.transform(X), convirt.transform_paired(captions)
    assert images.shape == texts.shape == (len(X), 128) and images.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(images, axis=1), 1, rtol=1e-5)
    similarity = images @ texts.T
    same_digit = y[:, None] == y[None, :]
    # an image is closer to the captions of its digit than to the others'
    assert similarity[same_digit].mean() > similarity[~same_digit].mean() + 0.3
    recall = convirt.recall_at_k(X, captions)
    assert list(recall.columns) == ["recall@1", "recall@5", "recall@10"]
    assert list(recall.index) == ["image to paired", "paired to image"]
    assert (recall.diff(axis=1).iloc[:, 1:] >= 0).all().all()  # recall grows with k
    assert convirt.score(X, captions) == pytest.approx(recall["recall@5"].mean())


def test_retrieval_of_measurement_vectors_beats_chance():
    X, _, _, params = cl.datasets.make_diffraction(
        320, image_size=32, empty_fraction=0.0, random_state=0, return_params=True
    )
    vectors = np.log(params[["radius", "aspect_ratio", "radius_axial", "photons"]].to_numpy())
    model = cl.ConVIRT(max_epochs=10, **FAST).fit(X[:256], vectors[:256])
    assert model.paired_kind_ == "vectors" and model.n_paired_features_ == 4
    recall = model.recall_at_k(X[256:], vectors[256:], k=(1, 10))
    # 64 held-out pairs: chance is 1/64 and 10/64
    assert recall.loc["image to paired", "recall@10"] > 3 * 10 / 64
    with pytest.raises(ValueError, match="3 features per sample; ConVIRT was fitted on 4"):
        model.transform_paired(vectors[:5, :3])


def test_a_grid_search_chooses_the_temperature_by_retrieval(digits):
    (X, captions, _), _ = digits
    search = GridSearchCV(cl.ConVIRT(max_epochs=2, **FAST), {"temperature": [0.1, 1.0]}, cv=2)
    search.fit(X[:256], captions[:256])
    assert search.best_params_["temperature"] in (0.1, 1.0)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_a_fitted_vocabulary_and_a_custom_encoder_are_used_as_given(digits):
    (X, captions, _), _ = digits
    vocabulary = Vocabulary(max_length=8).fit(captions)

    class BagOfWords(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.EmbeddingBag(vocabulary.size_, 16, padding_idx=0)

        def forward(self, ids):
            return self.embedding(ids)

    model = cl.ConVIRT(
        max_epochs=1, vocabulary=vocabulary, paired_encoder=BagOfWords(), **FAST
    ).fit(X[:128], captions[:128])
    assert model.vocabulary_ is vocabulary
    assert isinstance(model.net_.module_.paired, BagOfWords)
    assert model.transform_paired(["a handwritten two"]).shape == (1, 128)


def test_a_pickled_model_embeds_both_modalities_alike(convirt, digits):
    _, (X, captions, _) = digits
    restored = pickle.loads(pickle.dumps(convirt))
    np.testing.assert_array_equal(restored.transform(X[:20]), convirt.transform(X[:20]))
    np.testing.assert_array_equal(
        restored.transform_paired(captions[:20]), convirt.transform_paired(captions[:20])
    )


def test_gloria_attention_maps_say_where_each_word_looks(gloria, digits):
    _, (X, captions, _) = digits
    attention, words = gloria.attention_maps(X[:3], captions[:3])
    assert attention.shape[0] == 3 and attention.shape[2:] == (2, 2)  # 8 px: 2x2 regions
    assert [w[0] for w in words] == ["<start>"] * 3
    n_words = len(words[0])
    np.testing.assert_allclose(attention[0, :n_words].sum(axis=(1, 2)), 1, rtol=1e-5)
    assert " ".join(words[1][1:]) == " ".join(
        Vocabulary()
        .fit(captions)
        .inverse_transform(Vocabulary().fit(captions).transform(captions[1:2]))
    )


@pytest.mark.parametrize(
    "make, fit_args, message",
    [
        (lambda: cl.ConVIRT(max_epochs=1), lambda X, c: (X, c[:-1]), "holds 50 images but"),
        (
            lambda: cl.ConVIRT(max_epochs=1),
            lambda X, c: (X, c[:-1] + [3]),
            "Unknown label type: paired must hold strings; item 49 is int",
        ),
        (lambda: cl.GLoRIA(max_epochs=1), lambda X, c: (X, np.ones((50, 3))), "needs texts"),
        (
            lambda: cl.ConVIRT(max_epochs=1, pairing=cl.LatentNeighbors()),
            lambda X, c: (X, c),
            "pairing must be 'augment'",
        ),
        (
            lambda: cl.ConVIRT(max_epochs=1, paired_encoder=torch.nn.Flatten(0)),
            lambda X, c: (X, c),
            "paired_encoder must map a batch",
        ),
    ],
)
def test_bad_paired_data_is_refused_with_a_clear_error(digits, make, fit_args, message):
    (X, captions, _), _ = digits
    with pytest.raises(ValueError, match=message):
        make().fit(*fit_args(X[:50], list(captions[:50])))


def test_zero_shot_prompts_must_name_two_classes(convirt, digits):
    _, (X, _, _) = digits
    with pytest.raises(ValueError, match="at least 2 classes"):
        convirt.predict_zero_shot(X[:2], {0: "zero"})
    with pytest.raises(ValueError, match="must be a dict"):
        convirt.predict_zero_shot(X[:2], "zero")
    labels = convirt.predict_zero_shot(X[:5], ["a handwritten zero", "a handwritten one"])
    assert set(labels) <= {0, 1}


def test_a_tokenizer_of_another_library_is_used_through_transform(digits):
    (X, captions, _), _ = digits

    class OtherTokenizer:  # like a Hugging Face tokenizer behind the user guide's wrapper
        def __init__(self):
            self.inner = Vocabulary(max_length=6).fit(captions)
            self.size_ = self.inner.size_

        def fit(self, texts, y=None):
            return self

        def transform(self, texts):
            return self.inner.transform(texts)

    tokenizer = OtherTokenizer()
    model = cl.ConVIRT(max_epochs=1, vocabulary=tokenizer, **FAST).fit(X[:128], captions[:128])
    assert model.vocabulary_ is tokenizer and model.text_length_ <= 6
    assert model.net_.module_.paired.tokens.num_embeddings == tokenizer.size_
