"""The private training engine: one skorch ``NeuralNet`` for every pretrainer.

A pretrainer (``CLR`` and its siblings) builds a
:class:`~contrastlearn._model.PretrainModule`, hands it to :class:`Trainer`
together with its ``training_loss(module, x)`` and lets skorch run the epochs,
callbacks and history. What differs from a stock ``NeuralNet``:

- batches are cut from the in-memory array by index slicing and moved to the
  device whole (:class:`~contrastlearn._data.BatchIterator`), never assembled
  per sample by a ``Dataset`` + ``collate``;
- the training step asks the method for its loss (two augmented views, a
  teacher, ...) instead of comparing predictions with targets;
- on CUDA the step runs under bf16 autocast on channels_last tensors.
"""

import contextlib

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import LRScheduler, ProgressBar
from skorch.dataset import Dataset, get_len
from skorch.history import History
from skorch.utils import TeeGenerator
from torch import nn

from . import distributed
from ._callbacks import (
    _WRITERS,
    BatchTooLarge,
    Diverged,
    EpochCheckpoint,
    EpochTable,
    StopOnDivergence,
)
from ._checkpoint import load_checkpoint
from ._data import PREFETCH_BATCHES, BatchIterator, as_tensor, steps_per_epoch, to_device
from ._model import Preprocess, PretrainModule  # noqa: F401 (pickles of 0.1 name them here)
from .monitor import _EarlyStop
from .optim import LARS, MomentumSGD, WarmupCosine


class TrainingLoss(nn.Module):
    """A module whose ``forward`` is the method's loss: what DistributedDataParallel wraps.

    Parameters
    ----------
    module : torch.nn.Module
        The pretrainer's module (registered, so its parameters are this one's).
    loss : callable
        ``loss(module, x)`` or ``loss(module, x, y)``.
    """

    def __init__(self, module, loss):
        super().__init__()
        self.module = module
        self.loss = loss

    def forward(self, x, y=None):
        return self.loss(self.module, x) if y is None else self.loss(self.module, x, y)


#: Training steps whose losses are read from the device at once (the divergence check):
#: the loop never waits for a step's loss, only for a block of them and at the epoch's end.
LOSS_READ_STEPS = 50


def _release_fit_state(net):
    """Drop what the callbacks keep on the device for the fit alone.

    It frees the device memory it holds (copies of the weights), and a model
    trained on a GPU then unpickles where there is none: skorch maps only the
    net's own modules and optimiser to the CPU.
    """
    callbacks = dict(net.callbacks_)
    callbacks["stop_on_divergence"].good_weights_ = None
    if "monitor" in callbacks:
        callbacks["monitor"].best_module_ = None
    if "lr_schedule" in callbacks:  # skorch makes a new scheduler when training begins
        callbacks["lr_schedule"].lr_scheduler_ = None


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
    accumulate_batches : int, default=1
        Add up the gradients of that many consecutive batches (each batch's
        loss divided by their number) before one optimiser step; an epoch's
        last step takes the batches left.
    max_grad_norm : float or None, default=None
        Rescale the gradients of a step so that their global L2 norm is at
        most this (:func:`torch.nn.utils.clip_grad_norm_`), before the
        optimiser step.

    Under distributed training each process computes the loss of its share
    of the batch (the method gathers what it needs from the others), and the
    gradients and the recorded loss are averaged over the processes. The
    step calls ``loss_modules["loss"]``, a :class:`TrainingLoss` of ``module_``
    (in :class:`~torch.nn.parallel.DistributedDataParallel` when there are
    several processes), which :func:`train_network` sets for the fit.
    """

    #: ``module`` is the trained module itself (an instance, like ``module_``): skorch pickles
    #: these apart and loads them onto the CPU where the device they were on is missing.
    cuda_dependent_attributes_ = ["module"]

    def __init__(
        self,
        *args,
        training_loss=None,
        after_step=None,
        keep_partial_batches=False,
        partners=None,
        data_order=None,
        accumulate_batches=1,
        max_grad_norm=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.training_loss = training_loss
        self.after_step = after_step
        self.keep_partial_batches = keep_partial_batches
        self.partners = partners
        self.data_order = data_order
        self.accumulate_batches = accumulate_batches
        self.max_grad_norm = max_grad_norm
        # Where the step is in the epoch and in the current accumulation window.
        self._epoch_batches = self._batch_index = self._window = self._accumulated = 0
        # {"loss": TrainingLoss of module_, in DistributedDataParallel under torchrun}, set by
        # train_network for a fit (kept in a dict: skorch registers torch modules set as
        # attributes after __init__ as parts of the net).
        self.loss_modules = {}

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
        if method_name == "on_epoch_end" and getattr(
            dict(self.callbacks_).get("monitor"), "stopped_", False
        ):
            raise _EarlyStop

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        """skorch's epoch, reading the step losses from the device in blocks, not one by one.

        skorch calls ``loss.item()`` after every step, which makes the host
        wait for the device to finish it. Here the losses stay on the device
        until :data:`LOSS_READ_STEPS` of them (or the epoch) are done, then one
        read fills their history entries and the divergence check sees them.
        """
        if iterator is None:
            return
        pending, count = [], 0
        if training:
            self._epoch_batches, self._batch_index, self._accumulated = len(iterator), 0, 0
        for batch in iterator:
            self.notify("on_batch_begin", batch=batch, training=training)
            step = step_fn(batch, **fit_params)
            pending.append(step["loss"].detach())
            self.history.record_batch(
                prefix + "_batch_size",
                get_len(batch[0] if isinstance(batch, (tuple, list)) else batch),
            )
            self.notify("on_batch_end", batch=batch, training=training, **step)
            count += 1
            if len(pending) == LOSS_READ_STEPS:
                self._record_losses(prefix, pending, count, training)
                pending = []
        self._record_losses(prefix, pending, count, training)
        self.history.record(prefix + "_batch_count", count)

    def _record_losses(self, prefix, losses, count, training):
        """Write the losses of the last ``len(losses)`` of ``count`` batches into the history."""
        if not losses:
            return
        values = torch.stack(losses).float().tolist()
        # this loop's batches are the epoch's last entries (validation follows training)
        batches = self.history[-1]["batches"][-len(values) :]
        for entry, value in zip(batches, values):
            entry[prefix + "_loss"] = value
        divergence = dict(self.callbacks_).get("stop_on_divergence")
        if training and divergence is not None:
            divergence.check(self, values, count - len(values) + 1)

    def get_iterator(self, dataset, training=False):
        return BatchIterator(
            dataset,
            self.batch_size,
            training=training,
            drop_last=training and not self.keep_partial_batches,
            device=self.device,
            channels_last=self._on_cuda,
            partners=self.partners if training else None,
            generator=self.data_order if training else None,
            prefetch=PREFETCH_BATCHES.get(torch.device(self.device).type, 0),
        )

    def train_step(self, batch, **fit_params):
        """Add the batch's gradients; step the optimiser at the end of a window of batches.

        A window is ``accumulate_batches`` batches (fewer at the epoch's
        end); its gradients are clipped to ``max_grad_norm`` before the step,
        and ``after_step`` runs after it.
        """
        if self._accumulated == 0:
            self._zero_grad_optimizer()
            left = self._epoch_batches - self._batch_index
            self._window = max(1, min(self.accumulate_batches, left))
        self._accumulated += 1
        self._batch_index += 1
        window_done = self._accumulated == self._window
        loss_module = self.loss_modules.get("loss")
        no_sync = getattr(loss_module, "no_sync", None)  # DistributedDataParallel's
        with contextlib.nullcontext() if window_done or no_sync is None else no_sync():
            step = self.train_step_single(batch, **fit_params)
        if not window_done:
            return step
        self._accumulated = 0
        self.notify(
            "on_grad_computed",
            named_parameters=TeeGenerator(self.get_all_learnable_params()),
            batch=batch,
            training=True,
        )
        if self.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(self.module_.parameters(), self.max_grad_norm)
        self._step_optimizer(None)
        if self.after_step is not None:
            with torch.no_grad():
                self.after_step(self.module_)
        return step

    def train_step_single(self, batch, **fit_params):
        self._set_training(True)
        x, y = batch
        loss_module = self.loss_modules.get("loss")
        if loss_module is None:  # a step outside train_network's fit (the out-of-memory probe)
            loss_module = TrainingLoss(self.module_, self.training_loss)
        with self._autocast():
            loss = loss_module(x, y)
        # averages the gradients over the processes, if there are several
        (loss if self._window <= 1 else loss / self._window).backward()
        return {"loss": distributed.all_reduce_mean(loss.detach()), "y_pred": None}

    def validation_step(self, batch, **fit_params):
        """The method's loss on a validation batch, in eval mode and without gradients."""
        self._set_training(False)
        x, y = batch
        with torch.no_grad(), self._autocast():
            loss = TrainingLoss(self.module_, self.training_loss)(x, y)
        return {"loss": loss.float(), "y_pred": None}

    def forward(self, X, training=False, device="cpu"):
        try:
            with float32_default():
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
            other = (
                x
                if paired
                else None
                if y is None
                else to_device(as_tensor(y[:size]), net.device, net._on_cuda)
            )
            net.train_step((x, other))
            fits = size
        except torch.OutOfMemoryError:
            size //= 2
    net.optimizer_.zero_grad(set_to_none=True)
    if fits is not None:
        advice = (
            f"A step of {fits} images fits: pass batch_size={fits} (and scale lr with "
            "it if you tuned it)."
        )
    elif distributed.world_size() > 1:
        advice = f"Try batch_size={batch_size // 2}."
    else:
        advice = "Not even 2 images fit: use a smaller backbone or smaller images."
    return (
        f"The {torch.device(net.device).type} device ran out of memory training with "
        f"batch_size={batch_size}. {advice} Nothing was trained with another batch size."
    )


@contextlib.contextmanager
def float32_default():
    """Make float32 torch's default dtype for the block (the models train in float32).

    Under ``torch.set_default_dtype(torch.float64)`` new parameters and
    tensors would be float64, and float32 batches would meet float64
    weights. The user's default is restored afterwards; when it is float32
    already nothing changes (so concurrent ``transform`` calls do not race).
    """
    previous = torch.get_default_dtype()
    if previous == torch.float32:
        yield
        return
    torch.set_default_dtype(torch.float32)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


class _HeldOut:
    """skorch ``train_split`` keeping the training data whole and validating on given data."""

    def __init__(self, X, y=None):
        self.X, self.y = X, y

    def __call__(self, dataset, y=None, **fit_params):
        return dataset, Dataset(self.X, self.y)


#: The optimisers a pretrainer's ``optimizer`` parameter names.
OPTIMIZERS = {"adamw": torch.optim.AdamW, "lars": LARS, "sgd": MomentumSGD}


def _lr_schedule(owner, X, keep_partial_batches):
    """The per-step learning-rate callback for ``lr_schedule`` and ``warmup_epochs``, or None."""
    warmup_epochs = getattr(owner, "warmup_epochs", 0)
    if owner.lr_schedule != "cosine" and not warmup_epochs:
        return None
    steps = steps_per_epoch(X, owner.batch_size, drop_last=not keep_partial_batches)
    factor = WarmupCosine(
        total_steps=steps * owner.max_epochs,
        warmup_steps=round(warmup_epochs * steps),
        cosine=owner.lr_schedule == "cosine",
    )
    return LRScheduler(
        policy=torch.optim.lr_scheduler.LambdaLR, lr_lambda=factor, step_every="batch"
    )


def train_network(
    owner,
    make_module,
    X,
    y,
    training_loss,
    *,
    after_step=None,
    optimizer_params=None,
    keep_partial_batches=False,
    partners=None,
    checkpoint=None,
    monitor=None,
    valid=None,
):
    """Seed torch, build the module and train it: the one training loop of the library.

    Parameters
    ----------
    owner : estimator
        Supplies ``random_state``, ``device_``, ``lr``, ``weight_decay``,
        ``max_epochs``, ``batch_size``, ``lr_schedule``, ``callbacks``,
        ``verbose`` and, if it has them, ``optimizer`` (a key of
        :data:`OPTIMIZERS`; default ``"adamw"``), ``warmup_epochs`` (linear
        warm-up before the per-step cosine decay; default 0) and ``compile``
        (compile ``training_loss`` with :func:`torch.compile`),
        ``accumulate_batches`` and ``max_grad_norm`` (see :class:`Trainer`).
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
    valid : (X_valid, y_valid) or None, default=None
        Held-out data (``y_valid`` None when there are no targets): after
        every epoch the method's loss on it, in eval mode, is recorded as
        ``history[:, "valid_loss"]``. Not kept on the returned net.

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
        int(check_random_state(owner.random_state).randint(np.iinfo(np.int32).max))
    )
    cuda = torch.device(owner.device_).type == "cuda"
    main_process = distributed.rank() == 0
    verbose = owner.verbose if main_process else 0
    callbacks = [
        callback
        for callback in owner.callbacks or []
        if main_process
        or not isinstance(callback[1] if isinstance(callback, tuple) else callback, _WRITERS)
    ]
    schedule = _lr_schedule(owner, X, keep_partial_batches)
    if schedule is not None:
        callbacks.append(("lr_schedule", schedule))
    if verbose >= 2:
        callbacks.append(("progress_bar", ProgressBar()))
    callbacks.append(
        ("stop_on_divergence", StopOnDivergence(checkpoint[0] if checkpoint is not None else None))
    )
    if monitor is not None:  # before the checkpoint, which saves what it records
        callbacks.append(("monitor", monitor))
    state = None
    if checkpoint is not None:
        directory, fingerprint = checkpoint
        state = load_checkpoint(directory, fingerprint)
        callbacks.append(("checkpoint", EpochCheckpoint(directory, fingerprint, state)))
    with (
        float32_default(),
        torch.random.fork_rng(devices=[torch.device(owner.device_).index or 0] if cuda else []),
    ):
        torch.manual_seed(seed)
        module = make_module()
        if any(p.dtype == torch.float64 for p in (*module.parameters(), *module.buffers())):
            module = module.float()  # a user's module built under a float64 default
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
            train_split=None if valid is None else _HeldOut(*valid),
            device=owner.device_,
            callbacks=callbacks,
            verbose=verbose,
            training_loss=torch.compile(training_loss) if compiled else training_loss,
            after_step=after_step,
            keep_partial_batches=keep_partial_batches,
            partners=partners,
            data_order=torch.Generator().manual_seed(seed),
            accumulate_batches=getattr(owner, "accumulate_batches", 1),
            max_grad_norm=getattr(owner, "max_grad_norm", None),
        )
        if verbose:
            net.set_params(callbacks__print_log=EpochTable(keys_ignored=["train_batch_count"]))
        net.initialize()
        net.loss_modules["loss"] = distributed.data_parallel(
            TrainingLoss(net.module_, net.training_loss), owner.device_
        )
        done = 0
        if state is not None:  # what the schedule and the epoch numbers start from
            net.module_.load_state_dict(state["module"])
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
            net.partners = net.data_order = net.train_split = None
            net.loss_modules.clear()
            net.training_loss = training_loss  # a compiled function does not pickle
            _release_fit_state(net)
        if out_of_memory:
            raise BatchTooLarge(
                _out_of_memory_message(
                    net, X, y, paired=partners is not None, batch_size=owner.batch_size
                )
            )
        if net.interrupted:
            owner.net_, owner.history_ = net, net.history
            raise KeyboardInterrupt(
                f"Training was interrupted in epoch {len(net.history)}; "
                f"{type(owner).__name__} keeps the weights reached so far"
                + (
                    " and checkpoint_dir the last complete epoch, from which fit goes on"
                    if checkpoint is not None
                    else ""
                )
                + "."
            )
    # Processes differ only in BatchNorm statistics: keep rank 0's everywhere.
    distributed.broadcast_module(net.module_)
    return net
