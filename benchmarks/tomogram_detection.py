"""Particle detection in a simulated cryo-electron tomogram: CLR embeddings vs raw pixels vs PCA.

Usage::

    python benchmarks/tomogram_detection.py [--epochs 20] [--seeds 0 1 2]
        [--snr-region volume|particles]

Simulates a tomogram (``make_tomogram``: several particle shapes, missing
wedge, low SNR; ``--snr-region particles`` measures the SNR over the
particles' voxels only, a much noisier setting), cuts slices into crops
labelled "contains a particle" from the ground truth, keeps the crops an edge
filter says hold structure, then runs ``ParticleDetector`` (k-means on the
representation) on CLR embeddings, on raw pixels and on PCA, every
representation with the same rules:

- ``k=2, labels orient``: the previous rule of this benchmark, kept as a
  reference; the labels decide which cluster is particle (not label-free);
- ``k=K, low contrast``: label-free; the clusters are split into particle /
  background by the mean ``contrast_score`` of their crops (central minus
  whole-crop mean intensity), ``predict`` takes the nearest centroid's class;
- ``k=K, low contrast, gmm``: the same clusters, with the cut on the margin
  set by a two-component Gaussian mixture fitted to the training margins.

Two reference rows need no representation: the contrast score alone
(ROC AUC of the score, F1 at its Otsu threshold) and calling every kept crop a
particle. Labels only score the result, except in the ``labels orient`` rows.
Prints a table per seed, then the mean and standard deviation over the seeds
(markdown) last.
"""

import argparse
import time

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import contrastlearn as cl
from contrastlearn.datasets import EdgeFrameFilter, extract_crops, make_tomogram
from contrastlearn.detection import contrast_score, detection_report
from contrastlearn.detection._frames import _otsu

SHAPE, N_PARTICLES = (48, 128, 128), 40
RULES = {  # name: (ParticleDetector keyword arguments, whether the labels orient the clusters)
    "k=2, labels orient": (dict(n_clusters=2), True),
    "k=2, low contrast": (dict(n_clusters=2, background_cluster="low_contrast"), False),
    "k=4, low contrast": (dict(n_clusters=4, background_cluster="low_contrast"), False),
    "k=8, low contrast": (dict(n_clusters=8, background_cluster="low_contrast"), False),
    "k=4, low contrast, gmm": (
        dict(n_clusters=4, background_cluster="low_contrast", threshold="gmm"),
        False,
    ),
}
METRICS = ["F1", "precision", "recall", "ROC AUC"]


def flatten(X):
    return X.reshape(len(X), -1)


def run_seed(seed, epochs, snr_region):
    volume, particles = make_tomogram(
        shape=SHAPE, n_particles=N_PARTICLES, snr_region=snr_region, random_state=seed
    )
    crops, labels, _ = extract_crops(volume, particles, crop_size=16, stride=8)
    edges = EdgeFrameFilter(threshold="auto").fit(crops)
    keep = edges.get_support(crops)
    X, y = crops[keep], labels[keep]
    print(
        f"seed {seed}: {len(crops)} crops, {int(labels.sum())} with a particle; the edge "
        f"filter keeps {len(X)} ({int(y.sum())} with a particle)",
        flush=True,
    )
    contrast = contrast_score(X)
    augment = cl.Augment(crop_scale=(0.6, 1.0), blur_prob=0.3, noise_std=0.1)
    representations = {
        "CLR embedding": cl.CLR(
            augment=augment, max_epochs=epochs, normalize="image", random_state=seed
        ),
        "raw pixels": FunctionTransformer(flatten),
        "PCA, 32 components": make_pipeline(
            FunctionTransformer(flatten), PCA(32, random_state=seed)
        ),
    }
    rows = {}
    for name, representation in representations.items():
        start = time.perf_counter()
        embedding = representation.fit_transform(X)
        seconds = time.perf_counter() - start
        for rule, (kwargs, oriented) in RULES.items():
            detector = cl.ParticleDetector(random_state=seed, **kwargs)
            if oriented:
                detector.fit(embedding, y)
            else:
                detector.fit(embedding, contrast=contrast)  # no labels
            rows[name, rule] = detector.report(embedding, y)
            rows[name, rule]["fit s"] = seconds
        print(
            f"  {name} ({seconds:.1f} s): "
            + ", ".join(
                f"{rule} F1 {rows[name, rule]['F1']:.3f} AUC {rows[name, rule]['ROC AUC']:.3f}"
                for rule in RULES
            ),
            flush=True,
        )
    rows["contrast score alone", "Otsu threshold"] = detection_report(
        y, (contrast > _otsu(contrast)).astype(int), contrast
    )
    rows["every kept crop a particle", "-"] = detection_report(y, np.ones_like(y), np.ones(len(y)))
    table = pd.DataFrame(rows).T[METRICS + ["TP", "FP", "FN", "TN", "fit s"]]
    table.index.names = ["representation", "rule"]
    print(table.reset_index().to_markdown(index=False, floatfmt=".3f"), flush=True)
    return table


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--snr-region", choices=["volume", "particles"], default="volume")
    args = parser.parse_args()
    tables = [run_seed(seed, args.epochs, args.snr_region) for seed in args.seeds]
    stacked = pd.concat(tables, keys=args.seeds)[METRICS]
    mean = stacked.groupby(level=[1, 2], sort=False).mean()
    sd = stacked.groupby(level=[1, 2], sort=False).std(ddof=1)
    summary = pd.DataFrame(
        {m: [f"{a:.3f} ± {b:.3f}" for a, b in zip(mean[m], sd[m])] for m in METRICS},
        index=mean.index,
    )
    print(
        f"\nmake_tomogram(shape={SHAPE}, n_particles={N_PARTICLES}, snr=0.1, "
        f"snr_region={args.snr_region!r}); 16x16 crops, stride 8, all slices; edge filter "
        f"'auto'; CLR {args.epochs} epochs; seeds {args.seeds}; mean ± sd (ddof=1)\n"
    )
    print(summary.reset_index().to_markdown(index=False))


if __name__ == "__main__":
    main()
