"""Latent recovery on procedural dSprites: augmentation pairs vs latent-neighbour pairs.

Usage::

    python benchmarks/sprites_readout.py [--n-samples 10000] [--epochs 20] [--step 2] [--seed 0]
                                         [--early-stopping]

Draws a random subset of the 737,280-image dSprites grid (``make_sprites``),
pretrains CLR twice with the same backbone, budget and seed, once on two
augmentations of each image (the default pairing) and once on latent-neighbour
pairs (``LatentNeighbors``: same shape, every other factor within ``--step``
grid positions, orientation periodic; no augmentation), and reads every
factor back from the frozen embeddings with ``latent_readout`` (a linear model
per factor, fitted on 75% of the images, scored on the other 25%; orientation
also modulo a quarter turn, the part of it every shape's image shows). An
untrained backbone and PCA of the pixels are the baselines. Prints the
readout table (markdown) last.

Every CLR fit records the monitors (``rankme``, ``alignment``, ``uniformity``)
and, on 1,000 further sprites (another seed) labelled by shape, ``valid_knn``;
their last epoch is printed. ``--early-stopping`` stops each fit on that score
(``n_iter_no_change=3``) and keeps its best epoch.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

import contrastlearn as cl
from contrastlearn.datasets import make_sprites
from contrastlearn.evaluation import latent_readout
from contrastlearn.pairing import LatentNeighbors

FACTORS = ["shape", "scale", "orientation", "position_x", "position_y"]
# Squares look the same every quarter turn and ellipses every half turn, so only the
# hearts' orientation is identifiable in [0, 2 pi); modulo a quarter turn it is for all three.
PERIODS = {"orientation": 2 * np.pi, "orientation_mod_90": np.pi / 2}
NO_AUGMENTATION = cl.Augment(
    crop_scale=(1.0, 1.0), rotation=0.0, hflip=0.0, vflip=0.0, jitter_prob=0.0, blur_prob=0.0
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--step", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--early-stopping", action="store_true")
    args = parser.parse_args()
    X, latents = make_sprites(args.n_samples, random_state=args.seed)
    X_val, latents_val = make_sprites(1000, random_state=args.seed + 1000)
    eval_set = (X_val, latents_val["shape"].to_numpy())
    readout = latents[FACTORS].assign(
        orientation_mod_90=latents["orientation_index"] % 10 * (2 * np.pi / 40)
    )
    step = {"shape": 0, **dict.fromkeys(FACTORS[1:], args.step)}
    common = {
        "max_epochs": args.epochs,
        "batch_size": 256,
        "random_state": args.seed,
        "normalize": None,
        "early_stopping": args.early_stopping,
        "n_iter_no_change": 3,
    }
    models = {
        "CLR, augmentation pairs": cl.CLR(**common),
        "CLR, latent-neighbour pairs": cl.CLR(
            pairing=LatentNeighbors(step=step, periodic=["orientation"]),
            augment=NO_AUGMENTATION,
            **common,
        ),
        "untrained backbone": cl.CLR(**{**common, "max_epochs": 0}),
    }
    tables, seconds = {}, {}
    for name, model in models.items():
        start = time.perf_counter()
        embedding = model.fit(X, latents=latents, eval_set=eval_set).transform(X)
        seconds[name] = time.perf_counter() - start
        tables[name] = latent_readout(embedding, readout, periodic=PERIODS, random_state=args.seed)
        last = model.history_[-1] if model.max_epochs else None
        monitors = (
            f", {len(model.history_)} epochs, final loss {last['train_loss']:.3f}, "
            f"rankme {last['rankme']:.1f}, alignment {last['alignment']:.3f}, "
            f"uniformity {last['uniformity']:.3f}, valid_knn {last['valid_knn']:.3f} "
            f"(best {model.best_validation_score_:.3f} after epoch {model.best_epoch_})"
            if model.max_epochs
            else ""
        )
        print(f"{name}: fit + transform {seconds[name]:.0f} s{monitors}", flush=True)
    start = time.perf_counter()
    pixels = PCA(128, random_state=args.seed).fit_transform(X.reshape(len(X), -1).astype(float))
    seconds["PCA, 128 components"] = time.perf_counter() - start
    tables["PCA, 128 components"] = latent_readout(
        pixels, readout, periodic=PERIODS, random_state=args.seed
    )
    table = pd.concat(tables, names=["representation"])
    stopping = ", early stopping on valid_knn" if args.early_stopping else ""
    print(
        f"\nmake_sprites({args.n_samples}, random_state={args.seed}), 64x64; CLR "
        f"{args.epochs} epochs{stopping}, batch 256, small CNN; latent pairs: same shape, other "
        f"factors within {args.step} grid steps, orientation periodic, no augmentation; "
        "linear readout fitted on 75%, scored on 25%; fit seconds: "
        + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items())
        + "\n"
    )
    print(table[["r2", "accuracy", "grid_accuracy", "chance"]].to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
