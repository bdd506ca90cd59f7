"""The training engine: read-ahead, divergence, out-of-memory and Ctrl-C handling."""

import os
import pickle
import threading
import traceback

import numpy as np
import pytest
import resume_job  # tests/resume_job.py: the interruption callback
import torch
from conftest import saved_state
from sklearn.base import clone
from skorch.callbacks import Callback

import contrastlearn as cl


class LoggedSource:
    """An on-disk-like image stack that records which thread reads which training batch.

    Training batches are read with index arrays (statistics and ``transform``
    read slices). ``second_batch_requested`` is set once the second training
    batch of the first epoch is asked for.
    """

    def __init__(self, images, fail_at_batch=None):
        self.images = images
        self.shape, self.dtype = images.shape, images.dtype
        self.batch_readers = []
        self.second_batch_requested = threading.Event()
        self.fail_at_batch = fail_at_batch

    def __len__(self):
        return len(self.images)

    def __getitem__(self, rows):
        if isinstance(rows, np.ndarray):
            self.batch_readers.append(threading.current_thread().name)
            if len(self.batch_readers) == 2:
                self.second_batch_requested.set()
            if len(self.batch_readers) == self.fail_at_batch:
                raise OSError("disk read failed")
        return self.images[rows]


class WaitForReadAhead(Callback):
    """At the first step, wait until the second batch is being read (it must be, already)."""

    def __init__(self, source):
        self.source = source
        self.read_ahead = None

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if training and self.read_ahead is None:
            self.read_ahead = self.source.second_batch_requested.wait(timeout=20)


@pytest.fixture
def read_ahead_on_cpu(monkeypatch):
    """Read ahead on the CPU too (by default only on CUDA, where the host thread waits)."""
    monkeypatch.setitem(cl._data.PREFETCH_BATCHES, "cpu", 2)


@pytest.fixture
def source(small_images):
    X, _ = small_images
    return LoggedSource(X.astype(np.float32))


def test_the_next_batches_are_read_while_the_first_one_trains(source, read_ahead_on_cpu):
    waiter = WaitForReadAhead(source)
    cl.CLR(max_epochs=1, batch_size=32, callbacks=[waiter], random_state=0, monitor_samples=0).fit(
        source
    )  # the monitors' sample is one more read
    assert waiter.read_ahead is True
    assert set(source.batch_readers) == {"contrastlearn-reader_0"}


def test_without_read_ahead_the_second_batch_waits_for_the_first_step(source):
    # The check above would fail if reading ahead broke: here (the CPU default) it must.
    source.second_batch_requested.wait = lambda timeout: source.second_batch_requested.is_set()
    waiter = WaitForReadAhead(source)
    cl.CLR(max_epochs=1, batch_size=32, callbacks=[waiter], random_state=0, monitor_samples=0).fit(
        source
    )  # the monitors' sample is one more read
    assert waiter.read_ahead is False
    assert set(source.batch_readers) == {threading.main_thread().name}


def test_read_ahead_gives_the_same_fit_as_reading_on_demand(source, monkeypatch):
    params = dict(max_epochs=2, batch_size=32, random_state=0)
    on_demand = cl.CLR(**params).fit(source)
    monkeypatch.setitem(cl._data.PREFETCH_BATCHES, "cpu", 2)
    ahead = cl.CLR(**params).fit(source)
    assert ahead.history_[:, "train_loss"] == on_demand.history_[:, "train_loss"]
    np.testing.assert_array_equal(
        ahead.transform(source.images), on_demand.transform(source.images)
    )


def test_a_read_error_in_the_reader_thread_reaches_fit(source, read_ahead_on_cpu):
    source.fail_at_batch = 3
    with pytest.raises(OSError, match="disk read failed"):
        cl.CLR(max_epochs=1, batch_size=32, monitor_samples=0).fit(source)
    assert set(source.batch_readers) == {"contrastlearn-reader_0"}


class BlowsUp(torch.nn.Module):
    """A small backbone whose output turns NaN from its 6th training step."""

    out_features = 8

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8))
        self.training_calls = 0

    def forward(self, x):
        out = self.net(x)
        if self.training:
            self.training_calls += 1
            if self.training_calls > 5:
                return out * float("nan")
        return out


def test_a_non_finite_loss_stops_training_and_keeps_the_last_good_weights(small_images, tmp_path):
    X, _ = small_images  # 240 images: 3 batches of 64 per epoch; step 6 is epoch 2, batch 3
    clr = cl.CLR(
        backbone=BlowsUp(),
        max_epochs=5,
        batch_size=64,
        lr=0.01,
        random_state=0,
        checkpoint_dir=tmp_path,
    )
    with pytest.raises(
        FloatingPointError,
        match=r"nan in epoch 2, batch 3.*start of epoch 2.*holds the last complete "
        r"epoch.*lower lr \(it is 0.01\)",
    ):
        clr.fit(X[:256])
    weights = clr.net_.module_.state_dict().values()
    assert all(torch.isfinite(w).all() for w in weights)
    assert np.isfinite(clr.transform(X)).all()
    assert np.array_equal(pickle.loads(pickle.dumps(clr)).transform(X), clr.transform(X))
    # The weights are those of the end of epoch 1, as saved in the checkpoint.
    saved = saved_state(tmp_path)
    assert len(saved["history"]) == 1
    for key, value in clr.net_.module_.state_dict().items():
        torch.testing.assert_close(value, saved["module"][key], rtol=0, atol=0)


class RunsOutOfMemory(torch.nn.Module):
    """A backbone that, like a GPU, cannot take more than ``limit`` images at once.

    Training only, unless ``also_inference``.
    """

    def __init__(self, limit, also_inference=False):
        super().__init__()
        self.limit = limit
        self.also_inference = also_inference
        self.net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 8))

    def forward(self, x):
        if (self.training or self.also_inference) and len(x) > self.limit:
            raise torch.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {len(x)} images")
        return self.net(x)


@pytest.mark.parametrize(
    "limit,advice",
    [
        (40, r"A step of 16 images fits: pass batch_size=16"),  # CLR embeds 2 views per image
        (3, r"Not even 2 images fit"),
    ],
)
def test_out_of_memory_names_the_batch_size_and_the_largest_that_fits(small_images, limit, advice):
    clr = cl.CLR(backbone=RunsOutOfMemory(limit), batch_size=64, max_epochs=2, random_state=0)
    with pytest.raises(
        torch.OutOfMemoryError,
        match=r"cpu device ran out of memory training with batch_size=64\. "
        + advice
        + r".*Nothing was trained with another batch size",
    ):
        clr.fit(small_images[0])
    assert not hasattr(clr, "net_")


def test_out_of_memory_in_transform_says_how_to_embed_in_smaller_batches(small_images):
    X = small_images[0]
    clr = cl.CLR(backbone=RunsOutOfMemory(200), batch_size=64, max_epochs=1, random_state=0)
    clr.fit(X)
    expected = clr.transform(X)
    clr.net_.module_.backbone.also_inference = True
    clr.net_.batch_size = 240
    with pytest.raises(
        torch.OutOfMemoryError,
        match=r"embedding batches of 240 images\. "
        r"Embed in smaller batches, e.g. estimator\.net_\.batch_size = 120",
    ):
        clr.transform(X)
    clr.net_.batch_size = 120
    np.testing.assert_array_equal(clr.transform(X), expected)


class CtrlC(resume_job.KillMidEpoch):
    def interrupt(self):
        raise KeyboardInterrupt


def test_ctrl_c_stops_fit_keeps_the_weights_and_a_rerun_resumes(small_images, tmp_path):
    X = small_images[0]
    params = dict(max_epochs=3, batch_size=64, random_state=0, checkpoint_dir=tmp_path)
    clr = cl.CLR(callbacks=[CtrlC(2)], **params)
    with pytest.raises(KeyboardInterrupt, match="interrupted in epoch 2; CLR keeps the weights"):
        clr.fit(X)  # skorch alone would swallow Ctrl-C and return as if training had finished
    assert len(clr.history_) == 2 and np.isfinite(clr.transform(X)).all()
    resumed = cl.CLR(**params).fit(X)
    uninterrupted = cl.CLR(**{**params, "checkpoint_dir": None}).fit(X)
    assert resumed.history_[:, "train_loss"] == uninterrupted.history_[:, "train_loss"]


SYNCING_METHODS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__")


def tensor_reads_in_a_fit(estimator, X, monkeypatch):
    """How often a fit reads tensors on the host (each read waits for a GPU to catch up).

    torch's optimisers read their step counters, which stay on the host even
    when the model is on a GPU: those reads wait for nothing and are not counted.
    """
    count = 0

    def counted(original):
        def read(self, *args, **kwargs):
            nonlocal count
            caller = traceback.extract_stack(limit=3)[0].filename
            count += os.path.join("torch", "optim") not in caller
            return original(self, *args, **kwargs)

        return read

    with monkeypatch.context() as patch:
        for name in SYNCING_METHODS:
            patch.setattr(torch.Tensor, name, counted(getattr(torch.Tensor, name)))
        estimator.fit(X)
    return count


@pytest.mark.parametrize(
    "estimator",
    [
        cl.CLR(max_epochs=2, monitor_samples=0, random_state=0),
        cl.DINO(
            max_epochs=2,
            monitor_samples=0,
            n_prototypes=32,
            projection_dims=(32, 16),
            n_local_crops=1,
            random_state=0,
        ),
    ],
)
def test_training_steps_never_wait_for_the_device(small_images, monkeypatch, estimator):
    X, _ = small_images  # 240 images: 12 steps an epoch in batches of 20, 3 in batches of 80
    many = tensor_reads_in_a_fit(clone(estimator).set_params(batch_size=20), X, monkeypatch)
    few = tensor_reads_in_a_fit(clone(estimator).set_params(batch_size=80), X, monkeypatch)
    assert many == few  # the reads do not grow with the steps: none of them is per step


def _regression_fit(batch_size, **options):
    """Train a linear regression through the engine; returns the fitted net."""
    from types import SimpleNamespace

    from contrastlearn._trainer import train_network

    rng = np.random.RandomState(0)
    X = rng.randn(32, 4).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.randn(32)).astype(np.float32)
    valid = options.pop("valid", None)
    owner = SimpleNamespace(
        random_state=0,
        device_="cpu",
        lr=options.pop("lr", 0.05),
        weight_decay=0.0,
        max_epochs=options.pop("max_epochs", 3),
        batch_size=batch_size,
        lr_schedule=None,
        optimizer="sgd",
        callbacks=options.pop("callbacks", None),
        verbose=0,
        **options,
    )

    def squared_error(module, x, target):
        return (module(x).squeeze(1) - target).square().mean()

    return train_network(
        owner,
        lambda: torch.nn.Linear(4, 1),
        X,
        y,
        squared_error,
        keep_partial_batches=True,
        valid=valid,
    )


def test_accumulating_two_batches_takes_the_step_of_one_twice_as_large():
    whole = _regression_fit(16)
    accumulated = _regression_fit(8, accumulate_batches=2)
    plain = _regression_fit(8)
    for name, weight in whole.module_.state_dict().items():
        assert torch.allclose(accumulated.module_.state_dict()[name], weight, atol=1e-6)
    # without accumulation, batches of 8 take twice the steps and end elsewhere
    assert not torch.allclose(plain.module_.weight, whole.module_.weight, atol=1e-3)


def test_an_epoch_with_a_partial_window_steps_on_the_batches_left():
    # 32 samples in batches of 8 with windows of 3: steps after batches 3 and 4 of each epoch
    steps = []

    class CountSteps(Callback):
        def on_grad_computed(self, net, **kwargs):
            steps.append(net._batch_index)

    _regression_fit(8, accumulate_batches=3, max_epochs=2, callbacks=[CountSteps()])
    assert steps == [3, 4, 3, 4]


def test_max_grad_norm_bounds_every_step():
    # plain SGD's first step is lr * gradient: clipped, it moves the weights by at most lr * norm
    start = _regression_fit(32, max_epochs=0, lr=1.0).module_
    clipped = _regression_fit(32, max_epochs=1, lr=1.0, max_grad_norm=0.01).module_
    free = _regression_fit(32, max_epochs=1, lr=1.0).module_
    moved = [
        torch.cat([(m.weight - start.weight).flatten(), m.bias - start.bias]).norm().item()
        for m in (clipped, free)
    ]
    assert moved[0] == pytest.approx(0.01, rel=1e-4)
    assert moved[1] > 1.0


def test_held_out_data_gives_the_validation_loss_of_every_epoch():
    rng = np.random.RandomState(1)
    X_val = rng.randn(10, 4).astype(np.float32)
    y_val = np.zeros(10, dtype=np.float32)
    net = _regression_fit(8, valid=(X_val, y_val))
    losses = net.history[:, "valid_loss"]
    assert len(losses) == 3
    with torch.no_grad():
        final = (net.module_(torch.from_numpy(X_val)).squeeze(1)).square().mean().item()
    assert losses[-1] == pytest.approx(final, rel=1e-5)
    assert net.train_split is None  # the held-out data is not pickled with the model


def test_a_float64_default_dtype_changes_nothing(small_images):
    X, _ = small_images
    X = X[:128]
    expected = [
        cl.CLR(max_epochs=1, batch_size=64, random_state=0).fit(X).transform(X),
        cl.VAE(max_epochs=1, random_state=0).fit(X).transform(X),
    ]
    torch.set_default_dtype(torch.float64)
    try:
        models = [
            cl.CLR(max_epochs=1, batch_size=64, random_state=0).fit(X),
            cl.VAE(max_epochs=1, random_state=0).fit(X),  # failed: float input, double bias
        ]
        got = [model.transform(X) for model in models]
        assert torch.get_default_dtype() == torch.float64  # the user's default is restored
    finally:
        torch.set_default_dtype(torch.float32)
    for model, embedding, reference in zip(models, got, expected):
        assert next(model.net_.module_.parameters()).dtype == torch.float32
        np.testing.assert_array_equal(embedding, reference)
