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

import math
import os
import pickle
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from types import SimpleNamespace

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import (Callback, Checkpoint, LRScheduler, PrintLog, ProgressBar,
                              TrainEndCheckpoint)
from skorch.history import History
from sklearn.utils import check_random_state
from torch import nn

from . import distributed
from .monitor import _EarlyStop
from .optim import LARS, WarmupCosine

# Batches the reader thread keeps ready ahead of training, by device type (0: read each
# batch when it is needed). On a CPU the thread takes cores from the computation:
# benchmarks/streaming.py measured it 14-30 % slower there.
PREFETCH_BATCHES = {"cuda": 2, "cpu": 0}

# dtypes that torch.from_numpy accepts and that convert to float on the device.
_TORCH_NATIVE_DTYPES = {np.dtype(t) for t in (
    np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64,
    np.float16, np.float32, np.float64,
)}


NAN_POLICIES = ("raise", "replace", "mask")
"""What a pretrainer may do with non-finite pixels (its ``nan_policy``)."""

NORMALIZATIONS = ("dataset", "image", "minmax", None)
"""The intensity normalisations of :class:`Preprocess` (a pretrainer's ``normalize``)."""


class Preprocess(nn.Module):
    """Cast to float32, deal with non-finite pixels, optionally ``log1p``, then normalise.

    Parameters
    ----------
    log_intensity : bool
        Apply ``log1p(max(x, 0))`` first (for data spanning many decades).
    normalize : {"dataset", "image", "minmax", None}
        ``"dataset"``: subtract the per-channel mean and divide by the
        per-channel standard deviation measured on the training set.
        ``"image"``: standardise every image by its own mean and standard
        deviation. ``"minmax"``: scale every image to [0, 1] by its own
        minimum and maximum (a constant image becomes 0), as the reference
        CPLR study does. ``None``: leave intensities as they are.
    n_channels : int
        Channels (or features, for vector inputs) the statistics are kept for.
    nan_policy : {"raise", "replace", "mask"}, default="raise"
        Non-finite values (NaN, ±inf, or too large for float32) are assumed
        absent (``"raise"``: the input was checked), replaced by 0 before
        scaling (``"replace"``), or left out of the statistics and set to 0
        after normalisation (``"mask"``).
    """

    def __init__(self, log_intensity, normalize, n_channels, nan_policy="raise"):
        super().__init__()
        self.log_intensity = log_intensity
        self.normalize = normalize
        self.nan_policy = nan_policy
        self.register_buffer("mean", torch.zeros(n_channels))
        self.register_buffer("std", torch.ones(n_channels))

    def scale(self, x):
        """Cast, replace non-finite values by 0 and apply the optional log.

        Returns
        -------
        x : torch.Tensor
            float32.
        valid : torch.Tensor or None
            Under ``nan_policy="mask"``, True where ``x`` was finite.
        """
        x = x.float()
        valid = None
        if self.nan_policy != "raise":
            finite = torch.isfinite(x)
            x = torch.where(finite, x, 0.0)
            valid = finite if self.nan_policy == "mask" else None
        return (torch.log1p(x.clamp_min(0)) if self.log_intensity else x), valid

    def fit(self, X, batch_size):
        """Measure per-channel mean and std of the scaled, valid values of a numpy array.

        Under distributed training every process reads its share of ``X``.
        """
        total = torch.zeros(self.mean.shape, dtype=torch.float64)
        total_sq, count = torch.zeros_like(total), torch.zeros_like(total)
        dims = [0] + list(range(2, X.ndim))
        rows = distributed.shard(range(len(X)))
        for start in range(rows.start, rows.stop, batch_size):
            x, valid = self.scale(as_tensor(X[start:min(start + batch_size, rows.stop)]))
            x = x.double()
            total += x.sum(dims)
            total_sq += (x * x).sum(dims)
            count += (valid.sum(dims) if valid is not None
                      else math.prod(x.shape) / x.shape[1])
        total, total_sq, count = (distributed.all_reduce_sum(value)
                                  for value in (total, total_sq, count))
        count = count.clamp_min(1)
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(0).sqrt()
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 1e-12, std, torch.ones_like(std)))
        return self

    def forward(self, x):
        x, valid = self.scale(x)
        if self.normalize == "dataset":
            shape = (1, -1) + (1,) * (x.ndim - 2)
            x = (x - self.mean.view(shape)) / self.std.view(shape)
        elif self.normalize == "image":
            dims = tuple(range(1, x.ndim))
            if valid is None:
                mean, std = x.mean(dim=dims, keepdim=True), x.std(dim=dims, keepdim=True,
                                                                   unbiased=False)
            else:
                count = valid.sum(dim=dims, keepdim=True).clamp_min(1)
                mean = x.sum(dim=dims, keepdim=True) / count
                std = ((x - mean).square() * valid).sum(dim=dims, keepdim=True).div(count).sqrt()
            x = (x - mean) / std.clamp_min(1e-12)
        elif self.normalize == "minmax":
            flat = x.flatten(1)
            if valid is None:
                low, high = flat.amin(1), flat.amax(1)
            else:
                mask = valid.flatten(1)
                any_valid = mask.any(1)
                low = torch.where(any_valid, torch.where(mask, flat, math.inf).amin(1), 0.0)
                high = torch.where(any_valid, torch.where(mask, flat, -math.inf).amax(1), 0.0)
            shape = (-1,) + (1,) * (x.ndim - 1)
            low, span = low.view(shape), (high - low).view(shape)
            x = torch.where(span > 0, (x - low) / span.clamp_min(1e-30), 0.0)
        return x if valid is None else x * valid


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


def projection_head(in_features, dims, batchnorm="hidden"):
    """MLP projection head: Linear-BN-ReLU for every width but the last.

    Parameters
    ----------
    in_features : int
    dims : tuple of int
        Layer widths; the last is the projection size.
    batchnorm : {"hidden", "all"}, default="hidden"
        ``"hidden"``: the last layer is a plain Linear (SimCLR v1).
        ``"all"``: every Linear is bias-free and followed by BatchNorm, the
        last one scaling without shifting and no ReLU after it (SimCLR v2
        and the reference CPLR study's 512-512-128 head).

    Returns
    -------
    torch.nn.Sequential
    """
    layers, width = [], in_features
    normed = batchnorm == "all"
    for hidden in dims[:-1]:
        layers += [nn.Linear(width, hidden, bias=not normed), nn.BatchNorm1d(hidden),
                   nn.ReLU(inplace=True)]
        width = hidden
    layers.append(nn.Linear(width, dims[-1], bias=not normed))
    if normed:
        last = nn.BatchNorm1d(dims[-1])
        last.bias.requires_grad_(False)  # scale only: the reference's BN(center=False)
        layers.append(last)
    return nn.Sequential(*layers)


def as_tensor(batch):
    """A numpy batch as a CPU tensor torch can convert to float."""
    batch = np.asarray(batch)
    if batch.dtype not in _TORCH_NATIVE_DTYPES:
        batch = batch.astype(np.float32)
    # torch takes neither read-only arrays nor negative strides (e.g. ``X[:, ::-1]``)
    copy = not batch.flags.writeable or any(stride < 0 for stride in batch.strides)
    return torch.from_numpy(np.array(batch, copy=copy))


class BatchIterator:
    """Mini-batches cut from an array by index slicing, optionally read ahead in a thread.

    Yields ``(x, y)`` pairs, the shape skorch's steps unpack; ``y`` is the
    targets when the dataset has them, the partner images when ``partners``
    is given, else None. With ``prefetch > 0`` a worker thread reads (from
    memory or disk) and converts the next ``prefetch`` batches while the
    current one trains. Batches are moved to the device whole, asynchronously
    from pinned memory on CUDA. Under distributed training every process gets its contiguous
    share of each global batch (see :mod:`contrastlearn.distributed`).

    Parameters
    ----------
    dataset : skorch.dataset.Dataset
        Its ``X`` is an array (or anything numpy-indexable) of samples.
    batch_size : int
        Images per global batch (over all processes).
    training : bool
        Shuffle with a new permutation every epoch, shard over the processes
        of distributed training, and skip a last batch of a single sample
        (BatchNorm cannot train on one).
    drop_last : bool
        Drop the last incomplete batch (only when at least one full batch
        exists; always under distributed training).
    device : str or torch.device
    channels_last : bool
        Give 4-D batches the channels_last memory format.
    partners : callable or None, default=None
        ``partners(rows, random) -> rows`` picks a partner image for every
        sample of a batch (see :meth:`contrastlearn.pairing.LatentNeighbors.sample`),
        given one uniform number per sample.
    generator : torch.Generator or None, default=None
        Draws the permutations and the partners' random numbers (torch's
        global generator when None). Equal on every process, so that they
        agree on the global batches.
    prefetch : int, default=2
        Batches read ahead; 0 reads each batch when it is needed.
    """

    def __init__(self, dataset, batch_size, training, drop_last, device, channels_last,
                 partners=None, generator=None, prefetch=2):
        self.X = dataset.X
        self.y = dataset.y
        self.partners = partners
        self.generator = generator
        self.prefetch = prefetch
        self.world_size = distributed.world_size() if training else 1
        batch_size = min(batch_size, len(self.X))
        self.batch_size = batch_size - batch_size % self.world_size
        self.training = training
        self.drop_last = drop_last or self.world_size > 1
        self.device = device
        self.channels_last = channels_last
        self.pin_memory = torch.device(device).type == "cuda"

    def __len__(self):
        full, rest = divmod(len(self.X), self.batch_size)
        if self.drop_last or (self.training and rest == 1):
            return full
        return full + (rest > 0)

    def _batch_rows(self):
        """``(rows, partner_rows)`` of this process for every batch of the epoch."""
        n = len(self.X)
        order = torch.randperm(n, generator=self.generator).numpy() if self.training else None
        for i in range(len(self)):
            start, stop = i * self.batch_size, min((i + 1) * self.batch_size, n)
            rows = slice(start, stop) if order is None else np.sort(order[start:stop])
            partner_rows = None
            if self.partners is not None:
                anchors = np.arange(start, stop) if order is None else rows
                random = torch.rand(len(anchors), generator=self.generator).numpy()
                partner_rows = distributed.shard(self.partners(anchors, random))
            if self.world_size > 1:
                rows = distributed.shard(rows)
            yield rows, partner_rows

    def _read(self, rows, partner_rows):
        """Read and convert one batch on the host (runs in the worker thread)."""
        x = self._host_tensor(self.X[rows])
        if partner_rows is not None:
            y = self._host_tensor(self.X[partner_rows])
        else:
            y = None if self.y is None else self._host_tensor(self.y[rows])
        return x, y

    def _host_tensor(self, batch):
        x = as_tensor(batch)
        return x.pin_memory() if self.pin_memory else x

    def __iter__(self):
        if not self.prefetch:
            for rows in self._batch_rows():
                yield self._to_device(*self._read(*rows))
            return
        reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="contrastlearn-reader")
        try:
            batches = (reader.submit(self._read, *rows) for rows in self._batch_rows())
            pending = deque(islice(batches, self.prefetch))
            while pending:
                x, y = pending.popleft().result()
                pending.extend(islice(batches, 1))
                yield self._to_device(x, y)
        finally:
            reader.shutdown(wait=True, cancel_futures=True)

    def _to_device(self, x, y):
        return self._move(x), None if y is None else self._move(y)

    def _move(self, tensor):
        return to_device(tensor, self.device, self.channels_last)


def to_device(tensor, device, channels_last):
    """Move a batch to ``device`` (asynchronously from pinned memory), channels_last if asked."""
    tensor = tensor.to(device, non_blocking=True)
    if channels_last and tensor.ndim == 4:
        tensor = tensor.contiguous(memory_format=torch.channels_last)
    return tensor


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
    data_order : torch.Generator or None
        Draws the training batches and partners (see :class:`BatchIterator`).

    Under distributed training each process computes the loss of its share
    of the batch (the method gathers what it needs from the others), and the
    gradients and the recorded loss are averaged over the processes.
    """

    def __init__(self, *args, training_loss=None, after_step=None, keep_partial_batches=False,
                 partners=None, data_order=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.training_loss = training_loss
        self.after_step = after_step
        self.keep_partial_batches = keep_partial_batches
        self.partners = partners
        self.data_order = data_order

    @property
    def _on_cuda(self):
        return torch.device(self.device).type == "cuda"

    def _autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=self._on_cuda)

    def fit_loop(self, X, y=None, **fit_params):
        self.interrupted = False
        try:
            return super().fit_loop(X, y, **fit_params)
        except KeyboardInterrupt as stop:  # skorch's partial_fit swallows it
            self.interrupted = not isinstance(stop, _EarlyStop)  # train_network re-raises Ctrl-C
            raise

    def notify(self, method_name, **cb_kwargs):
        super().notify(method_name, **cb_kwargs)
        # After every callback has seen the epoch (the table printed, the checkpoint written).
        if method_name == "on_epoch_end" and getattr(dict(self.callbacks_).get("monitor"),
                                                     "stopped_", False):
            raise _EarlyStop

    def get_iterator(self, dataset, training=False):
        return BatchIterator(dataset, self.batch_size, training=training,
                             drop_last=training and not self.keep_partial_batches,
                             device=self.device, channels_last=self._on_cuda,
                             partners=self.partners if training else None,
                             generator=self.data_order if training else None,
                             prefetch=PREFETCH_BATCHES.get(torch.device(self.device).type, 0))

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
        distributed.average_gradients(self.module_.parameters())
        return {"loss": distributed.all_reduce_mean(loss.detach()), "y_pred": None}

    def forward(self, X, training=False, device="cpu"):
        try:
            return super().forward(X, training=training, device=device)
        except torch.OutOfMemoryError as error:
            raise BatchTooLarge(
                f"The {torch.device(self.device).type} device ran out of memory embedding "
                f"batches of {self.batch_size} images. Embed in smaller batches, e.g. "
                f"estimator.net_.batch_size = {max(self.batch_size // 2, 1)}; the embeddings "
                "do not depend on it."
            ) from error

    def infer(self, x, **fit_params):
        with self._autocast():
            return self.module_(x).float()


CHECKPOINT_FILE = "contrastlearn_checkpoint.pt"


def load_checkpoint(directory, fingerprint):
    """The training state saved in ``directory``, or None when there is none yet.

    Loaded with ``torch.load(..., weights_only=True)``: tensors and plain
    containers only, never code.

    Raises
    ------
    ValueError
        When the file cannot be loaded safely, or was written by a fit of
        other parameters or data (another ``fingerprint``).
    """
    path = os.path.join(directory, CHECKPOINT_FILE)
    if not os.path.exists(path):
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as error:
        raise ValueError(
            f"The checkpoint {path} could not be loaded as weights only (it may be damaged, "
            f"or hold code, which is never run): {error}"
        ) from None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise ValueError(
            f"The checkpoint {path} was written by a fit with other parameters or data. Use "
            "another checkpoint_dir, or delete the file to start afresh."
        )
    return state


class EpochCheckpoint(Callback):
    """Save all a fit needs to go on after every epoch; restore it when a fit resumes.

    The file holds the module (and its int attributes), optimiser, learning
    rate schedule, random generators, history and ``fingerprint``; it is
    written to a temporary file and renamed into place, so a fit killed at
    any moment leaves the last complete epoch. Under distributed training
    only rank 0 writes.

    Parameters
    ----------
    directory : str or path-like
    fingerprint : str
        Identifies the parameters and data the state belongs to.
    state : dict or None
        A loaded checkpoint to resume from (see :func:`load_checkpoint`);
        the module, optimiser and history are restored by
        :func:`train_network` before training, the rest at ``on_train_begin``.
    """

    def __init__(self, directory, fingerprint, state=None):
        self.directory = directory
        self.fingerprint = fingerprint
        self.state = state

    def on_train_begin(self, net, **kwargs):
        if self.state is None:
            return
        schedule = dict(net.callbacks_).get("lr_schedule")
        if schedule is not None:
            schedule.lr_scheduler_.load_state_dict(self.state["scheduler"])
        # After the schedule, which sets the learning rate when it is built.
        net.optimizer_.load_state_dict(self.state["optimizer"])
        torch.set_rng_state(self.state["rng"])
        if "cuda_rng" in self.state:
            torch.cuda.set_rng_state(self.state["cuda_rng"], net.device)
        net.data_order.set_state(self.state["data_order"])
        self.state = None

    def on_epoch_end(self, net, **kwargs):
        if distributed.rank() != 0:
            return
        schedule = dict(net.callbacks_).get("lr_schedule")
        state = {
            "fingerprint": self.fingerprint,
            "module": net.module_.state_dict(),
            # plain int attributes, such as DINO's ema_step
            "module_counters": {name: value for name, value in vars(net.module_).items()
                                if type(value) is int and not name.startswith("_")},
            "optimizer": net.optimizer_.state_dict(),
            "scheduler": schedule.lr_scheduler_.state_dict() if schedule is not None else None,
            "rng": torch.get_rng_state(),
            "data_order": net.data_order.get_state(),
            "history": _plain(list(net.history)),
        }
        monitor = dict(net.callbacks_).get("monitor")
        if monitor is not None:
            state["monitor"] = _plain(monitor.state_dict())
        if net._on_cuda:
            state["cuda_rng"] = torch.cuda.get_rng_state(net.device)
        os.makedirs(self.directory, exist_ok=True)
        path = os.path.join(self.directory, CHECKPOINT_FILE)
        partial = f"{path}.{os.getpid()}.partial"
        try:
            with open(partial, "wb") as f:
                torch.save(state, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, path)
        finally:
            if os.path.exists(partial):
                os.remove(partial)


class Diverged(FloatingPointError):
    """The training loss stopped being finite (the net keeps the last good weights)."""


class BatchTooLarge(torch.OutOfMemoryError):
    """A training step of ``batch_size`` images did not fit in the device's memory."""


class StopOnDivergence(Callback):
    """Stop at the first non-finite training loss, with the weights from the epoch's start.

    Parameters
    ----------
    checkpoint_dir : str or None
        Named in the error message when it holds the last complete epoch.
    """

    def __init__(self, checkpoint_dir=None):
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_begin(self, net, **kwargs):
        self.good_weights_ = {key: value.detach().clone()
                              for key, value in net.module_.state_dict().items()}

    def on_batch_end(self, net, training=False, **kwargs):
        loss = net.history[-1, "batches", -1, "train_loss"] if training else 0.0
        if math.isfinite(loss):
            return
        net.module_.load_state_dict(self.good_weights_)
        epoch, batch = len(net.history), len(net.history[-1, "batches"])
        kept = (f"; {self.checkpoint_dir} holds the last complete epoch"
                if self.checkpoint_dir else "")
        raise Diverged(
            f"The training loss became {loss} in epoch {epoch}, batch {batch}: training "
            f"diverged and was stopped. The model keeps the weights from the start of epoch "
            f"{epoch}{kept}. Try a lower lr (it is {net.lr}), and check X for extreme values "
            "(log_intensity=True tames intensities spanning many decades)."
        )


def _plain(value):
    """``value`` with numpy scalars made Python numbers, which weights-only loading accepts."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(item) for item in value)
    return value.item() if isinstance(value, np.generic) else value


def _out_of_memory_message(net, X, y, paired, batch_size):
    """Explain an out-of-memory training step and name the largest halved batch that fits.

    Runs a real training step (forward, backward, optimiser) on the first
    ``batch_size / 2``, ``/ 4``, ... samples until one fits; the weights it
    changes belong to a fit that has failed anyway. Under distributed
    training no step is tried: the processes would wait for each other.
    """
    fits = None
    size = min(batch_size, len(X)) // 2 if distributed.world_size() == 1 else 0
    while size >= 2 and fits is None:
        net.optimizer_.zero_grad(set_to_none=True)
        if net._on_cuda:
            torch.cuda.empty_cache()
        try:
            x = to_device(as_tensor(X[:size]), net.device, net._on_cuda)
            other = x if paired else None if y is None else to_device(
                as_tensor(y[:size]), net.device, net._on_cuda)
            net.train_step((x, other))
            fits = size
        except torch.OutOfMemoryError:
            size //= 2
    net.optimizer_.zero_grad(set_to_none=True)
    if fits is not None:
        advice = (f"A step of {fits} images fits: pass batch_size={fits} (and scale lr with "
                  "it if you tuned it).")
    elif distributed.world_size() > 1:
        advice = f"Try batch_size={batch_size // 2}."
    else:
        advice = "Not even 2 images fit: use a smaller backbone or smaller images."
    return (f"The {torch.device(net.device).type} device ran out of memory training with "
            f"batch_size={batch_size}. {advice} Nothing was trained with another batch size.")


# Callbacks that print or write files: under distributed training only rank 0 keeps them.
_WRITERS = (PrintLog, ProgressBar, Checkpoint, TrainEndCheckpoint)


class EpochTable(PrintLog):
    """skorch's epoch table, without colour codes when stdout is not a terminal."""

    def table(self, row):
        if not sys.stdout.isatty():
            row = {key: value for key, value in row.items() if not key.endswith("_best")}
        return super().table(row)


#: The optimisers a pretrainer's ``optimizer`` parameter names.
OPTIMIZERS = {"adamw": torch.optim.AdamW, "lars": LARS}


def _lr_schedule(owner, X, keep_partial_batches):
    """The per-step learning-rate callback for ``lr_schedule`` and ``warmup_epochs``, or None."""
    warmup_epochs = getattr(owner, "warmup_epochs", 0)
    if owner.lr_schedule != "cosine" and not warmup_epochs:
        return None
    steps_per_epoch = len(BatchIterator(SimpleNamespace(X=X, y=None), owner.batch_size,
                                        training=True, drop_last=not keep_partial_batches,
                                        device="cpu", channels_last=False))
    factor = WarmupCosine(total_steps=steps_per_epoch * owner.max_epochs,
                          warmup_steps=round(warmup_epochs * steps_per_epoch),
                          cosine=owner.lr_schedule == "cosine")
    return LRScheduler(policy=torch.optim.lr_scheduler.LambdaLR, lr_lambda=factor,
                       step_every="batch")


def train_network(owner, make_module, X, y, training_loss, *, after_step=None,
                  optimizer_params=None, keep_partial_batches=False, partners=None,
                  checkpoint=None, monitor=None):
    """Seed torch, build the module and train it: the one training loop of the library.

    Parameters
    ----------
    owner : estimator
        Supplies ``random_state``, ``device_``, ``lr``, ``weight_decay``,
        ``max_epochs``, ``batch_size``, ``lr_schedule``, ``callbacks``,
        ``verbose`` and, if it has them, ``optimizer`` (a key of
        :data:`OPTIMIZERS`; default ``"adamw"``), ``warmup_epochs`` (linear
        warm-up before the per-step cosine decay; default 0) and ``compile``
        (compile ``training_loss`` with :func:`torch.compile`).
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
    checkpoint : (directory, fingerprint) or None, default=None
        Save the training state there after every epoch
        (:class:`EpochCheckpoint`) and, when the directory already holds one
        of the same fingerprint, go on from its last epoch.
    monitor : TrainingMonitor or None, default=None
        Records the per-epoch monitors and stops early when it says so
        (its state is part of the checkpoint).

    Returns
    -------
    Trainer
        The fitted net.

    Raises
    ------
    Diverged
        At a non-finite training loss (weights from the epoch's start).
    KeyboardInterrupt
        On Ctrl-C (weights reached so far). In both cases ``owner`` keeps
        the net as ``net_`` and its ``history_``.
    BatchTooLarge
        When a training step runs out of device memory, naming the largest
        halved batch size whose step fits.
    """
    world_size = distributed.world_size()
    if world_size > 1 and (owner.batch_size % world_size or len(X) < world_size):
        raise ValueError(
            f"Distributed training over {world_size} processes splits every batch evenly: "
            f"batch_size must be a multiple of {world_size} and X must hold at least "
            f"{world_size} samples; got batch_size={owner.batch_size} and {len(X)} samples."
        )
    # Every process must draw the same weights and batches: rank 0's seed decides.
    seed = distributed.broadcast_object(
        int(check_random_state(owner.random_state).randint(np.iinfo(np.int32).max)))
    cuda = torch.device(owner.device_).type == "cuda"
    main_process = distributed.rank() == 0
    verbose = owner.verbose if main_process else 0
    callbacks = [callback for callback in owner.callbacks or []
                 if main_process or not isinstance(callback[1] if isinstance(callback, tuple)
                                                   else callback, _WRITERS)]
    schedule = _lr_schedule(owner, X, keep_partial_batches)
    if schedule is not None:
        callbacks.append(("lr_schedule", schedule))
    if verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    callbacks.append(("stop_on_divergence",
                      StopOnDivergence(checkpoint[0] if checkpoint is not None else None)))
    if monitor is not None:  # before the checkpoint, which saves what it records
        callbacks.append(("monitor", monitor))
    state = None
    if checkpoint is not None:
        directory, fingerprint = checkpoint
        state = load_checkpoint(directory, fingerprint)
        callbacks.append(("checkpoint", EpochCheckpoint(directory, fingerprint, state)))
    with torch.random.fork_rng(devices=[torch.device(owner.device_).index or 0] if cuda else []):
        torch.manual_seed(seed)
        module = make_module()
        if cuda:
            module = module.to(memory_format=torch.channels_last)
        if world_size > 1:  # the same batches, different augmentation draws per process
            torch.manual_seed(seed + 1 + distributed.rank())
        compiled = getattr(owner, "compile", False)
        net = Trainer(
            module=module,
            criterion=nn.Identity,
            optimizer=OPTIMIZERS[getattr(owner, "optimizer", "adamw")],
            optimizer__weight_decay=owner.weight_decay,
            **{f"optimizer__{key}": value for key, value in (optimizer_params or {}).items()},
            lr=owner.lr,
            max_epochs=owner.max_epochs,
            batch_size=owner.batch_size,
            train_split=None,
            device=owner.device_,
            callbacks=callbacks,
            verbose=verbose,
            training_loss=torch.compile(training_loss) if compiled else training_loss,
            after_step=after_step,
            keep_partial_batches=keep_partial_batches,
            partners=partners,
            data_order=torch.Generator().manual_seed(seed),
        )
        if verbose:
            net.set_params(callbacks__print_log=EpochTable(keys_ignored=["train_batch_count"]))
        net.initialize()
        done = 0
        if state is not None:  # what the schedule and the epoch numbers start from
            net.module_.load_state_dict(state["module"])
            for name, value in state["module_counters"].items():
                setattr(net.module_, name, value)
            net.optimizer_.load_state_dict(state["optimizer"])
            net.history = History(state["history"])
            done = len(net.history)
            if monitor is not None and "monitor" in state:
                monitor.load_state_dict(state["monitor"])
                if monitor.stopped_:  # the checkpointed fit had stopped early
                    done = owner.max_epochs
        out_of_memory = False
        try:
            net.partial_fit(X, y, epochs=max(owner.max_epochs - done, 0))
        except torch.OutOfMemoryError:
            out_of_memory = True  # handled below, once the failed step's tensors are freed
        except Diverged:
            owner.net_, owner.history_ = net, net.history
            raise
        finally:  # also when training stops with an error: the net must still pickle
            net.partners = net.data_order = None
            net.training_loss = training_loss  # a compiled function does not pickle
        if out_of_memory:
            raise BatchTooLarge(_out_of_memory_message(
                net, X, y, paired=partners is not None, batch_size=owner.batch_size))
        if net.interrupted:
            owner.net_, owner.history_ = net, net.history
            raise KeyboardInterrupt(
                f"Training was interrupted in epoch {len(net.history)}; "
                f"{type(owner).__name__} keeps the weights reached so far"
                + (" and checkpoint_dir the last complete epoch, from which fit goes on"
                   if checkpoint is not None else "") + "."
            )
    # Processes differ only in BatchNorm statistics: keep rank 0's everywhere.
    distributed.broadcast_module(net.module_)
    return net
