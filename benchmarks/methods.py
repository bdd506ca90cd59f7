"""Every pretrainer at an equal budget, on real digits and on simulated diffraction.

Usage::

    python benchmarks/methods.py [--methods CLR BYOL ...] [--epochs 30] [--seeds 0 1 2]
                                 [--batch-sizes 256] [--data digits diffraction]

Each method is fitted as shipped (its defaults, ``augment="upright"`` on the
digits, the method's default augmentation on diffraction) for the same
epochs, batch size and seeds, and scored. MAE takes 2-px patches on the
digits and 4-px ones on diffraction, Jigsaw 2x2 tiles on the digits and 3x3
on diffraction, so that they divide the images. Scores:

* digits (sklearn's 1,797 8x8 images): a linear probe on 10 labels per class
  (:func:`contrastlearn.evaluation.few_label_accuracy`, 5 label draws);
* diffraction (:func:`contrastlearn.datasets.make_diffraction`, 1,000 32x32
  patterns, log intensity, 7 multi-hot labels): the macro F1 of a linear probe
  per label with 5-fold CV (:func:`contrastlearn.evaluation.linear_evaluation`)
  and the 1 % neighbour overlap (:func:`contrastlearn.overlap_score`).

Raw pixels and PCA (32 components) are the baselines on both. ``--batch-sizes
32 64 256`` gives the small-batch table: which methods hold up when a batch
holds few negatives. Prints a line per fit, then a markdown table (mean ± sd
over seeds) with the fit seconds.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy, linear_evaluation

METHODS = {
    "CLR": lambda data: cl.CLR(),
    "SimSiam": lambda data: cl.SimSiam(),
    "DINO": lambda data: cl.DINO(),
    "BYOL": lambda data: cl.BYOL(),
    "MoCo v3": lambda data: cl.MoCo(),
    "MoCo v2 (queue 4096)": lambda data: cl.MoCo(queue_size=4096, predictor_hidden=None),
    "BarlowTwins": lambda data: cl.BarlowTwins(),
    "VICReg": lambda data: cl.VICReg(),
    "NNCLR": lambda data: cl.NNCLR(),
    "SwAV": lambda data: cl.SwAV(),
    # The patch and tile sizes must divide the images: 8x8 digits, 32x32 diffraction.
    "MAE": lambda data: cl.MAE(backbone="vit_tiny_p2" if data == "digits" else "vit_tiny_p4"),
    "Jigsaw": lambda data: cl.Jigsaw(grid=2 if data == "digits" else 3),
}


def digits():
    data = load_digits()
    return data.images, data.target


def diffraction():
    X, Y, _ = cl.datasets.make_diffraction(n_samples=1000, image_size=32, random_state=0)
    return X, Y


def scores(data, embedding, y):
    if data == "digits":
        fraction = 10 * len(np.unique(y)) / len(y)
        return {"probe": few_label_accuracy(embedding, y, label_fraction=fraction)}
    return {
        "probe": linear_evaluation(embedding, y).loc["macro avg", "f1"],
        "overlap": cl.overlap_score(embedding, y),
    }


def baselines(data, X, y):
    flat = X.reshape(len(X), -1)
    if data == "diffraction":
        flat = np.log1p(flat)
    yield "raw pixels", flat
    yield "PCA (32)", PCA(32, random_state=0).fit_transform(flat)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--data", nargs="+", default=["digits", "diffraction"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    rows = []
    for data in args.data:
        X, y = digits() if data == "digits" else diffraction()
        for name, embedding in baselines(data, X, y):
            rows.append({"data": data, "method": name, "batch": "", "seed": 0, "fit s": 0.0})
            rows[-1].update(scores(data, embedding, y))
        for method in args.methods:
            for batch_size in args.batch_sizes:
                for seed in args.seeds:
                    estimator = METHODS[method](data).set_params(
                        max_epochs=args.epochs, batch_size=batch_size, random_state=seed
                    )
                    if data == "digits":
                        estimator.set_params(augment="upright")
                    else:
                        estimator.set_params(log_intensity=True)
                    start = time.perf_counter()
                    embedding = estimator.fit_transform(X)
                    seconds = time.perf_counter() - start
                    row = {
                        "data": data,
                        "method": method,
                        "batch": batch_size,
                        "seed": seed,
                        "fit s": seconds,
                        "final rankme": estimator.history_[-1, "rankme"],
                        **scores(data, embedding, y),
                    }
                    rows.append(row)
                    print(
                        " | ".join(
                            f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in row.items()
                        ),
                        flush=True,
                    )
    frame = pd.DataFrame(rows)
    metrics = [c for c in ("probe", "overlap", "final rankme", "fit s") if c in frame]
    grouped = frame.groupby(["data", "method", "batch"], sort=False)[metrics]
    mean, sd = grouped.mean(), grouped.std().fillna(0)
    table = mean.copy().astype(object)
    for column in metrics:
        table[column] = [
            "" if np.isnan(m) else f"{m:.3f} ± {s:.3f}" if column != "fit s" else f"{m:.0f}"
            for m, s in zip(mean[column], sd[column])
        ]
    print(f"\n{args.epochs} epochs, seeds {args.seeds}\n")
    print(table.reset_index().to_markdown(index=False))


if __name__ == "__main__":
    main()
