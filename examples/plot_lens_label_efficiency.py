"""
==================================================================
Self-supervised pretraining with few labels: strong-lens finding
==================================================================

Astronomers have thousands of unlabelled survey cut-outs and a few hundred
labelled strong gravitational lenses. Here :class:`~contrastlearn.DINO` and
:class:`~contrastlearn.SimSiam` pretrain on all cut-outs without labels; a
linear head is then trained on a few labels and compared with the same
network trained from scratch on the same labels, at 300 labels and with every
label of the training pool.

The images are simulated with lenstronomy (``pip install
"contrastlearn[astro]"``): an SIE + shear lens with a Sérsic source and lens
galaxy, DES-like PSF, sky and Poisson noise; the non-lenses are galaxies
without a lensed source.
"""

# %%
# Simulated g, r, i cut-outs
# --------------------------
import matplotlib.pyplot as plt
import numpy as np

import contrastlearn as cl
from contrastlearn.model_selection import label_efficiency

X, y = cl.datasets.make_lenses(800, image_size=32, random_state=0)
print(X.shape, "lenses:", int(y.sum()))


def to_rgb(image):
    rgb = np.arcsinh(np.clip(image[::-1].transpose(1, 2, 0), 0, None) * 2)  # i, r, g -> RGB
    return rgb / rgb.max()


fig, axes = plt.subplots(2, 6, figsize=(9, 3.2))
for row, label in enumerate([1, 0]):
    for ax, i in zip(axes[row], np.flatnonzero(y == label)[:6]):
        ax.imshow(to_rgb(X[i]))
        ax.axis("off")
    axes[row, 0].set_title("lenses" if label else "non-lenses", loc="left", fontsize=9)

# %%
# Pretrain, then train on few labels
# ----------------------------------
# Epochs are few so that this runs in seconds on a CPU; see
# ``benchmarks/lens_label_efficiency.py`` for a longer study (and use a ViT,
# ``backbone="vit_small_p8"``, on a GPU as the reference study did).
pretrainers = {
    "DINO": cl.DINO(
        n_prototypes=512,
        projection_dims=(256, 256, 64),
        n_local_crops=2,
        max_epochs=5,
        batch_size=64,
    ),
    "SimSiam": cl.SimSiam(max_epochs=5, batch_size=64),
}
table = label_efficiency(
    X, y, pretrainers, n_labels=[300, None], max_epochs=15, batch_size=32, random_state=0
)
print(table.round(3).to_string(index=False))

# %%
# Accuracy against the number of labels
# -------------------------------------
fig, ax = plt.subplots(figsize=(5, 3.5))
for method, rows in table.groupby("Method"):
    ax.plot(rows["Labels"], rows["Accuracy"], marker="o", label=method)
ax.set_xscale("log")
ax.set_xlabel("labelled training images")
ax.set_ylabel("test accuracy")
ax.legend()
plt.tight_layout()
plt.show()
