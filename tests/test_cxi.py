import hashlib
import pickle

import h5py
import numpy as np
import pytest

import contrastlearn as cl
from contrastlearn.datasets import load_cxi, save_cxi


@pytest.fixture
def shots(small_images, tmp_path):
    X, y = small_images
    path = tmp_path / "shots.cxi"
    labels = np.eye(10, dtype=np.int8)[y]
    save_cxi(path, X, labels=labels, label_names=[str(d) for d in range(10)],
             mask=np.zeros((8, 8), np.uint8))
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
            f["entry_1/data_1/data"])
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
