"""What both CXI layouts share: the HDF5 paths, the lazy file handle, image indexing."""

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


def read_rows(dataset, rows):
    """``dataset[rows]`` for any integer rows (unsorted, repeated) of an h5py dataset.

    h5py reads point selections only in increasing order and without
    repeats: the sorted unique rows are read once and put back in order.
    """
    unique, inverse = np.unique(rows, return_inverse=True)
    return np.asarray(dataset[unique])[inverse.ravel()]
