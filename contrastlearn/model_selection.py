"""The CLR/CPLR mode x temperature study as one call."""

import time

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.metrics import precision_recall_fscore_support
from sklearn.model_selection import train_test_split

from .clr import CLR, CPLR
from .evaluation import LinearProbe, overlap_score

__all__ = ["projection_grid_search", "CONFIGURATIONS"]

#: The four configurations of the reference study: (Type, Mode, estimator parameters).
CONFIGURATIONS = {
    "C-C": ("CLR", "Cartesian ⟷ Cartesian", CLR, {"view": "cartesian"}),
    "P-P": ("CLR", "Polar ⟷ Polar", CLR, {"view": "polar"}),
    "P-C": ("CPLR", "Polar ⟷ Cartesian", CPLR, {"mode": "polar-cartesian"}),
    "C-P": ("CPLR", "Cartesian ⟷ Polar", CPLR, {"mode": "cartesian-polar"}),
}


def _scores(train_embedding, test_embedding, Y_train, Y_test, n_neighbors):
    predicted = LinearProbe().fit(train_embedding, Y_train).predict(test_embedding)
    precision, recall, f1, _ = precision_recall_fscore_support(
        Y_test, predicted, average="macro", zero_division=0)
    return {"F1": f1, "Precision": precision, "Recall": recall,
            "Overlap": overlap_score(test_embedding, Y_test, n_neighbors=n_neighbors)}


def projection_grid_search(X, Y, *, configurations=("C-C", "P-P", "P-C", "C-P"),
                           temperatures=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
                           test_size=0.25, n_neighbors=10, pca_baseline=True,
                           random_state=0, verbose=0, **params):
    """Run the CLR/CPLR representation x temperature grid and score every model.

    For every configuration and temperature a pretrainer is fitted on the
    training images (labels unused), then its embeddings are scored as in
    Zimmermann et al. (2023): a :class:`~contrastlearn.evaluation.LinearProbe`
    trained on the training labels gives macro F1, precision and recall on the
    held-out images, and :func:`~contrastlearn.evaluation.overlap_score` rates
    the held-out embedding's neighbourhoods.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, C, H, W)
        Images (in-memory or lazy, e.g. from :func:`contrastlearn.datasets.load_cxi`;
        the training and test subsets are read into memory).
    Y : array-like of shape (n, n_labels) or (n,)
        Multi-hot labels (or classes), used only for scoring.
    configurations : sequence of {"C-C", "P-P", "P-C", "C-P"}
        Which branch representations to try: CLR on cartesian (C-C) or polar
        (P-P) images, CPLR with branch 1 polar (P-C) or cartesian (C-P).
    temperatures : sequence of float
        NT-Xent temperatures to try.
    test_size : float, default=0.25
        Fraction of images held out for scoring.
    n_neighbors : int, default=10
        Neighbours for the overlap score.
    pca_baseline : bool, default=True
        Add a row for PCA scores of the pixels (as many components as the
        pretrainers' embedding, at most the number of training images).
    random_state : int, default=0
        Seeds the split and every pretrainer.
    verbose : int, default=0
        1 prints one line per fitted model; 2 also each model's epoch table.
    **params
        Passed to every pretrainer (``max_epochs``, ``batch_size``, ``backbone``,
        ``augment``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns Type, Mode, Temperature, F1, Precision, Recall, Overlap,
        Fit seconds; one row per model, sorted by Type, Mode and Temperature.
        ``.sort_values("F1", ascending=False)`` ranks them.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.model_selection import projection_grid_search
    >>> digits = load_digits()
    >>> table = projection_grid_search(digits.images[:300], digits.target[:300],
    ...                                configurations=["C-C", "P-C"], temperatures=[0.1],
    ...                                max_epochs=1, batch_size=64)
    >>> list(table["Type"]), list(table.columns[:4])
    (['CLR', 'CPLR', 'PCA'], ['Type', 'Mode', 'Temperature', 'F1'])
    """
    unknown = [c for c in configurations if c not in CONFIGURATIONS]
    if unknown:
        raise ValueError(f"configurations must be among {list(CONFIGURATIONS)}; got {unknown}.")
    Y = np.asarray(Y)
    if len(Y) != len(X):
        raise ValueError(f"Y has {len(Y)} rows but X has {len(X)} images.")
    train, test = train_test_split(np.arange(len(X)), test_size=test_size,
                                   random_state=random_state)
    train, test = np.sort(train), np.sort(test)
    X_train, X_test = np.asarray(X[train]), np.asarray(X[test])
    rows = []
    for key in configurations:
        kind, mode, estimator_class, representation = CONFIGURATIONS[key]
        for temperature in temperatures:
            start = time.perf_counter()
            model = estimator_class(temperature=temperature, random_state=random_state,
                                    verbose=max(verbose - 1, 0), **representation,
                                    **params).fit(X_train)
            seconds = time.perf_counter() - start
            row = {"Type": kind, "Mode": mode, "Temperature": temperature,
                   **_scores(model.transform(X_train), model.transform(X_test),
                             Y[train], Y[test], n_neighbors),
                   "Fit seconds": seconds}
            rows.append(row)
            if verbose:
                print(f"{kind:5} {mode:24} T={temperature:<5} F1={row['F1']:.3f} "
                      f"overlap={row['Overlap']:.3f} ({seconds:.0f} s)", flush=True)
    if pca_baseline:
        n_components = min(model._n_features_out if rows else 64, len(train) - 1,
                           int(np.prod(X_train.shape[1:])))
        start = time.perf_counter()
        pca = PCA(n_components, random_state=random_state).fit(X_train.reshape(len(train), -1))
        seconds = time.perf_counter() - start
        rows.append({"Type": "PCA", "Mode": f"{n_components} components", "Temperature": np.nan,
                     **_scores(pca.transform(X_train.reshape(len(train), -1)),
                               pca.transform(X_test.reshape(len(test), -1)),
                               Y[train], Y[test], n_neighbors),
                     "Fit seconds": seconds})
    return (pd.DataFrame(rows).sort_values(["Type", "Mode", "Temperature"], kind="stable")
            .reset_index(drop=True))
