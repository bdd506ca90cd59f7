"""Training throughput of every pretrainer next to a bare torch loop, a bare model step and lightly.

Usage::

    python benchmarks/throughput.py                  # CPU: small CNN at 32x32 and 64x64
    python benchmarks/throughput.py --device cuda    # GPU: ResNet-18, 64x64/1024 and 128x128/512

Every pipeline is measured side by side in one run, on the same random
in-memory uint8 images, with two augmented views per image and a
512-512-128 projection head:

- ``CLR.fit``, ``CPLR.fit``, ``SimSiam.fit``, ``DINO.fit`` (2 global crops,
  no local crops), ``iBOT.fit`` (a ViT, since iBOT needs patch tokens):
  the estimators end to end, images/s over the epochs after the first;
- ``CLR.fit, compile=True``: the same, with the compiled training step;
- ``bare loop``: a hand-written loop over CLR's model, augmentation, loss and
  optimiser (index slicing, device transfer, two augmented views, NT-Xent,
  AdamW; bf16 autocast and channels_last on CUDA), with no skorch and no
  sklearn;
- ``bare model step`` (and ``+ torch.compile``): forward, backward and
  optimiser step on views augmented once up front: the ceiling with data and
  augmentation taken out;
- ``lightly``: lightly's SimCLR pipeline (``SimCLRTransform`` on PIL images in
  DataLoader workers, bf16 autocast, ``NTXentLoss``) around the same
  backbone and head, when lightly and torchvision import;
- ``CLR.transform``.

``CLR.fit`` and the bare loop are measured ``--repeats`` times, alternately,
and their medians reported (shared machines drift over minutes). ``vs step``
is a pipeline's rate over the bare model step's; ``MFU`` its
model FLOP utilisation: images/s times the FLOPs of one image's two views
(forward and backward, counted by ``torch.utils.flop_counter``) over the
peak (``--peak-tflops``, default 793 bf16 TFLOP/s on an H100 or H200, the
rate of a large bf16 matrix product measured on one; none on CPUs).
It prints a markdown table last.
"""

import argparse
import time
import traceback

import numpy as np
import pandas as pd
import torch
from torch.utils.flop_counter import FlopCounterMode

import contrastlearn as cl
from contrastlearn.losses import nt_xent

HEAD = (512, 512, 128)


def synchronize(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def fit_rate(model, X):
    """Images/s of ``model.fit(X)`` over the epochs after the first."""
    model.fit(X)
    used = (len(X) // model.batch_size) * model.batch_size
    return used / np.mean(model.history_[1:, "dur"])


def untrained_clr(params, X):
    """A CLR with ``params`` built on ``X`` but not trained: its module, augmentation, device."""
    reference = cl.CLR(**{**params, "max_epochs": 0}).fit(X[: params["batch_size"]])
    return reference.net_.module_, reference.augment_, reference.device_


def bare_loop(params, X, epochs):
    """Images/s of a plain torch loop over a fresh copy of CLR's model."""
    module, augment, device = untrained_clr(params, X)
    on_cuda = torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=1e-6)
    module.train()
    batch_size = params["batch_size"]
    n_batches = len(X) // batch_size
    times = []
    for _ in range(epochs):
        synchronize(device)
        start = time.perf_counter()
        order = torch.randperm(len(X)).numpy()
        for i in range(n_batches):
            rows = np.sort(order[i * batch_size : (i + 1) * batch_size])
            x = torch.from_numpy(X[rows]).to(device, non_blocking=True)
            if on_cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                x = module.preprocess(x)
                z1, z2 = module.project(torch.cat([augment(x), augment(x)])).chunk(2)
                loss = nt_xent(z1, z2, 0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return n_batches * batch_size / np.mean(times[1:])


def model_step(params, X, steps, compile=False):
    """Images/s of forward + backward + step on views augmented once; FLOPs per image."""
    module, augment, device = untrained_clr(params, X)
    on_cuda = torch.device(device).type == "cuda"
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3)
    batch_size = params["batch_size"]
    x = module.preprocess(torch.from_numpy(X[:batch_size]).to(device))
    views = torch.cat([augment(x), augment(x)]).detach()
    if on_cuda:
        views = views.contiguous(memory_format=torch.channels_last)
    module.train()
    project = torch.compile(module.project) if compile else module.project

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
            z1, z2 = project(views).chunk(2)
            loss = nt_xent(z1, z2, 0.1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):  # warm-up (and compilation)
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    rate = steps * batch_size / (time.perf_counter() - start)
    counter = FlopCounterMode(display=False)
    with counter, torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
        z1, z2 = module.project(views).chunk(2)
        nt_xent(z1, z2, 0.1).backward()
    return rate, counter.get_total_flops() / batch_size


def lightly_rate(params, X, epochs, workers):
    """Images/s of lightly's SimCLR pipeline around CLR's backbone and head."""
    from lightly.loss import NTXentLoss
    from lightly.transforms import SimCLRTransform
    from PIL import Image

    module, _, device = untrained_clr(params, X)
    transform = SimCLRTransform(input_size=X.shape[-1], normalize={"mean": [0.5], "std": [0.25]})

    class Images(torch.utils.data.Dataset):
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return transform(Image.fromarray(X[i, 0]).convert("L"))

    loader = torch.utils.data.DataLoader(
        Images(),
        batch_size=params["batch_size"],
        shuffle=True,
        drop_last=True,
        num_workers=workers,
        pin_memory=True,
        persistent_workers=workers > 0,
    )
    criterion = NTXentLoss(temperature=0.1)
    optimizer = torch.optim.AdamW(
        list(module.backbone.parameters()) + list(module.head.parameters()), lr=1e-3
    )
    on_cuda = torch.device(device).type == "cuda"
    module.train()
    times = []
    for _ in range(epochs):
        synchronize(device)
        start = time.perf_counter()
        for view1, view2 in loader:
            views = torch.cat([view1, view2]).to(device, non_blocking=True)
            if on_cuda:
                views = views.contiguous(memory_format=torch.channels_last)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                z1, z2 = module.project(views).chunk(2)
                loss = criterion(z1, z2)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return (len(X) // params["batch_size"]) * params["batch_size"] / np.mean(times[1:])


def measure(
    size, batch_size, backbone, vit, n_images, epochs, device, peak_flops, workers, repeats
):
    """The table rows of one image size, its FLOPs per image and the CLR.fit / bare loop ratio."""
    X = np.random.default_rng(0).integers(0, 256, size=(n_images, 1, size, size), dtype=np.uint8)
    params = dict(
        backbone=backbone,
        batch_size=batch_size,
        max_epochs=epochs,
        device=device,
        projection_dims=HEAD,
        random_state=0,
    )
    steps = max(5, n_images // batch_size)
    step_rate, flops = model_step(params, X, steps)
    rates = {"bare model step": step_rate}

    def record(name, measure_rate):
        # A pipeline that fails is reported with its error; the others are still measured.
        try:
            rates[name] = measure_rate()
        except ImportError as error:
            print(f"{name} not measured: {error!r}", flush=True)
        except Exception:  # noqa: BLE001
            print(f"{name} not measured:\n{traceback.format_exc()}", flush=True)

    # Shared machines drift by 10-30 % over minutes: alternate CLR.fit and the bare loop.
    pairs = np.array(
        [(fit_rate(cl.CLR(**params), X), bare_loop(params, X, epochs)) for _ in range(repeats)]
    )
    rates["bare loop (CLR's augmentation and loss)"] = np.median(pairs[:, 1])
    rates["CLR.fit"] = np.median(pairs[:, 0])
    record("CPLR.fit", lambda: fit_rate(cl.CPLR(**params), X))
    record("SimSiam.fit", lambda: fit_rate(cl.SimSiam(**params), X))
    record("DINO.fit (2 global crops)", lambda: fit_rate(cl.DINO(**params, n_local_crops=0), X))
    record(
        f"iBOT.fit ({vit}, 2 global crops)",
        lambda: fit_rate(cl.iBOT(**{**params, "backbone": vit}, n_local_crops=0), X),
    )
    record("lightly SimCLR pipeline", lambda: lightly_rate(params, X, epochs, workers))
    # Compiled runs last: the compiler's worker processes linger and take CPU time.
    record("bare model step + torch.compile", lambda: model_step(params, X, steps, compile=True)[0])
    record("CLR.fit, compile=True", lambda: fit_rate(cl.CLR(compile=True, **params), X))

    def transform_rate():
        clr = cl.CLR(**{**params, "max_epochs": 1}).fit(X)
        synchronize(device)
        start = time.perf_counter()
        clr.transform(X)
        synchronize(device)
        return n_images / (time.perf_counter() - start)

    record("CLR.transform", transform_rate)
    return (
        [
            {
                "image": f"{size}x{size}",
                "batch": batch_size,
                "pipeline": name,
                "img/s": round(rate),
                "vs step": round(rate / step_rate, 3),
                "MFU": (
                    f"{rate * flops / peak_flops:.1%}"
                    if peak_flops and "transform" not in name and "iBOT" not in name
                    else ""
                ),
            }
            for name, rate in rates.items()
        ],
        flops,
        np.median(pairs[:, 0] / pairs[:, 1]),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="peak bf16 TFLOP/s of the GPU (default: 793 for an H100 or H200)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="alternating CLR.fit / bare loop measurements (medians reported)",
    )
    parser.add_argument(
        "--workers", type=int, default=15, help="DataLoader workers for the lightly pipeline"
    )
    args = parser.parse_args()
    cuda = args.device.startswith("cuda")
    if cuda:
        configs = [
            (64, 1024, "resnet18", "vit_small_p8", 16384),
            (128, 512, "resnet18", "vit_small_p16", 8192),
        ]
        name = torch.cuda.get_device_name()
        hopper = "H100" in name or "H200" in name
        peak = args.peak_tflops or (793.0 if hopper else None)
    else:
        configs = [
            (32, 256, "small_cnn", "vit_tiny_p8", 2048),
            (64, 256, "small_cnn", "vit_tiny_p16", 2048),
        ]
        name, peak = f"CPU, {torch.get_num_threads()} threads", args.peak_tflops
    rows, notes = [], []
    for size, batch, backbone, vit, n in configs:
        table, flops, fit_vs_loop = measure(
            size,
            batch,
            backbone,
            vit,
            n,
            args.epochs,
            args.device,
            peak * 1e12 if peak else None,
            args.workers,
            args.repeats,
        )
        rows += table
        print(pd.DataFrame(table).to_markdown(index=False), flush=True)
        rate = {row["pipeline"]: row["img/s"] for row in table}
        lightly = rate.get("lightly SimCLR pipeline")
        notes.append(
            f"- {size}x{size}, batch {batch}: {flops / 1e9:.3f} GFLOP per image (2 views, forward "
            f"+ backward, {backbone} + head); CLR.fit / bare loop {fit_vs_loop:.2f} (median "
            f"of {args.repeats} alternating runs); CLR.fit / bare model step "
            f"{rate['CLR.fit'] / rate['bare model step']:.2f}; CLR.fit / lightly "
            f"{rate['CLR.fit'] / lightly if lightly else float('nan'):.1f}; CLR.transform / "
            f"CLR.fit {rate.get('CLR.transform', float('nan')) / rate['CLR.fit']:.1f}"
        )
    print(
        f"\n{name}; torch {torch.__version__}, contrastlearn {cl.__version__}; "
        f"{args.epochs} epochs per fit, the first excluded as warm-up; peak "
        f"{peak or 'n/a'} TFLOP/s\n"
    )
    print("\n".join(notes) + "\n")
    print(pd.DataFrame(rows).to_markdown(index=False))


if __name__ == "__main__":
    main()
