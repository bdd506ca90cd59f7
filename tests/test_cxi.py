import hashlib
import os
import pickle
import stat

import h5py
import numpy as np
import pytest

import contrastlearn as cl
from contrastlearn.datasets import CXIShots, load_cxi, save_cxi
from contrastlearn.validation import InvalidParameterError


@pytest.fixture
def shots(small_images, tmp_path):
    X, y = small_images
    path = tmp_path / "shots.cxi"
    labels = np.eye(10, dtype=np.int8)[y]
    save_cxi(
        path,
        X,
        labels=labels,
        label_names=[str(d) for d in range(10)],
        mask=np.zeros((8, 8), np.uint8),
    )
    return path, X, labels


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_and_lazy_indexing(shots):
    path, X, labels = shots
    images = load_cxi(path)
    assert images._file is None  # opening reads metadata only
    assert images.shape == X.shape and images.dtype == X.dtype and len(images) == len(X)
    np.testing.assert_array_equal(images[5], X[5])
    np.testing.assert_array_equal(images[10:20], X[10:20])
    np.testing.assert_array_equal(images[[9, 3, 3, -1]], X[[9, 3, 3, -1]])  # any order, repeats
    np.testing.assert_array_equal(np.asarray(images), X)
    np.testing.assert_array_equal(images.labels, labels)
    assert images.label_names == [str(d) for d in range(10)] and images.mask.shape == (8, 8)


def test_reader_finds_the_image_link_and_unpickles(shots):
    path, X, _ = shots
    via_image = load_cxi(path, dataset="entry_1/image_1/data")
    np.testing.assert_array_equal(via_image[:3], X[:3])
    images = load_cxi(path)
    images[0]
    clone = pickle.loads(pickle.dumps(images))  # open handles are not pickled
    np.testing.assert_array_equal(clone[[1, 2]], X[[1, 2]])


def test_fit_on_a_cxi_file_equals_fit_on_the_array_and_leaves_it_unchanged(shots):
    path, X, _ = shots
    before = digest(path)
    params = dict(max_epochs=2, batch_size=64, random_state=0)
    from_file = cl.CLR(**params).fit(load_cxi(path))
    in_memory = cl.CLR(**params).fit(X)
    assert from_file.history_[:, "train_loss"] == in_memory.history_[:, "train_loss"]
    np.testing.assert_array_equal(from_file.transform(load_cxi(path)), in_memory.transform(X))
    np.testing.assert_array_equal(from_file.transform(X), in_memory.transform(X))
    assert digest(path) == before


def test_an_h5py_dataset_is_streamed_too(shots):
    path, X, _ = shots
    with h5py.File(path, "r") as f:
        embedding = cl.CLR(max_epochs=1, batch_size=64, random_state=0).fit_transform(
            f["entry_1/data_1/data"]
        )
    assert embedding.shape == (len(X), 256)


def test_nan_pixels_in_a_file_are_rejected_or_handled_by_the_nan_policy(tmp_path):
    X = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    X[13, 2, 2] = np.nan
    save_cxi(tmp_path / "bad.cxi", X)
    with pytest.raises(ValueError, match="1 NaN.* image 13, found while reading CXIImages"):
        cl.CLR(max_epochs=1).fit(load_cxi(tmp_path / "bad.cxi"))
    masked = cl.CLR(max_epochs=1, nan_policy="mask", device="cpu")
    embedding = masked.fit_transform(load_cxi(tmp_path / "bad.cxi"))
    assert np.isfinite(embedding).all()


def test_reader_lists_the_datasets_when_it_finds_no_image_stack(tmp_path):
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["some/thing"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match="no image stack.*pass dataset= one of .*some/thing"):
        load_cxi(tmp_path / "other.h5")


def test_writer_never_leaves_a_half_written_file(tmp_path):
    class FailsHalfway:
        ndim, shape = 3, (600, 4, 4)

        def __len__(self):
            return 600

        def __getitem__(self, rows):
            start, stop, _ = rows.indices(600)
            if start >= 256:
                raise RuntimeError("disk read failed")
            return np.zeros((stop - start, 4, 4), np.float32)

    with pytest.raises(RuntimeError, match="disk read failed"):
        save_cxi(tmp_path / "out.cxi", FailsHalfway())
    assert list(tmp_path.iterdir()) == []


def test_writer_overwrites_only_when_asked(tmp_path):
    save_cxi(tmp_path / "a.cxi", np.zeros((3, 4, 4)))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_cxi(tmp_path / "a.cxi", np.zeros((3, 4, 4)))
    save_cxi(tmp_path / "a.cxi", np.ones((2, 4, 4)), overwrite=True)
    assert load_cxi(tmp_path / "a.cxi").shape == (2, 4, 4)


# ---- per-shot files (one entry_<i> group per shot, like CXIDB entry 94)

ELECTRON_VOLT = 1.602176634e-19


def write_shots(path, n=15, size=40, edit=None):
    """``n`` shots of ``size`` x ``size`` float32, written in a scrambled entry order.

    Shot ``i`` (entry_i) is random plus ``i``; its flags are ``i % 11`` (so entries 1
    and 12 are Round, 10 is Empty); energy (1000 + i) eV in J; bunch id 500 + i.
    """
    rng = np.random.default_rng(0)
    images = (rng.random((n, size, size)) + np.arange(1, n + 1)[:, None, None]).astype(np.float32)
    labels = np.eye(11, dtype=np.uint8)[np.arange(1, n + 1) % 11]
    labels[:, 0] = 1  # every shot is also Spherical/Oblate
    with h5py.File(path, "w") as f:
        for i in rng.permutation(n) + 1:
            entry = f.create_group(f"entry_{i}")
            entry["instrument_1/detector_1/data"] = images[i - 1]
            entry["note_1/data"] = labels[i - 1][None]  # (1, 11), flattened on reading
            entry["instrument_1/source_1/energy"] = (1000.0 + i) * ELECTRON_VOLT
            entry["experimental_identifier"] = np.int64(500 + i)
            if edit is not None:
                edit(entry, i)
    return images, labels.astype(np.int64)


@pytest.fixture
def shot_file(tmp_path):
    path = tmp_path / "helium.cxi"
    images, labels = write_shots(path)
    return path, images, labels


def test_a_per_shot_file_opens_in_numeric_entry_order_with_its_metadata(shot_file):
    path, images, labels = shot_file
    shots = load_cxi(path)
    assert isinstance(shots, CXIShots)
    assert shots.shape == (15, 40, 40) and shots.dtype == np.float32
    assert len(shots) == 15 and shots.ndim == 3
    assert shots.shots["entry"].tolist() == [f"entry_{i}" for i in range(1, 16)]
    np.testing.assert_array_equal(np.asarray(shots), images)  # entry_2 before entry_10
    np.testing.assert_array_equal(shots.labels, labels)
    assert shots.label_names[:2] == ["Spherical/Oblate", "Round"] and len(shots.label_names) == 11
    np.testing.assert_allclose(shots.shots["photon_energy_eV"], 1001 + np.arange(15))
    assert shots.shots["experimental_identifier"].tolist() == list(range(501, 516))
    assert shots.shots.index.tolist() == list(range(15))


def test_per_shot_indexing_in_every_form(shot_file):
    path, images, _ = shot_file
    shots = load_cxi(path)
    np.testing.assert_array_equal(shots[9], images[9])
    np.testing.assert_array_equal(shots[-1], images[-1])
    np.testing.assert_array_equal(shots[2:11:3], images[2:11:3])
    np.testing.assert_array_equal(shots[[9, 3, 3, -1]], images[[9, 3, 3, -1]])
    mask = np.arange(15) % 4 == 0
    np.testing.assert_array_equal(shots[mask], images[mask])
    np.testing.assert_array_equal(shots[np.array([4, 0]), ...], images[[4, 0]])  # sklearn's form
    with pytest.raises(IndexError):
        shots[15]


def test_opening_reads_no_image_and_indexing_reads_only_the_requested_shots(shot_file, monkeypatch):
    path, images, _ = shot_file
    read = []
    original = h5py.Dataset.__getitem__

    def spy(dataset, key):
        read.append(dataset.name)
        return original(dataset, key)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", spy)
    shots = load_cxi(path)
    assert not [name for name in read if name.endswith("detector_1/data")]
    read.clear()
    np.testing.assert_array_equal(shots[[7, 1, 7]], images[[7, 1, 7]])
    assert sorted(read) == [
        "/entry_2/instrument_1/detector_1/data",
        "/entry_8/instrument_1/detector_1/data",
    ]


def test_per_shot_collections_pickle_reopen_and_close(shot_file):
    path, images, _ = shot_file
    shots = load_cxi(path)
    shots[0]
    clone = pickle.loads(pickle.dumps(shots))
    np.testing.assert_array_equal(clone[[1, 2]], images[[1, 2]])
    shots.close()
    np.testing.assert_array_equal(shots[3], images[3])  # reopened on access


def test_excluding_labels_and_subsets_keep_labels_and_metadata_aligned(shot_file):
    path, images, labels = shot_file
    kept = load_cxi(path, exclude_labels=("Round", "Empty"))
    keep = (labels[:, 1] == 0) & (labels[:, 10] == 0)  # as the reference script filters
    assert kept.shots["entry"].tolist() == [f"entry_{i}" for i in np.flatnonzero(keep) + 1]
    np.testing.assert_array_equal(kept[:], images[keep])
    np.testing.assert_array_equal(kept.labels, labels[keep])
    by_index = load_cxi(path, exclude_labels=[1, 10])
    assert by_index.shots.equals(kept.shots)
    study = kept.subset(slice(1, None))  # the reference also dropped the first kept shot
    assert study.shape == (keep.sum() - 1, 40, 40)
    assert study.shots["entry"].iloc[0] == "entry_3" and study.shots.index[0] == 0
    np.testing.assert_array_equal(study[0], images[2])
    np.testing.assert_array_equal(study.subset([2, 0]).labels, labels[keep][1:][[2, 0]])


def test_fitting_per_shot_files_equals_fitting_the_images_in_memory(shot_file):
    path, images, _ = shot_file
    params = dict(max_epochs=1, batch_size=8, random_state=0)
    from_file = cl.CLR(**params).fit(load_cxi(path))
    in_memory = cl.CLR(**params).fit(images)
    np.testing.assert_array_equal(from_file.transform(load_cxi(path)), in_memory.transform(images))


def test_label_names_come_from_the_file_or_default_to_flag_numbers(tmp_path):
    def named(entry, i):
        entry["note_1/data"].attrs["label_names"] = [f"class {k}" for k in range(11)]

    write_shots(tmp_path / "named.cxi", n=3, edit=named)
    assert load_cxi(tmp_path / "named.cxi").label_names[10] == "class 10"

    def three_flags(entry, i):
        del entry["note_1/data"]
        entry["note_1/data"] = np.array([i % 2, 0, 1])

    write_shots(tmp_path / "three.cxi", n=3, edit=three_flags)  # entry_2 has flag0 = 0
    shots = load_cxi(tmp_path / "three.cxi")
    assert shots.label_names == ["flag0", "flag1", "flag2"] and shots.labels.shape == (3, 3)
    assert load_cxi(tmp_path / "three.cxi", exclude_labels="flag0").shots["entry"].tolist() == [
        "entry_2"
    ]


def without(dataset, entries):
    def edit(entry, i):
        if i in entries:
            del entry[dataset]

    return edit


def replacing(dataset, entry_number, value):
    def edit(entry, i):
        if i == entry_number:
            del entry[dataset]
            entry[dataset] = value

    return edit


@pytest.mark.parametrize(
    "edit,kwargs,message",
    [
        (
            without("instrument_1/detector_1/data", {4, 9}),
            {},
            r"helium\.cxi: 2 of 15 entries have no instrument_1/detector_1/data dataset "
            r"\(entry_4, entry_9\)",
        ),
        (
            replacing("instrument_1/detector_1/data", 7, np.zeros((30, 30))),
            {},
            r"helium\.cxi: the shots differ in size: \(40, 40\) in entry_1, entry_2, entry_3 and "
            r"11 more; \(30, 30\) in entry_7",
        ),
        (
            without("note_1/data", {5}),
            {},
            r"helium\.cxi: 1 of 15 entries have no note_1/data \(entry_5\)",
        ),
        (
            replacing("note_1/data", 3, np.zeros(4)),
            {},
            r"helium\.cxi: note_1/data must hold the same number of numeric flags in every entry; "
            r"entry_1 has 11 but entry_3 differs",
        ),
        (
            None,
            {"exclude_labels": ["Roundish"]},
            r"The 'exclude_labels' parameter of load_cxi must be label names of .*helium\.cxi "
            r"\(Spherical/Oblate, .*\. Got \['Roundish'\]\.",
        ),
        (None, {"exclude_labels": [11]}, r"or column indices in \[0, 11\)\. Got \[11\]\."),
        (
            without("note_1/data", set(range(1, 16))),
            {"exclude_labels": ["Round"]},
            r"The 'exclude_labels' parameter of load_cxi must be None for .*helium\.cxi, which has "
            r"no per-shot label flags",
        ),
    ],
)
def test_per_shot_errors_name_the_file_and_entries(tmp_path, edit, kwargs, message):
    write_shots(tmp_path / "helium.cxi", edit=edit)
    with pytest.raises(ValueError, match=message):
        load_cxi(tmp_path / "helium.cxi", **kwargs)


@pytest.mark.parametrize(
    "function,kwargs,name",
    [
        (load_cxi, {"path": 3}, "path"),
        (load_cxi, {"path": None}, "path"),
        (load_cxi, {"path": "a.cxi", "dataset": 1}, "dataset"),
        (load_cxi, {"path": "a.cxi", "exclude_labels": 1.5}, "exclude_labels"),
        (load_cxi, {"path": "a.cxi", "exclude_labels": ["Round", None]}, "exclude_labels"),
        (save_cxi, {"path": b"a.cxi", "X": np.zeros((2, 4, 4))}, "path"),
        (save_cxi, {"path": "a.cxi", "X": "images"}, "X"),
        (save_cxi, {"path": "a.cxi", "X": np.zeros((2, 4, 4)), "labels": 3}, "labels"),
        (save_cxi, {"path": "a.cxi", "X": np.zeros((2, 4, 4)), "label_names": "ab"}, "label_names"),
        (save_cxi, {"path": "a.cxi", "X": np.zeros((2, 4, 4)), "mask": 0}, "mask"),
        (save_cxi, {"path": "a.cxi", "X": np.zeros((2, 4, 4)), "overwrite": "yes"}, "overwrite"),
        (
            save_cxi,
            {"path": "a.cxi", "X": np.zeros((2, 4, 4)), "compression": "zip"},
            "compression",
        ),
    ],
)
def test_a_bad_argument_raises_the_layers_error_naming_function_and_parameter(
    tmp_path, monkeypatch, function, kwargs, name
):
    monkeypatch.chdir(tmp_path)  # nothing is read or written: the call fails first
    with pytest.raises(InvalidParameterError) as raised:
        function(**kwargs)
    assert str(raised.value).startswith(f"The {name!r} parameter of {function.__name__} must be ")
    assert list(tmp_path.iterdir()) == []


def test_save_cxi_names_a_missing_folder_and_leaves_nothing_behind(tmp_path):
    target = tmp_path / "missing" / "shots.cxi"
    with pytest.raises(FileNotFoundError, match=r"shots\.cxi.*folder .*missing.* does not exist"):
        save_cxi(target, np.ones((2, 4, 4)))
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_umask_s_permissions_and_keep_an_overwritten_mode(tmp_path):
    previous = os.umask(0o022)
    try:
        save_cxi(tmp_path / "new.cxi", np.ones((2, 4, 4)))
        assert stat.S_IMODE(os.stat(tmp_path / "new.cxi").st_mode) == 0o644  # was 0o600
        os.chmod(tmp_path / "new.cxi", 0o664)  # shared with the group
        save_cxi(tmp_path / "new.cxi", np.zeros((2, 4, 4)), overwrite=True)
        assert stat.S_IMODE(os.stat(tmp_path / "new.cxi").st_mode) == 0o664
    finally:
        os.umask(previous)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.cxi"]  # no temporary file left
