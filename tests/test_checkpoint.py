"""Checkpoints: resuming after SIGKILL, atomic saves, refusing foreign or unsafe files."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import saved_state

import contrastlearn as cl
from contrastlearn._checkpoint import _MAGIC, CHECKPOINT_FILE, find_checkpoints

JOB = Path(__file__).with_name("resume_job.py")
sys.path.insert(0, str(JOB.parent))
import resume_job  # noqa: E402


def run_job(*args):
    return subprocess.run(
        [sys.executable, str(JOB), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )


def test_a_fit_killed_mid_epoch_resumes_and_ends_like_an_uninterrupted_one(tmp_path):
    killed = run_job(tmp_path / "ckpt", tmp_path / "killed.npz", 3)
    assert killed.returncode == -signal.SIGKILL
    saved = saved_state(tmp_path / "ckpt")
    assert len(saved["history"]) == 2  # epochs 1 and 2 complete; epoch 3 was cut
    assert not list((tmp_path / "ckpt").glob("**/*.partial"))
    resumed = run_job(tmp_path / "ckpt", tmp_path / "resumed.npz")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    uninterrupted = run_job(tmp_path / "other", tmp_path / "uninterrupted.npz")
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-3000:]
    resumed, uninterrupted = (
        np.load(tmp_path / "resumed.npz"),
        np.load(tmp_path / "uninterrupted.npz"),
    )
    np.testing.assert_array_equal(resumed["epoch"], [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(resumed["loss"], uninterrupted["loss"])
    np.testing.assert_array_equal(resumed["embedding"], uninterrupted["embedding"])
    weights = [key for key in resumed.files if key.startswith("weight:")]
    assert len(weights) > 10
    assert weights == [key for key in uninterrupted.files if key.startswith("weight:")]
    for key in weights:  # every parameter and buffer: backbone, head, normalisation
        np.testing.assert_array_equal(resumed[key], uninterrupted[key], err_msg=key)


def test_a_finished_fit_reruns_instantly_from_its_checkpoint(tmp_path):
    X = resume_job.images()[:256]
    params = {**resume_job.PARAMS, "max_epochs": 2, "checkpoint_dir": tmp_path}
    first = cl.CLR(**params).fit(X)
    again = cl.CLR(**params).fit(X)
    assert again.history_[:, "dur"] == first.history_[:, "dur"]  # no epoch ran again
    np.testing.assert_array_equal(again.transform(X), first.transform(X))


def test_other_parameters_or_data_train_afresh_in_a_folder_of_their_own(tmp_path):
    X = resume_job.images()[:256]
    params = {**resume_job.PARAMS, "max_epochs": 1, "checkpoint_dir": tmp_path}
    first = cl.CLR(**params).fit(X)
    # the same shape, other images: A's state must not be returned for B
    other_data = cl.CLR(**params).fit(X[::-1].copy())
    other_parameters = cl.CLR(temperature=0.5, **params).fit(X)
    assert len(find_checkpoints(tmp_path)) == 3
    fresh = cl.CLR(**{**params, "checkpoint_dir": None}).fit(X[::-1].copy())
    np.testing.assert_array_equal(other_data.transform(X), fresh.transform(X))
    assert other_parameters.history_[:, "train_loss"] != first.history_[:, "train_loss"]
    printing = cl.CLR(**{**params, "verbose": 1}).fit(X)  # printing is not part of the training
    assert printing.history_[:, "dur"] == first.history_[:, "dur"]  # resumed, nothing ran
    assert len(find_checkpoints(tmp_path)) == 3


class Payload:
    """Unpickling this creates the file ``marker``: stands for any code hidden in a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_without_running_it(tmp_path):
    import hashlib
    import io

    marker = tmp_path / "payload_ran"
    X = resume_job.images()[:128]
    params = dict(max_epochs=1, batch_size=64, checkpoint_dir=tmp_path / "ckpt")
    cl.CLR(**params).fit(X)
    (folder,) = find_checkpoints(tmp_path / "ckpt")
    payload = io.BytesIO()
    torch.save({"fingerprint": "x", "module": Payload(marker)}, payload)
    digest = hashlib.sha256(payload.getvalue()).hexdigest().encode()  # a valid checksum
    Path(folder, CHECKPOINT_FILE).write_bytes(_MAGIC + digest + b"\n" + payload.getvalue())
    with pytest.raises(ValueError, match="objects other than tensors.*never loaded"):
        cl.CLR(**params).fit(X)
    assert not marker.exists()
    torch.load(io.BytesIO(payload.getvalue()), weights_only=False)  # the payload is real
    assert marker.exists()


def test_a_failed_save_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    X = resume_job.images()[:256]
    params = {**resume_job.PARAMS, "max_epochs": 3, "checkpoint_dir": tmp_path}
    save, calls = torch.save, []

    def fails_at_the_second_epoch(obj, f, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"half a checkpoint")
            raise OSError("disk full")
        save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", fails_at_the_second_epoch)
    with pytest.raises(OSError, match=r"Could not write .*contrastlearn_checkpoint\.pt: disk full"):
        cl.CLR(**params).fit(X)
    (folder,) = find_checkpoints(tmp_path)
    assert os.listdir(folder) == [CHECKPOINT_FILE]  # no temporary file left
    assert len(saved_state(tmp_path)["history"]) == 1
    monkeypatch.setattr(torch, "save", save)
    resumed = cl.CLR(**params).fit(X)
    np.testing.assert_array_equal(resumed.history_[:, "epoch"], [1, 2, 3])


class FailAtEpoch(resume_job.KillMidEpoch):
    """Raise instead of killing: an in-process crash in the middle of an epoch."""

    def interrupt(self):
        raise RuntimeError("node pre-empted")


def test_dino_resumes_its_teacher_schedule_and_centre(tmp_path):
    X = resume_job.images()[:256]
    params = dict(
        n_prototypes=32,
        projection_dims=(32, 16),
        n_local_crops=1,
        warmup_teacher_epochs=2,
        warmup_teacher_temperature=0.02,
        **{**resume_job.PARAMS, "max_epochs": 3},
    )
    with pytest.raises(RuntimeError, match="pre-empted"):
        cl.DINO(checkpoint_dir=tmp_path, callbacks=[FailAtEpoch(2)], **params).fit(X)
    resumed = cl.DINO(checkpoint_dir=tmp_path, **params).fit(X)
    uninterrupted = cl.DINO(**params).fit(X)
    module = resumed.net_.module_
    # the step count is a buffer of the module's state: the resumed fit continues its schedule
    steps = [m.momentum_teacher.steps_taken for m in (module, uninterrupted.net_.module_)]
    assert steps == [3 * module.steps_per_epoch] * 2
    assert int(module.momentum_teacher.step) == 3 * module.steps_per_epoch
    assert resumed.history_[:, "train_loss"] == uninterrupted.history_[:, "train_loss"]
    np.testing.assert_array_equal(resumed.transform(X), uninterrupted.transform(X))


@pytest.mark.parametrize("below", [False, True])
def test_a_checkpoint_dir_that_is_a_file_is_refused_before_training(tmp_path, below):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a directory")
    directory = a_file / "run" if below else a_file
    model = cl.CLR(max_epochs=50, checkpoint_dir=directory, random_state=0)
    with pytest.raises(NotADirectoryError, match="notes.txt.* a file, not a directory"):
        model.fit(np.zeros((8, 8, 8)))
    assert not hasattr(model, "net_")  # refused before the first epoch, not after it
