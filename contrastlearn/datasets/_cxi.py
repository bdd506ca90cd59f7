"""Reading and writing CXI files (the Coherent X-ray Imaging HDF5 layout) with h5py.

Two layouts are read: an image stack under ``entry_1`` (as :func:`save_cxi`
writes), and one HDF5 group per shot, ``entry_1``, ``entry_2``, ... each with
a 2-D ``instrument_1/detector_1/data`` (as CXIDB entry 94, the labelled helium
nanodroplet patterns of Zimmermann et al.).
"""

import copy
import os
import re
import tempfile

import h5py
import numpy as np
import pandas as pd

__all__ = ["CXIImages", "CXIShots", "load_cxi", "save_cxi"]

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
                raise ValueError(
                    f"{self.path}:{dataset} holds values of dtype {data.dtype}; "
                    "images must be real numbers (bool, int or float)."
                )
            self.shape, self.dtype = data.shape, data.dtype
            self.mask = f[MASK_PATH][()] if MASK_PATH in f else None
            self.labels = f[LABELS_PATH][()] if LABELS_PATH in f else None
            self.label_names = (
                [n.decode() if isinstance(n, bytes) else str(n) for n in f[LABEL_NAMES_PATH][()]]
                if LABEL_NAMES_PATH in f
                else None
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
        return self._h5()[self.dataset]

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

    def __repr__(self):
        return f"CXIImages({self.path!r}, {self.dataset!r}, shape={self.shape}, dtype={self.dtype})"


def _shot_entries(f):
    """The ``entry_<i>`` groups of ``f`` in numeric order (entry_2 before entry_10)."""
    found = [
        (int(m.group(1)), name)
        for name in f
        if (m := _ENTRY.fullmatch(name)) and isinstance(f[name], h5py.Group)
    ]
    return [name for _, name in sorted(found)]


def _is_shot_file(f):
    """True for one 2-D detector image per ``entry_<i>`` group (at least one of them)."""
    return any(
        isinstance(data := f[name].get(SHOT_DATA), h5py.Dataset) and data.ndim == 2
        for name in _shot_entries(f)
    )


def _listed(names, limit=5):
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def _shot_images(groups, entries, path):
    """Check every entry's detector image; return ``(image shape, dtype)``."""
    images = [group.get(SHOT_DATA) for group in groups]
    missing = [name for name, data in zip(entries, images) if not isinstance(data, h5py.Dataset)]
    if missing:
        raise ValueError(
            f"{path}: {len(missing)} of {len(entries)} entries have no {SHOT_DATA} "
            f"dataset ({_listed(missing)}); every entry_<i> of a per-shot CXI file "
            "must hold one 2-D image there."
        )
    by_shape = {}
    for name, data in zip(entries, images):
        by_shape.setdefault(data.shape, []).append(name)
    if len(by_shape) > 1:
        sizes = "; ".join(f"{shape} in {_listed(names, 3)}" for shape, names in by_shape.items())
        raise ValueError(
            f"{path}: the shots differ in size: {sizes}. All shots must have the "
            "same 2-D size (H, W)."
        )
    (shape,) = by_shape
    if len(shape) != 2:
        raise ValueError(
            f"{path}: {entries[0]}/{SHOT_DATA} has shape {shape}; each entry must "
            "hold one 2-D image (H, W)."
        )
    dtypes = {data.dtype for data in images}
    for dtype in dtypes:
        if dtype.kind not in "biuf":
            raise ValueError(
                f"{path}: {SHOT_DATA} holds values of dtype {dtype}; images must be "
                "real numbers (bool, int or float)."
            )
    return shape, np.result_type(*dtypes)


def _text(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.ravel(values)]


def _shot_labels(groups, entries, path):
    """The multi-hot flags of ``note_1/data`` ``(n, n_flags)`` and their names, or (None, None)."""
    notes = [group.get(SHOT_LABELS) for group in groups]
    present = [note for note in notes if note is not None]
    if not present or present[0].dtype.kind not in "biuf":
        return None, None  # no notes, or text notes: no label flags
    if len(present) < len(entries):
        absent = [name for name, note in zip(entries, notes) if note is None]
        raise ValueError(
            f"{path}: {len(absent)} of {len(entries)} entries have no {SHOT_LABELS} "
            f"({_listed(absent)}); label flags must be in every entry or in none."
        )
    flags = [np.ravel(note[()]) for note in notes]
    wrong = [name for name, row in zip(entries, flags) if row.shape != flags[0].shape]
    if wrong or flags[0].dtype.kind not in "biuf":
        raise ValueError(
            f"{path}: {SHOT_LABELS} must hold the same number of numeric flags in "
            f"every entry; {entries[0]} has {flags[0].size} but {_listed(wrong)} "
            f"{'differ' if len(wrong) > 1 else 'differs'}."
        )
    labels = np.stack(flags).astype(np.int64)
    if SHOT_LABEL_NAMES in groups[0]:
        names = _text(groups[0][SHOT_LABEL_NAMES][()])
    elif "label_names" in notes[0].attrs:
        names = _text(notes[0].attrs["label_names"])
    elif labels.shape[1] == len(HELIUM_LABEL_NAMES):
        names = list(HELIUM_LABEL_NAMES)
    else:
        names = [f"flag{k}" for k in range(labels.shape[1])]
    if len(names) != labels.shape[1]:
        raise ValueError(
            f"{path}: {entries[0]} names {len(names)} labels for "
            f"{labels.shape[1]} flags in {SHOT_LABELS}."
        )
    return labels, names


def _scalar(group, name, dataset, path):
    """The single value of ``dataset`` in the entry ``group`` (named ``name``), or None."""
    value = group.get(dataset)
    if value is None:
        return None
    value = np.ravel(value[()])
    if value.size != 1:
        raise ValueError(f"{path}: {name}/{dataset} holds {value.size} values; one is expected.")
    value = value[0]
    return value.decode() if isinstance(value, bytes) else value.item()


def _shot_table(groups, entries, path):
    """Per-shot metadata: entry name, photon energy in eV, experimental identifier."""
    table = pd.DataFrame({"entry": entries})
    energy = [_scalar(group, name, SHOT_ENERGY, path) for group, name in zip(groups, entries)]
    if any(e is not None for e in energy):
        table["photon_energy_eV"] = [np.nan if e is None else e / ELECTRON_VOLT for e in energy]
    ids = [_scalar(group, name, SHOT_IDENTIFIER, path) for group, name in zip(groups, entries)]
    if any(i is not None for i in ids):
        integers = all(isinstance(i, int) for i in ids if i is not None)
        table["experimental_identifier"] = pd.array(ids, dtype="Int64") if integers else ids
    return table


class CXIShots(_LazyFile):
    """The shots of a per-shot CXI file (one ``entry_<i>`` group each), read lazily.

    Files like CXIDB entry 94 (``helium_nanodroplets_with_labels_zimmermann.cxi``)
    keep every shot in its own group: ``entry_<i>/instrument_1/detector_1/data``
    (a 2-D image), ``entry_<i>/note_1/data`` (label flags),
    ``entry_<i>/instrument_1/source_1/energy`` (photon energy, J) and
    ``entry_<i>/experimental_identifier`` (e.g. the FEL bunch id). The shots
    are ordered by the number ``i`` (``entry_2`` before ``entry_10``).

    Opening reads only the labels and metadata; indexing (an int, a slice, an
    index array in any order with repeats, a boolean mask, or ``X[rows, ...]``)
    reads just those images and returns a numpy array. The file is opened
    read-only on first access and reopened after unpickling. Every
    contrastlearn pretrainer accepts it in ``fit`` and ``transform``.

    Use :func:`load_cxi` to create one.

    Parameters
    ----------
    path : str or path-like

    Attributes
    ----------
    path : str
    shape : tuple of int
        ``(n_shots, H, W)``; all shots must have the same size.
    dtype : numpy.dtype
    labels : ndarray of int64, shape (n_shots, n_flags), or None
        The flags of ``note_1/data`` (None if the entries have no numeric
        notes).
    label_names : list of str or None
        From ``note_1/label_names`` or the ``label_names`` attribute of
        ``note_1/data`` when the file has them; otherwise the 11 names of
        CXIDB entry 94 (:data:`HELIUM_LABEL_NAMES`) for 11 flags, else
        ``flag0``, ``flag1``, ...
    shots : pandas.DataFrame
        One row per shot (index = position): ``entry`` (the group name),
        ``photon_energy_eV`` and ``experimental_identifier`` where stored.

    Examples
    --------
    >>> import h5py, numpy as np, tempfile, os
    >>> from contrastlearn.datasets import load_cxi
    >>> path = os.path.join(tempfile.mkdtemp(), "shots.cxi")
    >>> with h5py.File(path, "w") as f:
    ...     for i in range(1, 13):
    ...         f[f"entry_{i}/instrument_1/detector_1/data"] = np.full((16, 16), i, np.float32)
    ...         f[f"entry_{i}/note_1/data"] = np.eye(11, dtype=np.uint8)[i % 11]
    >>> shots = load_cxi(path)
    >>> shots.shape, shots[[9, 1]][:, 0, 0].tolist(), shots.shots.entry[9]
    ((12, 16, 16), [10.0, 2.0], 'entry_10')
    >>> load_cxi(path, exclude_labels=("Round", "Empty")).shots.entry.tolist()[:4]
    ['entry_2', 'entry_3', 'entry_4', 'entry_5']
    >>> len(load_cxi(path, exclude_labels=("Round", "Empty")))  # not entry_1, 10, 12
    9
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        with h5py.File(self.path, "r") as f:
            entries = _shot_entries(f)
            if not entries:
                raise ValueError(
                    f"{self.path} has no entry_<i> groups; it is not a per-shot CXI file."
                )
            groups = [f[name] for name in entries]
            image_shape, self.dtype = _shot_images(groups, entries, self.path)
            self.labels, self.label_names = _shot_labels(groups, entries, self.path)
            self.shots = _shot_table(groups, entries, self.path)
        self.shape = (len(entries), *image_shape)
        self._entries = entries

    def _positions(self, index):
        return np.arange(len(self))[image_index(index, type(self).__name__)]

    def _read(self, position):
        return self._h5()[self._entries[position]][SHOT_DATA][()].astype(self.dtype, copy=False)

    def __getitem__(self, index):
        positions = self._positions(index)
        if positions.ndim == 0:
            return self._read(int(positions))
        unique, inverse = np.unique(positions, return_inverse=True)
        images = np.empty((len(unique), *self.shape[1:]), self.dtype)
        for k, position in enumerate(unique):
            images[k] = self._read(position)
        return images[inverse.ravel()]

    def subset(self, rows):
        """The shots at ``rows``, as a new lazy collection (labels and metadata too).

        Parameters
        ----------
        rows : int, slice, array of int or boolean mask

        Returns
        -------
        CXIShots

        Examples
        --------
        >>> import h5py, numpy as np, tempfile, os
        >>> from contrastlearn.datasets import load_cxi
        >>> path = os.path.join(tempfile.mkdtemp(), "shots.cxi")
        >>> with h5py.File(path, "w") as f:
        ...     for i in range(1, 5):
        ...         f[f"entry_{i}/instrument_1/detector_1/data"] = np.zeros((8, 8))
        >>> load_cxi(path).subset(slice(1, None)).shots.entry.tolist()
        ['entry_2', 'entry_3', 'entry_4']
        """
        positions = np.atleast_1d(self._positions(rows))
        subset = copy.copy(self)
        subset._file = None
        subset._entries = [self._entries[p] for p in positions]
        subset.shape = (len(positions), *self.shape[1:])
        subset.labels = None if self.labels is None else self.labels[positions]
        subset.shots = self.shots.iloc[positions].reset_index(drop=True)
        return subset

    def __repr__(self):
        return f"CXIShots({self.path!r}, shape={self.shape}, dtype={self.dtype})"


def _excluding(images, exclude_labels):
    """``images`` without the shots that carry any of ``exclude_labels``."""
    if not isinstance(images, CXIShots) or images.labels is None:
        raise ValueError(
            f"exclude_labels needs a per-shot CXI file with label flags "
            f"(note_1/data in every entry); {images.path} has none."
        )
    if isinstance(exclude_labels, (str, int, np.integer)):
        exclude_labels = [exclude_labels]
    columns = []
    for label in exclude_labels:
        if isinstance(label, str) and label in images.label_names:
            columns.append(images.label_names.index(label))
        elif (
            isinstance(label, (int, np.integer))
            and not isinstance(label, bool)
            and 0 <= label < len(images.label_names)
        ):
            columns.append(int(label))
        else:
            raise ValueError(
                f"exclude_labels: {label!r} is neither a label name of {images.path} "
                f"({', '.join(images.label_names)}) nor a column index in "
                f"[0, {len(images.label_names)})."
            )
    return images.subset(~images.labels[:, columns].astype(bool).any(axis=1))


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
    per_shot = False
    if dataset is None:
        with h5py.File(path, "r") as f:
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


def save_cxi(
    path, X, *, labels=None, label_names=None, mask=None, overwrite=False, compression=None
):
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
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(suffix=".cxi.part", dir=folder)
    os.close(handle)
    try:
        with h5py.File(temporary, "w") as f:
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
        os.replace(temporary, path)
    except BaseException:
        os.remove(temporary)
        raise
