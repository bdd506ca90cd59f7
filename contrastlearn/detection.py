"""Particle detection from embeddings: k-means turned into a particle / background classifier."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cluster import KMeans
from sklearn.metrics import confusion_matrix, f1_score, precision_score, recall_score
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._base import _is_int, validate_parameters

__all__ = ["ParticleDetector", "detection_report"]


def _binary_labels(y, n_samples):
    y = column_or_1d(y)
    if len(y) != n_samples:
        raise ValueError(f"y has {len(y)} labels but X has {n_samples} samples.")
    values = set(np.unique(y).tolist())
    if not values <= {0, 1}:
        raise ValueError("y must be 0/1 (1 = particle) or bool; got values "
                         f"{sorted(values)[:5]}.")
    return y.astype(int)


class ParticleDetector(ClassifierMixin, BaseEstimator):
    """Particle / background detector: k-means on embeddings with clusters mapped to 0/1.

    The embeddings (e.g. ``CLR().fit_transform(crops)``) are standardised
    and clustered with k-means into ``n_clusters`` groups. Each cluster is
    then called particle (1) or background (0):

    - with ``y`` given to :meth:`fit`, by majority vote of its members
      (this only orients the clusters; they are still found without labels);
    - without ``y``, by the rule that background is the most common content:
      the **largest cluster is background** and every other cluster is
      particle. (In tomogram crops, empty background usually outnumbers
      particles; pass ``y`` for a few crops, or set ``background_cluster``,
      when it does not.)

    :meth:`decision_function` is a margin: the distance to the nearest
    background centroid minus the distance to the nearest particle centroid
    (positive means particle), so ``roc_auc_score`` and the ``"roc_auc"``
    scorer work; :meth:`score` is the F1 score of the particle class.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of k-means clusters (at least 2).
    standardize : bool, default=True
        Standardise embedding dimensions before clustering.
    background_cluster : {"largest"} or int, default="largest"
        Rule without labels: ``"largest"``, or the index of the k-means
        cluster to call background (the others are particles).
    n_init : int, default=10
        k-means restarts.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    classes_ : ndarray, [0, 1]
    kmeans_ : KMeans
    scaler_ : StandardScaler or None
    cluster_is_particle_ : ndarray of bool, shape (n_clusters,)
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
    """

    _parameter_checks = {
        "n_clusters": (lambda v: _is_int(v, 2), "an int >= 2"),
        "standardize": (lambda v: isinstance(v, bool), "a bool"),
        "background_cluster": (lambda v: v == "largest" or _is_int(v, 0),
                               "'largest' or a cluster index >= 0"),
        "n_init": (lambda v: _is_int(v, 1), "an int >= 1"),
    }

    def __init__(self, n_clusters=2, *, standardize=True, background_cluster="largest",
                 n_init=10, random_state=None):
        self.n_clusters = n_clusters
        self.standardize = standardize
        self.background_cluster = background_cluster
        self.n_init = n_init
        self.random_state = random_state

    def fit(self, X, y=None):
        """Cluster the embeddings and decide which clusters are particles.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings.
        y : array-like of shape (n_samples,) of 0/1, default=None
            Optional labels (1 = particle), used only to orient the clusters.

        Returns
        -------
        self
        """
        validate_parameters(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32],
                          ensure_min_samples=self.n_clusters)
        self.classes_ = np.array([0, 1])
        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        Z = self.scaler_.transform(X) if self.scaler_ is not None else X
        self.kmeans_ = KMeans(self.n_clusters, n_init=self.n_init,
                              random_state=self.random_state).fit(Z)
        clusters = self.kmeans_.labels_
        if y is not None:
            y = _binary_labels(y, len(X))
            share = np.array([y[clusters == c].mean() if np.any(clusters == c) else 0.0
                              for c in range(self.n_clusters)])
            is_particle = share > 0.5
        else:
            if self.background_cluster == "largest":
                background = np.bincount(clusters, minlength=self.n_clusters).argmax()
            elif self.background_cluster < self.n_clusters:
                background = self.background_cluster
            else:
                raise ValueError(f"background_cluster={self.background_cluster} is not a "
                                 f"cluster index (n_clusters={self.n_clusters}).")
            is_particle = np.arange(self.n_clusters) != background
        if is_particle.all() or not is_particle.any():
            # Keep both classes: call the cluster most (least) particle-like the other class.
            order = (share if y is not None else is_particle.astype(float))
            is_particle = np.zeros(self.n_clusters, bool)
            is_particle[int(np.argmax(order))] = True
        self.cluster_is_particle_ = is_particle
        return self

    def _distances(self, X):
        check_is_fitted(self, "kmeans_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        Z = self.scaler_.transform(X) if self.scaler_ is not None else X
        return self.kmeans_.transform(Z)

    def decision_function(self, X):
        """Margin of being a particle: background distance minus particle distance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Positive for particles; larger means more confidently a particle.
        """
        distances = self._distances(X)
        return (distances[:, ~self.cluster_is_particle_].min(axis=1)
                - distances[:, self.cluster_is_particle_].min(axis=1))

    def predict(self, X):
        """1 for particle, 0 for background (the nearest centroid's class).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        nearest = self._distances(X).argmin(axis=1)
        return self.cluster_is_particle_[nearest].astype(int)

    def score(self, X, y, sample_weight=None):
        """F1 score of the particle class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) of 0/1
        sample_weight : array-like, default=None

        Returns
        -------
        float
        """
        return f1_score(_binary_labels(y, len(X)), self.predict(X), sample_weight=sample_weight,
                        zero_division=0)

    def report(self, X, y):
        """:func:`detection_report` of this detector on ``X`` against ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) of 0/1

        Returns
        -------
        pandas.Series
        """
        return detection_report(y, self.predict(X), self.decision_function(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.target_tags.required = False
        return tags


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
    auc = (roc_auc_score(y_true, scores) if scores is not None and len(set(y_true)) == 2
           else np.nan)
    return pd.Series({
        "F1": f1_score(y_true, y_pred, zero_division=0),
        "precision": precision_score(y_true, y_pred, zero_division=0),
        "recall": recall_score(y_true, y_pred, zero_division=0),
        "ROC AUC": auc, "TP": tp, "FP": fp, "FN": fn, "TN": tn,
    }, dtype=float)
