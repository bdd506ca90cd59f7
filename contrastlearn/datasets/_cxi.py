"""Reading and writing CXI files (the Coherent X-ray Imaging HDF5 layout) with h5py."""

import os
import tempfile

import h5py
import numpy as np

__all__ = ["CXIImages", "load_cxi", "save_cxi"]

#: Where CXI files keep their image stacks, in the order they are looked for.
DATA_PATHS = ("entry_1/data_1/data", "entry_1/image_1/data",
              "entry_1/instrument_1/detector_1/data")
MASK_PATH = "entry_1/instrument_1/detector_1/mask"
LABELS_PATH = "entry_1/result_1/labels"
LABEL_NAMES_PATH = "entry_1/result_1/label_names"


def image_index(index, owner):
    """The image part of ``index``: ``X[rows, ...]`` (as sklearn indexes) means ``X[rows]``."""
    if isinstance(index, tuple):
        if len(index) == 2 and index[1] is Ellipsis:
            return index[0]
        raise TypeError(f"{owner} takes one index (images), not a tuple; index the returned "
                        "array for pixels.")
    return index


class CXIImages:
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
    """

    def __init__(self, path, dataset):
        self.path = os.fspath(path)
        self.dataset = dataset
        self._file = None
        with h5py.File(self.path, "r") as f:
            if dataset not in f:
                raise ValueError(f"{self.path} has no dataset {dataset!r}.")
            data = f[dataset]
            if not isinstance(data, h5py.Dataset) or data.ndim not in (3, 4):
                raise ValueError(
                    f"{self.path}:{dataset} must be an image stack of shape (n, H, W) or "
                    f"(n, C, H, W); got {getattr(data, 'shape', type(data).__name__)}."
                )
            if data.dtype.kind not in "biuf":
                raise ValueError(f"{self.path}:{dataset} holds values of dtype {data.dtype}; "
                                 "images must be real numbers (bool, int or float).")
            self.shape, self.dtype = data.shape, data.dtype
            self.mask = f[MASK_PATH][()] if MASK_PATH in f else None
            self.labels = f[LABELS_PATH][()] if LABELS_PATH in f else None
            self.label_names = ([n.decode() if isinstance(n, bytes) else str(n)
                                 for n in f[LABEL_NAMES_PATH][()]]
                                if LABEL_NAMES_PATH in f else None)
        if self.mask is not None and self.mask.shape != self.shape[-2:]:
            raise ValueError(f"{self.path}:{MASK_PATH} has shape {self.mask.shape}; the "
                             f"detector mask must match the images' {self.shape[-2:]}.")
        if self.labels is not None and len(self.labels) != self.shape[0]:
            raise ValueError(f"{self.path}:{LABELS_PATH} has {len(self.labels)} rows for "
                             f"{self.shape[0]} images; it must have one per image.")

    @property
    def ndim(self):
        return len(self.shape)

    def __len__(self):
        return self.shape[0]

    def _data(self):
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file[self.dataset]

    def __getitem__(self, index):
        index = image_index(index, type(self).__name__)
        if isinstance(index, (int, np.integer, slice)) or index is Ellipsis:
            return self._data()[index]
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        index = np.where(index < 0, index + len(self), index)
        # h5py reads point selections in increasing order only.
        unique, inverse = np.unique(index, return_inverse=True)
        return self._data()[unique][inverse]

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

    def __repr__(self):
        return f"CXIImages({self.path!r}, {self.dataset!r}, shape={self.shape}, dtype={self.dtype})"


def load_cxi(path, dataset=None):
    """Open the images of a CXI file lazily.

    Parameters
    ----------
    path : str or path-like
        A CXI (HDF5) file; it is only read, never modified.
    dataset : str, default=None
        Path of the image stack inside the file. None looks for
        ``entry_1/data_1/data``, ``entry_1/image_1/data`` and
        ``entry_1/instrument_1/detector_1/data``, in that order.

    Returns
    -------
    CXIImages
        The lazy image stack, with ``mask``, ``labels`` and ``label_names``
        when the file has them (``entry_1/instrument_1/detector_1/mask``,
        ``entry_1/result_1/labels``, ``entry_1/result_1/label_names``).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not HDF5, has no image stack where looked (or at
        ``dataset``), the stack is not 3-D/4-D or not real numbers, or the
        mask or labels do not fit the images. The file is only ever opened
        read-only.

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
    if not h5py.is_hdf5(path):
        raise ValueError(f"{path} is not an HDF5 file (CXI files are HDF5).")
    if dataset is None:
        with h5py.File(path, "r") as f:
            found = [p for p in DATA_PATHS if p in f]
            if not found:
                names = []
                f.visit(names.append)
                raise ValueError(
                    f"{path} has no image stack at {', '.join(DATA_PATHS)}; pass dataset= "
                    f"one of its datasets: {', '.join(names[:20]) or 'none'}."
                )
        dataset = found[0]
    return CXIImages(path, dataset)


def save_cxi(path, X, *, labels=None, label_names=None, mask=None, overwrite=False,
             compression=None):
    """Write images (and optional labels and mask) to a CXI file.

    The file is written to a temporary file in the same folder and renamed
    into place at the end, so an error never leaves a half-written file at
    ``path``.

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
    if label_names is not None and (labels is None or labels.ndim != 2
                                    or len(label_names) != labels.shape[1]):
        raise ValueError("label_names needs multi-hot labels of shape (n, len(label_names)).")
    first = np.asarray(X[:1])
    if first.dtype.kind not in "biuf":
        raise ValueError(f"X must hold real numbers (bool, int or float); got dtype {first.dtype}.")
    if mask is not None and np.shape(mask) != first.shape[-2:]:
        raise ValueError(f"mask has shape {np.shape(mask)}; it must match the images' "
                         f"{first.shape[-2:]}.")
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix=".cxi.part", dir=folder)
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as f:
            f["cxi_version"] = 150
            data = f.create_dataset("entry_1/data_1/data", shape=(n, *first.shape[1:]),
                                    dtype=first.dtype, chunks=(1, *first.shape[1:]),
                                    compression=compression)
            for start in range(0, n, 256):
                data[start:start + 256] = np.asarray(X[start:start + 256])
            f["entry_1/image_1/data"] = h5py.SoftLink("/entry_1/data_1/data")
            if labels is not None:
                f[LABELS_PATH] = labels
            if label_names is not None:
                f[LABEL_NAMES_PATH] = np.array(label_names, dtype=h5py.string_dtype())
            if mask is not None:
                f[MASK_PATH] = np.asarray(mask)
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
