"""Texts as token ids (Vocabulary) and their encoder (TextTransformer)."""

import numpy as np
import pytest
import torch
from sklearn.base import clone

from contrastlearn.text import PAD, START, UNKNOWN, TextTransformer, Vocabulary, mean_over_tokens
from contrastlearn.validation import InvalidParameterError

CORPUS = ["A round particle.", "A pair of rods, 3.5 nm apart", "round, round, ROUND", "rods"]


def test_the_vocabulary_numbers_words_by_frequency_and_pads_every_row():
    vocabulary = Vocabulary(max_length=5).fit(CORPUS)
    assert vocabulary.words_[:5] == ["<pad>", "<unk>", "<start>", "round", "a"]
    ids = vocabulary.transform(["round rods!", "a ruby"])
    assert ids.shape == (2, 5) and ids.dtype == np.int64
    round_, rods, a = (vocabulary.vocabulary_[w] for w in ("round", "rods", "a"))
    np.testing.assert_array_equal(ids[0], [START, round_, rods, PAD, PAD])
    np.testing.assert_array_equal(ids[1], [START, a, UNKNOWN, PAD, PAD])
    assert vocabulary.inverse_transform(ids) == ["round rods", "a <unk>"]
    assert "3.5" in vocabulary.vocabulary_  # numbers are one token


def test_long_texts_are_cut_and_counted_rare_words_are_unknown():
    vocabulary = Vocabulary(max_length=3, min_frequency=2).fit(CORPUS)
    assert vocabulary.n_truncated_ == 3  # texts of more than 2 words
    assert set(vocabulary.words_[3:]) == {"round", "a", "rods"}
    assert vocabulary.transform(["pair of rods"]).tolist() == [[START, UNKNOWN, UNKNOWN]]
    assert Vocabulary(max_size=1).fit(CORPUS).size_ == 4


def test_the_vocabulary_rejects_what_is_not_a_list_of_texts():
    with pytest.raises(ValueError, match="one string"):
        Vocabulary().fit("a round particle")
    with pytest.raises(ValueError, match="item 1 is int"):
        Vocabulary().fit(["fine", 3])
    with pytest.raises(InvalidParameterError, match="max_length"):
        Vocabulary(max_length=1).fit(CORPUS)
    assert clone(Vocabulary(max_length=7)).get_params()["max_length"] == 7


def test_the_text_transformer_ignores_padding_and_what_follows_it():
    torch.manual_seed(0)
    encoder = TextTransformer(vocabulary_size=20, max_length=6, dim=16, num_heads=2).eval()
    ids = torch.tensor([[START, 5, 7, PAD, PAD, PAD]])
    features = encoder(ids)
    assert features.shape == (1, 6, 16)
    longer = encoder(torch.tensor([[START, 5, 7, PAD, PAD, PAD], [START, 5, 7, 9, 9, 9]]))
    # the real tokens of the first row do not see the padding, whatever the batch
    torch.testing.assert_close(features[0, :3], longer[0, :3], atol=1e-5, rtol=1e-5)
    pooled = mean_over_tokens(features, ids)
    torch.testing.assert_close(pooled, features[0, :3].mean(0, keepdim=True))
    with pytest.raises(ValueError, match="longer than max_length"):
        encoder(torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="must divide"):
        TextTransformer(20, 6, dim=10, num_heads=3)
