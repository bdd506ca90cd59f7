"""Data-parallel training over ``torch.distributed``, launched with ``torchrun``.

The same estimator code runs on one process or on several: launched with
``torchrun --nproc_per_node=4 script.py``, a pretrainer's ``fit`` joins the
process group torchrun describes in the environment (``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ...), trains on ``cuda:LOCAL_RANK`` (NCCL) or the CPU (gloo),
and every step

- splits each global batch of ``batch_size`` images evenly over the
  processes, each reading only its own rows;
- gathers the projections of every process for the loss, with gradients
  flowing back to the process that made them (:func:`gather`, torch's
  differentiable ``all_gather``), so that an anchor meets the negatives of the
  whole global batch;
- averages the gradients over the processes with torch's
  :class:`~torch.nn.parallel.DistributedDataParallel` (:func:`data_parallel`),
  which reduces them in buckets while the backward pass still runs.

The result equals a one-process fit on the same global batches, up to the
per-process BatchNorm statistics and the augmentation draws. This module is
the only one that imports ``torch.distributed``.
"""

import atexit
import os
import sys

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_gather as _all_gather_with_gradients
from torch.nn.parallel import DistributedDataParallel

from ._validation import TORCH_DEVICE
from .validation import ArrayLike, InstanceOf, Predicate, validate_params

_TENSOR = InstanceOf(torch.Tensor, name="a torch tensor")
_MODULE = InstanceOf(nn.Module, name="a torch.nn.Module")
_ITERABLE = Predicate(lambda v: iter(v) is not None, "an iterable")

__all__ = [
    "is_launched",
    "rank",
    "world_size",
    "local_device",
    "setup",
    "gather",
    "data_parallel",
    "average_gradients",
    "all_reduce_sum",
    "all_reduce_mean",
    "broadcast_object",
    "broadcast_module",
    "shard",
]


def is_launched():
    """Whether this process was started as one of several (``WORLD_SIZE > 1``, as torchrun sets)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _active():
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank():
    """This process's rank in the process group (0 when not distributed)."""
    return dist.get_rank() if _active() else 0


def world_size():
    """Number of processes training together (1 when not distributed).

    Examples
    --------
    >>> from contrastlearn import distributed
    >>> distributed.world_size(), distributed.rank()
    (1, 0)
    """
    return dist.get_world_size() if _active() else 1


@validate_params({"device": TORCH_DEVICE})
def local_device(device):
    """The device of this process: ``cuda`` becomes ``cuda:LOCAL_RANK`` under torchrun.

    Parameters
    ----------
    device : str
        A resolved device ("cpu", "cuda", "cuda:1", ...).

    Returns
    -------
    str
    """
    resolved = torch.device(device)
    if is_launched() and resolved.type == "cuda" and resolved.index is None:
        return f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    return str(resolved)


@validate_params({"device": TORCH_DEVICE})
def setup(device):
    """Join the process group torchrun describes, once per process.

    Does nothing outside torchrun or when the group is already initialised
    (by the user or an earlier fit). Uses NCCL for CUDA devices and gloo
    otherwise; the group is destroyed when the process exits.

    Parameters
    ----------
    device : str
        This process's device (see :func:`local_device`).
    """
    if not is_launched() or dist.is_initialized():
        return
    on_cuda = torch.device(device).type == "cuda"
    if on_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if on_cuda else "gloo", device_id=torch.device(device) if on_cuda else None
    )
    atexit.register(_leave)


def _leave():
    """Wait for every process to finish its script, then destroy the process group.

    A process that exits while another still works (e.g. rank 0 evaluating
    and saving) crashed at exit in gloo ("terminate called without an active
    exception") in 4 of 8 runs. After an uncaught exception (``sys.last_value``)
    there is no waiting: torchrun then stops the other processes.
    """
    if dist.is_initialized():
        if getattr(sys, "last_value", None) is None:
            dist.barrier()
        dist.destroy_process_group()


@validate_params({"tensor": _TENSOR})
def gather(tensor):
    """Concatenate ``tensor`` of every process along dim 0, keeping the autograd graph.

    Rows come in rank order; each process must pass the same shape. Outside
    distributed training, ``tensor`` itself.

    Parameters
    ----------
    tensor : torch.Tensor of shape (n, ...)

    Returns
    -------
    torch.Tensor of shape (n * world_size(), ...)

    Examples
    --------
    >>> import torch
    >>> from contrastlearn import distributed
    >>> distributed.gather(torch.ones(2, 3)).shape   # one process: the tensor itself
    torch.Size([2, 3])
    """
    if not _active():
        return tensor
    # Its backward sums every process's gradient of this process's rows (each process's
    # loss may depend on every row).
    return torch.cat(_all_gather_with_gradients(tensor.contiguous()))


@validate_params({"module": _MODULE, "device": TORCH_DEVICE})
def data_parallel(module, device):
    """``module`` in :class:`~torch.nn.parallel.DistributedDataParallel`, or itself alone.

    The training step calls the returned module, whose ``forward`` computes
    the loss, so that gradients are averaged over the processes in buckets
    during the backward pass. ``static_graph=True``: every step uses the same
    parameters (a method may leave some without a gradient, such as a
    frozen part). Buffers are not broadcast at every step; the processes'
    BatchNorm statistics are reconciled at the end of ``fit``.

    Parameters
    ----------
    module : torch.nn.Module
        On ``device``.
    device : str or torch.device

    Returns
    -------
    torch.nn.Module
    """
    if not _active():
        return module
    device = torch.device(device)
    return DistributedDataParallel(
        module,
        device_ids=[device.index] if device.type == "cuda" else None,
        broadcast_buffers=False,
        static_graph=True,
    )


@validate_params({"tensor": _TENSOR})
def all_reduce_sum(tensor):
    """The sum of ``tensor`` over the processes (a new tensor; no gradient).

    Parameters
    ----------
    tensor : torch.Tensor

    Returns
    -------
    torch.Tensor
    """
    if not _active():
        return tensor
    # NCCL reduces CUDA tensors only.
    on_cuda = dist.get_backend() == dist.Backend.NCCL
    total = tensor.detach().to("cuda" if on_cuda else tensor.device, copy=True)
    dist.all_reduce(total)
    return total.to(tensor.device)


@validate_params({"tensor": _TENSOR})
def all_reduce_mean(tensor):
    """The mean of ``tensor`` over the processes (a new tensor; no gradient).

    Parameters
    ----------
    tensor : torch.Tensor

    Returns
    -------
    torch.Tensor
    """
    return all_reduce_sum(tensor) / world_size() if _active() else tensor


@validate_params({"module": _MODULE})
def broadcast_module(module):
    """Copy rank 0's parameters and buffers into ``module`` on every process.

    Parameters
    ----------
    module : torch.nn.Module
    """
    if not _active():
        return
    for tensor in module.state_dict().values():
        dist.broadcast(tensor, src=0)


@validate_params({"parameters": _ITERABLE})
def average_gradients(parameters):
    """Replace every gradient by its mean over the processes, in one collective call.

    For a training loop of one's own; the pretrainers use :func:`data_parallel`.

    Parameters without a gradient are skipped (they are the same on every
    process, which all run the same code).

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
    """
    if not _active():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for grad, part in zip(grads, flat.split([g.numel() for g in grads])):
        grad.copy_(part.view_as(grad))


def broadcast_object(value):
    """Rank 0's ``value`` on every process (picklable objects, e.g. a seed).

    Parameters
    ----------
    value : object

    Returns
    -------
    object
    """
    if not _active():
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


@validate_params({"items": [ArrayLike(), InstanceOf(range, name="a range")]})
def shard(items):
    """This process's contiguous share of ``items`` (equal when the length divides evenly).

    Parameters
    ----------
    items : ndarray or range

    Returns
    -------
    ndarray or range
        Of length ``len(items) // world_size()`` (one more on the first
        processes when it does not divide).

    Examples
    --------
    >>> from contrastlearn import distributed
    >>> distributed.shard(range(10))      # one process; rank 1 of 2 would get range(5, 10)
    range(0, 10)
    """
    size, extra = divmod(len(items), world_size())
    start = rank() * size + min(rank(), extra)
    return items[start : start + size + (rank() < extra)]
