"""The CLR/CPLR mode x temperature study as one call."""

import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import train_test_split

from .clr import CLR, CPLR
from .evaluation import LinearProbe, overlap_score
from .finetune import FineTunedClassifier

__all__ = ["projection_grid_search", "label_efficiency", "CONFIGURATIONS"]

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


def _backbone_name(pretrainer):
    """The backbone's name, or its class when it was chosen automatically or passed as a module."""
    backbone = pretrainer.backbone
    if isinstance(backbone, str) and backbone != "auto":
        return backbone
    return type(pretrainer.net_.module_.backbone).__name__


def label_efficiency(X, y, pretrainers, *, n_labels=(300, 600, 1200, None), test_size=0.25,
                     supervised_backbone="auto", fine_tune=False, random_state=0, verbose=0,
                     **classifier_params):
    """Accuracy and ROC AUC of pretrained models against supervised training, by number of labels.

    The images are split (stratified) into a training pool and a test set.
    Every pretrainer is fitted once on all training-pool images without
    labels. For each number of labels, a stratified subset of the pool is
    labelled and a :class:`~contrastlearn.FineTunedClassifier` is trained on
    it for every pretrainer, and from scratch (``pretrainer=None`` with
    ``supervised_backbone``) as the supervised baseline; all are scored on
    the same test set.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, C, H, W)
    y : array-like of shape (n,)
        Class labels.
    pretrainers : dict of {str: pretrainer}
        Unfitted pretrainers by method name, e.g.
        ``{"DINO": cl.DINO(backbone="vit_small_p8"), "SimSiam": cl.SimSiam()}``.
    n_labels : sequence of int or None, default=(300, 600, 1200, None)
        Labelled training images; None means the whole pool. Sizes larger
        than the pool are skipped.
    test_size : float, default=0.25
    supervised_backbone : str or torch.nn.Module, default="auto"
        Backbone of the supervised baseline; None leaves the baseline out.
    fine_tune : bool, default=False
        Fine-tune the pretrained backbones (else train a linear head on them).
    random_state : int, default=0
        Seeds the split, the labelled subsets, the pretrainers and classifiers.
    verbose : int, default=0
        1 prints a line per trained classifier.
    **classifier_params
        Passed to every :class:`~contrastlearn.FineTunedClassifier`
        (``max_epochs``, ``lr``, ``batch_size``, ``augment``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns Method, Backbone, Labels, Accuracy, ROC AUC (one-vs-rest for
        more than two classes), one row per method and label count.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> digits = load_digits()
    >>> table = cl.model_selection.label_efficiency(
    ...     digits.images[:400], digits.target[:400],
    ...     {"SimSiam": cl.SimSiam(max_epochs=1, batch_size=64)}, n_labels=[100, None],
    ...     max_epochs=2)
    >>> table[["Method", "Labels"]].values.tolist()
    [['SimSiam', 100], ['SimSiam', 300], ['supervised', 100], ['supervised', 300]]
    """
    y = np.asarray(y)
    if len(y) != len(X):
        raise ValueError(f"y has {len(y)} labels but X has {len(X)} images.")
    if not isinstance(pretrainers, dict) or not pretrainers:
        raise ValueError("pretrainers must be a non-empty dict {method name: pretrainer}.")
    pool, test = train_test_split(np.arange(len(X)), test_size=test_size, stratify=y,
                                  random_state=random_state)
    pool, test = np.sort(pool), np.sort(test)
    X_pool, X_test, y_pool, y_test = np.asarray(X[pool]), np.asarray(X[test]), y[pool], y[test]
    fitted = {name: clone(model).set_params(random_state=random_state).fit(X_pool)
              for name, model in pretrainers.items()}
    rows = []
    for size in n_labels:
        size = len(pool) if size is None else int(size)
        if size > len(pool):
            continue
        labelled = (np.arange(len(pool)) if size == len(pool) else
                    np.sort(train_test_split(np.arange(len(pool)), train_size=size,
                                             stratify=y_pool, random_state=random_state)[0]))
        candidates = [(name, FrozenEstimator(model)) for name, model in fitted.items()]
        if supervised_backbone is not None:
            candidates.append(("supervised", None))
        for method, pretrained in candidates:
            classifier = FineTunedClassifier(
                pretrained, fine_tune=fine_tune, backbone=supervised_backbone,
                random_state=random_state, **classifier_params,
            ).fit(X_pool[labelled], y_pool[labelled])
            backbone = _backbone_name(classifier.pretrainer_)
            proba = classifier.predict_proba(X_test)
            auc = (roc_auc_score(y_test, proba[:, 1]) if proba.shape[1] == 2 else
                   roc_auc_score(y_test, proba, multi_class="ovr", labels=classifier.classes_))
            rows.append({"Method": method, "Backbone": backbone, "Labels": size,
                         "Accuracy": accuracy_score(y_test, classifier.predict(X_test)),
                         "ROC AUC": auc})
            if verbose:
                print(f"{method:10} {backbone:14} {size:6} labels: accuracy "
                      f"{rows[-1]['Accuracy']:.3f}, ROC AUC {auc:.3f}", flush=True)
    return (pd.DataFrame(rows).sort_values(["Method", "Labels"], kind="stable")
            .reset_index(drop=True))
