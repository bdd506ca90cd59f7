"""The engine's callbacks: epoch checkpoints, the divergence stop and the epoch table."""

import math
import sys

import numpy as np
import torch
from skorch.callbacks import Callback, Checkpoint, PrintLog, ProgressBar, TrainEndCheckpoint

from . import distributed
from ._checkpoint import check_checkpoint_space, write_checkpoint


class EpochCheckpoint(Callback):
    """Save all a fit needs to go on after every epoch; restore it when a fit resumes.

    The file holds the module's state dict (buffers included: a counter that
    must survive a resume, such as a
    :class:`~contrastlearn.heads.MomentumTeacher`'s step, is a buffer), optimiser, learning
    rate schedule, random generators, history and ``fingerprint``; it is
    written by :func:`~contrastlearn._checkpoint.write_checkpoint`
    (verified, renamed into place, the previous epoch's file kept), so a
    fit killed at any moment leaves the last complete epoch. Before the
    first epoch the disk's free space is checked. Under distributed
    training only rank 0 writes.

    Parameters
    ----------
    directory : str or path-like
    fingerprint : str
        Identifies the parameters and data the state belongs to.
    state : dict or None
        A loaded checkpoint to resume from (see
        :func:`~contrastlearn._checkpoint.load_checkpoint`);
        the module, optimiser and history are restored by
        :func:`train_network` before training, the rest at ``on_train_begin``.
    """

    def __init__(self, directory, fingerprint, state=None):
        self.directory = directory
        self.fingerprint = fingerprint
        self.state = state

    def on_train_begin(self, net, **kwargs):
        remaining_epochs = net.max_epochs - len(net.history)
        _on_rank_0(check_checkpoint_space, self.directory, net.module_, remaining_epochs)
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
        _on_rank_0(self._save, net)

    def _save(self, net):
        schedule = dict(net.callbacks_).get("lr_schedule")
        state = {
            "fingerprint": self.fingerprint,
            "module": net.module_.state_dict(),
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
        write_checkpoint(self.directory, state)


def _on_rank_0(write, *args):
    """Run ``write`` on rank 0 only; its OSError is raised on every process, so none waits."""
    failed = None
    if distributed.rank() == 0:
        try:
            write(*args)
        except OSError as error:
            failed = error
    failed = distributed.broadcast_object(failed)
    if failed is not None:
        raise failed


class Diverged(FloatingPointError):
    """The training loss stopped being finite (the net keeps the last good weights)."""


class BatchTooLarge(torch.OutOfMemoryError):
    """A training step of ``batch_size`` images did not fit in the device's memory."""


class StopOnDivergence(Callback):
    """Stop at the first non-finite training loss, with the weights from the epoch's start.

    The trainer reads the losses of its steps in blocks (see
    :data:`~contrastlearn._trainer.LOSS_READ_STEPS`) and hands every block
    to :meth:`check`, so no step waits for the device.

    Parameters
    ----------
    checkpoint_dir : str or None
        Named in the error message when it holds the last complete epoch.
    """

    def __init__(self, checkpoint_dir=None):
        self.checkpoint_dir = checkpoint_dir

    def on_epoch_begin(self, net, **kwargs):
        self.good_weights_ = {
            key: value.detach().clone() for key, value in net.module_.state_dict().items()
        }

    def check(self, net, losses, first_batch):
        """Raise :class:`Diverged` when one of ``losses`` is not finite.

        Parameters
        ----------
        net : Trainer
        losses : list of float
            Training losses of consecutive batches of the current epoch.
        first_batch : int
            The 1-based number in the epoch of the batch of ``losses[0]``.
        """
        bad = next((i for i, loss in enumerate(losses) if not math.isfinite(loss)), None)
        if bad is None:
            return
        loss = losses[bad]
        net.module_.load_state_dict(self.good_weights_)
        epoch, batch = len(net.history), first_batch + bad
        kept = (
            f"; {self.checkpoint_dir} holds the last complete epoch" if self.checkpoint_dir else ""
        )
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


# Callbacks that print or write files: under distributed training only rank 0 keeps them.
_WRITERS = (PrintLog, ProgressBar, Checkpoint, TrainEndCheckpoint)


class EpochTable(PrintLog):
    """skorch's epoch table, without colour codes when stdout is not a terminal."""

    def table(self, row):
        if not sys.stdout.isatty():
            row = {key: value for key, value in row.items() if not key.endswith("_best")}
        return super().table(row)
