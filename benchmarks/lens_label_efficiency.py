"""Label efficiency on simulated lenses: pretraining on a large unlabelled pool vs supervised.

Usage::

    python benchmarks/lens_label_efficiency.py [--pool-size 20000] [--pretrain-epochs 4]
        [--pretrain-seeds 0] [--seeds 0 1 2] [--labels 300 600 1200 0] [--epochs 20 15 8 5]
        [--all-seeds-up-to 1200] [--augment lens] [--lr-grid 1e-3 3e-3] [--device auto]

(the defaults are the run of ``results/lens_label_efficiency_cpu.md``; on a shared 2-core
CPU it took about 70 minutes, most of it pretraining).

The study we follow (DeepLense: ViT-S/8 on 32 x 32 g,r,i cut-outs) pretrains
on many unlabelled cut-outs and fine-tunes on few labelled ones. Here:

* labelled set: ``make_lenses(3000, random_state=0)``, split by
  :func:`contrastlearn.model_selection.label_efficiency` (stratified 75/25,
  ``random_state=seed``) into a 2,250-image labelled pool and a 750-image test
  set that every method is scored on;
* unlabelled pool: ``make_lenses(pool_size, random_state=1)`` (independent
  draws, so none of the test images), simulated once, written with
  ``save_cxi`` to ``--cache`` and streamed from the file (``load_cxi``) by
  ``fit``; reruns reuse the file and the pretrained models (pickled there);
* DINO and SimSiam are pretrained on the unlabelled pool only (by default one
  pretraining run, seed 0, reused for every seed; ``--pretrain-seeds 0 1 2``
  pretrains one per seed);
* fine-tuning: ``label_efficiency(..., fine_tune=True)`` with every
  pretrainer passed as ``FrozenEstimator(fitted)``, against the same backbone
  trained from scratch (``supervised``); both sides use the same
  classifier augmentation (any rotation + flips), the same epochs, and the
  same learning-rate grid, from which each method picks its rate by 3-fold
  cross-validated ROC AUC on the 300-label subset of the first seed (the test
  set is never used for a choice); that rate is then used at every label
  count and seed (``--epochs`` may differ by label count, the same for all
  methods; ``--all-seeds-up-to`` runs larger counts with the first seed only);
* probe: a logistic regression (C by 5-fold CV) on the frozen embeddings,
  same split and labelled subsets.

Prints one line per fit and the tables (markdown, mean +- sd over seeds) last.
"""

import argparse
import json
import os
import pickle
import time

import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import contrastlearn as cl
from contrastlearn.augment import Augment
from contrastlearn.model_selection import label_efficiency

N_LABELLED = 3000
TEST_SIZE = 0.25

#: Augmentation of the labelled images for fine-tuning and for the supervised baseline alike:
#: any rotation and flips (a lens is a lens at any orientation), nothing that changes the arcs.
CLASSIFIER_AUGMENT = Augment(
    crop_scale=(1.0, 1.0),
    rotation=180.0,
    hflip=0.5,
    vflip=0.5,
    brightness=0.0,
    contrast=0.0,
    jitter_prob=0.0,
    blur_prob=0.0,
)

#: Pretraining augmentations. "default": each pretrainer's own (DINO: crops of 40-100 %
#: area, SimSiam: 25-100 %; any rotation, flips, brightness/contrast jitter 0.4, blur up
#: to 1.5 px half the time). "lens": milder crops and jitter, no blur, which at 32 px and
#: a seeing of ~3.4 px FWHM smears the thin arcs that separate lenses from companions.
PRETRAIN_AUGMENTS = {
    "default": None,
    "lens": Augment(
        crop_scale=(0.6, 1.0),
        rotation=180.0,
        hflip=0.5,
        vflip=0.5,
        translate=0.05,
        brightness=0.2,
        contrast=0.2,
        jitter_prob=0.8,
        blur_prob=0.0,
        noise_std=0.1,
    ),
}


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


def cached_lenses(cache, name, n, seed):
    """``make_lenses(n, random_state=seed)`` written once to a CXI file; its lazy images."""
    path = os.path.join(cache, f"{name}_{n}_rs{seed}.cxi")
    if not os.path.exists(path):
        start = time.perf_counter()
        X, y = cl.datasets.make_lenses(n, image_size=32, random_state=seed)
        cl.datasets.save_cxi(path, X, labels=y)
        log(
            f"simulated {n} cut-outs (random_state={seed}) in "
            f"{time.perf_counter() - start:.0f} s -> {path}"
        )
    return cl.datasets.load_cxi(path)


def make_pretrainer(method, args, seed):
    common = dict(
        backbone=args.backbone,
        max_epochs=args.pretrain_epochs,
        batch_size=args.pretrain_batch_size,
        augment=PRETRAIN_AUGMENTS[args.augment],
        device=args.device,
        random_state=seed,
    )
    if method == "DINO":
        return cl.DINO(
            n_prototypes=args.dino_prototypes,
            projection_dims=(512, 512, 128),
            n_local_crops=args.dino_local_crops,
            teacher_temperature=args.dino_teacher_temperature,
            **common,
        )
    return cl.SimSiam(**common)


def pretrained(method, unlabelled, args, seed):
    """Fit (or load from the cache) ``method`` on the streamed unlabelled pool."""
    key = (
        f"{method}_{args.backbone}_pool{len(unlabelled)}_ep{args.pretrain_epochs}"
        f"_b{args.pretrain_batch_size}_aug-{args.augment}_seed{seed}"
    )
    if method == "DINO":
        key += (
            f"_K{args.dino_prototypes}_loc{args.dino_local_crops}_tt{args.dino_teacher_temperature}"
        )
    path = os.path.join(args.cache, key + ".pkl")
    if os.path.exists(path):
        with open(path, "rb") as f:
            model, seconds = pickle.load(f)
        log(f"pretrained {key}: loaded from the cache (fitted in {seconds:.0f} s)")
        model.cache_key_ = key
        return model, seconds
    start = time.perf_counter()
    model = make_pretrainer(method, args, seed).fit(unlabelled)  # streamed from the file
    seconds = time.perf_counter() - start
    with open(path, "wb") as f:
        pickle.dump((model, seconds), f)
    log(f"pretrained {key} in {seconds:.0f} s")
    model.cache_key_ = key
    return model, seconds


def split(y, seed, size):
    """The pool/test split and the labelled subset of ``label_efficiency`` (same calls)."""
    pool, test = train_test_split(
        np.arange(len(y)), test_size=TEST_SIZE, stratify=y, random_state=seed
    )
    pool, test = np.sort(pool), np.sort(test)
    if size is None or size >= len(pool):
        return pool, test
    labelled = np.sort(
        train_test_split(
            np.arange(len(pool)), train_size=size, stratify=y[pool], random_state=seed
        )[0]
    )
    return pool[labelled], test


def tune_lr(name, pretrainer, X, y, args, epochs):
    """The lr of the grid with the best 3-fold ROC AUC on the first seed's smallest subset."""
    seed, size = args.seeds[0], args.labels[0]
    key = (
        f"tune_{getattr(pretrainer, 'cache_key_', 'supervised_' + args.backbone)}_n{size}"
        f"_s{seed}_ep{epochs}_b{args.batch_size}_lr{'-'.join(map(str, args.lr_grid))}"
    )
    path = os.path.join(args.cache, key + ".json")
    if os.path.exists(path):
        with open(path) as f:
            best, scores = json.load(f)
        log(f"tuning {name}: loaded from the cache, lr={best:g}")
        return best
    labelled, _ = split(y, seed, size)
    model = cl.FineTunedClassifier(
        None if pretrainer is None else FrozenEstimator(pretrainer),
        fine_tune=True,
        backbone=args.backbone,
        augment=CLASSIFIER_AUGMENT,
        max_epochs=epochs,
        batch_size=args.batch_size,
        device=args.device,
        random_state=seed,
    )
    search = GridSearchCV(
        model,
        {"lr": args.lr_grid},
        scoring="roc_auc",
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
    )
    start = time.perf_counter()
    search.fit(X[labelled], y[labelled])
    scores = [float(v) for v in search.cv_results_["mean_test_score"]]
    best = float(search.best_params_["lr"])
    log(
        f"tuning {name}: 3-fold AUC on {len(labelled)} labels "
        + ", ".join(f"lr={lr:g}: {v:.3f}" for lr, v in zip(args.lr_grid, scores))
        + f" -> lr={best:g} ({time.perf_counter() - start:.0f} s)"
    )
    with open(path, "w") as f:
        json.dump([best, scores], f)
    return best


def placeholder(X, args):
    """A near-free untrained pretrainer (label_efficiency needs one beside the baseline)."""
    tiny = cl.backbones.SmallCNN(in_channels=X.shape[1], widths=(4,))
    return cl.SimSiam(
        backbone=tiny,
        projection_dims=(8, 8),
        predictor_hidden=4,
        max_epochs=0,
        device=args.device,
        random_state=0,
    ).fit(X[:64])


def probe_rows(name, model, X, y, seed, sizes):
    """Logistic regression on frozen embeddings, same split and subsets as label_efficiency."""
    embedding = model.transform(X)
    rows = []
    for size in sizes:  # (one BLAS thread: lbfgs is ~50x slower on a busy 2-core machine)
        labelled, test = split(y, seed, size)
        head = GridSearchCV(
            make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            {"logisticregression__C": np.logspace(-4, 2, 7)},
            scoring="roc_auc",
            cv=StratifiedKFold(5, shuffle=True, random_state=seed),
        )
        with threadpool_limits(1):
            head.fit(embedding[labelled], y[labelled])
        rows.append(
            {
                "Method": name,
                "Labels": len(labelled),
                "Seed": seed,
                "Accuracy": accuracy_score(y[test], head.predict(embedding[test])),
                "ROC AUC": roc_auc_score(y[test], head.predict_proba(embedding[test])[:, 1]),
            }
        )
    return rows


def summary(rows):
    table = pd.DataFrame(rows)
    out = table.groupby(["Method", "Labels"], sort=True).agg(
        Accuracy=("Accuracy", "mean"),
        acc_sd=("Accuracy", "std"),
        AUC=("ROC AUC", "mean"),
        auc_sd=("ROC AUC", "std"),
        Seeds=("Seed", "nunique"),
    )
    sd = lambda v: "" if np.isnan(v) else f" ± {v:.3f}"  # noqa: E731
    out["Accuracy"] = [f"{m:.3f}{sd(s)}" for m, s in zip(out["Accuracy"], out["acc_sd"])]
    out["ROC AUC"] = [f"{m:.3f}{sd(s)}" for m, s in zip(out["AUC"], out["auc_sd"])]
    return out.reset_index()[["Method", "Labels", "Seeds", "Accuracy", "ROC AUC"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool-size", type=int, default=20000)
    parser.add_argument("--pretrain-epochs", type=int, default=4)
    parser.add_argument("--pretrain-batch-size", type=int, default=256)
    parser.add_argument("--augment", choices=sorted(PRETRAIN_AUGMENTS), default="lens")
    parser.add_argument("--dino-prototypes", type=int, default=1024)
    parser.add_argument("--dino-local-crops", type=int, default=2)
    parser.add_argument("--dino-teacher-temperature", type=float, default=0.04)
    parser.add_argument("--methods", nargs="+", default=["DINO", "SimSiam"])
    parser.add_argument("--backbone", default="small_cnn")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--pretrain-seeds",
        type=int,
        nargs="+",
        default=[0],
        help="pretrain with these seeds; a seed without its own pretrained model uses the first's",
    )
    parser.add_argument(
        "--labels",
        type=int,
        nargs="+",
        default=[300, 600, 1200, 0],
        help="labelled images per fit; 0 = the whole 2,250-image pool",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        nargs="+",
        default=[20, 15, 8, 5],
        help="classifier epochs (both sides), one per --labels or one for all",
    )
    parser.add_argument(
        "--all-seeds-up-to",
        type=int,
        default=1200,
        help="label counts above this run with the first seed only "
        "(a large number: every seed at every count)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--lr-grid",
        type=float,
        nargs="+",
        default=[1e-3, 3e-3],
        help="classifier learning rates tried by every method (head lr; "
        "the pretrained backbone trains at 0.1 x)",
    )
    parser.add_argument(
        "--probe-only",
        action="store_true",
        help="skip fine-tuning and the supervised baseline (a quick check)",
    )
    parser.add_argument("--cache", default="/tmp/contrastlearn_lens_cache")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    args.labels = [size or None for size in args.labels]
    if len(args.epochs) == 1:
        args.epochs = args.epochs * len(args.labels)
    if len(args.epochs) != len(args.labels):
        parser.error("--epochs takes one value or one per --labels")
    epochs_for = dict(zip(args.labels, args.epochs))

    def seeds_for(size):
        n = size if size is not None else len(split(y, args.seeds[0], None)[0])  # None: all
        few = args.all_seeds_up_to is not None and n > args.all_seeds_up_to
        return args.seeds[:1] if few else args.seeds

    os.makedirs(args.cache, exist_ok=True)
    start = time.perf_counter()

    labelled_file = cached_lenses(args.cache, "labelled", N_LABELLED, 0)
    X, y = np.asarray(labelled_file[:]), np.asarray(labelled_file.labels)
    unlabelled = cached_lenses(args.cache, "unlabelled", args.pool_size, 1)
    pretrain_seeds = args.pretrain_seeds or args.seeds
    models, fit_seconds = {}, {}
    for seed in pretrain_seeds:
        for method in args.methods:
            models[method, seed], fit_seconds[method, seed] = pretrained(
                method, unlabelled, args, seed
            )
    model_for = lambda method, seed: models[  # noqa: E731
        method, seed if seed in pretrain_seeds else pretrain_seeds[0]
    ]

    probes = []
    for seed in args.seeds:
        for method in args.methods:
            probes += probe_rows(
                method,
                model_for(method, seed),
                X,
                y,
                seed,
                [size for size in args.labels if seed in seeds_for(size)],
            )
    log("probe:\n" + summary(probes).to_markdown(index=False))

    fine_tuned, chosen = [], {}
    if not args.probe_only:
        first = args.seeds[0]
        tune_epochs = epochs_for[args.labels[0]]
        for method in args.methods:
            chosen[method] = tune_lr(method, model_for(method, first), X, y, args, tune_epochs)
        chosen["supervised"] = tune_lr("supervised", None, X, y, args, tune_epochs)
        common = dict(
            test_size=TEST_SIZE,
            fine_tune=True,
            augment=CLASSIFIER_AUGMENT,
            batch_size=args.batch_size,
            device=args.device,
            verbose=1,
        )
        # Label count by label count (each count's subset depends only on the seed, as in
        # label_efficiency), every seed of a count before the next count.
        for size in args.labels:
            for seed in seeds_for(size):
                # One label_efficiency call per chosen learning rate, the supervised
                # baseline in the call whose rate it chose (alone: with a throw-away
                # 4-channel placeholder pretrainer, whose rows are dropped).
                for lr in sorted(set(chosen.values())):
                    names = [m for m in args.methods if chosen[m] == lr]
                    supervised = chosen["supervised"] == lr
                    pretrainers = {m: FrozenEstimator(model_for(m, seed)) for m in names} or {
                        "placeholder": FrozenEstimator(placeholder(X, args))
                    }
                    log(
                        f"seed {seed}, {size or 'all'} labels, {epochs_for[size]} epochs, "
                        f"lr={lr:g}: " + ", ".join(names + ["supervised"] * supervised)
                    )
                    part = label_efficiency(
                        X,
                        y,
                        pretrainers,
                        n_labels=[size],
                        random_state=seed,
                        lr=lr,
                        supervised_backbone=args.backbone if supervised else None,
                        max_epochs=epochs_for[size],
                        **common,
                    )
                    part = part[part["Method"].isin(names + ["supervised"] * supervised)]
                    fine_tuned += [dict(row, Seed=seed) for row in part.to_dict("records")]
            log("fine-tuned so far:\n" + summary(fine_tuned).to_markdown(index=False))
        log("fine-tuned:\n" + summary(fine_tuned).to_markdown(index=False))

    minutes = (time.perf_counter() - start) / 60
    device = "cuda" if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    seconds = ", ".join(f"{m} seed {s} {t:.0f} s" for (m, s), t in fit_seconds.items())
    print(
        f"\nLabelled: make_lenses(3000, image_size=32, bands=g,r,i, random_state=0), "
        f"stratified 75/25 split per seed (random_state=seed), scored on the 750 held-out "
        f"images. Unlabelled pool: make_lenses({args.pool_size}, random_state=1), streamed "
        f"from a CXI file. Pretraining ({', '.join(args.methods)}): {args.pretrain_epochs} "
        f"epochs, batch {args.pretrain_batch_size}, backbone {args.backbone!r}, augment "
        f"{args.augment!r}, pretraining seeds {pretrain_seeds} ({seconds}). Seeds "
        f"{args.seeds}. {device}; {minutes:.1f} min in all.\n"
    )
    print("Linear probe (logistic regression on frozen embeddings, C by 5-fold CV):\n")
    print(summary(probes).to_markdown(index=False))
    if fine_tuned:
        epochs = ", ".join(f"{e} at {s or 'all'}" for s, e in epochs_for.items())
        few = (
            ""
            if args.all_seeds_up_to is None
            else f"; above {args.all_seeds_up_to} labels seed {args.seeds[0]} only"
        )
        print(
            f"\nFine-tuning (backbone lr x0.1) vs supervised from scratch: epochs "
            f"{epochs} labels{few}; batch {args.batch_size}, any-rotation + flip "
            f"augmentation on both "
            f"sides, lr from {args.lr_grid} by 3-fold CV AUC on the "
            f"{args.labels[0]}-label subset of seed {args.seeds[0]}: "
            + ", ".join(f"{m} {lr:g}" for m, lr in chosen.items())
            + "\n"
        )
        print(summary(fine_tuned).to_markdown(index=False))


if __name__ == "__main__":
    main()
