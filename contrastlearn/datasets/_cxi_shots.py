"""The per-shot CXI layout (one HDF5 group per shot, as CXIDB entry 94): CXIShots."""

import copy
import numbers
import os

import h5py
import numpy as np
import pandas as pd

from ..validation import Interval, Options, Predicate, check_parameter
from ._cxi_layout import (
    _ENTRY,
    ELECTRON_VOLT,
    HELIUM_LABEL_NAMES,
    SHOT_DATA,
    SHOT_ENERGY,
    SHOT_IDENTIFIER,
    SHOT_LABEL_NAMES,
    SHOT_LABELS,
    _LazyFile,
    image_index,
    reading,
)


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

    Raises
    ------
    OSError
        When the file cannot be read, at opening or at indexing: the message
        names the file, the shot's dataset and position being read, and says
        why (truncated, damaged, locked by another process's writer, not
        HDF5) and what to do. It is a ``FileNotFoundError`` if the file is
        gone, a ``PermissionError`` if it may not be read; h5py's error is
        chained.

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
        with reading(self.path, "the entry_<i> groups"), h5py.File(self.path, "r") as f:
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
        with reading(self.path, f"{self._entries[position]}/{SHOT_DATA}", position):
            data = self._h5()[self._entries[position]][SHOT_DATA][()]
        return data.astype(self.dtype, copy=False)

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
    """``images`` without the shots that carry any of ``exclude_labels`` (load_cxi's argument)."""
    if not isinstance(images, CXIShots) or images.labels is None:
        none = Predicate(
            lambda value: value is None,
            f"None for {images.path}, which has no per-shot label flags (note_1/data in every "
            "entry)",
        )
        check_parameter("load_cxi", "exclude_labels", exclude_labels, none)
    names = images.label_names
    single = isinstance(exclude_labels, (str, int, np.integer))
    listed = [exclude_labels] if single else list(exclude_labels)
    known = [Options(names), Interval(numbers.Integral, 0, len(names))]
    of_the_file = Predicate(
        lambda _: all(any(c.is_satisfied_by(label) for c in known) for label in listed),
        f"label names of {images.path} ({', '.join(names)}) or column indices in [0, {len(names)})",
    )
    check_parameter("load_cxi", "exclude_labels", exclude_labels, of_the_file)
    columns = [names.index(label) if isinstance(label, str) else int(label) for label in listed]
    return images.subset(~images.labels[:, columns].astype(bool).any(axis=1))
