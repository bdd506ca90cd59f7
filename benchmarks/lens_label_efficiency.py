"""Label efficiency on simulated strong lenses: self-supervised pretraining vs supervised.

Usage::

    python benchmarks/lens_label_efficiency.py [--n-samples 3000] [--epochs 20] [--device auto]

Simulates lens and non-lens 3-band 32x32 cut-outs with lenstronomy
(``make_lenses``), pretrains DINO and SimSiam on the unlabelled training pool,
trains a linear head on 300 / 600 / 1200 / all labels, trains the same
backbone from scratch on the same labels (the supervised baseline) and scores
all on one held-out quarter. Prints the table (markdown) last.
"""

import argparse
import time

import torch

import contrastlearn as cl
from contrastlearn.model_selection import label_efficiency


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--backbone", default="small_cnn")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--fine-tune", action="store_true",
                        help="fine-tune the pretrained backbones (default: linear head only)")
    args = parser.parse_args()
    X, y = cl.datasets.make_lenses(args.n_samples, image_size=32, random_state=0)
    common = dict(backbone=args.backbone, max_epochs=args.epochs, batch_size=128,
                  device=args.device)
    pretrainers = {
        "DINO": cl.DINO(n_prototypes=1024, projection_dims=(512, 512, 128), n_local_crops=2,
                        **common),
        "SimSiam": cl.SimSiam(**common),
    }
    start = time.perf_counter()
    table = label_efficiency(X, y, pretrainers, n_labels=(300, 600, 1200, None),
                             supervised_backbone=args.backbone, fine_tune=args.fine_tune,
                             max_epochs=30, batch_size=64,
                             device=args.device, random_state=0, verbose=1)
    minutes = (time.perf_counter() - start) / 60
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    head = ("fine-tuning (backbone lr x0.1)" if args.fine_tune
            else "linear head on frozen features")
    print(f"\nmake_lenses(n_samples={args.n_samples}, image_size=32, bands=g,r,i, "
          f"random_state=0); stratified 75/25 split; pretraining {args.epochs} epochs "
          f"(batch 128, backbone {args.backbone!r}); {head}, 30 epochs; supervised baseline: "
          f"same backbone from scratch, 30 epochs; {device}; {minutes:.1f} min in all\n")
    print(table.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
