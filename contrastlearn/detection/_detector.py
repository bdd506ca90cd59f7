"""Particle detection from embeddings: k-means turned into a particle / background classifier."""

import numbers

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._validation import BOOL, RANDOM_STATE, ints
from ..validation import (
    ArrayLike,
    Interval,
    Options,
    Predicate,
    validate_parameters,
    validate_params,
)
from ._frames import _otsu

__all__ = ["ParticleDetector", "contrast_score", "detection_report"]


def _binary_labels(y, n_samples):
    y = column_or_1d(y)
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} labels but X has {n_samples} samples.")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError(f"y must be 0/1 (1 = particle) or bool; got values {sorted(values)[:5]}.")
    return y.astype(int)


def _check_contrast(contrast, n_samples):
    try:
        contrast = np.asarray(contrast, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("contrast must be an array of numbers, one per sample.") from None
    if contrast.ndim != 1 or len(contrast) != n_samples:
        raise ValueError(
            f"contrast must have shape ({n_samples},), one score per sample; got "
            f"shape {contrast.shape}."
        )
    if not np.isfinite(contrast).all():
        raise ValueError("contrast contains NaN or infinity.")
    return contrast


def _split_clusters(means, sizes):
    """Particle mask of clusters split into a low and a high group by their mean ``contrast``.

    The clusters are ordered by mean and cut where the size-weighted
    between-group variance ``w0 w1 (m0 - m1)^2`` is largest (Otsu's criterion
    over clusters); the high group is the particles.
    """
    order = np.argsort(means, kind="stable")
    w, m = sizes[order].astype(float), means[order]
    w0 = np.cumsum(w)[:-1]
    w1 = w.sum() - w0
    s0 = np.cumsum(w * m)[:-1]
    between = (
        w0 * w1 * (s0 / np.maximum(w0, 1e-300) - ((w * m).sum() - s0) / np.maximum(w1, 1e-300)) ** 2
    )
    is_particle = np.zeros(len(means), bool)
    is_particle[order[1 + int(np.argmax(between)) :]] = True
    return is_particle


def _gmm_threshold(scores, random_state):
    """Where the posterior of the upper component of a 2-Gaussian fit of ``scores`` reaches 1/2."""
    v = np.asarray(scores, dtype=np.float64).reshape(-1, 1)
    if not np.ptp(v) > 0:
        return float(v[0, 0])
    gmm = GaussianMixture(2, n_init=3, random_state=random_state).fit(v)
    low, high = np.sort(gmm.means_.ravel())
    upper = int(np.argmax(gmm.means_.ravel()))
    grid = np.linspace(low, high, 2049)
    posterior = gmm.predict_proba(grid[:, None])[:, upper]
    above = np.flatnonzero(posterior >= 0.5)
    if not high > low or len(above) == 0:
        return float((low + high) / 2)
    return float(grid[above[0]])


@validate_params({"crops": ArrayLike(), "inner": Interval(numbers.Real, 0, 1, closed="right")})
def contrast_score(crops, *, inner=0.5):
    """Label-free particle score of 2-D crops: central mean intensity minus the crop's mean.

    A particle that a crop holds well sits near its centre and is denser
    than the empty background, so the mean of the central window exceeds
    the mean of the whole crop. No labels are involved; the score is meant
    for ``ParticleDetector(background_cluster="low_contrast").fit(embedding,
    contrast=contrast_score(crops))``. For dark particles on a bright
    background, pass ``-contrast_score(crops)``.

    Parameters
    ----------
    crops : array-like of shape (n_crops, H, W)
        The crops, e.g. from :func:`contrastlearn.datasets.extract_crops`.
    inner : float, default=0.5
        Side of the central window as a fraction of the crop side, in (0, 1]
        (at least one pixel): 0.5 on 16 x 16 crops is the central 8 x 8.

    Returns
    -------
    ndarray of shape (n_crops,), dtype float64

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.detection import contrast_score
    >>> crops = np.zeros((2, 16, 16))
    >>> crops[1, 6:10, 6:10] = 1.0        # a bright spot in the middle
    >>> contrast_score(crops).round(4)
    array([0.    , 0.1875])
    """
    if hasattr(crops, "detach") and hasattr(crops, "cpu"):  # a torch tensor
        crops = crops.detach().cpu().numpy()
    crops = np.asarray(crops)
    if crops.dtype == object or not np.issubdtype(crops.dtype, np.number) or np.iscomplexobj(crops):
        raise TypeError(f"crops must hold real numbers; got dtype {crops.dtype}.")
    if crops.ndim != 3 or crops.shape[0] < 1:
        raise ValueError(
            f"crops must be a stack of 2-D crops of shape (n_crops, H, W); got shape {crops.shape}."
        )
    crops = crops.astype(np.float64, copy=False)
    if not np.isfinite(crops).all():
        raise ValueError("crops contain NaN or infinity.")
    h, w = crops.shape[1:]
    sh, sw = max(1, int(round(inner * h))), max(1, int(round(inner * w)))
    top, left = (h - sh) // 2, (w - sw) // 2
    centre = crops[:, top : top + sh, left : left + sw].mean(axis=(1, 2))
    return centre - crops.mean(axis=(1, 2))


class ParticleDetector(ClassifierMixin, BaseEstimator):
    """Particle / background detector: k-means on embeddings with clusters mapped to 0/1.

    The embeddings (e.g. ``CLR().fit_transform(crops)``) are standardised
    and clustered with k-means into ``n_clusters`` groups. Each cluster is
    then called particle (1) or background (0):

    - with ``background_cluster="low_contrast"``, without labels, by a
      per-sample score that is higher for particles, passed to :meth:`fit`
      as ``contrast`` (e.g. :func:`contrast_score` of the crops): the
      clusters, ordered by the mean score of their members, are split in
      two where the size-weighted between-group variance of those means is
      largest (Otsu's criterion over clusters), and the high group is
      particle. With 2 clusters, the higher-contrast one is particle. ``y``
      is not used, so the detector stays label-free inside a pipeline or a
      grid search that passes ``y`` to it;
    - otherwise, with ``y`` given to :meth:`fit`, by majority vote of its
      members (this only orients the clusters; they are still found without
      labels);
    - otherwise, by the rule that background is the most common content:
      the **largest cluster is background** and every other cluster is
      particle (or the cluster ``background_cluster`` names). In tomogram
      crops kept by an edge filter, particles can be the majority; use
      ``"low_contrast"`` then.

    :meth:`decision_function` is a margin: the distance to the nearest
    background centroid minus the distance to the nearest particle centroid,
    minus ``threshold_`` (positive means particle), so ``roc_auc_score`` and
    the ``"roc_auc"`` scorer work; :meth:`predict` is 1 where it is positive.
    ``threshold="nearest"`` (``threshold_ = 0``) calls each sample by its
    nearest centroid; ``"otsu"`` and ``"gmm"`` set ``threshold_`` from the
    margins of the training samples, without labels. :meth:`score` is the F1
    score of the particle class.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of k-means clusters (at least 2).
    standardize : bool, default=True
        Standardise embedding dimensions before clustering.
    background_cluster : {"largest", "low_contrast"} or int, default="largest"
        Which clusters are background. ``"largest"``: the largest cluster
        (when ``y`` is not given to :meth:`fit`). ``"low_contrast"``: the
        low-contrast group of clusters, from the ``contrast`` scores given to
        :meth:`fit` (required then; ``y`` is ignored). An int: the index of
        the k-means cluster to call background, the others being particles
        (when ``y`` is not given).
    threshold : {"nearest", "otsu", "gmm"}, default="nearest"
        Cut on the margin that :meth:`predict` uses, fitted without labels.
        ``"nearest"``: 0, so each sample takes its nearest centroid's class.
        ``"otsu"``: Otsu's threshold of the training margins (the cut that
        maximises their between-class variance, 256-bin histogram).
        ``"gmm"``: a two-component Gaussian mixture is fitted to the training
        margins; the cut is where the posterior of the upper component
        reaches 1/2, between the two means.
    n_init : int, default=10
        k-means restarts.
    random_state : int, RandomState or None, default=None
        Seeds k-means (and the Gaussian mixture of ``threshold="gmm"``).

    Attributes
    ----------
    classes_ : ndarray of shape (2,)
        ``[0, 1]``, or the two labels of the ``y`` given to :meth:`fit`
        (sorted; the second, e.g. 1 or True, is the particle class).
    kmeans_ : KMeans
    scaler_ : StandardScaler or None
    cluster_is_particle_ : ndarray of bool, shape (n_clusters,)
    cluster_contrast_ : ndarray of shape (n_clusters,) or None
        Mean ``contrast`` of each cluster's members, when ``contrast`` was
        given to :meth:`fit`.
    threshold_ : float
        The cut on the margin; :meth:`decision_function` subtracts it.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn import ParticleDetector
    >>> rng = np.random.default_rng(0)
    >>> background = rng.normal(0, 1, size=(80, 4))
    >>> particles = rng.normal(6, 1, size=(20, 4))
    >>> X = np.vstack([background, particles])
    >>> detector = ParticleDetector(random_state=0).fit(X)     # no labels needed
    >>> int(detector.predict(X[:80]).sum()), int(detector.predict(X[80:]).sum())
    (0, 20)

    When particles are the majority, "largest is background" fails; a
    label-free contrast score orients the clusters instead:

    >>> X = np.vstack([background[:20], rng.normal(6, 1, size=(60, 4))])
    >>> contrast = np.r_[rng.normal(0, 1, 20), rng.normal(2, 1, 60)]
    >>> detector = ParticleDetector(background_cluster="low_contrast", random_state=0)
    >>> detector = detector.fit(X, contrast=contrast)
    >>> int(detector.predict(X[:20]).sum()), int(detector.predict(X[20:]).sum())
    (0, 60)
    """

    _parameter_constraints = {
        "n_clusters": ints(2),
        "standardize": BOOL,
        "background_cluster": [
            Options(["largest", "low_contrast"]),
            Predicate(ints(0).is_satisfied_by, "a cluster index >= 0"),
        ],
        "threshold": Options(["nearest", "otsu", "gmm"]),
        "n_init": ints(1),
        "random_state": RANDOM_STATE,
    }

    def __init__(
        self,
        n_clusters=2,
        *,
        standardize=True,
        background_cluster="largest",
        threshold="nearest",
        n_init=10,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.standardize = standardize
        self.background_cluster = background_cluster
        self.threshold = threshold
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None, *, contrast=None):
        """Cluster the embeddings and decide which clusters are particles.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,), default=None
            Optional labels of two classes (0/1 or bool: 1 = particle; of
            other labels the larger is the particle class), used only to
            orient the clusters, and not at all with
            ``background_cluster="low_contrast"``; they set ``classes_``.
        contrast : array-like of shape (n_samples,), default=None
            A label-free score per sample, higher for particles (e.g.
            :func:`contrast_score` of the crops); required by
            ``background_cluster="low_contrast"``, which orients the clusters
            with it. In a pipeline, pass it as ``particledetector__contrast``.

        Returns
        -------
        self
        """
        validate_parameters(self)
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], ensure_min_samples=self.n_clusters
        )
        if contrast is not None:
            contrast = _check_contrast(contrast, len(X))
        elif self.background_cluster == "low_contrast":
            raise ValueError(
                "background_cluster='low_contrast' needs a contrast score per "
                "sample: fit(X, contrast=...), e.g. contrast_score(crops)."
            )
        self.classes_ = np.array([0, 1])
        y = self._encode_labels(y, len(X)) if y is not None else None
        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        Z = self.scaler_.transform(X) if self.scaler_ is not None else X
        self.kmeans_ = KMeans(
            self.n_clusters, n_init=self.n_init, random_state=self.random_state
        ).fit(Z)
        clusters = self.kmeans_.labels_
        sizes = np.bincount(clusters, minlength=self.n_clusters)
        self.cluster_contrast_ = None
        if contrast is not None:
            sums = np.bincount(clusters, weights=contrast, minlength=self.n_clusters)
            # an empty cluster (possible with duplicated samples) gets the lowest mean
            self.cluster_contrast_ = np.where(
                sizes > 0, sums / np.maximum(sizes, 1), contrast.min()
            )
        if self.background_cluster == "low_contrast":
            y = None
            is_particle = _split_clusters(self.cluster_contrast_, sizes)
        elif y is not None:
            share = np.array(
                [
                    y[clusters == c].mean() if np.any(clusters == c) else 0.0
                    for c in range(self.n_clusters)
                ]
            )
            is_particle = share > 0.5
        else:
            if self.background_cluster == "largest":
                background = sizes.argmax()
            elif self.background_cluster < self.n_clusters:
                background = self.background_cluster
            else:
                raise ValueError(
                    f"background_cluster={self.background_cluster} is not a "
                    f"cluster index (n_clusters={self.n_clusters})."
                )
            is_particle = np.arange(self.n_clusters) != background
        if is_particle.all() or not is_particle.any():
            # Keep both classes: call the cluster most (least) particle-like the other class.
            order = share if y is not None else is_particle.astype(float)
            is_particle = np.zeros(self.n_clusters, bool)
            is_particle[int(np.argmax(order))] = True
        self.cluster_is_particle_ = is_particle
        self.threshold_ = 0.0
        if self.threshold != "nearest":
            margin = self._margin(self.kmeans_.transform(Z))
            self.threshold_ = (
                _otsu(margin)
                if self.threshold == "otsu"
                else _gmm_threshold(margin, self.random_state)
            )
        return self

    def _encode_labels(self, y, n_samples):
        """Set ``classes_`` from ``y`` and return ``y`` as 0/1 (1 = the particle class)."""
        y = column_or_1d(y, warn=True)
        if len(y) != n_samples:
            raise ValueError(f"y has {len(y)} labels but X has {n_samples} samples.")
        check_classification_targets(y)
        y_type = type_of_target(y, input_name="y")
        if y_type != "binary":
            raise ValueError(
                "Only binary classification is supported (particle / background). "
                f"The type of the target is {y_type}."
            )
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(
                f"y holds one class ({classes[0]!r}): orienting the clusters needs "
                "particle and background labels; fit without y instead."
            )
        self.classes_ = classes
        return (y == classes[1]).astype(int)

    def _margin(self, distances):
        return distances[:, ~self.cluster_is_particle_].min(axis=1) - distances[
            :, self.cluster_is_particle_
        ].min(axis=1)

    def _distances(self, X):
        check_is_fitted(self, "kmeans_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Z = self.scaler_.transform(X) if self.scaler_ is not None else X
        return self.kmeans_.transform(Z)

    def decision_function(self, X):
        """Margin of being a particle: background minus particle distance, minus ``threshold_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Positive for particles; larger means more confidently a particle.
        """
        return self._margin(self._distances(X)) - self.threshold_

    def predict(self, X):
        """1 for particle, 0 for background (``classes_[1]`` and ``classes_[0]``).

        With ``threshold="nearest"`` the nearest centroid's class; otherwise 1
        where :meth:`decision_function` is positive.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        distances = self._distances(X)
        if self.threshold == "nearest":
            particle = self.cluster_is_particle_[distances.argmin(axis=1)]
        else:
            particle = self._margin(distances) - self.threshold_ > 0
        return self.classes_[particle.astype(int)]

    def score(self, X, y, sample_weight=None):
        """F1 score of the particle class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, ``classes_[1]`` for particles.
        sample_weight : array-like, default=None

        Returns
        -------
        float
        """
        return f1_score(
            column_or_1d(y),
            self.predict(X),
            pos_label=self.classes_[1],
            sample_weight=sample_weight,
            zero_division=0,
        )

    def report(self, X, y):
        """:func:`detection_report` of this detector on ``X`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Labels, ``classes_[1]`` for particles.

        Returns
        -------
        pandas.Series
        """
        particle = self.classes_[1]
        return detection_report(
            column_or_1d(y) == particle, self.predict(X) == particle, self.decision_function(X)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.target_tags.required = False
        return tags


@validate_params({"y_true": ArrayLike(), "y_pred": ArrayLike(), "scores": [None, ArrayLike()]})
def detection_report(y_true, y_pred, scores=None):
    """F1, precision, recall, ROC AUC and the confusion matrix of a particle detector.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) of 0/1
        1 = particle.
    y_pred : array-like of shape (n_samples,) of 0/1
    scores : array-like of shape (n_samples,), default=None
        Continuous particle scores (e.g. ``decision_function``) for ROC AUC;
        without them ROC AUC is NaN.

    Returns
    -------
    pandas.Series
        ``F1``, ``precision``, ``recall``, ``ROC AUC``, then the confusion
        matrix as ``TP``, ``FP``, ``FN``, ``TN``.

    Examples
    --------
    >>> from contrastlearn.detection import detection_report
    >>> detection_report([1, 1, 0, 0], [1, 0, 0, 0], scores=[0.9, 0.4, 0.3, 0.1]).round(3)
    F1           0.667
    precision    1.000
    recall       0.500
    ROC AUC      1.000
    TP           1.000
    FP           0.000
    FN           1.000
    TN           2.000
    dtype: float64
    """
    y_true = _binary_labels(y_true, len(y_true))
    y_pred = _binary_labels(y_pred, len(y_true))
    tn, fp, fn, tp = confusion_matrix(y_true, y_pred, labels=[0, 1]).ravel()
    auc = roc_auc_score(y_true, scores) if scores is not None and len(set(y_true)) == 2 else np.nan
    return pd.Series(
        {
            "F1": f1_score(y_true, y_pred, zero_division=0),
            "precision": precision_score(y_true, y_pred, zero_division=0),
            "recall": recall_score(y_true, y_pred, zero_division=0),
            "ROC AUC": auc,
            "TP": tp,
            "FP": fp,
            "FN": fn,
            "TN": tn,
        },
        dtype=float,
    )
