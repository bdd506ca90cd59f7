"""
===========================================================
Dead and hot detector pixels: the ``nan_policy``
===========================================================

Real detectors have dead pixels, hot pixels and cosmic-ray hits that the
readout software often writes as NaN or infinity. A pretrainer refuses such
pixels by default and says where they are; ``nan_policy="replace"`` sets
them to 0 (a pixel that counted nothing) and ``nan_policy="mask"`` leaves
them out of the normalisation and feeds them to the network at the
normalised mean, so they carry no signal. This example corrupts simulated
diffraction patterns and compares the embeddings learnt under each policy
with those learnt from the clean patterns.
"""

# %%
# Patterns with a broken detector
# -------------------------------
# Every image shares the detector's dead pixels (a dead column and 2 % of
# scattered pixels, NaN); one in ten images also has a cosmic-ray hit (+inf).
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split

import contrastlearn as cl
from contrastlearn.datasets import make_diffraction

X, Y, names = make_diffraction(800, image_size=32, random_state=0)
rng = np.random.default_rng(0)
dead = rng.random((32, 32)) < 0.02
dead[:, 5] = True
broken = X.astype(np.float32)
broken[:, dead] = np.nan
hits = rng.choice(len(X), size=len(X) // 10, replace=False)
broken[hits, rng.integers(0, 32, len(hits)), rng.integers(0, 32, len(hits))] = np.inf

# %%
# The default refuses them and says where they are
try:
    cl.CLR(max_epochs=1).fit(broken)
except ValueError as error:
    print(error)

# %%
# Three policies, one protocol
# ----------------------------
# Each pretrainer learns without labels from the training patterns; a
# multi-label linear probe on the frozen embeddings of the held-out patterns
# scores it (macro F1), together with the label overlap of nearest neighbours.
train, test = train_test_split(np.arange(len(X)), test_size=0.25, random_state=0)
common = dict(
    max_epochs=8,
    batch_size=64,
    log_intensity=True,
    random_state=0,
    augment=cl.Augment(crop_scale=(0.8, 1.0), blur_prob=0.0),
)
runs = {"clean patterns": (X, "raise"), "replace": (broken, "replace"), "mask": (broken, "mask")}
rows, models = [], {}
for name, (images, policy) in runs.items():
    clr = cl.CLR(nan_policy=policy, **common).fit(images[train])
    emb_train, emb_test = clr.transform(images[train]), clr.transform(images[test])
    probe = cl.LinearProbe().fit(emb_train, Y[train])
    rows.append(
        {
            "data": name,
            "probe F1": probe.score(emb_test, Y[test]),
            "overlap": cl.overlap_score(emb_test, Y[test]),
        }
    )
    models[name] = clr
print(pd.DataFrame(rows).round(3).to_string(index=False))

# %%
# What the network sees
# ---------------------
# After preprocessing, a replaced pixel takes the value of a zero count, like
# the dark background it may sit in (the dead column disappears); a masked
# pixel takes the normalised mean, 0, and stays visible as neither signal
# nor background.
image = torch.as_tensor(broken[hits[:1], None])
fig, axes = plt.subplots(1, 3, figsize=(8, 2.8))
shown = {
    "clean (log)": np.log1p(X[hits[0]]),
    "replace": models["replace"].net_.module_.preprocess(image)[0, 0],
    "mask": models["mask"].net_.module_.preprocess(image)[0, 0],
}
for ax, (title, picture) in zip(axes, shown.items()):
    ax.imshow(np.asarray(picture), cmap="magma")
    ax.set_title(title)
    ax.axis("off")
plt.show()
