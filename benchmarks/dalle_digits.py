"""Two-stage text-to-image on sklearn's digits: DiscreteVAE, then DALLE, with their losses.

Usage::

    python benchmarks/dalle_digits.py [--n-samples 1000] [--vae-epochs 30] [--dalle-epochs 20]
                                      [--dropout 0.1] [--seed 0]

Trains a :class:`~contrastlearn.DiscreteVAE` (64 codes, one
halving: a 4x4 grid of tokens per 8x8 digit) and a
:class:`~contrastlearn.DALLE` (the default transformer, dim 128, depth
2, with dropout 0.1) on ``--n-samples`` real 8x8 digits captioned ``"a handwritten <name>"``
(``"a handwritten seven"``), each holding out 10% for its ``valid_loss``.
Then generates 20 images per caption and counts how many a
nearest-class-mean classifier (class means of the real digits) gives the
caption's digit: 10% is chance. Prints a markdown table last. Runs on a
2-core CPU in about a minute.
"""

import argparse
import time

import numpy as np
from sklearn.datasets import load_digits

from contrastlearn.dalle import DALLE
from contrastlearn.discrete_vae import DiscreteVAE

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=1000)
    parser.add_argument("--vae-epochs", type=int, default=30)
    parser.add_argument("--dalle-epochs", type=int, default=20)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    digits = load_digits()
    X = digits.images[: args.n_samples].astype(np.float32)
    labels = digits.target[: args.n_samples]
    texts = [f"a handwritten {NAMES[d]}" for d in labels]
    common = dict(batch_size=32, device="cpu", random_state=args.seed)

    start = time.perf_counter()
    vae = DiscreteVAE(n_tokens=64, n_layers=1, max_epochs=args.vae_epochs, lr=3e-3, **common)
    vae.fit(X)
    vae_time = time.perf_counter() - start
    start = time.perf_counter()
    dalle = DALLE(
        vae,
        max_text_length=4,
        dropout=args.dropout,
        max_epochs=args.dalle_epochs,
        lr=1e-3,
        **common,
    )
    dalle.fit(X, texts)
    dalle_time = time.perf_counter() - start

    per_caption = 20
    captions = [f"a handwritten {name}" for name in NAMES for _ in range(per_caption)]
    start = time.perf_counter()
    images = dalle.generate(captions, random_state=args.seed)
    generate_time = time.perf_counter() - start
    means = np.stack([X[labels == d].mean(0) for d in range(10)])
    distances = ((images[:, None] - means[None]) ** 2).sum((2, 3))
    wanted = np.repeat(np.arange(10), per_caption)
    accuracy = float(np.mean(distances.argmin(1) == wanted))
    reconstruction = vae.inverse_transform(vae.transform(X))
    pixel_mse = float(np.mean((reconstruction - X) ** 2))

    print(f"{args.n_samples} digits, seed {args.seed}")
    print()
    print(
        "| model | epochs | final train_loss | final valid_loss | best valid_loss (epoch) | fit s |"
    )
    print("|---|---|---|---|---|---|")
    for name, model, seconds in (("DiscreteVAE", vae, vae_time), ("DALLE", dalle, dalle_time)):
        history = model.history_
        valid = np.asarray(history[:, "valid_loss"])
        print(
            f"| {name} | {len(history)} | {history[-1, 'train_loss']:.4f} | "
            f"{valid[-1]:.4f} | {valid.min():.4f} ({valid.argmin() + 1}) | {seconds:.1f} |"
        )
    print()
    print(f"DiscreteVAE reconstruction MSE in pixel units (0-16 scale): {pixel_mse:.3f}")
    print(
        f"generated digits nearest their caption's class mean: {accuracy:.1%} "
        f"(chance 10%; {len(captions)} images in {generate_time:.1f} s)"
    )


if __name__ == "__main__":
    main()
