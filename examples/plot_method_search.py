"""
=========================================
Choosing the method with ``GridSearchCV``
=========================================

Every pretrainer in contrastlearn is an sklearn transformer, so the method
itself is a hyper-parameter: put it in a pipeline in front of a linear
probe and let :class:`~sklearn.model_selection.GridSearchCV` pick it. Here
CLR (negatives), BYOL (a momentum target), VICReg (variance and covariance
terms) and NNCLR (nearest neighbours as positives) compete on sklearn's
8x8 digits, with the labels used only to score the probe.
"""

# %%
# One pipeline, the method as its first step
# ------------------------------------------
import time

import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

import contrastlearn as cl

digits = load_digits()
X, y = digits.images[:400], digits.target[:400]

common = dict(augment="upright", max_epochs=15, batch_size=128, random_state=0)
candidates = [cl.CLR(**common), cl.BYOL(**common), cl.VICReg(**common), cl.NNCLR(**common)]
pipeline = Pipeline([("ssl", cl.CLR(**common)), ("probe", cl.LinearProbe())])

start = time.perf_counter()
search = GridSearchCV(pipeline, {"ssl": candidates}, cv=2).fit(X, y)
print(f"{len(candidates) * 2 + 1} fits in {time.perf_counter() - start:.0f} s")
print("best:", type(search.best_params_["ssl"]).__name__)

# %%
# The cross-validated probe accuracy of each method
# -------------------------------------------------
# ``cv_results_`` is an ordinary sklearn table: the mean and spread over the
# two folds, and the seconds each fit took. The same probe on raw pixels is
# the floor every method has to clear. With half the labels for training it
# is a high one on digits: when this was written, at 15 epochs on 400 images,
# CLR (0.92) and VICReg (0.91) were level with it and BYOL and NNCLR below.
# The search picks the best method, not one that beats pixels; with 10
# labels per class and 30 epochs on all 1,797 digits each of these four
# clears it by 0.05-0.08 (``benchmarks/results/methods_cpu.md``).
pixels = cross_val_score(cl.LinearProbe(), X.reshape(len(X), -1), y, cv=2)
results = pd.DataFrame(
    {
        "method": [type(p["ssl"]).__name__ for p in search.cv_results_["params"]],
        "accuracy": search.cv_results_["mean_test_score"],
        "sd": search.cv_results_["std_test_score"],
        "fit s": search.cv_results_["mean_fit_time"],
    }
)
results.loc[len(results)] = ["raw pixels", pixels.mean(), pixels.std(), 0.0]
print(results.round(3).to_string(index=False))

fig, ax = plt.subplots(figsize=(5, 3))
ax.barh(results["method"], results["accuracy"], xerr=results["sd"], color="tab:blue")
ax.set_xlim(0.5, 1.0)
ax.set_xlabel("probe accuracy (2-fold CV)")
fig.tight_layout()
plt.show()
