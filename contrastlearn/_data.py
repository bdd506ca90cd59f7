"""Reading batches: cut by index from arrays or on-disk datasets, moved to the device whole."""

from collections import deque
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from types import SimpleNamespace

import numpy as np
import torch

from . import distributed

# Batches the reader thread keeps ready ahead of training, by device type (0: read each
# batch when it is needed). On a CPU the thread takes cores from the computation:
# benchmarks/streaming.py measured it 14-30 % slower there.
PREFETCH_BATCHES = {"cuda": 2, "cpu": 0}

# dtypes that torch.from_numpy accepts and that convert to float on the device.
_TORCH_NATIVE_DTYPES = {
    np.dtype(t)
    for t in (
        np.bool_,
        np.uint8,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.float16,
        np.float32,
        np.float64,
    )
}


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

    def __init__(
        self,
        dataset,
        batch_size,
        training,
        drop_last,
        device,
        channels_last,
        partners=None,
        generator=None,
        prefetch=2,
    ):
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


def steps_per_epoch(X, batch_size, drop_last=True):
    """Optimiser steps of one training epoch over ``X``, as :class:`BatchIterator` cuts it."""
    return len(
        BatchIterator(
            SimpleNamespace(X=X, y=None),
            batch_size,
            training=True,
            drop_last=drop_last,
            device="cpu",
            channels_last=False,
        )
    )
