"""Texts as token ids, and a small transformer that encodes them: no download needed.

:class:`Vocabulary` is an sklearn transformer fitted on the corpus itself
(lower-cased words and numbers, the most frequent first) that turns texts
into fixed-length rows of token ids; :class:`TextTransformer` encodes such
rows into one feature vector per token. :class:`contrastlearn.ConVIRT`,
:class:`contrastlearn.GLoRIA` and :class:`contrastlearn.DALLE` use both.
"""

import numbers
import re
from collections import Counter

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .validation import InstanceOf, Interval, validate_parameters, validate_params

__all__ = ["PAD", "UNKNOWN", "START", "Vocabulary", "TextTransformer", "mean_over_tokens"]

#: The token ids every :class:`Vocabulary` reserves: padding, unknown word, start of text.
PAD, UNKNOWN, START = 0, 1, 2
_SPECIAL = ("<pad>", "<unk>", "<start>")
_WORD = re.compile(r"[a-z]+|\d+(?:\.\d+)?")


def tokenize(text):
    """The lower-cased words and numbers of ``text``, in order (punctuation dropped)."""
    return _WORD.findall(text.lower())


def check_texts(texts, name="texts"):
    """``texts`` as a list of str; raise a ValueError naming ``name`` otherwise."""
    if isinstance(texts, str):
        raise ValueError(f"{name} must be a sequence of strings, one per sample; got one string.")
    if isinstance(texts, np.ndarray) and texts.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one string per sample; got shape {texts.shape}.")
    texts = list(texts)
    bad = next((i for i, text in enumerate(texts) if not isinstance(text, str)), None)
    if bad is not None:
        raise ValueError(
            f"{name} must hold strings; item {bad} is {type(texts[bad]).__name__}: {texts[bad]!r}."
        )
    return texts


class Vocabulary(TransformerMixin, BaseEstimator):
    """A word vocabulary fitted on a corpus: texts to fixed-length rows of token ids.

    Texts are lower-cased and split into words and numbers (``"3.5"`` is one
    token; punctuation is dropped). ``fit`` keeps the words seen at least
    ``min_frequency`` times, at most ``max_size`` of them, the most frequent
    first (ties in order of appearance). ``transform`` writes every text as
    ``max_length`` ids: :data:`START`, then its words (unknown ones as
    :data:`UNKNOWN`), cut at ``max_length`` and padded with :data:`PAD`.

    Parameters
    ----------
    max_length : int, default=32
        Tokens per row, the start token included.
    min_frequency : int, default=1
        Words seen fewer times in the corpus are unknown.
    max_size : int or None, default=None
        Keep at most this many words (besides the three special tokens).

    Attributes
    ----------
    vocabulary_ : dict
        Word -> id; ids 0-2 are ``"<pad>"``, ``"<unk>"`` and ``"<start>"``.
    words_ : list of str
        The word of every id.
    n_truncated_ : int
        Training texts longer than ``max_length - 1`` words (cut).

    Examples
    --------
    >>> from contrastlearn.text import Vocabulary
    >>> vocabulary = Vocabulary(max_length=6).fit(["a round particle", "a pair of rods"])
    >>> vocabulary.transform(["a round pair!"])
    array([[2, 3, 4, 6, 0, 0]])
    >>> vocabulary.inverse_transform([[2, 3, 4, 6, 0, 0]])
    ['a round pair']
    """

    _parameter_constraints = {
        "max_length": [Interval(numbers.Integral, 2)],
        "min_frequency": [Interval(numbers.Integral, 1)],
        "max_size": [None, Interval(numbers.Integral, 1)],
    }

    def __init__(self, max_length=32, min_frequency=1, max_size=None):
        self.max_length = max_length
        self.min_frequency = min_frequency
        self.max_size = max_size

    def fit(self, texts, y=None):
        """Count the words of ``texts`` and number the kept ones.

        Parameters
        ----------
        texts : sequence of str
        y : None
            Ignored.

        Returns
        -------
        self
        """
        validate_parameters(self)
        texts = check_texts(texts)
        counts = Counter()
        lengths = []
        for text in texts:
            words = tokenize(text)
            counts.update(words)
            lengths.append(len(words))
        kept = [word for word, count in counts.most_common() if count >= self.min_frequency]
        if self.max_size is not None:
            kept = kept[: self.max_size]
        self.words_ = list(_SPECIAL) + kept
        self.vocabulary_ = {word: index for index, word in enumerate(self.words_)}
        self.n_truncated_ = int(np.sum(np.asarray(lengths) > self.max_length - 1))
        return self

    def transform(self, texts):
        """Token ids of ``texts``.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        ndarray of shape (n_texts, max_length), dtype int64
        """
        check_is_fitted(self, "vocabulary_")
        texts = check_texts(texts)
        ids = np.full((len(texts), self.max_length), PAD, dtype=np.int64)
        ids[:, 0] = START
        for row, text in enumerate(texts):
            words = tokenize(text)[: self.max_length - 1]
            ids[row, 1 : 1 + len(words)] = [self.vocabulary_.get(w, UNKNOWN) for w in words]
        return ids

    def inverse_transform(self, ids):
        """The texts that token ids stand for (padding and start left out, ``<unk>`` kept).

        Parameters
        ----------
        ids : array-like of shape (n_texts, length)

        Returns
        -------
        list of str
        """
        check_is_fitted(self, "vocabulary_")
        ids = np.asarray(ids)
        if ids.ndim != 2 or ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be a 2-D integer array; got {ids.dtype} of {ids.shape}.")
        return [
            " ".join(self.words_[i] for i in row if i not in (PAD, START) and i < len(self.words_))
            for row in ids.tolist()
        ]

    @property
    def size_(self):
        """Number of token ids, the special tokens included."""
        check_is_fitted(self, "vocabulary_")
        return len(self.words_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


_POSITIVE_INT = Interval(numbers.Integral, 1)


class TextTransformer(nn.Module):
    """A small transformer encoder over token ids, trained from scratch.

    Token and learned position embeddings, ``depth`` pre-norm transformer
    layers attending over the non-padding tokens, and a final LayerNorm.

    Parameters
    ----------
    vocabulary_size : int
        Number of token ids (:attr:`Vocabulary.size_`).
    max_length : int
        Longest row of ids it will see.
    dim : int, default=128
        Width of the token features.
    depth : int, default=2
        Transformer layers.
    num_heads : int, default=4
        Attention heads; must divide ``dim``.
    dropout : float, default=0.1

    Attributes
    ----------
    out_features : int
        ``dim``.

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.text import TextTransformer
    >>> encoder = TextTransformer(vocabulary_size=50, max_length=8, dim=32, num_heads=2)
    >>> encoder(torch.tensor([[2, 7, 9, 0, 0, 0, 0, 0]])).shape
    torch.Size([1, 8, 32])
    """

    @validate_params(
        {
            "vocabulary_size": [Interval(numbers.Integral, 4)],
            "max_length": [_POSITIVE_INT],
            "dim": [_POSITIVE_INT],
            "depth": [_POSITIVE_INT],
            "num_heads": [_POSITIVE_INT],
            "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
        }
    )
    def __init__(self, vocabulary_size, max_length, dim=128, depth=2, num_heads=4, dropout=0.1):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide dim={dim}.")
        self.tokens = nn.Embedding(vocabulary_size, dim, padding_idx=PAD)
        self.positions = nn.Parameter(torch.zeros(1, max_length, dim))
        nn.init.normal_(self.tokens.weight, std=0.02)
        nn.init.normal_(self.positions, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, num_heads, 4 * dim, dropout, batch_first=True, norm_first=True
        )
        self.layers = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out_features = dim

    def forward(self, ids):
        """Token ids ``(B, L)`` to token features ``(B, L, dim)`` (padding positions too)."""
        if ids.shape[1] > self.positions.shape[1]:
            raise ValueError(
                f"rows of {ids.shape[1]} token ids are longer than max_length="
                f"{self.positions.shape[1]}."
            )
        x = self.tokens(ids) + self.positions[:, : ids.shape[1]]
        return self.norm(self.layers(x, src_key_padding_mask=ids == PAD))


_TENSOR = InstanceOf(torch.Tensor, name="a torch tensor")


@validate_params({"features": _TENSOR, "ids": _TENSOR})
def mean_over_tokens(features, ids):
    """The mean feature ``(B, D)`` of the non-padding tokens of every row.

    Parameters
    ----------
    features : torch.Tensor of shape (B, L, D)
        Token features, e.g. of :class:`TextTransformer`.
    ids : torch.Tensor of shape (B, L)
        The token ids (:data:`PAD` marks padding).

    Returns
    -------
    torch.Tensor of shape (B, D)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn.text import mean_over_tokens
    >>> features = torch.tensor([[[1.0], [3.0], [100.0]]])
    >>> mean_over_tokens(features, torch.tensor([[2, 5, 0]]))
    tensor([[2.]])
    """
    mask = (ids != PAD).unsqueeze(-1).to(features.dtype)
    return (features * mask).sum(1) / mask.sum(1).clamp_min(1)
