"""Training choices for CLR/CPLR on diffraction patterns, side by side, reference protocol.

Usage::

    python benchmarks/diffraction_pipeline.py [--n-samples 2000] [--epochs 10] [--seeds 0 1]
                                              [--variants order epochs head augment reference]

The data and scoring are those of ``benchmarks/diffraction_grid.py`` (empty
shots dropped; per-label perceptron, 5-fold CV, overlap over 1 % neighbours,
cosine distance). Every variant changes one training choice of the grid's
setting (CPLR ``representations="cartesian-polar"`` -- the study's "Polar ⟷ Cartesian"
-- and CLR on recorded images, T = 0.1) and is fitted for every seed:

- ``order``: the projection taken before augmentation (each branch augmented
  in its own coordinates, the study's order) against after it;
- ``centre``: the projection centred on the beam, the pixel ``(32, 32)`` of
  ``make_diffraction``'s 64 px patterns, rather than on the image's middle
  ``(31.5, 31.5)`` (``PolarProjection(center="pixel")``); for CLR this adds
  the polar view (the study's "Cartesian ⟷ Cartesian") both ways;
- ``epochs``: three times the epochs;
- ``head``: the study's head (512, 512, 128), BatchNorm on every layer;
- ``augment``: the study's augmentation list (``augment="cplr-reference"``,
  with ``normalize="minmax"``) instead of the grid's mild crops and rotations;
- ``reference``: everything the study used that runs on a CPU in minutes:
  its augmentations, min-max scaling, projection crop (``REFERENCE_PROJECTION_SETTINGS``,
  nearest sampling, projection first), head, LARS with lr = 0.1 sqrt(batch)
  and 10 % warm-up, and its ResNet-18 (``cplr_resnet18``) -- the backbone only
  with ``--reference-backbone`` (about 10x slower on a CPU).

PCA (euclidean) is scored on the same images as the yardstick. Prints a
markdown table: mean and spread over seeds of F1 and overlap per variant.
"""

import argparse
import math
import time

import pandas as pd

import contrastlearn as cl
from contrastlearn.baselines import baseline_embeddings
from contrastlearn.demo import DIFFRACTION_AUGMENT, diffraction_shots
from contrastlearn.evaluation import linear_evaluation, overlap_score
from contrastlearn.projection import REFERENCE_PROJECTION_SETTINGS, PolarProjection

BASE = dict(temperature=0.1, batch_size=128, log_intensity=True, augment=DIFFRACTION_AUGMENT)


def variants(names, epochs, reference_backbone):
    """(name, estimator class, parameters) of every variant asked for, the grid's settings first."""
    rows = []
    for cls, extra in [(cl.CPLR, {"representations": "cartesian-polar"}), (cl.CLR, {})]:
        base = {**BASE, **extra, "max_epochs": epochs}
        rows.append(("grid setting", cls, base))
        if "order" in names and cls is cl.CPLR:
            rows.append(("projection before augmentation", cls, {**base, "project_first": True}))
        if "centre" in names:
            centred = PolarProjection(center="pixel")
            if cls is cl.CPLR:
                rows.append(
                    ("projection centred on the beam pixel", cls, {**base, "polar": centred})
                )
            else:
                rows.append(("polar view", cls, {**base, "representation": "polar"}))
                rows.append(
                    (
                        "polar view centred on the beam pixel",
                        cls,
                        {**base, "representation": "polar", "polar": centred},
                    )
                )
        if "epochs" in names:
            rows.append((f"{3 * epochs} epochs", cls, {**base, "max_epochs": 3 * epochs}))
        if "head" in names:
            rows.append(
                (
                    "head (512, 512, 128), BN on all",
                    cls,
                    {**base, "projection_dims": (512, 512, 128), "projection_batchnorm": "all"},
                )
            )
        if "augment" in names:
            rows.append(
                (
                    "reference augmentations",
                    cls,
                    {**base, "augment": "cplr-reference", "normalize": "minmax"},
                )
            )
        if "reference" in names:
            reference = {
                **base,
                "augment": "cplr-reference",
                "normalize": "minmax",
                "projection_dims": (512, 512, 128),
                "projection_batchnorm": "all",
                "optimizer": "lars",
                "lr": 0.1 * math.sqrt(base["batch_size"]),
                "weight_decay": 1e-4,
                "warmup_epochs": 0.1 * epochs,
            }
            if cls is cl.CPLR:
                reference |= {
                    "polar": PolarProjection(**REFERENCE_PROJECTION_SETTINGS),
                    "project_first": True,
                }
            if reference_backbone:
                reference["backbone"] = "cplr_resnet18"
            rows.append(("reference training", cls, reference))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1])
    parser.add_argument(
        "--variants", nargs="*", default=["order", "epochs", "head", "augment", "reference"]
    )
    parser.add_argument("--reference-backbone", action="store_true")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    records = []
    start_all = time.perf_counter()
    for seed in args.seeds:
        X, Y, _ = diffraction_shots(args.n_samples, args.image_size, seed)
        pca = baseline_embeddings(
            "PCA", X, [X], n_components=256, log_intensity=True, random_state=seed
        )[0]
        records.append(
            {
                "Type": "PCA",
                "Variant": pca.description,
                "seed": seed,
                "F1": linear_evaluation(pca.probe, Y, random_state=seed).loc["macro avg", "f1"],
                "Overlap": overlap_score(pca.neighbors, Y, 0.01, "euclidean"),
                "Fit seconds": 0.0,
            }
        )
        for name, cls, params in variants(args.variants, args.epochs, args.reference_backbone):
            start = time.perf_counter()
            model = cls(random_state=seed, device=args.device, **params).fit(X)
            seconds = time.perf_counter() - start
            embedding = model.transform(X)
            record = {
                "Type": cls.__name__,
                "Variant": name,
                "seed": seed,
                "F1": linear_evaluation(embedding, Y, random_state=seed).loc["macro avg", "f1"],
                "Overlap": overlap_score(embedding, Y, 0.01, "cosine"),
                "Fit seconds": seconds,
            }
            records.append(record)
            print(
                f"seed {seed} {record['Type']:5} {name:34} F1={record['F1']:.3f} "
                f"overlap={record['Overlap']:.3f} ({seconds:.0f} s)",
                flush=True,
            )
    table = (
        pd.DataFrame(records)
        .groupby(["Type", "Variant"], sort=False)
        .agg(
            F1=("F1", "mean"),
            F1_sd=("F1", "std"),
            Overlap=("Overlap", "mean"),
            Overlap_sd=("Overlap", "std"),
            fit_s=("Fit seconds", "mean"),
        )
        .reset_index()
    )
    print(
        f"\nmake_diffraction(n_samples={args.n_samples}, image_size={args.image_size}) "
        f"without empty shots, seeds {args.seeds}; {args.epochs} epochs unless stated; "
        f"reference protocol; {(time.perf_counter() - start_all) / 60:.1f} min in all\n"
    )
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
