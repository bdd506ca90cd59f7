"""
===========================================================
Contrastive projection learning on diffraction patterns
===========================================================

Single-shot X-ray diffraction of nanoparticles gives millions of patterns and
few labels. Zimmermann et al. (2023) contrasted a pattern with its **polar
projection** (CPLR) and compared it with plain contrastive learning (CLR) and
with PCA, KernelPCA, factor analysis, a random embedding and a β-VAE. This
example runs their study in small on simulated patterns, **under their
protocol and with their names**: a perceptron per label, 5-fold
cross-validated on all patterns, and the overlap of the labels of 1 % nearest
neighbours. It then goes the way of the real data set (CXIDB entry 94) from a
file in its layout to a fitted model, and ends with their Figure 3: query
patterns beside their nearest neighbours.
"""

# %%
# Simulated patterns with multi-label truth
# -----------------------------------------
# :func:`~contrastlearn.datasets.make_diffraction` computes far-field
# intensities of spheres, spheroids, rods, dimers and core-shell particles and
# puts them through a detector with a central hole, a gap and photon noise.
# The study kept no empty shots; :func:`~contrastlearn.demo.diffraction_shots`
# drops them the same way.
import os
import tempfile

import h5py
import matplotlib.pyplot as plt
import numpy as np
import torch

import contrastlearn as cl
from contrastlearn.demo import DIFFRACTION_AUGMENT, diffraction_shots
from contrastlearn.model_selection import projection_grid_search
from contrastlearn.projection import REFERENCE_PROJECTION_SETTINGS, PolarProjection

X, Y, names = diffraction_shots(600, image_size=32, random_state=0)
print(len(X), "patterns;", dict(zip(names, Y.sum(axis=0))))

fig, axes = plt.subplots(1, 6, figsize=(10, 2))
for ax, i in zip(axes, range(6)):
    ax.imshow(np.log1p(X[i]), cmap="magma")
    ax.set_title(", ".join(n for n, y in zip(names, Y[i]) if y), fontsize=7)
    ax.axis("off")

# %%
# The two representations, and their two names
# ---------------------------------------------
# contrastlearn calls the recorded detector image ``"cartesian"`` and its
# unwrapping onto a radius x angle grid ``"polar"``. The study, for which
# diffraction is recorded with polar symmetry, calls the recorded image
# "Polar" and the unwrapping "Cartesian": ``CPLR(representations="cartesian-polar")`` is
# its "Polar ⟷ Cartesian". Its projection blanks a blurred central hole and
# keeps radii 0.30-0.98 of the half-width and azimuths 58°-302°.
image = np.log1p(X[:1])
full = cl.projection.to_polar(image)
reference = PolarProjection(**REFERENCE_PROJECTION_SETTINGS)
cropped = reference(torch.from_numpy(image)[:, None]).numpy()[:, 0]
fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.6))
for ax, picture, title in zip(
    axes,
    [image[0], full[0], cropped[0]],
    [
        "recorded: 'cartesian'\n(study: 'Polar')",
        "to_polar: 'polar'\n(study: 'Cartesian')",
        "the study's crop\n(REFERENCE_PROJECTION_SETTINGS)",
    ],
):
    ax.imshow(picture, cmap="magma", aspect="auto")
    ax.set_title(title, fontsize=8)
    ax.axis("off")

# %%
# The configuration x temperature grid under the study's protocol
# ---------------------------------------------------------------
# Every model is fitted without labels on all patterns, then scored by
# :func:`~contrastlearn.evaluation.linear_evaluation` and the overlap score;
# the baselines are fitted on min-max scaled pixels. Epochs are few here so
# that the example runs in seconds: ``benchmarks/diffraction_grid.py`` runs
# all eight temperatures and all baselines at 64x64 (its tables are in
# ``benchmarks/results/``).
table = projection_grid_search(
    X,
    Y,
    temperatures=[0.1, 0.5],
    baselines=["PCA", "Random"],
    max_epochs=3,
    batch_size=64,
    log_intensity=True,
    augment=DIFFRACTION_AUGMENT,
    random_state=0,
)
columns = ["Type", "Reference mode", "Mode", "Temperature", "F1", "Accuracy", "Overlap"]
print(table.sort_values("F1", ascending=False)[columns].round(3).to_string(index=False))

# %%
# From a CXIDB-94 file to a fitted model
# --------------------------------------
# The real data set keeps one shot per HDF5 entry, with 11 label flags.
# Here a small file in that layout stands in for it: a few simulated patterns,
# flagged "Round" or "Empty" now and then, which the study left out.
folder = tempfile.mkdtemp()
path = os.path.join(folder, "helium_like.cxi")
rng = np.random.default_rng(0)
with h5py.File(path, "w") as f:
    for i, pattern in enumerate(X[:80], start=1):
        f[f"entry_{i}/instrument_1/detector_1/data"] = pattern
        flags = np.zeros(11, np.int64)
        flags[rng.choice([0, 1, 10], p=[0.8, 0.1, 0.1])] = 1
        f[f"entry_{i}/note_1/data"] = flags

shots = cl.datasets.load_cxi(path, exclude_labels=["Round", "Empty"])
print(shots, shots.label_names[:3], shots.shots.head(3), sep="\n")
images, projections = cl.datasets.preprocess_diffraction(shots, output_size=32)
cplr = cl.CPLR(
    representations="cartesian-polar",
    project_first=True,
    normalize="minmax",
    augment="cplr-reference",
    max_epochs=2,
    batch_size=32,
    random_state=0,
)
print(cplr.fit(images, polar_images=projections).transform(images).shape)

# %%
# Nearest neighbours in embedding space
# -------------------------------------
# Each row: a query pattern, then its five nearest neighbours for CPLR, CLR
# and PCA; the label overlap with the query is written on each neighbour.
common = dict(
    temperature=0.1,
    max_epochs=3,
    batch_size=64,
    log_intensity=True,
    augment=DIFFRACTION_AUGMENT,
    random_state=0,
)
pca = cl.baselines.baseline_embeddings("PCA", X, [X], n_components=32, log_intensity=True)[0]
embeddings = {
    "CPLR": cl.CPLR(representations="cartesian-polar", **common).fit_transform(X),
    "CLR": cl.CLR(**common).fit_transform(X),
    "PCA": pca.probe,
}
fig = cl.plotting.plot_neighbors(
    X, embeddings, queries=[3, 11], n_neighbors=5, labels=Y, label_names=names, log_scale=True
)
plt.show()
