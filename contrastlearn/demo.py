"""The demo behind ``python -m contrastlearn demo``: CLR on sklearn's digits, on the CPU.

It pretrains :class:`~contrastlearn.CLR` on the 1,797 unlabelled 8x8 digit
images, then compares readouts that see only 10% of the labels: a linear
probe and a k-NN vote on the CLR embedding, on the same backbone untrained, on
raw pixels and on PCA scores.
"""

import time

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from .augment import Augment
from .clr import CLR
from .evaluation import few_label_accuracy

#: Augmentations that keep a digit's identity: small rotations, mild crops, no flips.
DIGITS_AUGMENT = Augment(crop_scale=(0.6, 1.0), rotation=15.0, hflip=0.0, vflip=0.0,
                         blur_prob=0.0, noise_std=0.1)


def run_demo(max_epochs=30, label_fraction=0.1, random_state=0, verbose=1):
    """Pretrain CLR on digits and score embeddings with few labels.

    Parameters
    ----------
    max_epochs : int, default=30
        CLR training epochs (about 0.5 s each on 2 CPU cores).
    label_fraction : float, default=0.1
        Fraction of labels the linear probe and k-NN see.
    random_state : int, default=0
        Seeds CLR and the label splits.
    verbose : int, default=1
        Passed to CLR: 1 prints one line per epoch.

    Returns
    -------
    pandas.DataFrame
        One row per representation with its dimension, fit time, linear-probe
        accuracy and 5-NN accuracy (means over 5 random label splits).
    """
    digits = load_digits()
    images, y = digits.images, digits.target
    pixels = digits.data

    def clr(epochs):
        return CLR(temperature=0.5, augment=DIGITS_AUGMENT, max_epochs=epochs,
                   random_state=random_state, verbose=verbose if epochs else 0)

    representations = {
        f"CLR embedding ({max_epochs} epochs)": lambda: clr(max_epochs).fit_transform(images),
        "same backbone, untrained": lambda: clr(0).fit_transform(images),
        "raw pixels": lambda: pixels,
        "PCA, 32 components": lambda: PCA(32, random_state=random_state).fit_transform(pixels),
    }
    rows = []
    for name, make in representations.items():
        start = time.perf_counter()
        embedding = make()
        seconds = time.perf_counter() - start
        rows.append({
            "representation": name,
            "dims": embedding.shape[1],
            "fit s": round(seconds, 1),
            f"linear probe acc ({label_fraction:.0%} labels)": few_label_accuracy(
                embedding, y, label_fraction=label_fraction, random_state=random_state),
            f"5-NN acc ({label_fraction:.0%} labels)": few_label_accuracy(
                embedding, y, label_fraction=label_fraction, classifier="knn",
                random_state=random_state),
        })
    return pd.DataFrame(rows).set_index("representation")
