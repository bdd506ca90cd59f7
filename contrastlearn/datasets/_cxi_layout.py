"""What both CXI layouts share: HDF5 paths, the lazy file handle, indexing, read errors."""

import numbers
import os
import re

import h5py
import numpy as np

#: Where CXI files keep their image stacks, in the order they are looked for.
DATA_PATHS = ("entry_1/data_1/data", "entry_1/image_1/data", "entry_1/instrument_1/detector_1/data")
MASK_PATH = "entry_1/instrument_1/detector_1/mask"
LABELS_PATH = "entry_1/result_1/labels"
LABEL_NAMES_PATH = "entry_1/result_1/label_names"

#: Inside each ``entry_<i>`` group of a per-shot file.
SHOT_DATA = "instrument_1/detector_1/data"
SHOT_LABELS = "note_1/data"
SHOT_LABEL_NAMES = "note_1/label_names"
SHOT_ENERGY = "instrument_1/source_1/energy"
SHOT_IDENTIFIER = "experimental_identifier"
#: One electron volt in joules (CXI stores photon energies in J).
ELECTRON_VOLT = 1.602176634e-19
#: The 11 label flags of CXIDB entry 94, in the order of ``note_1/data``.
HELIUM_LABEL_NAMES = (
    "Spherical/Oblate",
    "Round",
    "Elliptical",
    "Prolate",
    "Streak",
    "Bent",
    "Asymmetric",
    "NewtonRings",
    "DoubleRings",
    "Layered",
    "Empty",
)
_ENTRY = re.compile(r"entry_(\d+)")


def image_index(index, owner):
    """The image part of ``index``: ``X[rows, ...]`` (as sklearn indexes) means ``X[rows]``."""
    if isinstance(index, tuple):
        if len(index) == 2 and index[1] is Ellipsis:
            return index[0]
        raise TypeError(
            f"{owner} takes one index (images), not a tuple; index the returned array for pixels."
        )
    return index


_TRUNCATED = re.compile(r"truncated file: eof = (\d+).*stored_eof = (\d+)")
_DAMAGED = ("signature", "checksum", "B-tree", "heap", "symbol table", "addr overflow", "bad ")
_CLOSED = (
    "the h5py dataset given as X belongs to a file that has been closed. Keep the file open "
    "during fit and transform (call them inside the `with h5py.File(...)` block), or pass "
    "contrastlearn.datasets.load_cxi(path), which opens the file itself, also in worker processes."
)


def _reason(error):
    """What went wrong in plain words, and what to do, from h5py's message in ``error``."""
    message = str(error)
    if "truncated file" in message:
        sizes = ""
        if found := _TRUNCATED.search(message):
            sizes = f" (it has {int(found[1]):,} bytes of the {int(found[2]):,} it should have)"
        return (
            f"the file is truncated{sizes}, probably an incomplete copy or an interrupted write. "
            "Copy it again."
        )
    if "unable to lock file" in message:
        return (
            "another process has the file open for writing, and HDF5 file locking keeps readers "
            "out meanwhile. Wait for it to finish; if you are sure it is safe to read while it "
            "writes, set the environment variable HDF5_USE_FILE_LOCKING=FALSE (the writer's "
            "SWMR mode is the safe way to read a file as it is written)."
        )
    if "file signature not found" in message:
        return (
            "it is not an HDF5 file (no HDF5 signature: another format, or overwritten). Check "
            "the path, or restore the file from a good copy."
        )
    if isinstance(error, FileNotFoundError) or "errno = 2," in message:
        return "the file does not exist; was it moved or deleted after it was opened?"
    if isinstance(error, PermissionError) or "errno = 13," in message:
        return (
            "this process is not allowed to read it (file permissions). Get read access, or "
            "copy the file somewhere readable."
        )
    if "filter returned failure" in message or "inflate() failed" in message:
        return (
            "a compressed block of the dataset is damaged, so the file is damaged. Restore it "
            "from a good copy."
        )
    if any(word in message for word in _DAMAGED):
        return "the file's internal structure is damaged. Restore it from a good copy."
    return message


def _images(rows):
    """``rows`` (an int, a range or int indices) in words, as ``"images 512-767 of "``."""
    if rows is None:
        return ""
    if isinstance(rows, numbers.Integral):
        return f"image {rows} of "
    if isinstance(rows, range) and rows.step == 1 and len(rows) > 1:
        return f"images {rows.start}-{rows.stop - 1} of "
    rows = np.ravel(rows)
    run = rows.dtype.kind in "iu" and rows.size > 1
    if run and np.array_equal(rows, np.arange(rows[0], rows[0] + rows.size)):
        return f"images {rows[0]}-{rows[-1]} of "
    listed = ", ".join(map(str, rows[:5])) + (f" and {rows.size - 5} more" if rows.size > 5 else "")
    return f"image{'s' if rows.size > 1 else ''} {listed} of " if rows.size else ""


def _where(source, dataset):
    """The file and the dataset path that ``source`` names (None where it does not say)."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.abspath(source), dataset
    if isinstance(source, h5py.HLObject):
        return source.file.filename, source.name
    path = getattr(source, "path", None)
    return (repr(source) if path is None else path), getattr(source, "dataset", dataset)


def read_error(error, source, dataset=None, rows=None):
    """The error to raise for ``error``, raised by h5py while reading ``source``.

    Parameters
    ----------
    error : Exception
        What h5py (or another lazy image stack) raised.
    source : str, path-like, h5py.Dataset or object
        The file being read, or the object being read from (an h5py dataset,
        a CXIImages, any lazy image stack: its ``path`` and ``dataset``
        attributes or its repr name it).
    dataset : str, default=None
        The path inside the file, when ``source`` is the file's path.
    rows : int, range or array of int, default=None
        The images being read.

    Returns
    -------
    Exception or None
        An ``OSError`` naming the file, the dataset and the images, and
        saying what is wrong and what to do (a ``FileNotFoundError``,
        ``PermissionError`` or other ``OSError`` subclass when h5py raised
        one); a ``ValueError`` for an h5py dataset of a closed file; None to
        let ``error`` through unchanged (it is not a read error, or was
        described already).
    """
    if getattr(error, "_described", False):
        return None
    if isinstance(source, h5py.HLObject) and not source.id.valid:
        described = ValueError(f"Cannot read {_images(rows)}X: {_CLOSED}")
    elif isinstance(error, OSError) or (
        isinstance(error, (RuntimeError, KeyError))
        and isinstance(source, (str, os.PathLike, h5py.HLObject))
    ):
        path, dataset = _where(source, dataset)
        what = f"{dataset} in {path}" if dataset else path
        builtin = isinstance(error, OSError) and type(error).__module__ == "builtins"
        kind = type(error) if builtin else OSError  # FileNotFoundError, PermissionError, ...
        described = kind(f"Cannot read {_images(rows)}{what}: {_reason(error)}")
    else:
        return None
    described._described = True
    return described


class reading:
    """Within ``with reading(source, dataset, rows):``, read errors name what was read.

    h5py's errors say neither the file nor the dataset; this re-raises them
    as :func:`read_error` describes, chained to h5py's error. It costs a
    try/except on the happy path.

    Parameters
    ----------
    source, dataset, rows
        As for :func:`read_error`.
    """

    __slots__ = ("source", "dataset", "rows")

    def __init__(self, source, dataset=None, rows=None):
        self.source, self.dataset, self.rows = source, dataset, rows

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if isinstance(error, Exception):
            described = read_error(error, self.source, self.dataset, self.rows)
            if described is not None:
                raise described from error
        return False


def stored(f, name):
    """The value of dataset ``name`` in the open file ``f``, or None where it has none."""
    with reading(f.filename, name):
        return f[name][()] if name in f else None


class _LazyFile:
    """What the lazy readers share: a read-only handle opened on first use, never pickled."""

    _file = None

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return self.shape[0]

    def _h5(self):
        if self._file is None:
            with reading(self.path, getattr(self, "dataset", None)):
                self._file = h5py.File(self.path, "r")
        return self._file

    def __array__(self, dtype=None, copy=None):
        images = self[:]
        return images if dtype is None else images.astype(dtype)

    def close(self):
        """Close the file handle (it is reopened on the next access)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __getstate__(self):
        return {**self.__dict__, "_file": None}


def read_rows(dataset, rows):
    """``dataset[rows]`` for any integer rows (unsorted, repeated) of an h5py dataset.

    h5py reads point selections only in increasing order and without
    repeats: the sorted unique rows are read once and put back in order.
    A read error names the file, the dataset and the rows (see :func:`read_error`).
    """
    unique, inverse = np.unique(rows, return_inverse=True)
    with reading(dataset, rows=rows):
        return np.asarray(dataset[unique])[inverse.ravel()]
