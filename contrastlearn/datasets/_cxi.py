"""Reading and writing CXI files (the Coherent X-ray Imaging HDF5 layout) with h5py.

Two layouts are read: an image stack under ``entry_1`` (as :func:`save_cxi`
writes), and one HDF5 group per shot, ``entry_1``, ``entry_2``, ... each with
a 2-D ``instrument_1/detector_1/data`` (as CXIDB entry 94, the labelled helium
nanodroplet patterns of Zimmermann et al.).
"""

import os

import h5py
import numpy as np

from .._files import check_space, check_target, write_hdf5
from .._validation import BOOL
from ..validation import ArrayLike, InstanceOf, Options, Predicate, validate_params
from ._cxi_layout import (
    DATA_PATHS,
    LABEL_NAMES_PATH,
    LABELS_PATH,
    MASK_PATH,
    _LazyFile,
    image_index,
    read_rows,
    reading,
    stored,
)
from ._cxi_shots import CXIShots, _excluding, _is_shot_file

__all__ = ["CXIImages", "CXIShots", "load_cxi", "save_cxi"]

_PATH = InstanceOf(str, os.PathLike, name="a path")


def _is_label(value):
    return isinstance(value, (str, int, np.integer)) and not isinstance(value, bool)


def _is_labels(value):
    return _is_label(value) or (
        isinstance(value, (tuple, list, np.ndarray)) and all(map(_is_label, value))
    )


def _is_stack(value):
    return hasattr(value, "shape") and hasattr(value, "__len__") and hasattr(value, "__getitem__")


# save_cxi reads X in slices: a lazy stack without __array__ will do.
_IMAGES = [ArrayLike(), Predicate(_is_stack, "a lazy image stack (with shape, len and slicing)")]


def _is_names(value):
    return isinstance(value, (tuple, list, np.ndarray)) and all(isinstance(n, str) for n in value)


class CXIImages(_LazyFile):
    """An image stack in a CXI/HDF5 file, read lazily.

    Indexing (an int, a slice, or an array of indices in any order) reads just
    those images and returns a numpy array; nothing else is read. The file is
    opened read-only on first access and reopened after unpickling, so the
    object can be handed to worker processes. Every contrastlearn pretrainer
    accepts it in ``fit`` and ``transform`` and streams it batch by batch.

    Use :func:`load_cxi` to create one.

    Attributes
    ----------
    path : str
    dataset : str
        Path of the image stack inside the file.
    shape : tuple of int
        ``(n_images, H, W)`` or ``(n_images, C, H, W)``.
    dtype : numpy.dtype
    mask : ndarray or None
        The detector's pixel mask (0 = good pixel), if the file has one.
    labels : ndarray or None
        Per-image labels (``(n,)`` or multi-hot ``(n, n_labels)``), if stored.
    label_names : list of str or None

    Raises
    ------
    OSError
        When the file cannot be read, at opening or at indexing: the message
        names the file, the dataset and the images being read, and says why
        (truncated, damaged, locked by another process's writer, not HDF5)
        and what to do. It is a ``FileNotFoundError`` if the file is gone, a
        ``PermissionError`` if it may not be read; h5py's error is chained.
    """

    def __init__(self, path, dataset):
        self.path = os.fspath(path)
        self.dataset = dataset
        self._file = None
        with reading(self.path, dataset), h5py.File(self.path, "r") as f:
            if dataset not in f:
                raise ValueError(f"{self.path} has no dataset {dataset!r}.")
            data = f[dataset]
            if not isinstance(data, h5py.Dataset) or data.ndim not in (3, 4):
                raise ValueError(
                    f"{self.path}:{dataset} must be an image stack of shape (n, H, W) or "
                    f"(n, C, H, W); got {getattr(data, 'shape', type(data).__name__)}."
                )
            if data.dtype.kind not in "biuf":
                raise ValueError(
                    f"{self.path}:{dataset} holds values of dtype {data.dtype}; "
                    "images must be real numbers (bool, int or float)."
                )
            self.shape, self.dtype = data.shape, data.dtype
            self.mask = stored(f, MASK_PATH)
            self.labels = stored(f, LABELS_PATH)
            names = stored(f, LABEL_NAMES_PATH)
            self.label_names = (
                None
                if names is None
                else [n.decode() if isinstance(n, bytes) else str(n) for n in names]
            )
        if self.mask is not None and self.mask.shape != self.shape[-2:]:
            raise ValueError(
                f"{self.path}:{MASK_PATH} has shape {self.mask.shape}; the "
                f"detector mask must match the images' {self.shape[-2:]}."
            )
        if self.labels is not None and len(self.labels) != self.shape[0]:
            raise ValueError(
                f"{self.path}:{LABELS_PATH} has {len(self.labels)} rows for "
                f"{self.shape[0]} images; it must have one per image."
            )

    def _data(self):
        with reading(self.path, self.dataset):
            return self._h5()[self.dataset]

    def __getitem__(self, index):
        index = image_index(index, type(self).__name__)
        if isinstance(index, (int, np.integer, slice)) or index is Ellipsis:
            index = slice(None) if index is Ellipsis else index
            data = self._data()
            rows = range(len(self))[index] if isinstance(index, slice) else index
            with reading(self.path, self.dataset, rows):
                return data[index]
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        index = np.where(index < 0, index + len(self), index)
        return read_rows(self._data(), index)

    def __repr__(self):
        return f"CXIImages({self.path!r}, {self.dataset!r}, shape={self.shape}, dtype={self.dtype})"


@validate_params(
    {
        "path": _PATH,
        "dataset": [None, InstanceOf(str)],
        "exclude_labels": [
            None,
            Predicate(_is_labels, "a label name or column index, or a sequence of them"),
        ],
    }
)
def load_cxi(path, dataset=None, *, exclude_labels=None):
    """Open the images of a CXI file lazily.

    Parameters
    ----------
    path : str or path-like
        A CXI (HDF5) file; it is only read, never modified.
    dataset : str, default=None
        Path of the image stack inside the file. None looks for
        ``entry_1/data_1/data``, ``entry_1/image_1/data`` and
        ``entry_1/instrument_1/detector_1/data``, in that order; if none of
        them is a 3-D/4-D stack and the file has ``entry_<i>`` groups each
        holding a 2-D ``instrument_1/detector_1/data``, it is a per-shot file
        and a :class:`CXIShots` is returned.
    exclude_labels : sequence of str or int, default=None
        Per-shot files only: drop the shots that carry any of these label
        flags (names from ``label_names`` or column indices).
        ``exclude_labels=("Round", "Empty")`` keeps the 1,261 shots of CXIDB
        entry 94 that the reference study used; it then dropped the first,
        which ``.subset(slice(1, None))`` does, leaving its 1,260.

    Returns
    -------
    CXIImages or CXIShots
        The lazy image stack, with ``mask``, ``labels`` and ``label_names``
        when the file has them (``entry_1/instrument_1/detector_1/mask``,
        ``entry_1/result_1/labels``, ``entry_1/result_1/label_names``); or
        the lazy shots of a per-shot file, with their labels and metadata.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not HDF5, has no image stack where looked (or at
        ``dataset``), the stack is not 3-D/4-D or not real numbers, or the
        mask or labels do not fit the images; for a per-shot file, if an
        entry lacks its image, the shots differ in size, the label flags are
        missing in some entries or differ in length, or ``exclude_labels``
        names an unknown label. The file is only ever opened read-only.
    OSError
        If the file cannot be read: the message names the file (and the
        dataset) and says why, e.g. it is truncated (an incomplete copy),
        damaged, or locked by another process that has it open for writing,
        and what to do; h5py's error is chained. A ``PermissionError`` if
        this process may not read it. The images returned raise the same
        when a later read fails (see :class:`CXIImages`).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from contrastlearn.datasets import load_cxi, save_cxi
    >>> path = os.path.join(tempfile.mkdtemp(), "shots.cxi")
    >>> save_cxi(path, np.zeros((10, 32, 32), np.float32), labels=np.arange(10))
    >>> images = load_cxi(path)
    >>> images.shape, images[[7, 2]].shape, images.labels[:3]
    ((10, 32, 32), (2, 32, 32), array([0, 1, 2]))
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No CXI file at {path!r}.")
    with reading(path):
        hdf5 = h5py.is_hdf5(path)
    if not hdf5:
        raise ValueError(f"{path} is not an HDF5 file (CXI files are HDF5).")
    per_shot = False
    if dataset is None:
        with reading(path), h5py.File(path, "r") as f:
            found = [p for p in DATA_PATHS if p in f]
            stacked = found and getattr(f[found[0]], "ndim", None) in (3, 4)
            per_shot = not stacked and _is_shot_file(f)
            if not found and not per_shot:
                names = []
                f.visit(names.append)
                raise ValueError(
                    f"{path} has no image stack at {', '.join(DATA_PATHS)}; pass dataset= "
                    f"one of its datasets: {', '.join(names[:20]) or 'none'}."
                )
        dataset = None if per_shot else found[0]
    images = CXIShots(path) if per_shot else CXIImages(path, dataset)
    return images if exclude_labels is None else _excluding(images, exclude_labels)


@validate_params(
    {
        "path": _PATH,
        "X": _IMAGES,
        "labels": [None, ArrayLike()],
        "label_names": [None, Predicate(_is_names, "a sequence of str")],
        "mask": [None, ArrayLike()],
        "overwrite": BOOL,
        "compression": [None, Options(["gzip", "lzf"])],
    }
)
def save_cxi(
    path, X, *, labels=None, label_names=None, mask=None, overwrite=False, compression=None
):
    """Write images (and optional labels and mask) to a CXI file.

    The file is written to a temporary file in the same folder and renamed
    into place at the end, so an error, a full disk or a killed process
    never leaves a half-written file at ``path`` (temporary files of killed
    processes are removed by the next write). A new file gets the
    permissions the umask allows; a replaced one keeps its mode.

    Parameters
    ----------
    path : str or path-like
    X : array-like of shape (n, H, W) or (n, C, H, W)
        Images, written to ``entry_1/data_1/data`` (also reachable as
        ``entry_1/image_1/data``) in chunks of one image, for fast random
        access.
    labels : array-like of shape (n,) or (n, n_labels), default=None
        Written to ``entry_1/result_1/labels``.
    label_names : list of str, default=None
        Written to ``entry_1/result_1/label_names``.
    mask : array-like of shape (H, W), default=None
        Detector pixel mask (0 = good), written to
        ``entry_1/instrument_1/detector_1/mask``.
    overwrite : bool, default=False
        Replace an existing file; otherwise raise ``FileExistsError``.
    compression : {None, "gzip", "lzf"}, default=None
        HDF5 compression of the images.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``X`` is not a 3-D/4-D stack of real numbers, or ``labels``,
        ``label_names`` or ``mask`` do not fit it (before anything is
        written).
    OSError
        Naming ``path``, before anything is written when its folder is
        missing or not writable, or (uncompressed) the images will not fit
        on the disk or under the file-size limit; and when writing fails
        (a full disk): an existing file at ``path`` is then unchanged.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from contrastlearn.datasets import save_cxi
    >>> save_cxi(os.path.join(tempfile.mkdtemp(), "a.cxi"), np.ones((4, 8, 8)))
    """
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it.")
    if getattr(X, "ndim", np.ndim(X)) not in (3, 4):
        raise ValueError(f"X must have shape (n, H, W) or (n, C, H, W); got {np.shape(X)}.")
    n = len(X)
    if labels is not None:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise ValueError(f"labels has {len(labels)} rows but X has {n} images.")
    if label_names is not None and (
        labels is None or labels.ndim != 2 or len(label_names) != labels.shape[1]
    ):
        raise ValueError("label_names needs multi-hot labels of shape (n, len(label_names)).")
    first = np.asarray(X[:1])
    if first.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers (bool, int or float); got dtype {first.dtype}.")
    if mask is not None and np.shape(mask) != first.shape[-2:]:
        raise ValueError(
            f"mask has shape {np.shape(mask)}; it must match the images' {first.shape[-2:]}."
        )
    check_target(path)
    if compression is None:
        check_space(path, n * first.nbytes + (0 if labels is None else labels.nbytes))

    def fill(f):
        f["cxi_version"] = 150
        data = f.create_dataset(
            "entry_1/data_1/data",
            shape=(n, *first.shape[1:]),
            dtype=first.dtype,
            chunks=(1, *first.shape[1:]),
            compression=compression,
        )
        for start in range(0, n, 256):
            data[start : start + 256] = np.asarray(X[start : start + 256])
        f["entry_1/image_1/data"] = h5py.SoftLink("/entry_1/data_1/data")
        if labels is not None:
            f[LABELS_PATH] = labels
        if label_names is not None:
            f[LABEL_NAMES_PATH] = np.array(label_names, dtype=h5py.string_dtype())
        if mask is not None:
            f[MASK_PATH] = np.asarray(mask)

    write_hdf5(path, fill)
