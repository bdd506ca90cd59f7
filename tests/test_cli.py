"""The config-file command line: fit, --resume, transform, search and its error messages."""

import h5py
import joblib
import numpy as np
import pandas as pd
import pytest

import contrastlearn as cl
from contrastlearn.__main__ import main
from contrastlearn._checkpoint import find_checkpoints
from contrastlearn.cli import ConfigError, load_config, run_fit

CONFIG = """\
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
directory = "out"
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "run.toml"
    path.write_text(CONFIG)
    return path


def embeddings(path):
    with h5py.File(path, "r") as file:
        return file["embeddings"][()]


def fail(capsys, *argv):
    """Run the CLI, expect exit code 2 and return its one-line message."""
    with pytest.raises(SystemExit) as exited:
        main(list(map(str, argv)))
    assert exited.value.code == 2
    message = capsys.readouterr().err.strip()
    assert "\n" not in message
    return message


def test_fit_writes_a_model_whose_transform_is_the_saved_embeddings(config, tmp_path):
    main(["fit", str(config), "model.temperature=0.2"])
    out = tmp_path / "out"
    model = joblib.load(out / "model.joblib")
    assert isinstance(model, cl.CLR) and model.temperature == 0.2
    assert model.checkpoint_dir == str(out / "checkpoint")
    X, _, _ = cl.datasets.make_diffraction(64, image_size=16, random_state=0)
    np.testing.assert_array_equal(model.transform(X), embeddings(out / "embeddings.h5"))
    history = pd.read_csv(out / "history.csv", index_col="epoch")
    assert list(history.index) == [1] and "train_loss" in history
    resolved = load_config(out / "config.toml")  # the resolved config is a config again
    assert resolved["model"]["temperature"] == 0.2
    assert resolved["output"]["directory"] == str(out)
    assert resolved["data"]["params"] == {"n_samples": 64, "image_size": 16, "random_state": 0}


def test_resume_with_more_epochs_goes_on_from_the_last_one(config, tmp_path, capsys):
    main(["fit", str(config)])
    first = pd.read_csv(tmp_path / "out" / "history.csv", index_col="epoch")
    message = fail(capsys, "fit", config, "model.max_epochs=2")
    assert "--resume" in message and "--overwrite" in message
    main(["fit", str(config), "model.max_epochs=2", "--resume"])
    second = pd.read_csv(tmp_path / "out" / "history.csv", index_col="epoch")
    assert list(second.index) == [1, 2]
    pd.testing.assert_series_equal(second.loc[1], first.loc[1])  # epoch 1 was not run again
    message = fail(capsys, "fit", config, "model.temperature=0.3", "--resume")
    assert "other parameters" in message and "--overwrite" in message


def test_overwrite_starts_afresh(config, tmp_path):
    main(["fit", str(config)])
    main(["fit", str(config), "model.temperature=0.3", "--overwrite"])
    assert joblib.load(tmp_path / "out" / "model.joblib").temperature == 0.3


def test_transform_embeds_a_cxi_file(config, tmp_path):
    main(["fit", str(config)])
    X, _, _ = cl.datasets.make_diffraction(16, image_size=16, random_state=1)
    cl.datasets.save_cxi(tmp_path / "shots.cxi", X)
    model = tmp_path / "out" / "model.joblib"
    output = tmp_path / "emb.h5"
    main(["transform", "--model", str(model), "--data", str(tmp_path / "shots.cxi")] + [
        "--dataset", "entry_1/data_1/data", "--output", str(output)
    ])  # fmt: skip
    expected = joblib.load(model).transform(X)
    np.testing.assert_allclose(embeddings(output), expected, rtol=1e-5, atol=1e-6)


def test_search_writes_one_row_per_grid_point(config, tmp_path):
    with open(config, "a") as file:
        file.write("\n[search]\nparam_grid = {temperature = [0.1, 0.5]}\ncv = 2\n")
        file.write('scoring = "overlap"\n')
    main(["search", str(config), "output.directory=" + str(tmp_path / "search")])
    results = pd.read_csv(tmp_path / "search" / "search.csv")
    assert list(results["param_temperature"]) == [0.1, 0.5]
    assert np.isfinite(results["mean_test_score"]).all()
    assert isinstance(joblib.load(tmp_path / "search" / "model.joblib"), cl.CLR)
    output = tmp_path / "emb.h5"  # a config's [data] can be embedded too
    main(["transform", "--model", str(tmp_path / "search" / "model.joblib")] + [
        "--data", str(config), "--output", str(output)
    ])  # fmt: skip
    assert embeddings(output).shape[0] == 64


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["colour=1"], "malformed override 'colour=1'"),
        (["model.temperature"], "malformed override 'model.temperature'"),
        (["model.temperature=[0.1,"], "malformed override"),
        (["model.temprature=0.2"], "model.temprature: CLR has no parameter 'temprature'"),
        (['model.temperature="hot"'], "model.temperature: The 'temperature' parameter of CLR"),
        (["model.name=CRL"], "model.name: unknown estimator 'CRL'"),
        (["optimiser.lr=1"], "unknown top-level key 'optimiser'"),
        (["output.dir=x"], "output.dir: unknown key"),
        (["data.simulator=make_nothing"], "data.simulator: unknown simulator 'make_nothing'"),
        (["data.params.n_sample=3"], "data.params.n_sample: make_diffraction has no parameter"),
    ],
)
def test_bad_configs_exit_with_one_line_naming_the_key(config, capsys, argv, expected):
    assert expected in fail(capsys, "fit", config, *argv)


def test_missing_files_are_named(config, tmp_path, capsys):
    assert "no such config file" in fail(capsys, "fit", tmp_path / "none.toml")
    text = config.read_text().replace(
        'simulator = "make_diffraction"\nparams = {n_samples = 64, image_size = 16, '
        "random_state = 0}",
        'path = "missing.cxi"',
    )
    config.write_text(text)
    assert f"data.path: no such file: {tmp_path / 'missing.cxi'}" in fail(capsys, "fit", config)
    message = fail(
        capsys, "transform", "--model", tmp_path / "m.joblib", "--data", config, "--output", "e.h5"
    )
    assert "--model: no such file" in message


def test_called_as_functions_errors_are_value_errors(config):
    with pytest.raises(ValueError, match="model.max_epochs: The 'max_epochs' parameter"):
        run_fit(load_config(config, ["model.max_epochs=1.5"]))
    with pytest.raises(ConfigError, match="unknown top-level key 'extra'"):
        load_config(config, ["extra.key=1"])


def test_a_yaml_config_is_read_and_written_back_as_yaml(tmp_path):
    yaml = pytest.importorskip("yaml")
    config = tomllib_loads(CONFIG)
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    loaded = load_config(tmp_path / "run.yaml", ["model.max_epochs=0"])
    assert loaded["format"] == "yaml" and loaded["model"]["max_epochs"] == 0
    run_fit(loaded)
    again = load_config(tmp_path / "out" / "config.yaml")
    assert again["model"]["max_epochs"] == 0
    assert list(pd.read_csv(tmp_path / "out" / "history.csv").columns) == ["epoch"]


def tomllib_loads(text):
    tomllib = pytest.importorskip("tomllib")
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("param_grid = {temprature = [0.1]}", "search.param_grid.temprature: CLR has no"),
        ("param_grid = {temperature = 0.1}", "search.param_grid.temperature: give a non-empty"),
        ('param_grid = {temperature = [0.1]}\nscoring = "bogus"', "search.scoring: unknown"),
        ("param_grid = {temperature = [0.1]}\ncv_folds = 2", "search.cv_folds: unknown key"),
    ],
)
def test_bad_searches_name_the_key(config, capsys, search, expected):
    with open(config, "a") as file:
        file.write(f"\n[search]\n{search}\n")
    assert expected in fail(capsys, "search", config)


def test_a_yaml_config_without_pyyaml_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "yaml", None)
    (tmp_path / "run.yml").write_text("model:\n  name: CLR\n")
    assert "pip install pyyaml" in fail(capsys, "fit", tmp_path / "run.yml")


def test_an_output_that_cannot_be_written_is_refused_before_training(config, tmp_path, capsys):
    (tmp_path / "out" / "history.csv").mkdir(parents=True)  # in the way of the history table
    message = fail(capsys, "fit", config)
    assert "history.csv" in message and "it is a folder" in message
    assert find_checkpoints(tmp_path / "out" / "checkpoint") == []  # nothing was trained
