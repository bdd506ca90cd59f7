"""The user guide's "Adding a method" page: its two methods, built from the page's own code."""

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator
from skorch.callbacks import Callback

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy

PAGE = Path(__file__).parents[1] / "docs" / "adding_a_method.rst"
BATCH_ROUNDING = {
    "check_methods_sample_order_invariance": "float32 rounding with the position in a batch",
    "check_methods_subset_invariance": "float32 rounding with the batch size",
}


def code_blocks(text):
    """The ``.. code-block:: python`` blocks of an rst page, dedented, in order."""
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    return [re.sub(r"^    ", "", block, flags=re.MULTILINE) for block in blocks]


@pytest.fixture(scope="module")
def page():
    """The page's code run as a module (so that its classes pickle), as a dict."""
    module = types.ModuleType("adding_a_method_page")
    sys.modules[module.__name__] = module
    try:
        for block in code_blocks(PAGE.read_text()):
            exec(compile(block, str(PAGE), "exec"), vars(module))
        yield vars(module)
    finally:
        del sys.modules[module.__name__]


class PreemptedAfter(Callback):
    """Fail at the end of an epoch, as a pre-empted job would."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epochs:
            raise RuntimeError("pre-empted")


def test_the_page_runs_and_its_classes_are_estimators(page):
    AlignUniform, MeanTeacher = page["AlignUniform"], page["MeanTeacher"]
    assert page["embedding"].shape == (600, 256)
    assert page["search"].best_params_["uniformity_weight"] in (0.5, 1.0)
    model = AlignUniform(uniformity_weight=0.3, max_epochs=3)
    params = clone(model).get_params()
    assert params["uniformity_weight"] == 0.3 and params["max_epochs"] == 3
    assert params["t"] == 2.0 and params["lr"] == 1e-3  # method and shared defaults
    with pytest.raises(TypeError, match="unexpected keyword argument 'temprature'"):
        MeanTeacher(temprature=0.1)
    with pytest.raises(ValueError, match="'teacher_momentum' parameter of MeanTeacher"):
        MeanTeacher(teacher_momentum=2.0, max_epochs=1).fit(page["X"])


def test_the_two_view_method_beats_pixels_and_its_untrained_network(page):
    X, y = page["X"], page["y"]
    score = lambda embedding: few_label_accuracy(embedding, y, label_fraction=100 / len(y))  # noqa: E731
    untrained = page["AlignUniform"](augment="upright", max_epochs=0, random_state=0)
    trained = score(page["embedding"])  # 0.96 (10 labels per class)
    assert trained > score(X.reshape(len(X), -1)) + 0.02  # raw pixels: 0.93
    assert trained > score(untrained.fit_transform(X)) + 0.05  # untrained network: 0.89
    history = cl.monitor.history_frame(page["model"].history_)
    assert history["valid_knn"].notna().all() and history["rankme"].iloc[-1] > 10


def test_the_momentum_teacher_moves_slowly_and_resumes_its_schedule(page, tmp_path):
    X = page["X"]
    module = page["teacher"].net_.module_
    assert module.momentum_teacher.steps_taken == 16
    student = torch.cat([p.flatten() for p in module.backbone.parameters()])
    teacher = torch.cat([p.flatten() for p in module.teacher_backbone.parameters()])
    assert not torch.equal(student, teacher) and not any(
        p.requires_grad for p in module.teacher_backbone.parameters()
    )
    # a fit pre-empted in epoch 3 and resumed from its checkpoint ends where a whole fit does
    params = dict(
        augment="upright", max_epochs=4, batch_size=128, random_state=0, checkpoint_dir=tmp_path
    )
    with pytest.raises(RuntimeError, match="pre-empted"):
        page["MeanTeacher"](callbacks=[PreemptedAfter(3)], **params).fit(X)
    resumed = page["MeanTeacher"](**params).fit(X)
    assert resumed.net_.module_.momentum_teacher.steps_taken == 16
    assert resumed.history_[:, "train_loss"] == page["teacher"].history_[:, "train_loss"]
    np.testing.assert_array_equal(resumed.transform(X), page["teacher_embedding"])


@pytest.mark.parametrize("name", ["AlignUniform", "MeanTeacher"])
def test_sklearn_checks_pass_on_the_pages_methods(page, name):
    estimator = page[name](max_epochs=2, batch_size=16, projection_dims=(8,), random_state=0)
    if name == "MeanTeacher":
        estimator.set_params(predictor_hidden=4)
    check_estimator(estimator, expected_failed_checks=BATCH_ROUNDING)
