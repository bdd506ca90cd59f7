"""
=====================================
Contrastive pretraining on digits
=====================================

:class:`~contrastlearn.CLR` learns an embedding of sklearn's 8x8 handwritten
digits without looking at a single label. We then check what it learnt the
way self-supervised methods are judged: a linear probe trained on 10% of the
labels, next to the same probe on raw pixels, and a 2-D map of the embedding
coloured by the (unused) class.
"""

# %%
# Pretrain without labels
# -----------------------
# Digits must not be flipped or turned upside down (a 6 would become a 9), so
# the augmentations are mild crops, small rotations and a little noise.
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.manifold import TSNE

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy

digits = load_digits()
images, labels = digits.images, digits.target

augment = cl.Augment(
    crop_scale=(0.6, 1.0), rotation=15, hflip=0, vflip=0, blur_prob=0, noise_std=0.1
)
clr = cl.CLR(temperature=0.5, augment=augment, max_epochs=30, random_state=0)
embedding = clr.fit_transform(images)
print(embedding.shape)

# %%
# The loss falls epoch by epoch; ``history_`` keeps it.
plt.figure(figsize=(4, 3))
plt.plot(clr.history_[:, "epoch"], clr.history_[:, "train_loss"], marker="o")
plt.xlabel("epoch")
plt.ylabel("NT-Xent loss")
plt.tight_layout()

# %%
# A linear probe with 10% of the labels
# -------------------------------------
for name, features in [("CLR embedding", embedding), ("raw pixels", digits.data)]:
    accuracy = few_label_accuracy(features, labels, label_fraction=0.1)
    print(f"{name:>14}: {accuracy:.3f}")

# %%
# A map of the embedding
# ----------------------
# t-SNE of the 256-d embedding; colours are the digit classes CLR never saw.
points = TSNE(random_state=0, init="pca").fit_transform(embedding)
fig, ax = plt.subplots(figsize=(6, 5))
scatter = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6)
ax.legend(*scatter.legend_elements(), title="digit", loc="best", fontsize=7)
ax.set_title("CLR embedding of digits (t-SNE)")
ax.set_xticks([])
ax.set_yticks([])
plt.show()
