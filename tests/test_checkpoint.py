"""Checkpoints: resuming after SIGKILL, atomic saves, refusing foreign or unsafe files."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import contrastlearn as cl
from contrastlearn._callbacks import CHECKPOINT_FILE

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
    saved = torch.load(tmp_path / "ckpt" / CHECKPOINT_FILE, weights_only=True)
    assert len(saved["history"]) == 2  # epochs 1 and 2 complete; epoch 3 was cut
    assert not list((tmp_path / "ckpt").glob("*.partial"))
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


def test_a_checkpoint_of_other_parameters_is_refused(tmp_path):
    X = resume_job.images()[:256]
    params = {**resume_job.PARAMS, "max_epochs": 1, "checkpoint_dir": tmp_path}
    cl.CLR(**params).fit(X)
    with pytest.raises(ValueError, match="other parameters or data"):
        cl.CLR(temperature=0.5, **params).fit(X)
    with pytest.raises(ValueError, match="other parameters or data"):
        cl.CLR(**params).fit(X[:128])
    cl.CLR(**{**params, "verbose": 1}).fit(X)  # printing is not part of the training


class Payload:
    """Unpickling this creates the file ``marker``: stands for any code hidden in a file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (Path(self.marker),)


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "payload_ran"
    (tmp_path / "ckpt").mkdir()
    torch.save({"fingerprint": "x", "module": Payload(marker)}, tmp_path / "ckpt" / CHECKPOINT_FILE)
    with pytest.raises(ValueError, match="could not be loaded as weights only"):
        cl.CLR(max_epochs=1, checkpoint_dir=tmp_path / "ckpt").fit(resume_job.images()[:128])
    assert not marker.exists()
    with open(tmp_path / "ckpt" / CHECKPOINT_FILE, "rb") as f:  # the payload is real
        torch.load(f, weights_only=False)
    assert marker.exists()


def test_a_failed_save_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    X = resume_job.images()[:256]
    params = {**resume_job.PARAMS, "max_epochs": 2, "checkpoint_dir": tmp_path}
    cl.CLR(**{**params, "max_epochs": 1}).fit(X)
    before = (tmp_path / CHECKPOINT_FILE).read_bytes()

    def fails_halfway(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fails_halfway)
    with pytest.raises(ValueError, match="other parameters"):  # max_epochs differs
        cl.CLR(**params).fit(X)
    with pytest.raises(OSError, match="disk full"):
        cl.CLR(**{**params, "max_epochs": 1, "checkpoint_dir": tmp_path / "new"}).fit(X)
    assert (tmp_path / CHECKPOINT_FILE).read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [CHECKPOINT_FILE, "new"]
    assert list((tmp_path / "new").iterdir()) == []


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
