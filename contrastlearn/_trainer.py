"""The private training engine: one skorch ``NeuralNet`` for every pretrainer.

A pretrainer (``CLR`` and its siblings) builds a :class:`PretrainModule`, hands
it to :class:`Trainer` together with its ``training_loss(module, x)`` and lets
skorch run the epochs, callbacks and history. What differs from a stock
``NeuralNet``:

- batches are cut from the in-memory array by index slicing and moved to the
  device whole (:class:`BatchIterator`), never assembled per sample by a
  ``Dataset`` + ``collate``;
- the training step asks the method for its loss (two augmented views, a
  teacher, ...) instead of comparing predictions with targets;
- on CUDA the step runs under bf16 autocast on channels_last tensors.
"""

import sys

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import LRScheduler, PrintLog, ProgressBar
from sklearn.utils import check_random_state
from torch import nn

# dtypes that torch.from_numpy accepts and that convert to float on the device.
_TORCH_NATIVE_DTYPES = {np.dtype(t) for t in (
    np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64,
    np.float16, np.float32, np.float64,
)}


class Preprocess(nn.Module):
    """Cast to float32, optionally ``log1p``, then normalise intensities.

    Parameters
    ----------
    log_intensity : bool
        Apply ``log1p(max(x, 0))`` first (for data spanning many decades).
    normalize : {"dataset", "image", None}
        ``"dataset"``: subtract the per-channel mean and divide by the
        per-channel standard deviation measured on the training set.
        ``"image"``: standardise every image by its own mean and standard
        deviation. ``None``: leave intensities as they are.
    n_channels : int
        Channels (or features, for vector inputs) the statistics are kept for.
    """

    def __init__(self, log_intensity, normalize, n_channels):
        super().__init__()
        self.log_intensity = log_intensity
        self.normalize = normalize
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))

    def scale(self, x):
        """The part before normalisation: cast and optional log."""
        x = x.float()
        return torch.log1p(x.clamp_min(0)) if self.log_intensity else x

    def fit(self, X, batch_size):
        """Measure per-channel mean and std of ``scale(X)`` over a numpy array."""
        total = torch.zeros(self.mean.shape, dtype=torch.float64)
        total_sq = torch.zeros_like(total)
        dims = [0] + list(range(2, X.ndim))
        for start in range(0, len(X), batch_size):
            x = self.scale(as_tensor(X[start:start + batch_size])).double()
            total += x.sum(dims)
            total_sq += (x * x).sum(dims)
        count = X.size / X.shape[1]
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))
        return self

    def forward(self, x):
        x = self.scale(x)
        if self.normalize == "dataset":
            shape = (1, -1) + (1,) * (x.ndim - 2)
            return (x - self.mean.view(shape)) / self.std.view(shape)
        if self.normalize == "image":
            dims = tuple(range(1, x.ndim))
            std = x.std(dim=dims, keepdim=True, unbiased=False)
            return (x - x.mean(dim=dims, keepdim=True)) / std.clamp_min(1e-12)
        return x


class PretrainModule(nn.Module):
    """Preprocessing, representation, backbone and projection head of a pretrainer.

    ``forward`` gives the backbone embedding of the images in the model's
    representation (what ``transform`` returns); :meth:`project` maps
    augmented views, already in their representation, through backbone and
    head for the loss. Methods may attach further submodules (a second
    representation or backbone).

    Parameters
    ----------
    preprocess : Preprocess
    backbone : torch.nn.Module
    head : torch.nn.Module
    view : torch.nn.Module
        The representation the backbone sees (identity for cartesian images,
        :class:`~contrastlearn.projection.PolarProjection` for polar).
    """

    def __init__(self, preprocess, backbone, head, view):
        super().__init__()
        self.preprocess = preprocess
        self.view = view
        self.backbone = backbone
        self.head = head

    def forward(self, x):
        return self.backbone(self.view(self.preprocess(x)))

    def project(self, views):
        return self.head(self.backbone(views))


def projection_head(in_features, dims):
    """MLP projection head: Linear-BN-ReLU for every width but the last.

    Parameters
    ----------
    in_features : int
    dims : tuple of int
        Layer widths; the last is the projection size.

    Returns
    -------
    torch.nn.Sequential
    """
    layers, width = [], in_features
    for hidden in dims[:-1]:
        layers += [nn.Linear(width, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, dims[-1]))
    return nn.Sequential(*layers)


def as_tensor(batch):
    """A numpy batch as a CPU tensor torch can convert to float."""
    batch = np.asarray(batch)
    if batch.dtype not in _TORCH_NATIVE_DTYPES:
        batch = batch.astype(np.float32)
    return torch.from_numpy(np.array(batch, copy=not batch.flags.writeable))


class BatchIterator:
    """Mini-batches cut from an array by index slicing, moved to the device whole.

    Yields ``(x, y)`` pairs, the shape skorch's steps unpack; ``y`` is the
    targets when the dataset has them, the partner images when ``partners``
    is given, else None.

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Its ``X`` is an array (or anything numpy-indexable) of samples.
    batch_size : int
    training : bool
        Shuffle with a new permutation from torch's global generator every
        epoch, and skip a last batch of a single sample (BatchNorm cannot
        train on one).
    drop_last : bool
        Drop the last incomplete batch (only when at least one full batch
        exists).
    device : str or torch.device
    channels_last : bool
        Give 4-D batches the channels_last memory format.
    partners : callable or None, default=None
        ``partners(rows, random) -> rows`` picks a partner image for every
        sample of a batch (see :meth:`contrastlearn.pairing.LatentNeighbors.sample`),
        given one uniform number per sample from torch's global generator.
    """

    def __init__(self, dataset, batch_size, training, drop_last, device, channels_last,
                 partners=None):
        self.X = dataset.X
        self.y = dataset.y
        self.partners = partners
        self.batch_size = min(batch_size, len(self.X))
        self.training = training
        self.drop_last = drop_last
        self.device = device
        self.channels_last = channels_last

    def __len__(self):
        full, rest = divmod(len(self.X), self.batch_size)
        if self.drop_last or (self.training and rest == 1):
            return full
        return full + (rest > 0)

    def __iter__(self):
        n = len(self.X)
        order = torch.randperm(n).numpy() if self.training else None
        for i in range(len(self)):
            start, stop = i * self.batch_size, min((i + 1) * self.batch_size, n)
            rows = slice(start, stop) if order is None else np.sort(order[start:stop])
            x = self._to_device(self.X[rows])
            if self.partners is not None:
                anchors = np.arange(start, stop) if order is None else rows
                partner_rows = self.partners(anchors, torch.rand(len(anchors)).numpy())
                y = self._to_device(self.X[partner_rows])
            else:
                y = None if self.y is None else torch.as_tensor(self.y[rows]).to(self.device)
            yield x, y

    def _to_device(self, batch):
        x = as_tensor(batch).to(self.device, non_blocking=True)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class Trainer(NeuralNet):
    """skorch ``NeuralNet`` whose step asks the pretrainer for its loss.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`skorch.NeuralNet`.
    training_loss : callable
        ``training_loss(module, x) -> scalar tensor`` for a raw batch ``x``
        already on the device; ``training_loss(module, x, y)`` when the data
        has targets.
    after_step : callable or None
        ``after_step(module)`` runs after every optimiser step (e.g. the EMA
        update of a teacher).
    keep_partial_batches : bool
        Train on the last incomplete batch of an epoch too (supervised
        training); contrastive training drops it so that every step sees the
        same number of negatives.
    partners : callable or None
        Picks the partner image of every training sample (see
        :class:`BatchIterator`); the loss then gets ``(module, x, partner)``.
    """

    def __init__(self, *args, training_loss=None, after_step=None, keep_partial_batches=False,
                 partners=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.training_loss = training_loss
        self.after_step = after_step
        self.keep_partial_batches = keep_partial_batches
        self.partners = partners

    @property
    def _on_cuda(self):
        return torch.device(self.device).type == "cuda"

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self._on_cuda)

    def get_iterator(self, dataset, training=False):
        return BatchIterator(dataset, self.batch_size, training=training,
                             drop_last=training and not self.keep_partial_batches,
                             device=self.device, channels_last=self._on_cuda,
                             partners=self.partners if training else None)

    def train_step(self, batch, **fit_params):
        step = super().train_step(batch, **fit_params)
        if self.after_step is not None:
            with torch.no_grad():
                self.after_step(self.module_)
        return step

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        x, y = batch
        with self._autocast():
            loss = (self.training_loss(self.module_, x) if y is None
                    else self.training_loss(self.module_, x, y))
        loss.backward()
        return {"loss": loss.detach(), "y_pred": None}

    def infer(self, x, **fit_params):
        with self._autocast():
            return self.module_(x).float()


class EpochTable(PrintLog):
    """skorch's epoch table, without colour codes when stdout is not a terminal."""

    def table(self, row):
        if not sys.stdout.isatty():
            row = {key: value for key, value in row.items() if not key.endswith("_best")}
        return super().table(row)


def train_network(owner, make_module, X, y, training_loss, *, after_step=None,
                  optimizer_params=None, keep_partial_batches=False, partners=None):
    """Seed torch, build the module and train it: the one training loop of the library.

    Parameters
    ----------
    owner : estimator
        Supplies ``random_state``, ``device_``, ``lr``, ``weight_decay``,
        ``max_epochs``, ``batch_size``, ``lr_schedule``, ``callbacks`` and
        ``verbose``.
    make_module : callable
        Builds the ``nn.Module`` (called under the seeded generator, so its
        initialisation repeats).
    X : array-like
    y : array-like or None
    training_loss, after_step, partners
        See :class:`Trainer`. ``partners`` is dropped from the net after
        training (it indexes the training set only).
    optimizer_params : dict, default=None
        Extra ``optimizer__*`` settings, e.g. ``{"param_groups": [...]}``.
    keep_partial_batches : bool, default=False
        See :class:`Trainer`.

    Returns
    -------
    Trainer
        The fitted net.
    """
    seed = int(check_random_state(owner.random_state).randint(np.iinfo(np.int32).max))
    cuda = torch.device(owner.device_).type == "cuda"
    callbacks = list(owner.callbacks or [])
    if owner.lr_schedule == "cosine":
        callbacks.append(("lr_schedule", LRScheduler(
            policy=torch.optim.lr_scheduler.CosineAnnealingLR, T_max=max(owner.max_epochs, 1))))
    if owner.verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    with torch.random.fork_rng(devices=[torch.device(owner.device_).index or 0] if cuda else []):
        torch.manual_seed(seed)
        module = make_module()
        if cuda:
            module = module.to(memory_format=torch.channels_last)
        net = Trainer(
            module=module,
            criterion=nn.Identity,
            optimizer=torch.optim.AdamW,
            optimizer__weight_decay=owner.weight_decay,
            **{f"optimizer__{key}": value for key, value in (optimizer_params or {}).items()},
            lr=owner.lr,
            max_epochs=owner.max_epochs,
            batch_size=owner.batch_size,
            train_split=None,
            device=owner.device_,
            callbacks=callbacks,
            verbose=owner.verbose,
            training_loss=training_loss,
            after_step=after_step,
            keep_partial_batches=keep_partial_batches,
            partners=partners,
        )
        if owner.verbose:
            net.set_params(callbacks__print_log=EpochTable(keys_ignored=["train_batch_count"]))
        net.fit(X, y)
    net.partners = None
    return net
