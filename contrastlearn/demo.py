"""The demos behind ``python -m contrastlearn demo``, on built-in data and the CPU.

- ``diffraction`` (the default): CPLR and CLR (recorded and polar images) on
  simulated single-particle diffraction patterns
  (:func:`contrastlearn.datasets.make_diffraction`, empty shots dropped as the
  reference study dropped them), scored under the reference study's protocol:
  a per-label perceptron 5-fold cross-validated on all patterns (F1,
  precision, recall, accuracy) and the overlap score of 1 % neighbours, next
  to PCA and a random embedding.
- ``digits``: CLR on sklearn's 8x8 digits, read out with 10% of the labels,
  next to the same backbone untrained, raw pixels and PCA.
"""

import time

import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from .augment import Augment
from .clr import CLR
from .datasets import make_diffraction
from .evaluation import few_label_accuracy
from .model_selection import projection_grid_search

#: Augmentations that keep a digit's identity: small rotations, mild crops, no flips.
DIGITS_AUGMENT = Augment(
    crop_scale=(0.6, 1.0), rotation=15.0, hflip=0.0, vflip=0.0, blur_prob=0.0, noise_std=0.1
)

#: Augmentations for diffraction patterns: any rotation and flips (the physics is
#: symmetric), mild crops that keep the pattern's centre near the image centre.
DIFFRACTION_AUGMENT = Augment(crop_scale=(0.8, 1.0), blur_prob=0.0)


def diffraction_shots(n_samples, image_size=64, random_state=0):
    """Simulated diffraction patterns without the empty shots, as the reference study kept them.

    Parameters
    ----------
    n_samples : int
        Patterns simulated (about 10 % are empty and dropped).
    image_size : int, default=64
    random_state : int, default=0

    Returns
    -------
    X : ndarray of shape (n_kept, image_size, image_size)
    Y : ndarray of shape (n_kept, 7)
        Multi-hot labels; the "empty" column is all 0 (and skipped by the scores).
    names : list of str
    """
    X, Y, names = make_diffraction(n_samples, image_size=image_size, random_state=random_state)
    kept = Y[:, names.index("empty")] == 0
    return X[kept], Y[kept], names


def run_diffraction_demo(
    n_samples=2000, image_size=64, max_epochs=10, temperature=0.1, random_state=0, verbose=1
):
    """Pretrain CPLR and CLR (recorded, polar) on simulated diffraction patterns and score them.

    Parameters
    ----------
    n_samples : int, default=2000
        Simulated patterns (the empty ones are dropped).
    image_size : int, default=64
    max_epochs : int, default=10
        Epochs of each pretrainer (about 22 s each at the defaults on 2 CPU cores).
    temperature : float, default=0.1
        NT-Xent temperature (the reference study's best).
    random_state : int, default=0
    verbose : int, default=1
        1 prints a line per model, 2 also the epoch tables.

    Returns
    -------
    pandas.DataFrame
        Type, Mode, Reference mode, Temperature, F1, Precision, Recall,
        Accuracy, Overlap and fit seconds for CLR (recorded and polar images),
        CPLR (the study's "Polar ⟷ Cartesian"), PCA and a random embedding.
    """
    X, Y, _ = diffraction_shots(n_samples, image_size, random_state)
    return projection_grid_search(
        X,
        Y,
        configurations=["C-C", "P-P", "C-P"],
        temperatures=[temperature],
        protocol="reference",
        baselines=["PCA", "Random"],
        max_epochs=max_epochs,
        batch_size=128,
        log_intensity=True,
        augment=DIFFRACTION_AUGMENT,
        random_state=random_state,
        verbose=verbose,
    )


def run_digits_demo(max_epochs=30, label_fraction=0.1, random_state=0, verbose=1):
    """Pretrain CLR on digits and score embeddings with few labels.

    Parameters
    ----------
    max_epochs : int, default=30
        CLR training epochs (about 0.3 s each on 2 CPU cores).
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
        return CLR(
            temperature=0.5,
            augment=DIGITS_AUGMENT,
            max_epochs=epochs,
            random_state=random_state,
            verbose=verbose if epochs else 0,
        )

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
        rows.append(
            {
                "representation": name,
                "dims": embedding.shape[1],
                "fit s": round(seconds, 1),
                f"linear probe acc ({label_fraction:.0%} labels)": few_label_accuracy(
                    embedding, y, label_fraction=label_fraction, random_state=random_state
                ),
                f"5-NN acc ({label_fraction:.0%} labels)": few_label_accuracy(
                    embedding,
                    y,
                    label_fraction=label_fraction,
                    classifier="knn",
                    random_state=random_state,
                ),
            }
        )
    return pd.DataFrame(rows).set_index("representation")
