"""Images with text or measurements: ConVIRT and GLoRIA against CLR + probe, pixels and PCA.

Usage::

    python benchmarks/paired.py digits       # sklearn's digits with captions
    python benchmarks/paired.py diffraction  # simulated patterns with reports / parameters

**digits**: the 1797 digits of ``load_captioned_digits`` (captions written from
the labels in 22 wordings), the first 1400 to train on, the last 397 held out.
ConVIRT and GLoRIA train on images + captions (no labels) and classify the
held-out digits zero-shot from the prompts "a handwritten {name}" and
"the digit {d}". For comparison, with labels: a linear probe on raw pixels,
on PCA, on CLR's embedding and on ConVIRT's, trained on 10 labels per class
or on all 1400.

**diffraction**: ``make_diffraction(2000, image_size=32)`` with
``return_reports=True``, 1500 to train on, 500 held out. ConVIRT and GLoRIA
train on images + reports; ConVIRT also on images + parameter vectors
(log radius, log aspect ratio, log photons; 0 for empty shots and an
"empty" flag). Zero-shot: the primary class (spherical, oblate, prolate,
streak or empty) from two prompts each. Retrieval: recall@1/5/10 of each
held-out image's report among the 500 held-out reports and back.

Every method trains 30 epochs with its defaults (``augment="upright"`` on
digits, where rotations and flips change the digit; the isotropic default
on diffraction), batch 64, seeds 0 and 1. Prints one markdown table per
data set.
"""

import sys
import time

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import contrastlearn as cl
from contrastlearn.datasets import DIGIT_NAMES

SEEDS = (0, 1)
EPOCHS = 30


def probe_accuracy(train, y_train, test, y_test, per_class=None, seed=0):
    rows = np.arange(len(train))
    if per_class is not None:
        rng = np.random.RandomState(seed)
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(y_train == c), per_class, replace=False)
                for c in np.unique(y_train)
            ]
        )
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probe.fit(train[rows], y_train[rows])
    return accuracy_score(y_test, probe.predict(test))


def timed(make):
    start = time.perf_counter()
    model = make()
    return model, time.perf_counter() - start


def digits():
    X, captions, y = cl.datasets.load_captioned_digits(random_state=0)
    train, test = slice(0, 1400), slice(1400, None)
    prompts = {d: [f"a handwritten {DIGIT_NAMES[d]}", f"the digit {d}"] for d in range(10)}
    flat = X.reshape(len(X), -1)
    pca = PCA(32, random_state=0).fit(flat[train])
    rows = []
    for name, features in [("raw pixels", flat), ("PCA (32)", pca.transform(flat))]:
        rows.append(
            {
                "method": name,
                "probe, 10 labels/class": probe_accuracy(
                    features[train], y[train], features[test], y[test], 10
                ),
                "probe, all labels": probe_accuracy(
                    features[train], y[train], features[test], y[test]
                ),
            }
        )
    common = dict(max_epochs=EPOCHS, batch_size=64, augment="upright", monitor_samples=0)
    for seed in SEEDS:
        clr, seconds = timed(lambda: cl.CLR(random_state=seed, **common).fit(X[train]))
        emb = clr.transform(X)
        rows.append(
            {
                "method": "CLR",
                "seed": seed,
                "probe, 10 labels/class": probe_accuracy(
                    emb[train], y[train], emb[test], y[test], 10, seed
                ),
                "probe, all labels": probe_accuracy(emb[train], y[train], emb[test], y[test]),
                "fit s": seconds,
            }
        )
        print(rows[-1], flush=True)
        for cls in (cl.ConVIRT, cl.GLoRIA):
            model, seconds = timed(
                lambda: cls(random_state=seed, **common).fit(X[train], captions[train])
            )
            emb = model.transform(X)
            recall = model.recall_at_k(X[test], captions[test])
            rows.append(
                {
                    "method": cls.__name__,
                    "seed": seed,
                    "zero-shot": accuracy_score(y[test], model.predict_zero_shot(X[test], prompts)),
                    "probe, 10 labels/class": probe_accuracy(
                        emb[train], y[train], emb[test], y[test], 10, seed
                    ),
                    "probe, all labels": probe_accuracy(emb[train], y[train], emb[test], y[test]),
                    **{f"image→caption {k}": v for k, v in recall.loc["image to paired"].items()},
                    **{f"caption→image {k}": v for k, v in recall.loc["paired to image"].items()},
                    "fit s": seconds,
                }
            )
            print(rows[-1], flush=True)
    return rows


PRIMARY = ["spherical", "oblate", "prolate", "streak", "empty"]
DIFFRACTION_PROMPTS = {
    "spherical": ["a round particle", "a spherical droplet"],
    "oblate": ["a flattened particle", "an oblate droplet"],
    "prolate": ["an elongated particle", "a prolate droplet"],
    "streak": ["a streak", "a rod-like particle"],
    "empty": ["no hit", "an empty frame"],
}


def diffraction():
    X, Y, names, params, reports = cl.datasets.make_diffraction(
        2000, image_size=32, random_state=0, return_params=True, return_reports=True
    )
    reports = np.asarray(reports, dtype=object)
    primary = np.array(
        [PRIMARY[i] for i in np.argmax(Y[:, [names.index(n) for n in PRIMARY]], axis=1)]
    )
    empty = primary == "empty"
    vectors = np.column_stack(
        [
            np.where(empty, 0.0, np.log(params["radius"].fillna(1.0))),
            np.where(empty, 0.0, np.log(params["aspect_ratio"].fillna(1.0))),
            np.log1p(params["photons"].fillna(0.0)),
            empty.astype(float),
        ]
    )
    train, test = slice(0, 1500), slice(1500, None)
    flat = X.reshape(len(X), -1)
    logged = np.log1p(flat)
    pca = PCA(32, random_state=0).fit(logged[train])
    rows = []
    for name, features in [("raw pixels (log)", logged), ("PCA (32)", pca.transform(logged))]:
        rows.append(
            {
                "method": name,
                "probe, 10 labels/class": probe_accuracy(
                    features[train], primary[train], features[test], primary[test], 10
                ),
                "probe, all labels": probe_accuracy(
                    features[train], primary[train], features[test], primary[test]
                ),
            }
        )
    common = dict(max_epochs=EPOCHS, batch_size=64, log_intensity=True, monitor_samples=0)
    for seed in SEEDS:
        runs = [
            ("CLR", lambda: cl.CLR(random_state=seed, **common).fit(X[train]), None),
            (
                "ConVIRT (reports)",
                lambda: cl.ConVIRT(random_state=seed, **common).fit(X[train], reports[train]),
                reports,
            ),
            (
                "GLoRIA (reports)",
                lambda: cl.GLoRIA(random_state=seed, **common).fit(X[train], reports[train]),
                reports,
            ),
            (
                "ConVIRT (parameters)",
                lambda: cl.ConVIRT(random_state=seed, **common).fit(X[train], vectors[train]),
                vectors,
            ),
        ]
        for name, make, paired in runs:
            model, seconds = timed(make)
            emb = model.transform(X)
            row = {
                "method": name,
                "seed": seed,
                "probe, 10 labels/class": probe_accuracy(
                    emb[train], primary[train], emb[test], primary[test], 10, seed
                ),
                "probe, all labels": probe_accuracy(
                    emb[train], primary[train], emb[test], primary[test]
                ),
                "fit s": seconds,
            }
            if paired is not None:
                if paired is reports:
                    row["zero-shot"] = accuracy_score(
                        primary[test], model.predict_zero_shot(X[test], DIFFRACTION_PROMPTS)
                    )
                recall = model.recall_at_k(X[test], paired[test])
                row.update(
                    {f"image→paired {k}": v for k, v in recall.loc["image to paired"].items()}
                )
                row.update(
                    {f"paired→image {k}": v for k, v in recall.loc["paired to image"].items()}
                )
            rows.append(row)
            print(row, flush=True)
    print(
        "class fractions of the held-out set:",
        pd.Series(primary[test]).value_counts(normalize=True).round(3).to_dict(),
    )
    return rows


def table(rows):
    frame = pd.DataFrame(rows)
    keep = [c for c in frame.columns if c != "seed"]
    summary = frame[keep].groupby("method", sort=False).mean()
    return summary.to_markdown(floatfmt=".3f")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "digits"
    rows = {"digits": digits, "diffraction": diffraction}[which]()
    print(f"\n### {which} (mean of seeds {SEEDS} for the trained methods)\n")
    print(table(rows))
