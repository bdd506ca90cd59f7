"""Searches on a dask cluster give the serial search's scores (Python and command line)."""

import numpy as np
import pytest

distributed = pytest.importorskip("dask.distributed")

from sklearn.model_selection import GridSearchCV  # noqa: E402

import contrastlearn as cl  # noqa: E402
from contrastlearn.__main__ import main  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    """Two one-thread worker processes, started by the test."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster


def search(X, y):
    return GridSearchCV(
        cl.CLR(max_epochs=1, batch_size=64, random_state=0, device="cpu"),
        {"temperature": [0.1, 0.5]},
        cv=2,
        n_jobs=-1,
        scoring=cl.evaluation.make_few_label_scorer(label_fraction=0.5),
    )


def test_grid_search_under_the_dask_backend_gives_the_serial_scores(
    cluster, small_images, one_torch_thread
):
    X, y = small_images
    serial = search(X, y).set_params(n_jobs=None).fit(X, y).cv_results_["mean_test_score"]
    with cl.model_selection.dask_backend(cluster.scheduler_address) as client:
        with distributed.get_task_stream(client) as tasks:
            on_dask = search(X, y).fit(X, y).cv_results_["mean_test_score"]
    assert len({task["worker"] for task in tasks.data}) == 2  # both workers trained
    np.testing.assert_allclose(on_dask, serial, atol=1e-6)


def test_the_command_line_search_runs_on_the_named_scheduler(cluster, tmp_path, one_torch_thread):
    config = tmp_path / "search.toml"
    config.write_text(
        """
[data]
simulator = "make_diffraction"
params = {n_samples = 64, image_size = 16, random_state = 0}

[model]
name = "CLR"
max_epochs = 1
batch_size = 32
random_state = 0
device = "cpu"

[output]
directory = "serial"

[search]
param_grid = {temperature = [0.1, 0.5]}
cv = 2
"""
    )
    import pandas as pd

    main(["search", str(config)])
    main(
        [
            "search",
            str(config),
            "output.directory=" + str(tmp_path / "dask"),
            f"search.scheduler={cluster.scheduler_address!r}".replace("'", '"'),
        ]
    )
    serial = pd.read_csv(tmp_path / "serial" / "search.csv")["mean_test_score"]
    on_dask = pd.read_csv(tmp_path / "dask" / "search.csv")["mean_test_score"]
    np.testing.assert_allclose(on_dask, serial, atol=1e-6)


def test_without_dask_the_error_says_how_to_install_it(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(ImportError, match=r"pip install \"contrastlearn\[dask\]\""):
        with cl.model_selection.dask_backend():
            pass
