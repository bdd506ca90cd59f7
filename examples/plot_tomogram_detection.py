"""
=====================================================
Finding particles in a cryo-electron tomogram
=====================================================

Macromolecules in a cryo-electron tomogram are faint, noisy and smeared by
the missing wedge. Following the SHREC 2021 study, we cut the slices of a
simulated tomogram into crops, keep the crops an edge filter says hold
structure, embed them with :class:`~contrastlearn.CLR` (no labels) and split
the embeddings into particle and background with
:class:`~contrastlearn.ParticleDetector` (k-means). No labels are used: the
clusters are called particle or background by a label-free contrast score of
their crops (:func:`~contrastlearn.detection.contrast_score`, the central
minus the whole-crop mean intensity). The same detector on raw pixels and on
PCA scores is the baseline.
"""

# %%
# A simulated tomogram
# --------------------
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle
from sklearn.decomposition import PCA
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import contrastlearn as cl
from contrastlearn.datasets import EdgeFrameFilter, extract_crops, make_tomogram

volume, particles = make_tomogram(shape=(24, 96, 96), n_particles=20, random_state=0)
print(particles.head())

# %%
# Crops, labels and the edge filter
# ---------------------------------
# A crop's label says whether it cuts a particle (from the simulation's ground
# truth); labels only score the detectors. The edge filter keeps mostly
# particle crops, so "the largest cluster is background" would misfire here;
# the contrast score orients the clusters instead.
crops, labels, positions = extract_crops(volume, particles, crop_size=16, stride=8)
keep = EdgeFrameFilter(threshold="auto").fit(crops).get_support(crops)
X, y, where = crops[keep], labels[keep], positions[keep].reset_index(drop=True)
print(f"{len(crops)} crops -> {len(X)} kept by the edge filter, {y.sum()} with a particle")
contrast = cl.detection.contrast_score(X)

# %%
# Three detectors
# ---------------
flatten = FunctionTransformer(lambda a: a.reshape(len(a), -1))
detectors = {
    "CLR": make_pipeline(
        cl.CLR(
            max_epochs=5,
            normalize="image",
            random_state=0,
            augment=cl.Augment(crop_scale=(0.6, 1.0), noise_std=0.1),
        ),
        cl.ParticleDetector(background_cluster="low_contrast", random_state=0),
    ),
    "raw pixels": make_pipeline(
        flatten, cl.ParticleDetector(background_cluster="low_contrast", random_state=0)
    ),
    "PCA": make_pipeline(
        flatten,
        PCA(16, random_state=0),
        cl.ParticleDetector(background_cluster="low_contrast", random_state=0),
    ),
}
reports = {}
for name, pipeline in detectors.items():
    pipeline.fit(X, particledetector__contrast=contrast)  # no labels
    reports[name] = pipeline[-1].report(pipeline[:-1].transform(X), y)
print(pd.DataFrame(reports).T.round(3))

# %%
# Detections on one slice
# -----------------------
# Green: particle found; red: false alarm; yellow: particle missed.
slice_index = int(where["slice"].value_counts().idxmax())
predicted = detectors["CLR"].predict(X)
fig, ax = plt.subplots(figsize=(5, 5))
ax.imshow(volume[slice_index], cmap="gray")
colours = {(1, 1): "lime", (0, 1): "red", (1, 0): "yellow"}
for i in np.flatnonzero(where["slice"] == slice_index):
    colour = colours.get((int(y[i]), int(predicted[i])))
    if colour:
        ax.add_patch(
            Rectangle(
                (where["col"][i] - 0.5, where["row"][i] - 0.5),
                16,
                16,
                fill=False,
                edgecolor=colour,
                linewidth=1,
            )
        )
ax.set_title(f"slice {slice_index}: CLR + ParticleDetector")
ax.axis("off")
plt.show()
