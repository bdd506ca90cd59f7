"""Fixed-seed loss histories and embeddings of every pretrainer, saved or compared.

Usage::

    python benchmarks/refactor_check.py save before.npz      # on the code before a refactor
    python benchmarks/refactor_check.py compare before.npz   # on the code after it

Fits CLR, CPLR (shared and separate backbones), SimSiam, DINO (local crops, a
teacher-temperature warm-up) and iBOT (a ViT) for a few epochs on sklearn's digits
with fixed seeds, and either saves the per-epoch losses and final embeddings or
prints, for each, whether they are equal bit for bit to the saved ones. A CPU fit
under ``random_state`` repeats bit for bit, so a refactor that changes no
computation leaves every row equal.
"""

import sys

import numpy as np
from sklearn.datasets import load_digits

import contrastlearn as cl


def fits():
    X = load_digits().images[:192]
    X16 = np.kron(X[:96], np.ones((2, 2)))  # 16x16, for the ViT
    return {
        "CLR": (cl.CLR(max_epochs=3, batch_size=64, random_state=0), X),
        "CPLR": (cl.CPLR(max_epochs=3, batch_size=64, random_state=0), X),
        "CPLR, separate backbones": (
            cl.CPLR(max_epochs=2, batch_size=64, shared_backbone=False, random_state=1),
            X,
        ),
        "SimSiam": (cl.SimSiam(max_epochs=3, batch_size=64, random_state=0), X),
        "DINO": (
            cl.DINO(
                max_epochs=3,
                batch_size=64,
                n_prototypes=128,
                warmup_teacher_epochs=2,
                teacher_temperature=0.07,
                random_state=0,
            ),
            X,
        ),
        "iBOT": (
            cl.iBOT(
                max_epochs=2,
                batch_size=32,
                n_prototypes=64,
                projection_dims=(64, 32),
                backbone="vit_tiny",
                n_local_crops=2,
                warmup_teacher_epochs=1,
                teacher_temperature=0.07,
                random_state=0,
            ),
            X16,
        ),
    }


def results():
    out = {}
    for name, (estimator, X) in fits().items():
        estimator.fit(X)
        out[f"{name} loss"] = np.asarray(estimator.history_[:, "train_loss"])
        out[f"{name} embedding"] = estimator.transform(X)
    return out


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("save", "compare"):
        sys.exit(__doc__)
    now = results()
    if sys.argv[1] == "save":
        np.savez(sys.argv[2], **now)
        return
    before = np.load(sys.argv[2])
    print("| result | equal bit for bit |\n|:--|:--|")
    for key, value in now.items():
        print(f"| {key} | {np.array_equal(before[key], value)} |")


if __name__ == "__main__":
    main()
