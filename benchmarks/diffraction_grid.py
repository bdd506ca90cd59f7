"""The CLR/CPLR configuration x temperature study on simulated diffraction patterns.

Usage::

    python benchmarks/diffraction_grid.py [--protocol reference|split|both] [--n-samples 2000]
                                          [--image-size 64] [--epochs 10] [--seed 0]

Simulates ``make_diffraction`` patterns and, as the reference study did with
CXIDB-94, drops the empty shots. Fits CLR (recorded and polar images) and
CPLR (both modes) at the study's eight temperatures without labels, adds the
study's baselines (PCA, PCA with a correlation distance, KernelPCA, factor
analysis, a random embedding, a beta-VAE), and scores every row under the
chosen protocol(s) (see ``contrastlearn.model_selection.projection_grid_search``).
Prints one markdown table per protocol, ranked by F1, with contrastlearn's and
the study's mode names.
"""

import argparse
import time

import numpy as np
import torch

import contrastlearn as cl
from contrastlearn.demo import DIFFRACTION_AUGMENT, diffraction_shots
from contrastlearn.model_selection import projection_grid_search


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--protocol", choices=["reference", "split", "both"], default="both")
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--temperatures", type=float, nargs="*", default=cl.model_selection.REFERENCE_TEMPERATURES
    )
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    X, Y, names = diffraction_shots(args.n_samples, args.image_size, args.seed)
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    protocols = ["reference", "split"] if args.protocol == "both" else [args.protocol]
    for protocol in protocols:
        start = time.perf_counter()
        table = projection_grid_search(
            X,
            Y,
            protocol=protocol,
            temperatures=args.temperatures,
            max_epochs=args.epochs,
            batch_size=128,
            log_intensity=True,
            augment=DIFFRACTION_AUGMENT,
            device=args.device,
            random_state=args.seed,
            verbose=1,
        )
        minutes = (time.perf_counter() - start) / 60
        print(
            f"\n### protocol={protocol!r}\n\nmake_diffraction(n_samples={args.n_samples}, "
            f"image_size={args.image_size}, random_state={args.seed}) without its "
            f"{args.n_samples - len(X)} empty shots: {len(X)} patterns, labels "
            f"{[n for n in names if n != 'empty']}; {args.epochs} epochs, batch 128, "
            f"backbone 'auto' on {device}, log_intensity=True, "
            f"Augment(crop_scale=(0.8, 1.0), blur_prob=0.0); {minutes:.1f} min in all\n"
        )
        print(table.sort_values("F1", ascending=False).to_markdown(index=False, floatfmt=".3f"))
        best = table.iloc[np.argmax(table["F1"])]
        print(
            f"\nbest F1: {best['Type']} {best['Reference mode'] or best['Mode']} "
            f"T={best['Temperature']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
