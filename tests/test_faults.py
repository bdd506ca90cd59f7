"""Fault injection: what the user guide's "What happens when things go wrong" promises.

Each test builds a fault for real (a damaged byte, a file-size limit standing
in for a full disk, a process killed at a chosen point, concurrent writers, a
search over folds, a truncated, damaged, locked or closed HDF5 file) and
asserts the documented outcome: checkpoints and writing first, then reading.
"""

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import h5py
import numpy as np
import pytest
import resume_job  # tests/resume_job.py: the checkpointed fit run and killed in a subprocess
import torch
from conftest import saved_state
from sklearn.model_selection import cross_validate

import contrastlearn as cl
from contrastlearn._checkpoint import (
    CHECKPOINT_FILE,
    PREVIOUS_FILE,
    CheckpointError,
    find_checkpoints,
    load_checkpoint,
    write_checkpoint,
)
from contrastlearn._files import _HOST
from contrastlearn.datasets import load_cxi, save_cxi

FAST = dict(max_epochs=2, batch_size=32, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def X():
    return resume_job.images()[:96]


def files_in(folder):
    return sorted(p.name for p in Path(folder).iterdir())


def test_a_checkpoint_is_never_reused_for_other_data_of_the_same_shape(X, tmp_path):
    first = cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    other = X[::-1].copy()
    second = cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(other)
    np.testing.assert_array_equal(second.transform(X), cl.CLR(**FAST).fit(other).transform(X))
    assert not np.array_equal(second.transform(X), first.transform(X))
    assert len(find_checkpoints(tmp_path)) == 2


def test_cross_validation_with_a_checkpoint_dir_fits_every_fold_and_resumes_each(tmp_path):
    X, y = resume_job.images()[:240], resume_job.labels()[:240]
    scorer = cl.evaluation.make_few_label_scorer(label_fraction=0.5)
    model = cl.CLR(**{**FAST, "max_epochs": 1, "batch_size": 64})
    plain = cross_validate(model, X, y, cv=3, scoring=scorer)["test_score"]
    assert np.isfinite(plain).all() and len(set(plain)) == 3
    model.set_params(checkpoint_dir=tmp_path)
    checkpointed = cross_validate(model, X, y, cv=3, scoring=scorer, return_estimator=True)
    np.testing.assert_array_equal(checkpointed["test_score"], plain)
    assert len(find_checkpoints(tmp_path)) == 3  # one folder per fold
    again = cross_validate(model, X, y, cv=3, scoring=scorer, return_estimator=True)
    np.testing.assert_array_equal(again["test_score"], plain)
    for before, after in zip(checkpointed["estimator"], again["estimator"]):
        assert after.history_[:, "dur"] == before.history_[:, "dur"]  # loaded, not trained


def test_on_disk_data_is_identified_by_content_so_a_copied_file_resumes(X, tmp_path):
    cl.datasets.save_cxi(tmp_path / "a.cxi", X)
    first = cl.CLR(checkpoint_dir=tmp_path / "ckpt", **FAST).fit(
        cl.datasets.load_cxi(tmp_path / "a.cxi")
    )
    (tmp_path / "staged").mkdir()
    shutil.copy(tmp_path / "a.cxi", tmp_path / "staged" / "a.cxi")
    copied = cl.datasets.load_cxi(tmp_path / "staged" / "a.cxi")
    again = cl.CLR(checkpoint_dir=tmp_path / "ckpt", **FAST).fit(copied)
    assert again.history_[:, "dur"] == first.history_[:, "dur"]
    cl.datasets.save_cxi(tmp_path / "b.cxi", X[::-1])
    cl.CLR(checkpoint_dir=tmp_path / "ckpt", **FAST).fit(cl.datasets.load_cxi(tmp_path / "b.cxi"))
    assert len(find_checkpoints(tmp_path / "ckpt")) == 2


def damage(path, how, weight):
    data = bytearray(path.read_bytes())
    if how == "garbled weight":  # NaN bytes over a stored weight: torch itself loads this
        at = data.find(weight.numpy().tobytes()[:64])
        assert at > 0
        data[at : at + 16] = b"\xff" * 16
    elif how == "truncated":
        data = data[: len(data) // 2]
    elif how == "random bytes":
        data = bytearray(np.random.default_rng(0).bytes(len(data)))
    elif how == "empty":
        data = bytearray()
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("how", ["garbled weight", "truncated", "random bytes", "empty"])
def test_a_damaged_checkpoint_is_refused_naming_the_intact_previous_one(X, tmp_path, how):
    uninterrupted = cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    (folder,) = find_checkpoints(tmp_path)
    current, previous = Path(folder, CHECKPOINT_FILE), Path(folder, PREVIOUS_FILE)
    weight = next(iter(uninterrupted.net_.module_.state_dict().values()))
    damage(current, how, weight)
    with pytest.raises(CheckpointError, match="is damaged") as refused:
        cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    message = str(refused.value)
    assert str(current) in message and f"mv {previous} {current}" in message
    assert "epoch 1" in message and "weights_only" not in message
    os.replace(previous, current)  # as the message says: resume from the epoch before
    resumed = cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    assert resumed.history_[:, "dur"][0] == uninterrupted.history_[:, "dur"][0]
    np.testing.assert_array_equal(resumed.transform(X), uninterrupted.transform(X))


def test_a_damaged_checkpoint_without_an_intact_previous_one_says_to_start_afresh(X, tmp_path):
    cl.CLR(checkpoint_dir=tmp_path, **{**FAST, "max_epochs": 1}).fit(X)
    (folder,) = find_checkpoints(tmp_path)
    damage(Path(folder, CHECKPOINT_FILE), "truncated", None)
    with pytest.raises(CheckpointError, match=f"is damaged.*Delete {folder} to start afresh"):
        cl.CLR(checkpoint_dir=tmp_path, **{**FAST, "max_epochs": 1}).fit(X)


def test_a_checkpoint_of_the_layout_without_fit_folders_is_not_resumed_but_named(X, tmp_path):
    old = tmp_path / CHECKPOINT_FILE  # where versions before the per-fit folders saved
    old.write_bytes(b"a checkpoint that does not say which data it was trained on")
    with pytest.warns(UserWarning, match="earlier version.*not resumed") as warned:
        model = cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    (warning,) = [w for w in warned if "earlier version" in str(w.message)]
    assert f"Delete {old}" in str(warning.message)
    assert warning.filename == __file__  # points at the user's fit call
    assert len(model.history_) == FAST["max_epochs"]  # trained afresh
    assert len(find_checkpoints(tmp_path)) == 1 and old.exists()  # the old file is left alone


def test_a_fit_killed_while_saving_resumes_and_its_temporary_file_is_removed(tmp_path):
    job = [sys.executable, str(Path(resume_job.__file__)), tmp_path / "ckpt", tmp_path / "o.npz"]
    killed = subprocess.run([*job, "save:2"], capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGTERM
    (folder,) = find_checkpoints(tmp_path / "ckpt")
    left = files_in(folder)  # epoch 1 moved aside, epoch 2 complete but not yet in place
    assert left[0] == PREVIOUS_FILE and left[1].endswith(".partial") and len(left) == 2
    resumed = cl.CLR(checkpoint_dir=tmp_path / "ckpt", **resume_job.PARAMS).fit(resume_job.images())
    np.testing.assert_array_equal(resumed.history_[:, "epoch"], [1, 2, 3, 4, 5])
    assert files_in(folder) == sorted([CHECKPOINT_FILE, PREVIOUS_FILE])
    assert len(saved_state(tmp_path / "ckpt")["history"]) == 5


FULL_DISK_JOB = textwrap.dedent(
    """
    import json, resource, signal, sys, os
    import numpy as np
    import contrastlearn as cl
    from contrastlearn import _checkpoint

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    folder = sys.argv[1]
    X = np.random.default_rng(0).random((64, 32, 32)).astype(np.float32)
    cl.datasets.save_cxi(f"{folder}/old.cxi", X[:4])
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    results = {}

    def attempt(name, run):
        try:
            run()
            results[name] = "no error"
        except OSError as error:
            results[name] = str(error)

    attempt("save_cxi", lambda: cl.datasets.save_cxi(f"{folder}/old.cxi", X, overwrite=True))
    attempt("save_cxi gzip", lambda: cl.datasets.save_cxi(
        f"{folder}/old.cxi", X, overwrite=True, compression="gzip"))
    attempt("checkpoint checked", lambda: cl.CLR(
        max_epochs=1, batch_size=32, checkpoint_dir=f"{folder}/ckpt").fit(X))
    _checkpoint.check_space = lambda path, n: None  # as if the disk filled during the epoch
    attempt("checkpoint written", lambda: cl.CLR(
        max_epochs=1, batch_size=32, checkpoint_dir=f"{folder}/ckpt2").fit(X))
    print(json.dumps(results))
    """
)


def test_a_full_disk_raises_an_error_naming_the_file_and_never_crashes(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_JOB, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]  # HDF5 used to segfault here
    results = json.loads(done.stdout.strip().splitlines()[-1])
    old = str(tmp_path / "old.cxi")
    assert results["save_cxi"].startswith(f"[Errno 27] Cannot write {old}: it needs about")
    assert results["save_cxi gzip"].startswith(f"[Errno 27] Could not write {old}")
    assert "largest file size" in results["save_cxi gzip"]
    assert (
        "Cannot write" in results["checkpoint checked"] and "ckpt" in results["checkpoint checked"]
    )
    written = results["checkpoint written"]
    assert "Could not write" in written and CHECKPOINT_FILE in written
    assert "enforce fail" not in written
    assert cl.datasets.load_cxi(old).shape == (4, 32, 32)  # the old file is unchanged
    assert files_in(tmp_path) == ["ckpt", "ckpt2", "old.cxi"]  # no temporary file left
    (folder,) = [p for p in (tmp_path / "ckpt2").iterdir()]
    assert files_in(folder) == []


def test_a_disk_without_room_for_the_checkpoints_is_refused_before_training(
    X, tmp_path, monkeypatch
):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(1, 1, 1000))
    model = cl.CLR(checkpoint_dir=tmp_path, **FAST)
    with pytest.raises(OSError, match=r"Cannot write .*needs about .* free on its disk"):
        model.fit(X)
    assert not hasattr(model, "net_")  # refused before the first epoch, not after it


def test_checkpoints_get_the_umask_permissions_and_keep_a_changed_mode(X, tmp_path):
    previous_umask = os.umask(0o027)
    try:
        cl.CLR(checkpoint_dir=tmp_path, **{**FAST, "max_epochs": 1}).fit(X)
        (folder,) = find_checkpoints(tmp_path)
        current = Path(folder, CHECKPOINT_FILE)
        assert stat.S_IMODE(current.stat().st_mode) == 0o640
        current.chmod(0o664)  # shared with the group
        cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
        assert stat.S_IMODE(current.stat().st_mode) == 0o664
    finally:
        os.umask(previous_umask)


def test_leftovers_of_dead_processes_are_removed_and_those_of_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], text=True, capture_output=True
    ).stdout.strip()
    target = tmp_path / "shots.cxi"
    leftovers = {
        "dead": f"shots.cxi.{_HOST}-{dead}-0a0b0c0d.partial",
        "live": f"shots.cxi.{_HOST}-{os.getpid()}-0a0b0c0d.partial",
        "other host": f"shots.cxi.elsewhere-{dead}-0a0b0c0d.partial",
    }
    for name in leftovers.values():
        (tmp_path / name).write_bytes(b"half a file")
    cl.datasets.save_cxi(target, np.zeros((2, 4, 4)))
    assert files_in(tmp_path) == sorted([leftovers["live"], leftovers["other host"], "shots.cxi"])


def test_concurrent_writers_leave_one_complete_checkpoint_and_one_complete_cxi_file(tmp_path):
    def checkpoints(writer):
        for step in range(10):
            write_checkpoint(tmp_path / "ckpt", {"fingerprint": "f", "history": [writer, step]})

    def cxi_files(writer):
        for _ in range(5):
            cl.datasets.save_cxi(tmp_path / "a.cxi", np.full((64, 16, 16), writer), overwrite=True)

    for work in (checkpoints, cxi_files):
        threads = [threading.Thread(target=work, args=(writer,)) for writer in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert load_checkpoint(tmp_path / "ckpt", "f")["history"][1] == 9
    assert files_in(tmp_path / "ckpt") == sorted([CHECKPOINT_FILE, PREVIOUS_FILE])
    images = cl.datasets.load_cxi(tmp_path / "a.cxi")[:]
    assert images.shape == (64, 16, 16) and len(np.unique(images)) == 1  # one writer's, whole
    assert files_in(tmp_path) == ["a.cxi", "ckpt"]


def test_ctrl_c_while_saving_keeps_the_last_checkpoint_and_no_temporary_file(
    X, tmp_path, monkeypatch
):
    save, calls = torch.save, []

    def interrupted_at_the_second(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", interrupted_at_the_second)
    with pytest.raises(KeyboardInterrupt):
        cl.CLR(checkpoint_dir=tmp_path, **FAST).fit(X)
    (folder,) = find_checkpoints(tmp_path)
    assert files_in(folder) == [CHECKPOINT_FILE]
    assert len(saved_state(tmp_path)["history"]) == 1


def test_the_checkpoint_header_holds_the_checksum_of_the_rest(tmp_path):
    write_checkpoint(tmp_path, {"fingerprint": "f", "history": []})
    data = (tmp_path / CHECKPOINT_FILE).read_bytes()
    header, payload = data.split(b"\n", 1)
    assert header.endswith(hashlib.sha256(payload).hexdigest().encode())


# ---------------------------------------------------------------- reading HDF5 files
DATA = "entry_1/data_1/data"
SHOT = "instrument_1/detector_1/data"
READ_FAST = dict(max_epochs=1, batch_size=16, device="cpu")


@pytest.fixture
def cxi(tmp_path):
    """A gzip-compressed CXI file of 64 images of 8x8 (one chunk each)."""
    path = tmp_path / "images.cxi"
    images = np.random.default_rng(0).random((64, 8, 8)).astype(np.float32)
    save_cxi(path, images, compression="gzip")
    return str(path)


@pytest.fixture
def shots(tmp_path):
    """A per-shot CXI file of 6 gzip-compressed 8x8 shots, entry_1 to entry_6."""
    path = tmp_path / "shots.cxi"
    with h5py.File(path, "w") as f:
        for i in range(1, 7):
            f.create_dataset(
                f"entry_{i}/{SHOT}",
                data=np.full((8, 8), i, np.float32) + np.eye(8),
                compression="gzip",
            )
    return str(path)


def damage_chunk(path, dataset, chunk=0):
    """Overwrite 16 bytes in the middle of compressed chunk ``chunk`` of ``dataset``."""
    with h5py.File(path, "r") as f:
        info = f[dataset].id.get_chunk_info(chunk)
    with open(path, "r+b") as file:
        file.seek(info.byte_offset + info.size // 2)
        file.write(b"\xff" * 16)


def assert_names(error, *words):
    message = str(error.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    assert error.value.__cause__ is not None  # h5py's error stays chained


@pytest.mark.parametrize("when", ["at opening", "after opening"])
def test_a_truncated_file_is_named_with_its_size_and_the_advice_to_copy_it_again(cxi, when):
    size = os.path.getsize(cxi)
    images = None if when == "at opening" else load_cxi(cxi)
    with open(cxi, "r+b") as file:
        file.truncate(size // 2)
    with pytest.raises(OSError) as error:
        if images is None:
            load_cxi(cxi, dataset=DATA)
        else:
            images[8:24]
    assert_names(error, cxi, DATA, "truncated", f"{size // 2:,} bytes of the {size:,}", "copy")


@pytest.mark.parametrize(
    "read, images",
    [
        (lambda x: x[5], "image 5 of"),
        (lambda x: x[0:16], "images 0-15 of"),
        (lambda x: x[[7, 5, 3]], "images 7, 5, 3 of"),
    ],
    ids=["one", "slice", "rows"],
)
def test_a_damaged_compressed_block_names_the_images_read(cxi, read, images):
    damage_chunk(cxi, DATA, chunk=5)
    stack = load_cxi(cxi)
    np.testing.assert_array_equal(stack[4].shape, (8, 8))  # the other chunks still read
    with pytest.raises(OSError) as error:
        read(stack)
    assert_names(error, cxi, DATA, images, "compressed block", "damaged", "good copy")


@pytest.mark.parametrize("source", ["load_cxi", "h5py.Dataset"])
def test_fit_on_a_damaged_file_names_the_file_the_dataset_and_the_images(cxi, source):
    damage_chunk(cxi, DATA, chunk=40)
    with h5py.File(cxi, "r") as f:
        X = load_cxi(cxi) if source == "load_cxi" else f[DATA]
        with pytest.raises(OSError) as error:
            cl.CLR(**READ_FAST).fit(X)
    assert_names(error, cxi, DATA, "images ", "compressed block", "damaged")


def test_a_damaged_shot_names_its_entry_and_position(shots):
    damage_chunk(shots, f"entry_3/{SHOT}")
    with pytest.raises(OSError) as error:
        load_cxi(shots)[[0, 1, 2]]
    assert_names(error, shots, f"entry_3/{SHOT}", "image 2 of", "compressed block", "damaged")


def test_a_damaged_b_tree_is_named_as_damaged_structure(cxi):
    with open(cxi, "rb") as file:
        content = file.read()
    # Version 1 B-tree nodes start "TREE"; node type 1 indexes a dataset's chunks.
    nodes = [i for i in range(len(content)) if content.startswith(b"TREE\x01", i)]
    assert nodes
    with open(cxi, "r+b") as file:
        for node in nodes:
            file.seek(node)
            file.write(b"XXXX")
    with pytest.raises(OSError) as error:
        load_cxi(cxi)[:]
    assert_names(error, cxi, DATA, "images 0-63 of", "internal structure is damaged")


@pytest.mark.skipif(
    os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE",
    reason="HDF5 file locking is off",
)
def test_a_file_another_process_writes_is_named_with_how_to_read_it(cxi):
    images = load_cxi(cxi)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import h5py, sys, time; f = h5py.File(sys.argv[1], 'a'); print('ready', flush=True);"
            " time.sleep(60)",
            cxi,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline().strip() == "ready"
        with pytest.raises(OSError) as error:
            images[0:16]
    finally:
        writer.kill()
        writer.wait()
    assert_names(error, cxi, DATA, "another process", "HDF5_USE_FILE_LOCKING=FALSE", "SWMR")


@pytest.mark.parametrize("method", ["fit", "transform"])
def test_an_h5py_dataset_of_a_closed_file_is_named_as_closed(cxi, method):
    clr = cl.CLR(**READ_FAST)
    if method == "transform":
        clr.fit(load_cxi(cxi)[:])
    with h5py.File(cxi, "r") as f:
        dataset = f[DATA]
    with pytest.raises(ValueError) as error:
        getattr(clr, method)(dataset)
    assert_names(error, "closed", "Keep the file open", "load_cxi(path)")


def overwrite_with_noise(path):
    with open(path, "wb") as file:
        file.write(np.random.default_rng(1).bytes(4096))


def forbid_reading(path):
    os.chmod(path, 0)
    try:
        open(path, "rb").close()
    except PermissionError:
        return
    pytest.skip("this process reads files without read permission (root)")


@pytest.mark.parametrize(
    "fault, kind, reason",
    [
        (overwrite_with_noise, OSError, "not an HDF5 file"),
        (os.remove, FileNotFoundError, "does not exist"),
        (forbid_reading, PermissionError, "not allowed to read"),
    ],
    ids=["random bytes", "deleted", "no read permission"],
)
def test_a_file_that_changed_after_opening_is_named_with_the_reason(cxi, fault, kind, reason):
    images = load_cxi(cxi)
    fault(cxi)
    with pytest.raises(kind) as error:
        images[[3, 1]]
    assert_names(error, cxi, DATA, reason)
