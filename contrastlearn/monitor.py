"""Watching a pretrainer learn: health measures, a k-NN probe and early stopping.

Every pretrainer records, after each epoch, three label-free measures of its
embedding (``transform``'s output) on a fixed sample of the training images:

- ``rankme``: the effective rank of the embedding (:func:`rankme`). A run
  whose rank falls towards 1 is collapsing: every image gets nearly the same
  vector, and ``fit`` warns (:class:`CollapseWarning`).
- ``alignment``: how close the embedding of an augmented image stays to the
  embedding of the image itself (:func:`alignment`; lower is better).
- ``uniformity``: how evenly the embeddings spread over the unit sphere
  (:func:`uniformity`; lower is better).

With ``fit(X, eval_set=(X_val, y_val))`` it also scores, every
``eval_every`` epochs, a k-nearest-neighbour probe cross-validated on the
labelled validation images (:func:`knn_score`), recorded as ``valid_knn``;
``early_stopping=True`` stops when that score stops improving and keeps the
best epoch's weights. :func:`history_frame` turns ``history_`` into a
pandas DataFrame and :func:`contrastlearn.plotting.plot_history` draws it.

References
----------
Garrido, Balestriero, Najman, LeCun, "RankMe: Assessing the Downstream
Performance of Pretrained Self-Supervised Representations by Their Rank",
ICML 2023, arXiv:2210.02885.

Wang, Isola, "Understanding Contrastive Representation Learning through
Alignment and Uniformity on the Hypersphere", ICML 2020, arXiv:2005.10242.
"""

import math
import time
import warnings

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils.multiclass import type_of_target
from skorch.callbacks import Callback

from . import distributed
from ._validation import NONNEGATIVE, POSITIVE, RANDOM_STATE, ints
from .validation import ArrayLike, Predicate, validate_params

__all__ = [
    "rankme",
    "alignment",
    "uniformity",
    "knn_score",
    "history_frame",
    "CollapseWarning",
    "TrainingMonitor",
    "HEALTH_COLUMNS",
]

#: The per-epoch columns every pretrainer's ``history_`` gets (with ``monitor_samples > 0``).
HEALTH_COLUMNS = ("rankme", "alignment", "uniformity")

#: What :func:`history_frame` reads: a skorch History or an estimator that has one.
HISTORY = [
    Predicate(
        lambda v: isinstance(v, list) or isinstance(getattr(v, "history_", None), list),
        "a skorch History or a fitted estimator with history_",
    )
]


def _as_tensor(embeddings):
    z = torch.as_tensor(
        np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor) else embeddings
    )
    if z.ndim != 2 or len(z) < 2:
        raise ValueError(
            f"embeddings must be a 2-D array of at least 2 rows; got shape {tuple(z.shape)}."
        )
    return z.detach().to(torch.float64)


@validate_params({"embeddings": ArrayLike(), "eps": NONNEGATIVE})
def rankme(embeddings, eps=1e-7):
    r"""Effective rank of an embedding matrix (RankMe, Garrido et al. 2023).

    .. math::

        \mathrm{RankMe}(Z) = \exp\Big(-\sum_k p_k \log p_k\Big),\qquad
        p_k = \frac{\sigma_k(Z)}{\lVert\sigma(Z)\rVert_1} + \varepsilon

    where :math:`\sigma_k(Z)` are the singular values of the
    ``(n_samples, n_features)`` matrix. It lies between 1 (every row on one
    line: a collapsed representation) and ``min(n_samples, n_features)``.

    Parameters
    ----------
    embeddings : array-like or torch.Tensor of shape (n_samples, n_features)
    eps : float, default=1e-7
        The paper's smoothing constant.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.monitor import rankme
    >>> round(rankme(np.eye(4)), 3)
    4.0
    >>> round(rankme(np.outer(np.arange(1, 6), [1.0, 2.0, 3.0])), 3)
    1.0
    """
    singular = torch.linalg.svdvals(_as_tensor(embeddings))
    p = singular / singular.sum().clamp_min(torch.finfo(torch.float64).tiny) + eps
    return float(torch.exp(-(p * p.log()).sum()))


@validate_params({"embeddings": ArrayLike(), "positives": ArrayLike(), "alpha": POSITIVE})
def alignment(embeddings, positives, alpha=2):
    r"""Mean distance between the embeddings of positive pairs (Wang & Isola 2020).

    .. math::

        \mathcal{L}_\mathrm{align} = \mathbb{E}\,\lVert f(x) - f(x^+)\rVert_2^\alpha

    on embeddings scaled to unit length, so it lies in ``[0, 2**alpha]``;
    lower means the views of one image embed closer together.

    Parameters
    ----------
    embeddings, positives : array-like or torch.Tensor of shape (n_samples, n_features)
        Row ``i`` of both embeds two views of image ``i``.
    alpha : float, default=2

    Returns
    -------
    float

    Examples
    --------
    >>> from contrastlearn.monitor import alignment
    >>> round(alignment([[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]), 6)
    1.0
    """
    z, zp = (F.normalize(_as_tensor(e), dim=1) for e in (embeddings, positives))
    if z.shape != zp.shape:
        raise ValueError(
            f"embeddings and positives must have the same shape; got "
            f"{tuple(z.shape)} and {tuple(zp.shape)}."
        )
    return float((z - zp).norm(dim=1).pow(alpha).mean())


@validate_params({"embeddings": ArrayLike(), "t": POSITIVE})
def uniformity(embeddings, t=2):
    r"""How evenly embeddings cover the unit sphere (Wang & Isola 2020).

    .. math::

        \mathcal{L}_\mathrm{uniform} = \log\,\mathbb{E}_{i \ne j}\,
        e^{-t\lVert f(x_i) - f(x_j)\rVert_2^2}

    on embeddings scaled to unit length: 0 when all coincide (collapse),
    more negative the more uniformly they spread (about ``-2 t`` for points
    spread uniformly over a sphere of high dimension).

    Parameters
    ----------
    embeddings : array-like or torch.Tensor of shape (n_samples, n_features)
    t : float, default=2

    Returns
    -------
    float

    Examples
    --------
    >>> from contrastlearn.monitor import uniformity
    >>> uniformity([[1.0, 0.0], [1.0, 0.0]])
    0.0
    >>> round(uniformity([[1.0, 0.0], [-1.0, 0.0]]), 3)  # log(exp(-2 * 4))
    -8.0
    """
    z = F.normalize(_as_tensor(embeddings), dim=1)
    return float(torch.pdist(z).pow(2).mul(-t).exp().mean().log())


@validate_params(
    {
        "embeddings": ArrayLike(),
        "y": ArrayLike(),
        "n_neighbors": ints(1),
        "n_splits": ints(2),
        "random_state": RANDOM_STATE,
    }
)
def knn_score(embeddings, y, *, n_neighbors=10, n_splits=5, random_state=0):
    """Cross-validated k-nearest-neighbour score of labelled embeddings.

    A :class:`~sklearn.neighbors.KNeighborsClassifier` (cosine distance,
    neighbours weighted by inverse distance) predicts every sample from the
    other folds of a ``n_splits``-fold split (stratified for class labels
    when every class has ``n_splits`` members). The score is the accuracy of
    those predictions for class labels, their macro F1 for multi-hot labels.

    Parameters
    ----------
    embeddings : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Class labels, or a multi-hot indicator matrix.
    n_neighbors : int, default=10
        At most the size of a training fold.
    n_splits : int, default=5
    random_state : int, default=0
        Seeds the fold assignment.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.monitor import knn_score
    >>> rng = np.random.RandomState(0)
    >>> y = np.repeat([0, 1], 20)
    >>> X = rng.normal(size=(40, 3)) + 6 * np.eye(3)[y]  # two directions
    >>> knn_score(X, y)
    1.0
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    y = np.asarray(y)
    multilabel = type_of_target(y) == "multilabel-indicator"
    folds = KFold(n_splits, shuffle=True, random_state=random_state)
    if not multilabel and np.unique(y, return_counts=True)[1].min() >= n_splits:
        folds = StratifiedKFold(n_splits, shuffle=True, random_state=random_state)
    smallest_fold = len(y) - math.ceil(len(y) / n_splits)
    probe = KNeighborsClassifier(
        min(n_neighbors, smallest_fold), metric="cosine", weights="distance"
    )
    predicted = cross_val_predict(probe, embeddings, y, cv=folds)
    if multilabel:
        return float(f1_score(y, predicted, average="macro", zero_division=0))
    return float(accuracy_score(y, predicted))


@validate_params({"history": HISTORY})
def history_frame(history):
    """A pretrainer's per-epoch history as a pandas DataFrame indexed by epoch.

    Parameters
    ----------
    history : skorch.History or a fitted estimator with ``history_``
        E.g. ``clr.history_``.

    Returns
    -------
    pandas.DataFrame
        One row per epoch, one column per recorded value (``train_loss``,
        ``dur``, ``rankme``, ``alignment``, ``uniformity``, ``valid_knn``,
        ...); the per-batch records are left out, and a value an epoch did
        not record (``valid_knn`` between evaluations) is NaN.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> clr = cl.CLR(max_epochs=2, batch_size=64, random_state=0)
    >>> frame = cl.monitor.history_frame(clr.fit(load_digits().images[:200]))
    >>> list(frame.index), "rankme" in frame
    ([1, 2], True)
    """
    history = getattr(history, "history_", history)
    rows = [{key: value for key, value in row.items() if key != "batches"} for row in history]
    return pd.DataFrame(rows).set_index("epoch")


class CollapseWarning(UserWarning):
    """The embedding's effective rank fell towards 1 during ``fit``."""


class _EarlyStop(KeyboardInterrupt):
    """Ends skorch's epoch loop the way its own EarlyStopping does, without meaning Ctrl-C."""


class TrainingMonitor(Callback):
    """Record the health columns and ``valid_knn`` each epoch; stop early on request.

    Used by every pretrainer's ``fit`` (see :mod:`contrastlearn.monitor`);
    runs without gradients, with the module in evaluation mode, after the
    epoch's training, and draws its augmentations from a generator of its
    own, so that training goes on exactly as without it.

    Parameters
    ----------
    sample : ndarray or None
        Training images (raw) for the health columns; None records none.
    embed_augmented : callable
        ``embed_augmented(module, x) -> (n, D) tensor``: the embedding of an
        augmented view of each raw image of a batch on the device.
    eval_set : (array, ndarray) or None
        Validation images (as the estimator's ``transform`` takes them) and
        their labels, for ``valid_knn``.
    eval_every : int
    early_stopping : bool
    n_iter_no_change : int
        Evaluations without an improvement of more than ``tol`` after which
        training stops.
    tol : float
    seed : int
        Seeds the augmentations of the health sample.
    """

    def __init__(
        self,
        sample,
        embed_augmented,
        eval_set=None,
        eval_every=1,
        early_stopping=False,
        n_iter_no_change=5,
        tol=1e-4,
        seed=0,
    ):
        self.sample = sample
        self.embed_augmented = embed_augmented
        self.eval_set = eval_set
        self.eval_every = eval_every
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.seed = seed
        self.best_score_ = -math.inf
        self.best_epoch_ = None
        self.best_module_ = None
        self.misses_ = 0
        self.stopped_ = False

    # The state a checkpoint keeps, so that a resumed fit stops where an uninterrupted one would.
    def state_dict(self):
        return {
            "best_score": self.best_score_,
            "best_epoch": self.best_epoch_,
            "best_module": self.best_module_,
            "misses": self.misses_,
            "stopped": self.stopped_,
        }

    def load_state_dict(self, state):
        self.best_score_, self.best_epoch_ = state["best_score"], state["best_epoch"]
        self.best_module_, self.misses_ = state["best_module"], state["misses"]
        self.stopped_ = state["stopped"]

    def _health(self, net):
        devices = [torch.device(net.device).index or 0] if net._on_cuda else []
        clean, augmented = [], []
        net.module_.eval()  # skorch's next training step switches it back
        with torch.random.fork_rng(devices=devices), torch.no_grad(), net._autocast():
            torch.manual_seed(self.seed)
            for x, _ in net.get_iterator(_Dataset(self.sample)):
                clean.append(net.module_(x).float().cpu())
                augmented.append(self.embed_augmented(net.module_, x).float().cpu())
        clean, augmented = torch.cat(clean), torch.cat(augmented)
        return {
            "rankme": rankme(clean),
            "alignment": alignment(clean, augmented),
            "uniformity": uniformity(clean),
        }

    def on_epoch_end(self, net, **kwargs):
        start = time.perf_counter()
        epoch = len(net.history)
        if self.sample is not None:
            for name, value in self._health(net).items():
                net.history.record(name, value)
        if self.eval_set is not None and (epoch % self.eval_every == 0 or epoch == net.max_epochs):
            X_val, y_val = self.eval_set
            score = knn_score(net.forward(X_val).numpy(), y_val)
            improved = score > self.best_score_ + self.tol
            net.history.record("valid_knn", score)
            net.history.record("valid_knn_best", bool(improved))
            if improved:
                self.best_score_, self.best_epoch_, self.misses_ = score, epoch, 0
                if self.early_stopping:
                    self.best_module_ = {
                        key: value.detach().clone()
                        for key, value in net.module_.state_dict().items()
                    }
            else:
                self.misses_ += 1
            self.stopped_ = distributed.broadcast_object(
                self.early_stopping and self.misses_ >= self.n_iter_no_change
            )
        net.history.record("monitor_dur", time.perf_counter() - start)

    def on_train_end(self, net, **kwargs):
        if self.early_stopping and self.best_module_ is not None and not net.interrupted:
            net.module_.load_state_dict(self.best_module_)
        _warn_on_collapse(net.history)


class _Dataset:
    """The ``dataset.X`` / ``dataset.y`` pair a :class:`BatchIterator` reads."""

    def __init__(self, X):
        self.X, self.y = X, None


def _warn_on_collapse(history):
    """Warn when the last epoch's RankMe is below 2, or below a tenth of its best."""
    ranks = [row["rankme"] for row in history if "rankme" in row]
    if not ranks:
        return
    best = int(np.argmax(ranks))
    if ranks[-1] < max(2.0, ranks[best] / 10):
        fall = (
            f", down from {ranks[best]:.2f} after epoch {best + 1}"
            if ranks[best] > 1.5 * ranks[-1]
            else ""
        )
        warnings.warn(
            f"The embedding has collapsed: its effective rank (history_ column 'rankme') is "
            f"{ranks[-1]:.2f} after epoch {len(ranks)}{fall}, so all images get nearly the "
            "same embedding. Try a lower lr, a higher temperature or stronger augmentation "
            "(or check that the images differ).",
            CollapseWarning,
            stacklevel=2,
        )
