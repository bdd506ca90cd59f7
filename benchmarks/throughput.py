"""Training throughput of CLR.fit next to a bare torch loop doing the same work.

Usage::

    python benchmarks/throughput.py                      # CPU: small CNN at 32x32 and 64x64
    python benchmarks/throughput.py --device cuda        # GPU: ResNet-18, 64x64/1024 and 128x128/512

Every configuration is measured side by side in one run, on the same random
in-memory uint8 images:

- ``CLR.fit``: the estimator end to end; images/s over the epochs after the
  first (warm-up), from ``history_[:, "dur"]``.
- ``bare loop``: a hand-written loop over the same model, augmentation, loss and
  optimiser (index slicing, device transfer, preprocessing, two augmented
  views, NT-Xent, AdamW) with no skorch and no sklearn: what the library's
  overhead is measured against.
- ``model step``: forward + backward + step on views augmented once up front:
  the ceiling with augmentation taken out.
- ``transform``: ``CLR.transform`` images/s.

It prints a markdown table last.
"""

import argparse
import time

import numpy as np
import pandas as pd
import torch

import contrastlearn as cl
from contrastlearn.losses import nt_xent


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def bare_loop(clr, X, epochs):
    """Images/s of a plain torch loop over a fresh copy of ``clr``'s model."""
    reference = cl.CLR(**{**clr.get_params(), "max_epochs": 0}).fit(X[: clr.batch_size])
    module, device = reference.net_.module_, reference.device_
    augment, on_cuda = reference.augment_, torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(module.parameters(), lr=clr.lr, weight_decay=clr.weight_decay)
    module.train()
    n_batches = len(X) // clr.batch_size
    times = []
    for _ in range(epochs):
        synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(X)).numpy()
        for i in range(n_batches):
            rows = np.sort(order[i * clr.batch_size:(i + 1) * clr.batch_size])
            x = torch.from_numpy(X[rows]).to(device, non_blocking=True)
            if on_cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                x = module.preprocess(x)
                z1, z2 = module.project(torch.cat([augment(x), augment(x)])).chunk(2)
                loss = nt_xent(z1, z2, clr.temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return n_batches * clr.batch_size / np.mean(times[1:])


def model_step(clr, X, steps):
    """Images/s of forward + backward + step on views augmented once up front."""
    reference = cl.CLR(**{**clr.get_params(), "max_epochs": 0}).fit(X[: clr.batch_size])
    module, device = reference.net_.module_, reference.device_
    on_cuda = torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(module.parameters(), lr=clr.lr)
    x = module.preprocess(torch.from_numpy(X[: clr.batch_size]).to(device))
    views = torch.cat([reference.augment_(x), reference.augment_(x)]).detach()
    if on_cuda:
        views = views.contiguous(memory_format=torch.channels_last)
    module.train()
    for i in range(steps + 2):
        if i == 2:  # two warm-up steps
            synchronize(device)
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
            z1, z2 = module.project(views).chunk(2)
            loss = nt_xent(z1, z2, clr.temperature)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return steps * clr.batch_size / (time.perf_counter() - start)


def measure(size, batch_size, backbone, n_images, epochs, device):
    X = np.random.default_rng(0).integers(0, 256, size=(n_images, 1, size, size), dtype=np.uint8)
    clr = cl.CLR(backbone=backbone, batch_size=batch_size, max_epochs=epochs, device=device,
                 projection_dims=(512, 128), random_state=0)
    clr.fit(X)
    used = (n_images // batch_size) * batch_size
    fit_rate = used / np.mean(clr.history_[1:, "dur"])
    synchronize(device)
    start = time.perf_counter()
    clr.transform(X)
    synchronize(device)
    transform_rate = n_images / (time.perf_counter() - start)
    bare_rate = bare_loop(clr, X, epochs)
    step_rate = model_step(clr, X, steps=max(3, n_images // batch_size))
    return {
        "device": torch.cuda.get_device_name() if device.startswith("cuda") else f"cpu ({torch.get_num_threads()} threads)",
        "backbone": backbone,
        "image": f"{size}x{size}",
        "batch": batch_size,
        "CLR.fit img/s": round(fit_rate),
        "bare loop img/s": round(bare_rate),
        "fit / bare": round(fit_rate / bare_rate, 3),
        "model step img/s": round(step_rate),
        "transform img/s": round(transform_rate),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    if args.device.startswith("cuda"):
        configs = [(64, 1024, "resnet18", 16384), (128, 512, "resnet18", 8192)]
    else:
        configs = [(32, 256, "small_cnn", 2048), (64, 256, "small_cnn", 2048)]
    rows = [measure(size, batch, backbone, n, args.epochs, args.device)
            for size, batch, backbone, n in configs]
    print(f"torch {torch.__version__}, contrastlearn {cl.__version__}, {args.epochs} epochs "
          "(first one excluded as warm-up)\n")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
