"""Choosing what to label: a probe on the n most diverse images against n random ones.

Usage::

    python benchmarks/selection.py

Two pools, each embedded by CLR trained without labels (30 epochs, defaults):
sklearn's 1797 digits (``augment="upright"``) and 1500 simulated diffraction
patterns (32 px, ``log_intensity=True``; the primary class: spherical,
oblate, prolate, streak or empty). From each pool ``n`` images are "labelled"
(n = 10, 20, 40, 80): chosen by ``select_diverse`` (k-center on cosine
distances, or the images nearest k-means centres) or at random (20 draws).
A standardised logistic-regression probe trained on those ``n`` labels is
scored (accuracy) on every other image of the pool. Prints a markdown table.
"""

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import contrastlearn as cl
from contrastlearn.selection import select_diverse

SIZES = (10, 20, 40, 80)
RANDOM_DRAWS = 20


def probe_accuracy(embeddings, labels, chosen):
    rest = np.setdiff1d(np.arange(len(labels)), chosen)
    if len(np.unique(labels[chosen])) < 2:
        predicted = np.full(len(rest), labels[chosen][0])
    else:
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        predicted = probe.fit(embeddings[chosen], labels[chosen]).predict(embeddings[rest])
    return accuracy_score(labels[rest], predicted)


def pools():
    digits = load_digits()
    clr = cl.CLR(max_epochs=30, augment="upright", monitor_samples=0, random_state=0)
    yield "digits", clr.fit_transform(digits.images), digits.target
    X, Y, names = cl.datasets.make_diffraction(1500, image_size=32, random_state=0)
    primary = ["spherical", "oblate", "prolate", "streak", "empty"]
    labels = np.argmax(Y[:, [names.index(n) for n in primary]], axis=1)
    clr = cl.CLR(max_epochs=30, log_intensity=True, monitor_samples=0, random_state=0)
    yield "diffraction", clr.fit_transform(X), labels


def main():
    rows = []
    for name, embeddings, labels in pools():
        for n in SIZES:
            rng = np.random.RandomState(0)
            draws = [
                probe_accuracy(embeddings, labels, rng.choice(len(labels), n, replace=False))
                for _ in range(RANDOM_DRAWS)
            ]
            kcenter = select_diverse(embeddings, n, metric="cosine")
            kmeans = [
                probe_accuracy(
                    embeddings,
                    labels,
                    select_diverse(embeddings, n, method="kmeans", random_state=s),
                )
                for s in range(5)
            ]
            rows.append(
                {
                    "pool": name,
                    "n labels": n,
                    "random (mean of 20)": np.mean(draws),
                    "random (sd)": np.std(draws),
                    "k-center": probe_accuracy(embeddings, labels, kcenter),
                    "k-means nearest (mean of 5)": np.mean(kmeans),
                    "classes covered, k-center": len(np.unique(labels[kcenter])),
                }
            )
            print(rows[-1], flush=True)
    print()
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
