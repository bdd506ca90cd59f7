"""
=======================================
Watching a pretrainer learn
=======================================

A falling loss does not tell whether an embedding is getting better. Here
two :class:`~contrastlearn.CLR` runs on sklearn's handwritten digits are
watched epoch by epoch with a few labelled validation images
(``fit(X, eval_set=(X_val, y_val))``): one with the ``"isotropic"``
augmentations (any rotation, flips), which suit diffraction patterns but turn
a 6 into a 9, and one with ``"upright"`` (small rotations, no flips) and
early stopping. The monitors show at once which run is not helping: its
validation score peaks after the first epoch and then falls while its loss
keeps falling.
"""

# %%
# Data: unlabelled training images, 300 labelled validation images
# ------------------------------------------------------------------
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits

import contrastlearn as cl
from contrastlearn.monitor import history_frame, knn_score

digits = load_digits()
X, X_val = digits.images[:1400], digits.images[1400:1700]
y_val = digits.target[1400:1700]

# The k-NN score the pretrainers are judged by, on raw pixels: the baseline.
pixels = knn_score(X_val.reshape(len(X_val), -1), y_val)
print(f"raw pixels, 10-NN accuracy on eval_set: {pixels:.3f}")

# %%
# Two runs, the monitors on
# -------------------------
# ``valid_knn`` is the cross-validated 10-nearest-neighbour accuracy on the
# validation embedding; ``rankme``, ``alignment`` and ``uniformity`` need no
# labels and are recorded on every fit.
runs = {}
for preset, extra in [
    ("isotropic", {}),
    ("upright", {"early_stopping": True, "n_iter_no_change": 4}),
]:
    clr = cl.CLR(augment=preset, max_epochs=15, random_state=0, **extra)
    runs[preset] = clr.fit(X, eval_set=(X_val, y_val))
    print(
        f"{preset:>9}: {len(clr.history_)} epochs, best valid_knn "
        f"{clr.best_validation_score_:.3f} after epoch {clr.best_epoch_}, last "
        f"{clr.history_[-1, 'valid_knn']:.3f}"
    )

# %%
# The history as a table
# ----------------------
print(
    history_frame(runs["upright"])[
        ["train_loss", "valid_knn", "rankme", "alignment", "uniformity"]
    ].round(3)
)

# %%
# The history as a figure
# -----------------------
# One row per run; the dashed line in the k-NN panel is raw pixels (a strong
# baseline on 8x8 digits for a nearest-neighbour vote). Both losses fall; the
# isotropic run's k-NN score falls too, the upright run's rises to the
# pixels' level, and early stopping keeps its best epoch. Its rank keeps
# rising and alignment / uniformity level off: no collapse.
fig, axes = plt.subplots(2, 4, figsize=(13, 5.5), layout="constrained")
for row, (preset, clr) in zip(axes, runs.items()):
    cl.plotting.plot_history(clr, axes=row)
    row[1].axhline(pixels, color="k", linestyle="--", linewidth=1, label="raw pixels")
    row[1].legend(fontsize=7)
    row[0].set_ylabel(f'augment="{preset}"')
plt.show()
