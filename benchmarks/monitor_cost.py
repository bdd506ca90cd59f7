"""What the per-epoch monitors cost, as a fraction of the epoch they watch.

Usage::

    python benchmarks/monitor_cost.py [--epochs 3] [--device auto]

Fits CLR with default settings on sklearn's digits (1,797 8x8 images) and on
simulated diffraction patterns (2,000 64x64 images), each with the default
health monitors (``monitor_samples=256``), with them and an ``eval_set`` of
500 labelled images, and without any (``monitor_samples=0``). Prints, per
run, the mean training seconds per epoch (``dur``), the monitors' seconds per
epoch (``monitor_dur``) and their ratio, then the whole fit's wall time.
"""

import argparse
import time

import pandas as pd
from sklearn.datasets import load_digits

import contrastlearn as cl


def datasets():
    digits = load_digits()
    yield "digits 8x8", digits.images[:1297], (digits.images[1297:], digits.target[1297:])
    X, Y, _ = cl.datasets.make_diffraction(n_samples=2500, image_size=64, random_state=0)
    yield "diffraction 64x64", X[:2000], (X[2000:], Y[2000:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    rows = []
    for name, X, eval_set in datasets():
        for monitors, params, fit_params in [
            ("none", {"monitor_samples": 0}, {}),
            ("health (default)", {}, {}),
            ("health + eval_set", {}, {"eval_set": eval_set}),
        ]:
            model = cl.CLR(max_epochs=args.epochs, device=args.device, random_state=0, **params)
            start = time.perf_counter()
            model.fit(X, **fit_params)
            wall = time.perf_counter() - start
            frame = cl.monitor.history_frame(model).iloc[1:]  # the first epoch warms up
            dur = frame["dur"].mean()
            monitor = frame["monitor_dur"].mean() if "monitor_dur" in frame else 0.0
            rows.append(
                {
                    "data": name,
                    "images": len(X),
                    "monitors": monitors,
                    "epoch s": dur,
                    "monitor s": monitor,
                    "monitor / epoch": f"{100 * monitor / dur:.1f} %",
                    "fit s": wall,
                }
            )
    print(
        f"\nCLR defaults, {args.epochs} epochs, device {model.device_}; means over epochs "
        "2 onwards\n"
    )
    print(pd.DataFrame(rows).to_markdown(index=False, floatfmt=".2f"))


if __name__ == "__main__":
    main()
