"""Training on an HDF5 file bigger than the memory we want to spend: peak RSS and images/s.

Usage::

    python benchmarks/streaming.py                  # a 4 GiB file of 64x64 float32 images
    python benchmarks/streaming.py --gigabytes 1 --keep /tmp/images.h5 --device cuda

It writes the file (contiguous layout), then runs each configuration in a
fresh process, so that its peak resident memory (``ru_maxrss``) is its own:

- ``streamed, read on demand``: ``CLR.fit`` then ``transform`` on the
  ``h5py`` dataset itself, every batch read when the step needs it (the
  default on a CPU);
- ``streamed, read ahead``: the same with the background reader thread
  keeping two batches ready (the default on CUDA);
- ``in memory``: the file read into a numpy array first, then the same fit
  (reading on demand).

The network is deliberately tiny (4x4 average pooling and a linear layer, no
augmentation) so that reading, not computing, sets the pace: what is measured
is the data path. The file was just written, so it sits in the page cache; a
cold disk is slower. It prints a markdown table last.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import torch
from torch import nn

import contrastlearn as cl
from contrastlearn import _data

SIDE = 64
NO_AUGMENTATION = cl.Augment(
    crop_scale=(1.0, 1.0),
    crop_ratio=(1.0, 1.0),
    rotation=0.0,
    hflip=0.0,
    vflip=0.0,
    jitter_prob=0.0,
    blur_prob=0.0,
)
MODES = ("streamed, read on demand", "streamed, read ahead", "in memory")


def write_file(path, gigabytes):
    """Write ``gigabytes`` GiB of random float32 images to ``path``; returns their count."""
    n_images = int(gigabytes * 2**30) // (SIDE * SIDE * 4)
    rng = np.random.default_rng(0)
    with h5py.File(path, "w") as f:
        images = f.create_dataset("images", shape=(n_images, SIDE, SIDE), dtype=np.float32)
        for start in range(0, n_images, 8192):
            stop = min(start + 8192, n_images)
            images[start:stop] = rng.random((stop - start, SIDE, SIDE), dtype=np.float32)
    return n_images


def run(mode, path, epochs, batch_size, device):
    """One configuration, in this process; returns its row of the table."""
    device_type = torch.device(device).type
    _data.PREFETCH_BATCHES[device_type] = 2 if mode == "streamed, read ahead" else 0
    with h5py.File(path, "r") as f:
        X = f["images"][:] if mode == "in memory" else f["images"]
        backbone = nn.Sequential(nn.AvgPool2d(4), nn.Flatten(), nn.Linear((SIDE // 4) ** 2, 64))
        clr = cl.CLR(
            backbone=backbone,
            augment=NO_AUGMENTATION,
            batch_size=batch_size,
            max_epochs=epochs,
            device=device,
            random_state=0,
        )
        start = time.perf_counter()
        clr.fit(X)
        fit_seconds = time.perf_counter() - start
        start = time.perf_counter()
        embedding = clr.transform(X)
        transform_seconds = time.perf_counter() - start
    trained = (len(embedding) // batch_size) * batch_size
    return {
        "configuration": mode,
        "images": len(embedding),
        "fit s (stats + epochs)": round(fit_seconds, 1),
        "train img/s": round(trained / np.mean(clr.history_[:, "dur"])),
        "transform img/s": round(len(embedding) / transform_seconds),
        "peak RSS GiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=4.0)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", help="write the file here and keep it (default: a temp dir)")
    parser.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run(args.child, args.file, args.epochs, args.batch_size, args.device)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or Path(tmp) / "images.h5")
        start = time.perf_counter()
        n_images = write_file(path, args.gigabytes)
        size = path.stat().st_size / 2**30
        print(
            f"wrote {n_images} images of {SIDE}x{SIDE} float32, {size:.2f} GiB, in "
            f"{time.perf_counter() - start:.0f} s",
            flush=True,
        )
        rows = []
        for mode in MODES:
            done = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    mode,
                    "--file",
                    str(path),
                    "--epochs",
                    str(args.epochs),
                    "--batch-size",
                    str(args.batch_size),
                    "--device",
                    args.device,
                ],
                capture_output=True,
                text=True,
            )
            if done.returncode:  # report it and go on with the other configurations
                print(f"{mode} failed:\n{done.stderr}", flush=True)
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    print(
        f"\ntorch {torch.__version__}, contrastlearn {cl.__version__}, {args.device}, "
        f"{torch.get_num_threads()} CPU threads, {args.epochs} epoch(s), batch "
        f"{args.batch_size}, file {size:.2f} GiB\n"
    )
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
