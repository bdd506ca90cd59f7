"""Checkpoint files: which fit a checkpoint belongs to, and writing and reading one intact.

Every fit with ``checkpoint_dir`` keeps its state in a folder of its own,
``checkpoint_dir/<estimator>-<fingerprint>``; the fingerprint hashes the
parameters and the training data's content, so the fits of a search or a
cross-validation (other parameters, other folds) never share a state. The
file starts with a header holding the SHA-256 of the rest; it is checked
after every write and before every load, and the previous epoch's file is
kept until the new one is verified.
"""

import errno
import hashlib
import io
import os
import pickle
import shutil
import warnings

import numpy as np
import torch

from ._files import check_space, replacing
from .validation import _caller_stacklevel

CHECKPOINT_FILE = "contrastlearn_checkpoint.pt"
PREVIOUS_FILE = "contrastlearn_checkpoint.previous.pt"
_MAGIC = b"contrastlearn checkpoint sha256="
_HEADER_SIZE = len(_MAGIC) + 64 + 1
_SAMPLED_ROWS = 64  # images of on-disk data that join its fingerprint
_HASH_BLOCK = 2**26  # bytes hashed at a time, to bound the copies of a non-contiguous array


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: damaged, foreign, or of another fit."""


def fit_directory(checkpoint_dir, estimator_name, fingerprint):
    """The folder in ``checkpoint_dir`` that holds the checkpoints of one fit."""
    return os.path.join(os.fspath(checkpoint_dir), f"{estimator_name}-{fingerprint[:16]}")


def warn_of_checkpoint_without_fit_folder(checkpoint_dir):
    """Warn that ``checkpoint_dir`` holds a checkpoint written before fits had folders.

    Such a file does not say which data it was trained on, so it is never
    resumed; the warning keeps a rerun from silently training afresh.
    """
    path = os.path.join(os.fspath(checkpoint_dir), CHECKPOINT_FILE)
    if os.path.isfile(path):
        warnings.warn(
            f"{path} was written by an earlier version of contrastlearn, which did not "
            "record the training data's content, so it is not resumed: this fit trains "
            f"afresh and saves its checkpoints in a folder of its own inside "
            f"{os.fspath(checkpoint_dir)}. Delete {path} once it is no longer needed.",
            UserWarning,
            stacklevel=_caller_stacklevel(),
        )


def find_checkpoints(checkpoint_dir):
    """The fit folders in ``checkpoint_dir`` that hold a checkpoint, sorted."""
    if not os.path.isdir(checkpoint_dir):
        return []
    names = (CHECKPOINT_FILE, PREVIOUS_FILE)
    return sorted(
        entry.path
        for entry in os.scandir(checkpoint_dir)
        if entry.is_dir() and any(os.path.exists(os.path.join(entry.path, n)) for n in names)
    )


def remove_checkpoints(checkpoint_dir):
    """Delete every fit's checkpoints in ``checkpoint_dir`` (other files there stay)."""
    for folder in find_checkpoints(checkpoint_dir):
        shutil.rmtree(folder)


def data_fingerprint(X):
    """SHA-256 (hex) identifying the training data: its shape, dtype and content.

    An array in memory is hashed whole (about 1.5 GB/s). Data read from disk
    is identified by its shape, dtype and 64 images spread evenly through
    it, so a copy of the file elsewhere (a job staging its data to a local
    disk) still resumes its checkpoint.
    """
    digest = hashlib.sha256(repr((tuple(X.shape), str(X.dtype))).encode())
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if isinstance(X, np.ndarray):
        rows = max(_HASH_BLOCK // max(X[:1].nbytes, 1), 1)
        for start in range(0, len(X), rows):
            digest.update(np.ascontiguousarray(X[start : start + rows]).data)
    else:
        rows = np.unique(np.linspace(0, len(X) - 1, min(len(X), _SAMPLED_ROWS)).round()).astype(int)
        digest.update(np.ascontiguousarray(X[rows]).data)
    return digest.hexdigest()


def check_checkpoint_space(directory, module, remaining_epochs):
    """Raise before training when the disk cannot hold the checkpoints to come.

    A checkpoint holds about the module's parameters three times (with an
    optimiser's two moments); up to three exist at once (the current one,
    the previous one and the one being written).
    """
    size = sum(3 * p.nbytes for p in module.parameters()) + sum(b.nbytes for b in module.buffers())
    size += 2**20  # history, random generators, optimiser settings
    existing = sum(
        os.path.exists(os.path.join(directory, name)) for name in (CHECKPOINT_FILE, PREVIOUS_FILE)
    )
    to_add = min(3, existing + remaining_epochs) - existing
    if to_add > 0:
        os.makedirs(directory, exist_ok=True)
        check_space(os.path.join(directory, CHECKPOINT_FILE), to_add * size)


def write_checkpoint(directory, state):
    """Write ``state`` to ``directory``'s checkpoint, verified, keeping the previous one.

    Raises
    ------
    OSError
        Naming the file, when it cannot be written (a full disk, a
        file-size limit, permissions) or reads back other than written; the
        checkpoints already there are unchanged.
    """
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, CHECKPOINT_FILE)
    with replacing(path, previous=os.path.join(directory, PREVIOUS_FILE)) as temporary:
        payload = io.BytesIO()
        torch.save(state, payload)
        payload = payload.getbuffer()
        header = _MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n"
        with open(temporary, "wb") as file:
            file.write(header)
            file.write(payload)
        if _damage(temporary) is not None:
            raise OSError(errno.EIO, "the file read back differs from what was written")


def _damage(path):
    """Why the checkpoint file at ``path`` is damaged, or None when it is intact."""
    with open(path, "rb") as file:
        header = file.read(_HEADER_SIZE)
        if not header.startswith(_MAGIC) or len(header) < _HEADER_SIZE:
            return (
                "it does not begin with a contrastlearn checkpoint's header (it is cut short, "
                "or not a checkpoint)"
            )
        digest = hashlib.sha256()
        while block := file.read(2**24):
            digest.update(block)
    if digest.hexdigest().encode() != header[len(_MAGIC) : -1]:
        return "its content does not match the checksum written with it"
    return None


def _read(path):
    """The state in the checkpoint file at ``path`` (tensors and plain containers only)."""
    with open(path, "rb") as file:
        file.seek(_HEADER_SIZE)
        return torch.load(file, map_location="cpu", weights_only=True)


def load_checkpoint(directory, fingerprint):
    """The training state saved in ``directory``, or None when there is none yet.

    Verified against its checksum, then loaded with
    ``torch.load(..., weights_only=True)``: tensors and plain containers
    only, never code.

    Raises
    ------
    CheckpointError
        When the file is damaged (the message names it and says what to do:
        resume from the previous epoch's file when it is intact, or start
        afresh), holds anything but tensors and containers, or belongs to
        another fit.
    """
    path = os.path.join(directory, CHECKPOINT_FILE)
    previous = os.path.join(directory, PREVIOUS_FILE)
    if not os.path.exists(path):
        if not os.path.exists(previous):
            return None
        path = previous  # killed between moving the current file away and the new one in
    damage = _damage(path)
    if damage is not None:
        raise CheckpointError(_damaged_message(path, damage, previous, directory))
    try:
        state = _read(path)
    except (pickle.UnpicklingError, RuntimeError, EOFError):
        raise CheckpointError(
            f"The checkpoint {path} holds objects other than tensors and plain containers, "
            "which are never loaded (they could run code). Delete it to start afresh."
        ) from None
    if not isinstance(state, dict) or state.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"The checkpoint {path} was written by a fit with other parameters or data. Use "
            "another checkpoint_dir, or delete the file to start afresh."
        )
    return state


def _damaged_message(path, damage, previous, directory):
    message = f"The checkpoint {path} is damaged: {damage}; it cannot be resumed from."
    if path != previous and os.path.exists(previous) and _damage(previous) is None:
        epochs = len(_read(previous)["history"])
        return (
            f"{message} The one before it is intact: to resume from its epoch {epochs}, "
            f"replace the damaged file by it (mv {previous} {path}); or delete {directory} to "
            "start afresh."
        )
    return f"{message} Delete {directory} to start afresh."
