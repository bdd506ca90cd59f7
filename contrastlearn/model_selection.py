"""The studies we follow as one call: the CLR/CPLR configuration x temperature grid, label
efficiency."""

import contextlib
import numbers
import os
import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted

from ._base import BasePretrainer
from ._validation import BACKBONE, BOOL, POSITIVE, RANDOM_STATE, ints
from .baselines import BASELINES, baseline_embeddings
from .clr import CLR, CPLR, REFERENCE_NAMES
from .evaluation import LinearProbe, linear_evaluation, overlap_score
from .evaluation._labels import FRACTION, LABELS, NEIGHBORS, _is_names, _label_indicator
from .finetune import FineTunedClassifier
from .validation import ArrayLike, InstanceOf, Interval, Options, Predicate, validate_params

__all__ = [
    "projection_grid_search",
    "label_efficiency",
    "dask_backend",
    "CONFIGURATIONS",
    "PROTOCOLS",
    "REFERENCE_TEMPERATURES",
]

#: The four configurations of the reference study: (Type, Mode, estimator parameters).
#: Modes are named as in contrastlearn; ``clr.REFERENCE_NAMES`` gives the study's names.
CONFIGURATIONS = {
    "C-C": ("CLR", "Cartesian ⟷ Cartesian", CLR, {"representation": "cartesian"}),
    "P-P": ("CLR", "Polar ⟷ Polar", CLR, {"representation": "polar"}),
    "P-C": ("CPLR", "Polar ⟷ Cartesian", CPLR, {"representations": "polar-cartesian"}),
    "C-P": ("CPLR", "Cartesian ⟷ Polar", CPLR, {"representations": "cartesian-polar"}),
}

#: The temperatures of the reference study's grid (``train_all.sh``).
REFERENCE_TEMPERATURES = (0.01, 0.02, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0)

#: How :func:`projection_grid_search` fits and scores.
PROTOCOLS = ("reference", "split")

#: The baselines the grid adds by default (UMAP needs ``umap-learn``).
DEFAULT_BASELINES = tuple(name for name in BASELINES if name != "UMAP")


def _names_among(known):
    """A sequence of names, each one of ``known``."""
    return Predicate(
        lambda v: _is_names(v) and all(isinstance(n, str) and n in known for n in v),
        f"a sequence of names from {', '.join(repr(n) for n in known)}",
    )


def _is_pretrainers(value):
    return (
        isinstance(value, dict)
        and len(value) > 0
        and all(isinstance(m, (BasePretrainer, FrozenEstimator)) for m in value.values())
    )


def _is_label_counts(value):
    return _is_names(value) and all(n is None or ints(1).is_satisfied_by(n) for n in value)


def _reference_name(estimator_class, representation):
    return REFERENCE_NAMES[(estimator_class.__name__, next(iter(representation.values())))]


def _split_scores(probe, neighbors, metric, Y, n_neighbors):
    """Logistic probe trained on the first set, everything scored on the second."""
    (probe_train, probe_test), neighbors_test = probe, neighbors[1]
    Y_train, Y_test = Y
    predicted = LinearProbe().fit(probe_train, Y_train.astype(int)).predict(probe_test)
    scored = np.flatnonzero(Y_test.any(0))  # labels with no positive are skipped, not 0
    precision, recall, f1, _ = precision_recall_fscore_support(
        Y_test, predicted, labels=scored, average="macro", zero_division=0
    )
    accuracy = np.mean([(predicted[:, label] == Y_test[:, label]).mean() for label in scored])
    return {
        "F1": f1,
        "Precision": precision,
        "Recall": recall,
        "Accuracy": accuracy,
        "Overlap": overlap_score(neighbors_test, Y_test, n_neighbors, metric),
    }


def _reference_scores(probe, neighbors, metric, Y, n_neighbors, random_state):
    """The reference's per-label perceptron, 5-fold CV on all images, and overlap on all."""
    macro = linear_evaluation(probe[0], Y[0], random_state=random_state).loc["macro avg"]
    return {
        "F1": macro["f1"],
        "Precision": macro["precision"],
        "Recall": macro["recall"],
        "Accuracy": macro["accuracy"],
        "Overlap": overlap_score(neighbors[0], Y[0], n_neighbors, metric),
    }


@validate_params(
    {
        "X": ArrayLike(),
        "Y": ArrayLike(),
        "configurations": _names_among(list(CONFIGURATIONS)),
        "temperatures": Predicate(
            lambda v: _is_names(v) and all(POSITIVE.is_satisfied_by(t) for t in v),
            "a sequence of floats > 0",
        ),
        "protocol": Options(PROTOCOLS),
        "labels": LABELS,
        "n_neighbors": NEIGHBORS,
        "test_size": [FRACTION, ints(1)],
        "baselines": _names_among(BASELINES),
        "vae_params": [None, InstanceOf(dict, name="a dict of VAE parameters")],
        "random_state": RANDOM_STATE,
        "verbose": ints(0),
    }
)
def projection_grid_search(
    X,
    Y,
    *,
    configurations=("C-C", "P-P", "P-C", "C-P"),
    temperatures=REFERENCE_TEMPERATURES,
    protocol="reference",
    labels=None,
    n_neighbors=0.01,
    test_size=0.25,
    baselines=DEFAULT_BASELINES,
    vae_params=None,
    random_state=0,
    verbose=0,
    **params,
):
    """Run the CLR/CPLR representation x temperature grid and score every model and baseline.

    For every configuration and temperature a pretrainer is fitted without
    labels and its embeddings are scored as in Zimmermann et al. (2023) by
    a linear probe (macro F1, precision, recall, accuracy over the labels)
    and the :func:`~contrastlearn.evaluation.overlap_score` of their
    neighbourhoods. The baselines of the study are scored alike
    (:mod:`contrastlearn.baselines`). Two protocols:

    ``protocol="reference"`` (the study's): every pretrainer and baseline is
    fitted on all images; the probe is the per-label perceptron of
    :func:`~contrastlearn.evaluation.linear_evaluation`, 5-fold
    cross-validated on all images; the overlap is measured over all images.

    ``protocol="split"``: pretrainers and baselines are fitted on a training
    part; a :class:`~contrastlearn.evaluation.LinearProbe` (logistic
    regression) trained on its labels is scored on the held-out
    ``test_size``, whose neighbourhoods give the overlap.

    In both, neighbourhoods use the cosine distance for the contrastive
    embeddings and each baseline's own (euclidean for PCA, KernelPCA,
    factor analysis and the random embedding, ``1 - |corr|`` for "PCA
    (correlation)", the 2-Wasserstein distance for the VAE, whose probe runs
    on an Isomap of it); labels without a positive image are skipped.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, C, H, W)
        Images (in-memory or lazy, e.g. from :func:`contrastlearn.datasets.load_cxi`;
        the images used are read into memory).
    Y : array-like of shape (n, n_labels) or (n,)
        Multi-hot labels (or classes, one-hot encoded here), used only for
        scoring.
    configurations : sequence of {"C-C", "P-P", "P-C", "C-P"}
        Branch representations, in contrastlearn's names: CLR on recorded
        (C-C) or polar (P-P) images, CPLR with branch 1 polar (P-C) or
        cartesian (C-P). The table's "Reference mode" column gives the
        study's names (it calls the recorded image "Polar").
    temperatures : sequence of float, default=REFERENCE_TEMPERATURES
        NT-Xent temperatures to try (the study's eight by default).
    protocol : {"reference", "split"}, default="reference"
    labels : array-like of int, default=None
        Column indices of ``Y`` (classes for 1-D ``Y``) that are scored (the
        study's "relevant" labels); default all.
    n_neighbors : int or float, default=0.01
        Neighbours for the overlap score (a float: that fraction of the
        scored images; the study's 1 %).
    test_size : float, default=0.25
        Held-out fraction for ``protocol="split"``.
    baselines : sequence of str, default=DEFAULT_BASELINES
        Names from :data:`contrastlearn.baselines.BASELINES`, each fitted
        with as many components as the pretrainers' embedding has features
        (at most the number of images) on min-max scaled pixels (with the
        pretrainers' ``log_intensity``).
    vae_params : dict, default=None
        Parameters of the VAE baseline; by default it trains for the
        pretrainers' ``max_epochs`` on their ``device``.
    random_state : int, default=0
        Seeds the split, every pretrainer, baseline and probe.
    verbose : int, default=0
        1 prints one line per fitted model; 2 also each model's epoch table.
    **params
        Passed to every pretrainer (``max_epochs``, ``batch_size``, ``backbone``,
        ``augment``, ``optimizer``, ...).

    Returns
    -------
    pandas.DataFrame
        Columns Type, Mode, Reference mode, Temperature, F1, Precision,
        Recall, Accuracy, Overlap, Fit seconds; one row per model, then one
        per baseline. ``.sort_values("F1", ascending=False)`` ranks them.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from contrastlearn.model_selection import projection_grid_search
    >>> digits = load_digits()
    >>> table = projection_grid_search(digits.images[:300], digits.target[:300],
    ...                                configurations=["C-C", "P-C"], temperatures=[0.1],
    ...                                baselines=["PCA"], max_epochs=1, batch_size=64)
    >>> table[["Type", "Reference mode"]].values.tolist()
    [['CLR', 'Polar ⟷ Polar'], ['CPLR', 'Cartesian ⟷ Polar'], ['PCA', '']]
    """
    if len(Y) != len(X):
        raise ValueError(f"Y has {len(Y)} rows but X has {len(X)} images.")
    Y, _ = _label_indicator(Y, labels)
    Y = Y[:, Y.any(0)]  # a label that no image carries is skipped
    if protocol == "reference":
        X_fit = np.asarray(X)
        sets, Y_sets = [X_fit], [Y]
    else:
        train, test = (
            np.sort(part)
            for part in train_test_split(
                np.arange(len(X)), test_size=test_size, random_state=random_state
            )
        )
        X_fit = np.asarray(X[train])
        sets, Y_sets = [X_fit, np.asarray(X[test])], [Y[train], Y[test]]

    def scores(probe, neighbors, metric):
        if protocol == "reference":
            return _reference_scores(probe, neighbors, metric, Y_sets, n_neighbors, random_state)
        return _split_scores(probe, neighbors, metric, Y_sets, n_neighbors)

    def report(row):
        rows.append(row)
        if verbose:
            temperature = "" if np.isnan(row["Temperature"]) else f" T={row['Temperature']:<5}"
            print(
                f"{row['Type']:5} {row['Mode']:30}{temperature} F1={row['F1']:.3f} "
                f"overlap={row['Overlap']:.3f} ({row['Fit seconds']:.0f} s)",
                flush=True,
            )

    rows, n_features = [], 64
    for key in configurations:
        kind, mode, estimator_class, representation = CONFIGURATIONS[key]
        for temperature in temperatures:
            start = time.perf_counter()
            model = estimator_class(
                temperature=temperature,
                random_state=random_state,
                verbose=max(verbose - 1, 0),
                **representation,
                **params,
            ).fit(X_fit)
            seconds = time.perf_counter() - start
            n_features = model._n_features_out
            embeddings = [model.transform(images) for images in sets]
            report(
                {
                    "Type": kind,
                    "Mode": mode,
                    "Reference mode": _reference_name(estimator_class, representation),
                    "Temperature": temperature,
                    **scores(embeddings, embeddings, "cosine"),
                    "Fit seconds": seconds,
                }
            )
    vae_params = {key: params[key] for key in ("max_epochs", "device") if key in params} | (
        vae_params or {}
    )
    for name in baselines:
        start = time.perf_counter()
        embedded = baseline_embeddings(
            name,
            X_fit,
            sets,
            n_components=n_features,
            n_neighbors=n_neighbors,
            log_intensity=params.get("log_intensity", False),
            vae_params=vae_params,
            random_state=random_state,
        )
        seconds = time.perf_counter() - start
        report(
            {
                "Type": name,
                "Mode": embedded[0].description,
                "Reference mode": "",
                "Temperature": np.nan,
                **scores(
                    [e.probe for e in embedded], [e.neighbors for e in embedded], embedded[0].metric
                ),
                "Fit seconds": seconds,
            }
        )
    return pd.DataFrame(rows)


def _backbone_name(pretrainer):
    """The backbone's name, or its class when it was chosen automatically or passed as a module."""
    backbone = pretrainer.backbone
    if isinstance(backbone, str) and backbone != "auto":
        return backbone
    return type(pretrainer.net_.module_.backbone).__name__


def _pretrained(model, X_pool, random_state):
    """A fitted pretrainer: a FrozenEstimator's as it is, else a clone fitted on ``X_pool``."""
    if isinstance(model, FrozenEstimator):
        check_is_fitted(model.estimator, "net_")
        return model.estimator
    return clone(model).set_params(random_state=random_state).fit(X_pool)


@validate_params(
    {
        "X": ArrayLike(),
        "y": ArrayLike(),
        "pretrainers": Predicate(
            _is_pretrainers,
            "a non-empty dict {method name: contrastlearn pretrainer or FrozenEstimator of one}",
        ),
        "n_labels": Predicate(_is_label_counts, "a sequence of ints >= 1 or None"),
        "test_size": [FRACTION, ints(1)],
        "supervised_backbone": [None, *BACKBONE],
        "fine_tune": BOOL,
        "random_state": RANDOM_STATE,
        "verbose": ints(0),
    }
)
def label_efficiency(
    X,
    y,
    pretrainers,
    *,
    n_labels=(300, 600, 1200, None),
    test_size=0.25,
    supervised_backbone="auto",
    fine_tune=False,
    random_state=0,
    verbose=0,
    **classifier_params,
):
    """Accuracy and ROC AUC of pretrained models against supervised training, by number of labels.

    The images are split (stratified) into a training pool and a test set.
    Every pretrainer is fitted once on all training-pool images without
    labels (one wrapped in a ``FrozenEstimator`` is used as already fitted).
    For each number of labels, a stratified subset of the pool is labelled
    and a :class:`~contrastlearn.FineTunedClassifier` is trained on it for
    every pretrainer, and from scratch (``pretrainer=None`` with
    ``supervised_backbone``) as the supervised baseline; all are scored on
    the same test set.

    Parameters
    ----------
    X : array-like of shape (n, H, W) or (n, C, H, W)
    y : array-like of shape (n,)
        Class labels.
    pretrainers : dict of {str: pretrainer or FrozenEstimator}
        Pretrainers by method name, e.g.
        ``{"DINO": cl.DINO(backbone="vit_small_p8"), "SimSiam": cl.SimSiam()}``:
        an unfitted one is cloned and fitted on the training pool;
        ``sklearn.frozen.FrozenEstimator(fitted_pretrainer)`` is used as it
        is (e.g. pretrained on a larger unlabelled set that holds none of
        ``X``; ``random_state`` then does not reseed it).
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
    pool, test = train_test_split(
        np.arange(len(X)), test_size=test_size, stratify=y, random_state=random_state
    )
    pool, test = np.sort(pool), np.sort(test)
    X_pool, X_test, y_pool, y_test = np.asarray(X[pool]), np.asarray(X[test]), y[pool], y[test]
    fitted = {name: _pretrained(model, X_pool, random_state) for name, model in pretrainers.items()}
    rows = []
    for size in n_labels:
        size = len(pool) if size is None else int(size)
        if size > len(pool):
            continue
        labelled = (
            np.arange(len(pool))
            if size == len(pool)
            else np.sort(
                train_test_split(
                    np.arange(len(pool)),
                    train_size=size,
                    stratify=y_pool,
                    random_state=random_state,
                )[0]
            )
        )
        candidates = [(name, FrozenEstimator(model)) for name, model in fitted.items()]
        if supervised_backbone is not None:
            candidates.append(("supervised", None))
        for method, pretrained in candidates:
            classifier = FineTunedClassifier(
                pretrained,
                fine_tune=fine_tune,
                backbone="auto" if supervised_backbone is None else supervised_backbone,
                random_state=random_state,
                **classifier_params,
            ).fit(X_pool[labelled], y_pool[labelled])
            backbone = _backbone_name(classifier.pretrainer_)
            proba = classifier.predict_proba(X_test)
            auc = (
                roc_auc_score(y_test, proba[:, 1])
                if proba.shape[1] == 2
                else roc_auc_score(y_test, proba, multi_class="ovr", labels=classifier.classes_)
            )
            rows.append(
                {
                    "Method": method,
                    "Backbone": backbone,
                    "Labels": size,
                    "Accuracy": accuracy_score(y_test, classifier.predict(X_test)),
                    "ROC AUC": auc,
                }
            )
            if verbose:
                print(
                    f"{method:10} {backbone:14} {size:6} labels: accuracy "
                    f"{rows[-1]['Accuracy']:.3f}, ROC AUC {auc:.3f}",
                    flush=True,
                )
    return (
        pd.DataFrame(rows).sort_values(["Method", "Labels"], kind="stable").reset_index(drop=True)
    )


@validate_params(
    {
        "scheduler": [InstanceOf(str, name="a scheduler address or 'local'")],
        "n_workers": [None, Interval(numbers.Integral, 1)],
    }
)
@contextlib.contextmanager
def dask_backend(scheduler="local", *, n_workers=None):
    """Run joblib's parallel work (``GridSearchCV(n_jobs=-1)``) on a dask cluster.

    Parameters
    ----------
    scheduler : str, default="local"
        The address of a running dask scheduler (``"tcp://host:8786"``), or
        ``"local"`` to start a :class:`dask.distributed.LocalCluster` of
        ``n_workers`` one-thread worker processes for the duration.
    n_workers : int or None, default=None
        Workers of the local cluster (None: one per CPU core).

    Yields
    ------
    dask.distributed.Client
        Connected; closed (with the local cluster) on exit.

    Raises
    ------
    ImportError
        Without dask (``pip install "contrastlearn[dask]"``).

    Notes
    -----
    Every job pickles the estimator to a worker, whose ``device="auto"``
    takes the GPU with the most free memory there, so the jobs of a
    multi-GPU worker spread over its GPUs. Arrays travel with the jobs; a
    CXI file on a shared file system travels as its path.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> import contrastlearn as cl
    >>> with cl.model_selection.dask_backend(n_workers=2):  # doctest: +SKIP
    ...     search = GridSearchCV(cl.CLR(), {"temperature": [0.1, 0.5]}, n_jobs=-1)
    ...     search.fit(images, labels)
    """
    import joblib

    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ImportError('dask_backend needs dask: pip install "contrastlearn[dask]"') from None
    cluster = None
    if scheduler == "local":
        cluster = LocalCluster(
            n_workers=n_workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        scheduler = cluster.scheduler_address
    try:
        client = Client(scheduler, timeout=30)
    except OSError:
        if cluster is not None:
            cluster.close()
        raise
    try:
        with joblib.parallel_backend("dask"):
            yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
