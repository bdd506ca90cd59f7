"""Config-file command line: ``python -m contrastlearn fit|transform|search``.

A config file (TOML, or YAML when PyYAML is installed) names the data, the
estimator and the output directory::

    [data]
    simulator = "make_diffraction"        # or: path = "shots.cxi", dataset = "entry_1/data_1/data"
    params = {n_samples = 2000, image_size = 64, random_state = 0}

    [model]
    name = "CPLR"
    representations = "polar-cartesian"
    max_epochs = 20

    [output]
    directory = "runs/cplr"

Relative paths written in a config file are relative to the file's folder;
those given as command-line overrides (``output.directory=run2``) to the
current folder. The resolved config, paths made absolute, is written beside
the outputs (``config.toml``, or ``config.yaml`` for a YAML config) and can be
given again as a CONFIG.
"""

import contextlib
import copy
import inspect
import json
import os
import re
from pathlib import Path

import numpy as np

from . import distributed
from ._checkpoint import find_checkpoints, remove_checkpoints
from ._files import check_space, check_target, replacing, write_hdf5
from ._toml import ConfigError, dump_toml, toml_module

__all__ = ["ConfigError", "load_config", "run_fit", "run_transform", "run_search"]

TABLES = {
    "data": {"path", "dataset", "labels", "simulator", "params"},
    "model": None,  # any parameter of the named estimator, checked against it
    "output": {"directory"},
    "search": {"param_grid", "cv", "scoring", "n_jobs", "scheduler"},
}
PATH_KEYS = (("data", "path"), ("output", "directory"), ("model", "checkpoint_dir"))
MODEL_FILE, EMBEDDINGS_FILE, HISTORY_FILE, SEARCH_FILE = (
    "model.joblib",
    "embeddings.h5",
    "history.csv",
    "search.csv",
)
_RESUME_FILE = "cli-resume.json"  # in checkpoint_dir: the max_epochs its fingerprint was made with
_BARE = re.compile(r"^[^\[\]{}\"'=\s][^\[\]{}\"'=]*$")


# ------------------------------------------------------------------ reading
def _read_file(path):
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no such config file: {path}")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError(
                f"{path} is a YAML config, which needs PyYAML: pip install pyyaml "
                "(or write the config as TOML)"
            ) from None
        try:
            config = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ConfigError(f"{path} is not valid YAML: {error}".replace("\n", " ")) from None
        config = {} if config is None else config
        if not isinstance(config, dict):
            raise ConfigError(f"{path} must hold a mapping of tables, not {type(config).__name__}")
        return config, "yaml"
    tomllib = toml_module()
    try:
        return tomllib.loads(path.read_text()), "toml"
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None


def parse_override(text):
    """Split ``"model.temperature=0.2"`` into ``(["model", "temperature"], 0.2)``.

    The value is read as a TOML literal (``0.2``, ``true``, ``[1, 2]``,
    ``"x"``); a bare word that is no TOML literal (``resnet18``,
    ``runs/a``) is a string.
    """
    key, sep, raw = text.partition("=")
    keys = key.strip().split(".")
    if not sep or not all(re.fullmatch(r"[A-Za-z0-9_-]+", part) for part in keys):
        raise ConfigError(
            f"malformed override {text!r}: expected table.key=value, e.g. model.temperature=0.2"
        )
    if len(keys) < 2:
        raise ConfigError(
            f"malformed override {text!r}: name a key inside a table, e.g. model.{keys[0]}=..."
        )
    raw = raw.strip()
    tomllib = toml_module()
    try:
        value = tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError as error:
        if not _BARE.match(raw):
            raise ConfigError(
                f"malformed override {text!r}: {raw!r} is not a TOML value ({error})"
            ) from None
        value = raw
    return keys, value


def _resolve_paths(config, base, only=None):
    for table, key in PATH_KEYS:
        if (table, key) in (only if only is not None else PATH_KEYS):
            value = config.get(table, {}).get(key) if isinstance(config.get(table), dict) else None
            if isinstance(value, str):
                config[table][key] = str((Path(base) / os.path.expanduser(value)).resolve())


def load_config(path, overrides=()):
    """Read a config file and apply dotted command-line overrides.

    Parameters
    ----------
    path : str or path-like
        A ``.toml`` file (read with :mod:`tomllib`), or ``.yaml``/``.yml``
        (needs PyYAML).
    overrides : sequence of str, default=()
        ``"table.key=value"`` strings, values read as TOML literals, e.g.
        ``"model.temperature=0.2"``, ``"data.params.n_samples=200"``.

    Returns
    -------
    dict
        The config, its paths absolute; the key ``"format"`` (``"toml"`` or
        ``"yaml"``) says how the resolved copy will be written.

    Raises
    ------
    ConfigError
        A ``ValueError`` naming the file or key: missing or malformed file,
        unknown table or key, malformed override.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from contrastlearn.cli import load_config
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "c.toml").write_text('[model]\\nname = "CLR"\\n')
    >>> load_config(folder / "c.toml", ["model.temperature=0.2"])["model"]
    {'name': 'CLR', 'temperature': 0.2}
    """
    config, form = _read_file(path)
    _resolve_paths(config, Path(path).resolve().parent)
    touched = set()
    for text in overrides:
        keys, value = parse_override(text)
        node = config
        for depth, part in enumerate(keys[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(
                    f"malformed override {text!r}: {'.'.join(keys[: depth + 1])} is not a table"
                )
        node[keys[-1]] = value
        touched.add(tuple(keys[:2]))
    _resolve_paths(config, Path.cwd(), only=touched)
    _check_keys(config)
    config["format"] = form
    return config


def _check_keys(config):
    for table, value in config.items():
        if table == "format":
            continue
        if table not in TABLES:
            raise ConfigError(
                f"unknown top-level key {table!r}; expected tables {', '.join(sorted(TABLES))}"
            )
        if not isinstance(value, dict):
            raise ConfigError(f"{table} must be a table of keys, not {value!r}")
        known = TABLES[table]
        for key in value:
            if known is not None and key not in known:
                raise ConfigError(
                    f"{table}.{key}: unknown key; {table} takes {', '.join(sorted(known))}"
                )


# ---------------------------------------------------------------- building
def _estimators():
    import contrastlearn

    from ._network import NetworkTransformer

    return {
        name: getattr(contrastlearn, name)
        for name in contrastlearn.__all__
        if inspect.isclass(getattr(contrastlearn, name))
        and issubclass(getattr(contrastlearn, name), NetworkTransformer)
        and name != "BasePretrainer"
    }


def _model_params(config):
    model = dict(config.get("model", {}))
    if "name" not in model:
        raise ConfigError('model.name: missing; name the estimator, e.g. name = "CLR"')
    name = model.pop("name")
    estimators = _estimators()
    if name not in estimators:
        raise ConfigError(
            f"model.name: unknown estimator {name!r}; choose one of {', '.join(estimators)}"
        )
    cls = estimators[name]
    valid = cls().get_params(deep=False)
    for key in model:
        if key not in valid:
            raise ConfigError(f"model.{key}: {name} has no parameter {key!r}")
    return cls, model


def build_model(config, **extra):
    """The estimator ``[model]`` describes, its parameters checked key by key.

    Parameters
    ----------
    config : dict
        As returned by :func:`load_config`.
    **extra
        Further parameters (e.g. ``checkpoint_dir``).

    Returns
    -------
    estimator
        Unfitted.
    """
    cls, params = _model_params(config)
    for key, value in {**params, **extra}.items():
        try:
            cls(**{key: value})._validate_params()
        except (ValueError, TypeError) as error:
            raise ConfigError(f"model.{key}: {error}") from None
    model = cls(**params, **extra)
    try:
        model._validate_params()
    except (ValueError, TypeError) as error:
        raise ConfigError(f"model: {error}") from None
    return model


def load_data(data):
    """The images (and labels, or None) a ``[data]`` table describes.

    Parameters
    ----------
    data : dict
        ``path`` (+ optional ``dataset``, ``labels``) of an HDF5/CXI file,
        opened lazily with :func:`contrastlearn.datasets.load_cxi`; or
        ``simulator`` (a ``make_*`` function of :mod:`contrastlearn.datasets`)
        with its keyword ``params``.

    Returns
    -------
    X : array or lazy image stack
    y : ndarray or None
        ``labels`` read from the file (a dataset path), the file's own
        labels, or a simulator's second return value.
    """
    from . import datasets

    if not data:
        raise ConfigError("data: missing; give data.path (a CXI/HDF5 file) or data.simulator")
    if ("path" in data) == ("simulator" in data):
        raise ConfigError("data: give exactly one of data.path and data.simulator")
    if "simulator" in data:
        makers = [name for name in datasets.__all__ if name.startswith("make_")]
        name = data["simulator"]
        if name not in makers:
            raise ConfigError(
                f"data.simulator: unknown simulator {name!r}; choose one of {', '.join(makers)}"
            )
        maker, params = getattr(datasets, name), data.get("params", {})
        if not isinstance(params, dict):
            raise ConfigError(f"data.params must be a table of {name} parameters")
        accepted = inspect.signature(maker).parameters
        for key in params:
            if key not in accepted:
                raise ConfigError(f"data.params.{key}: {name} has no parameter {key!r}")
        try:
            result = maker(**params)
        except (ValueError, TypeError) as error:
            raise ConfigError(f"data.params: {error}") from None
        if isinstance(result, tuple):
            return result[0], (result[1] if len(result) > 1 else None)
        return result, None
    for key in ("params",):
        if key in data:
            raise ConfigError(f"data.{key}: only used with data.simulator")
    path = Path(data["path"])
    if not path.is_file():
        raise ConfigError(f"data.path: no such file: {path}")
    try:
        X = datasets.load_cxi(path, data.get("dataset"))
    except (ValueError, KeyError) as error:
        raise ConfigError(f"data.dataset: {error}") from None
    y = getattr(X, "labels", None)
    if "labels" in data:
        import h5py

        with h5py.File(path, "r") as file:
            if data["labels"] not in file:
                raise ConfigError(f"data.labels: {path} has no dataset {data['labels']!r}")
            y = file[data["labels"]][()]
    return X, (None if y is None else np.asarray(y))


# ------------------------------------------------------------------ writing
def _write_config(config, directory):
    clean = {key: value for key, value in config.items() if key != "format"}
    if config.get("format") == "yaml":
        import yaml

        path, text = Path(directory) / "config.yaml", yaml.safe_dump(clean, sort_keys=False)
    else:
        path, text = Path(directory) / "config.toml", dump_toml(clean)
    with replacing(path) as temporary:
        Path(temporary).write_text(text)
    return path


def _write_embeddings(path, embeddings):
    check_space(path, embeddings.nbytes)
    write_hdf5(path, lambda file: file.create_dataset("embeddings", data=embeddings))


def _dump_model(model, path):
    import joblib

    with replacing(path) as temporary:
        joblib.dump(model, temporary)


def _write_table(table, path, **to_csv):
    with replacing(path) as temporary:
        table.to_csv(temporary, **to_csv)


def _prepare_outputs(*paths):
    """Create the outputs' folders and check they can be written, before any training."""
    if _is_writer():
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            check_target(path)


def _is_writer():
    """Rank 0 writes (before ``fit`` joins the group, torchrun's ``RANK`` says)."""
    return distributed.rank() == 0 and int(os.environ.get("RANK", "0")) == 0


def _output_directory(config):
    directory = config.get("output", {}).get("directory")
    if directory is None:
        raise ConfigError("output.directory: missing; say where the outputs go")
    return Path(directory)


# ---------------------------------------------------------------- commands
def run_fit(config, *, resume=False, overwrite=False):
    """Fit the configured estimator and write its outputs.

    Writes into ``output.directory``: ``model.joblib`` (the fitted
    estimator, :func:`joblib.dump`), ``embeddings.h5`` (dataset
    ``"embeddings"``: the training data's embeddings), ``history.csv``
    (:func:`contrastlearn.monitor.history_frame`) and the resolved config.
    The estimator always gets a ``checkpoint_dir`` (``model.checkpoint_dir``,
    by default ``<output>/checkpoint``). Under torchrun every process trains,
    only rank 0 writes.

    Parameters
    ----------
    config : dict
        As returned by :func:`load_config`.
    resume : bool, default=False
        Go on from the checkpoint's last complete epoch (a fit that was
        killed, or one continued with a larger ``model.max_epochs``, whose
        learning-rate schedule is then recomputed for the new length; any
        other parameter change is refused). Without a checkpoint, start
        afresh.
    overwrite : bool, default=False
        Delete the checkpoint and replace the outputs of an earlier fit.
        With neither flag, a directory holding a model or checkpoint is
        refused.

    Returns
    -------
    estimator
        The fitted estimator.

    Raises
    ------
    ConfigError
        For a bad config, or outputs that exist already.
    """
    import pandas as pd

    from .monitor import history_frame

    if resume and overwrite:
        raise ConfigError("--resume and --overwrite exclude each other")
    config = copy.deepcopy(config)
    directory = _output_directory(config)
    model_config = config.setdefault("model", {})
    model_config.setdefault("checkpoint_dir", str((directory / "checkpoint").resolve()))
    checkpoint = Path(model_config["checkpoint_dir"])
    model = build_model(config)
    X, _ = load_data(config.get("data"))
    has_checkpoint = bool(find_checkpoints(checkpoint))
    if not resume and not overwrite and ((directory / MODEL_FILE).exists() or has_checkpoint):
        found = directory / MODEL_FILE if (directory / MODEL_FILE).exists() else checkpoint
        raise ConfigError(
            f"output.directory: {found} exists from an earlier fit; pass --resume to go on "
            "from its checkpoint or --overwrite to start afresh"
        )
    resume_file = checkpoint / _RESUME_FILE
    if overwrite and has_checkpoint:
        if _is_writer():  # the others load checkpoints only once fit has joined rank 0
            remove_checkpoints(checkpoint)
            resume_file.unlink(missing_ok=True)
        has_checkpoint = False
    fingerprint_epochs = model.max_epochs
    if has_checkpoint:  # resumed: identify the checkpoint as its first fit did
        if resume_file.exists():
            fingerprint_epochs = json.loads(resume_file.read_text())["max_epochs"]
    elif _is_writer():
        checkpoint.mkdir(parents=True, exist_ok=True)
        with replacing(resume_file) as temporary:
            Path(temporary).write_text(json.dumps({"max_epochs": model.max_epochs}))
    _prepare_outputs(*(directory / name for name in (MODEL_FILE, EMBEDDINGS_FILE, HISTORY_FILE)))
    _fit_with_fingerprint_epochs(model, X, fingerprint_epochs, resume=has_checkpoint)
    embeddings = model.transform(X)
    if _is_writer():
        directory.mkdir(parents=True, exist_ok=True)
        _dump_model(model, directory / MODEL_FILE)
        _write_embeddings(directory / EMBEDDINGS_FILE, embeddings)
        history = history_frame(model) if len(model.history_) else pd.DataFrame(index=[])
        _write_table(history.rename_axis("epoch"), directory / HISTORY_FILE)
        _write_config(config, directory)
    return model


def _fit_with_fingerprint_epochs(model, X, epochs, resume=False):
    """Fit, the checkpoint identified as if ``max_epochs`` were ``epochs``.

    So that a resumed fit may run longer than the one that wrote the
    checkpoint; every other parameter must still match, and with ``resume``
    the checkpoint must exist (before any training, ConfigError if not).
    """
    original = model._checkpoint

    def checkpoint(X, data):
        current, model.max_epochs = model.max_epochs, epochs
        try:
            folder, fingerprint = original(X, data)
        finally:
            model.max_epochs = current
        if resume and folder not in find_checkpoints(model.checkpoint_dir):
            raise ConfigError(
                f"--resume: {model.checkpoint_dir} holds no checkpoint of a fit with these "
                "parameters and data (it was written with other parameters or data); pass "
                "--overwrite to start afresh"
            )
        return folder, fingerprint

    model._checkpoint = checkpoint
    try:
        model.fit(X)
    finally:
        del model._checkpoint


def run_transform(model, data, output, *, dataset=None, overwrite=False):
    """Embed images with a saved model and write them to an HDF5 file.

    Parameters
    ----------
    model : str or path-like
        A ``model.joblib`` written by ``fit`` or ``search``.
    data : str or path-like
        An HDF5/CXI file (opened lazily with
        :func:`~contrastlearn.datasets.load_cxi`, at ``dataset``), or a config
        file whose ``[data]`` table is used.
    output : str or path-like
        The HDF5 file to write (dataset ``"embeddings"``).
    dataset : str, default=None
        Image stack inside ``data`` when it is an HDF5 file.
    overwrite : bool, default=False
        Replace an existing ``output``.

    Returns
    -------
    ndarray of shape (n_samples, n_features_out)
    """
    import joblib

    model, data, output = Path(model), Path(data), Path(output)
    if not model.is_file():
        raise ConfigError(f"--model: no such file: {model}")
    if output.exists() and not overwrite:
        raise ConfigError(f"--output: {output} exists; pass --overwrite to replace it")
    if data.suffix.lower() in (".toml", ".yaml", ".yml"):
        if dataset is not None:
            raise ConfigError("--dataset is for HDF5 files; a config names it in data.dataset")
        table = load_config(data).get("data")
    else:
        table = {"path": str(data)} | ({} if dataset is None else {"dataset": dataset})
    X, _ = load_data(table)
    _prepare_outputs(output)
    embeddings = joblib.load(model).transform(X)
    if _is_writer():
        output.parent.mkdir(parents=True, exist_ok=True)
        _write_embeddings(output, embeddings)
    return embeddings


def run_search(config, *, overwrite=False):
    """Grid-search the configured estimator's parameters and write the results.

    ``[search]`` holds ``param_grid`` (a table of lists), ``cv`` (default 3),
    ``scoring`` (``"overlap"``, the default, for
    :func:`contrastlearn.make_overlap_scorer`, or any name of
    :func:`sklearn.metrics.get_scorer_names`), ``n_jobs`` and ``scheduler``:
    the address of a dask scheduler (``"tcp://host:8786"``), or ``"local"``
    for a :class:`dask.distributed.LocalCluster` of ``n_jobs`` one-thread
    worker processes; the search then runs under joblib's dask backend, a
    job per worker at a time (needs ``pip install "contrastlearn[dask]"``).
    The labels
    come from the simulator's second return value or the file's labels
    (``data.labels``). Writes ``search.csv``
    (``cv_results_``), ``model.joblib`` (the refitted best estimator) and the
    resolved config into ``output.directory``.

    Parameters
    ----------
    config : dict
        As returned by :func:`load_config`.
    overwrite : bool, default=False
        Replace the results of an earlier search.

    Returns
    -------
    sklearn.model_selection.GridSearchCV
        Fitted.
    """
    import pandas as pd
    from sklearn.metrics import get_scorer_names
    from sklearn.model_selection import GridSearchCV

    from .evaluation import make_overlap_scorer
    from .model_selection import dask_backend

    search = dict(config.get("search", {}))
    grid = search.get("param_grid")
    if not isinstance(grid, dict) or not grid:
        raise ConfigError("search.param_grid: give a table of lists, e.g. {temperature = [0.1]}")
    cls, _ = _model_params(config)
    valid = cls().get_params(deep=False)
    for key, values in grid.items():
        if key not in valid:
            raise ConfigError(f"search.param_grid.{key}: {cls.__name__} has no parameter {key!r}")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"search.param_grid.{key}: give a non-empty list of values")
    directory = _output_directory(config)
    if (directory / SEARCH_FILE).exists() and not overwrite:
        raise ConfigError(
            f"output.directory: {directory / SEARCH_FILE} exists; pass --overwrite to replace it"
        )
    model = build_model(config)
    X, y = load_data(config.get("data"))
    if y is None:
        raise ConfigError(
            "data: the search needs labels (a simulator that returns them, or data.labels)"
        )
    scoring = search.get("scoring", "overlap")
    if scoring == "overlap":
        scoring = make_overlap_scorer()
    elif scoring is not None and scoring not in get_scorer_names():
        raise ConfigError(
            f'search.scoring: unknown scoring {scoring!r}; use "overlap" or a name from '
            "sklearn.metrics.get_scorer_names()"
        )
    scheduler = search.get("scheduler")
    n_jobs = search.get("n_jobs", -1 if scheduler is not None else None)
    grid_search = GridSearchCV(model, grid, scoring=scoring, cv=search.get("cv", 3), n_jobs=n_jobs)
    _prepare_outputs(directory / SEARCH_FILE, directory / MODEL_FILE)
    try:
        backend = contextlib.nullcontext()
        if scheduler is not None:
            backend = dask_backend(scheduler, n_workers=n_jobs if n_jobs and n_jobs > 0 else None)
        with backend:
            grid_search.fit(X, y)
    except ImportError as error:
        raise ConfigError(f"search.scheduler: {error}") from None
    except (ValueError, OSError) as error:
        raise ConfigError(f"search: {error}") from None
    if _is_writer():
        directory.mkdir(parents=True, exist_ok=True)
        _write_table(pd.DataFrame(grid_search.cv_results_), directory / SEARCH_FILE, index=False)
        _dump_model(grid_search.best_estimator_, directory / MODEL_FILE)
        _write_config(config, directory)
    return grid_search
