"""Distributed data-parallel training: two gloo processes against one process.

``distributed_job.py`` runs once alone and once under ``torchrun`` with two
CPU processes, each training on half of every global batch.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

JOB = Path(__file__).with_name("distributed_job.py")


def run_job(out_dir, n_processes):
    """Run the job (under torchrun when ``n_processes > 1``); its results and stdout."""
    out_dir.mkdir()
    launcher = (
        []
        if n_processes == 1
        else ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n_processes}"]
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, *launcher, str(JOB), str(out_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(np.load(out_dir / "results.npz")), done.stdout


@pytest.fixture(scope="module")
def one_and_two_processes(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    return run_job(root / "one", 1), run_job(root / "two", 2), root


def test_the_job_ran_on_one_and_on_two_processes(one_and_two_processes):
    (one, _), (two, _), _ = one_and_two_processes
    assert one["world_size"] == 1 and two["world_size"] == 2
    # torch's DistributedDataParallel averages the gradients of the two processes
    assert str(one["step_module"]) == "TrainingLoss"
    assert str(two["step_module"]) == "DistributedDataParallel"


@pytest.mark.parametrize(
    "loss", ["nt_xent", "info_nce", "barlow_twins", "vicreg", "swav", "convirt"]
)
def test_each_loss_over_two_processes_gives_the_one_process_loss_and_gradients(
    one_and_two_processes, loss
):
    # Each process sees 4 of the 8 pairs; gathered negatives (or batch statistics, or
    # Sinkhorn sums) and averaged gradients must give the loss and gradients of the whole
    # batch.
    (one, _), (two, _), _ = one_and_two_processes
    # VICReg's bias gradient is exactly 0 (every term is shift invariant): both runs give
    # float32 noise of a loss weighted by 25.
    atol = 1e-5 if loss == "vicreg" else 1e-6
    for key in (f"{loss}_loss", f"{loss}_weight_grad", f"{loss}_bias_grad"):
        np.testing.assert_allclose(two[key], one[key], rtol=1e-5, atol=atol, err_msg=key)


@pytest.mark.parametrize("method", ["clr", "dino"])
def test_two_process_fit_follows_the_one_process_fit(one_and_two_processes, method):
    # Same seed, same global batches, no augmentation, a ViT (no BatchNorm):
    # the runs differ only by float summation order. Measured: losses agree to
    # 8e-6, embeddings to 6e-5, weights to 4e-4 (Adam amplifies the noise on
    # parameters whose gradient is ~0, e.g. key biases); a step is at most lr=1e-3.
    (one, _), (two, _), _ = one_and_two_processes
    np.testing.assert_allclose(two[f"{method}_loss"], one[f"{method}_loss"], rtol=1e-4)
    np.testing.assert_allclose(
        two[f"{method}_embedding"], one[f"{method}_embedding"], rtol=1e-3, atol=1e-3
    )
    weights = [key for key in one if key.startswith(f"{method}_weight_")]
    assert weights and sorted(weights) == sorted(
        k for k in two if k.startswith(f"{method}_weight_")
    )
    for key in weights:
        np.testing.assert_allclose(two[key], one[key], atol=1e-3, err_msg=key)


def test_only_rank_zero_prints_and_writes_checkpoints(one_and_two_processes):
    _, (_, stdout), root = one_and_two_processes
    assert stdout.count("train_loss") == 1  # one epoch table header
    assert (root / "two" / "checkpoints_rank0" / "params.pt").exists()
    assert not (root / "two" / "checkpoints_rank1").exists()


def test_uneven_batch_size_is_refused_with_a_clear_error(one_and_two_processes):
    (one, _), (two, _), _ = one_and_two_processes
    assert str(one["uneven_batch_error"]) == ""
    assert "batch_size must be a multiple of 2" in str(two["uneven_batch_error"])


def test_the_torchrun_example_trains_on_two_processes_and_exits_cleanly(tmp_path):
    # Rank 1 finishes while rank 0 still evaluates and saves: before the processes waited
    # for each other at exit, rank 1 crashed in gloo's teardown in 4 of 8 runs.
    example = Path(__file__).parents[1] / "examples" / "distributed_pretraining.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(example),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es): linear probe macro F1" in done.stdout
    assert (tmp_path / "clr_digits.joblib").stat().st_size > 0
