"""The one validation layer: constraints, their messages, and every estimator using it."""

import importlib
import inspect
import numbers

import numpy as np
import pytest
import torch

import contrastlearn as cl
from contrastlearn.baselines import RandomEmbedding
from contrastlearn.datasets import EdgeFrameFilter
from contrastlearn.validation import (
    InstanceOf,
    Interval,
    InvalidParameterError,
    Options,
    Pair,
    Predicate,
    check_parameter,
)

ESTIMATORS = [
    cl.CLR,
    cl.CPLR,
    cl.SimSiam,
    cl.DINO,
    cl.iBOT,
    cl.BYOL,
    cl.MoCo,
    cl.BarlowTwins,
    cl.VICReg,
    cl.NNCLR,
    cl.SwAV,
    cl.MAE,
    cl.Jigsaw,
    cl.VAE,
    cl.FineTunedClassifier,
    cl.LinearProbe,
    cl.ParticleDetector,
    cl.LatentNeighbors,
    cl.Augment,
    EdgeFrameFilter,
    RandomEmbedding,
]


@pytest.mark.parametrize(
    "constraint,good,bad,words",
    [
        (Interval(numbers.Integral, 1), [1, 7, np.int64(3)], [0, 1.0, True, "1"], "an int >= 1"),
        (
            Interval(numbers.Real, 0, closed="neither"),
            [1e-9, 3],
            [0, -1, float("inf"), float("nan"), False],
            "a float > 0",
        ),
        (
            Interval(numbers.Real, 0, 1, closed="both"),
            [0, 0.5, 1],
            [1.01, -0.1],
            "a float in [0, 1]",
        ),
        (Interval(numbers.Real, 0, 1, closed="right"), [1, 0.5], [0], "a float in (0, 1]"),
        (
            Options(["cosine", None]),
            ["cosine", np.str_("cosine"), None],
            ["Cosine", 0],
            "one of 'cosine', None",
        ),
        (Options([1]), [1], [True], "one of 1"),
        (InstanceOf(bool, name="a bool"), [True], [1], "a bool"),
        (
            Pair(positive=True, high=1),
            [(0.2, 1), [0.5, 0.5]],
            [(0, 1), (0.9, 0.2), (0.5, 1.5), 0.5],
            "a pair (low, high) of numbers in (0, 1] with low <= high",
        ),
        (
            Pair(strict=True),
            [(0, 1)],
            [(1, 1), (0, float("inf"))],
            "a pair (low, high) of numbers with low < high",
        ),
        (
            Predicate(lambda v: v.startswith("a"), "a word starting with 'a'"),
            ["apple"],
            ["pear", 3],
            "a word starting with 'a'",
        ),
    ],
)
def test_constraints_accept_reject_and_describe(constraint, good, bad, words):
    assert all(constraint.is_satisfied_by(v) for v in good)
    assert not any(constraint.is_satisfied_by(v) for v in bad)
    assert str(constraint) == words


def test_the_message_is_made_from_the_constraints_and_the_error_is_both_kinds():
    with pytest.raises(InvalidParameterError) as error:
        check_parameter("f", "k", -2, [None, Interval(numbers.Integral, 1)])
    assert str(error.value) == "The 'k' parameter of f must be None or an int >= 1. Got -2."
    assert isinstance(error.value, ValueError) and isinstance(error.value, TypeError)
    assert check_parameter("f", "k", None, [None, Interval(numbers.Integral, 1)]) is None


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: e.__name__)
def test_every_parameter_of_every_estimator_has_a_declared_constraint(estimator):
    params = set(estimator().get_params(deep=False))
    assert params == set(estimator._parameter_constraints)


def test_one_wording_for_one_rule_across_estimators():
    messages = []
    for make in (
        lambda: cl.CLR(batch_size=1).fit(np.zeros((4, 8, 8))),
        lambda: cl.VAE(batch_size=1).fit(np.zeros((4, 8, 8))),
    ):
        with pytest.raises(InvalidParameterError) as error:
            make()
        messages.append(str(error.value).split(" of ", 1)[1].split(" ", 1)[1])
    assert messages == ["must be an int >= 2. Got 1."] * 2


PUBLIC_MODULES = [
    "contrastlearn",
    "contrastlearn.augment",
    "contrastlearn.backbones",
    "contrastlearn.baselines",
    "contrastlearn.datasets",
    "contrastlearn.detection",
    "contrastlearn.distributed",
    "contrastlearn.evaluation",
    "contrastlearn.heads",
    "contrastlearn.losses",
    "contrastlearn.model_selection",
    "contrastlearn.monitor",
    "contrastlearn.plotting",
    "contrastlearn.projection",
    "contrastlearn.jigsaw",
    "contrastlearn.text",
    "contrastlearn.selection",
    "contrastlearn.similarity",
]
# Functions whose contract is to take any argument, and the layer itself.
TAKE_ANYTHING = {
    "contrastlearn.backbones.is_backbone_name",  # a predicate: False for what it does not know
    "contrastlearn.distributed.broadcast_object",  # any picklable object
}


def _public_callables():
    """Every public function of the API, and the constructors of its public torch modules."""
    found = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isfunction(obj):
                found.setdefault(f"{obj.__module__.split('._')[0]}.{name}", obj)
            elif inspect.isclass(obj) and issubclass(obj, torch.nn.Module):
                found.setdefault(f"{module_name}.{name}", obj.__init__)
    return {
        key: function
        for key, function in sorted(found.items())
        if key not in TAKE_ANYTHING and _named_parameters(function)
    }


def _named_parameters(function):
    parameters = inspect.signature(function).parameters.values()
    return {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)} - {
        "self"
    }


PUBLIC_CALLABLES = _public_callables()


def test_the_public_api_is_found():
    assert {"contrastlearn.losses.nt_xent", "contrastlearn.datasets.make_diffraction"} <= set(
        PUBLIC_CALLABLES
    )
    assert len(PUBLIC_CALLABLES) > 50


@pytest.mark.parametrize("name", PUBLIC_CALLABLES)
def test_every_parameter_of_every_public_function_has_a_declared_constraint(name):
    function = PUBLIC_CALLABLES[name]
    declared = getattr(function, "_parameter_constraints", None)
    assert declared is not None, f"{name} is not decorated with validate_params"
    assert set(declared) == _named_parameters(function)


def test_a_decorated_function_names_itself_and_keeps_its_signature():
    from contrastlearn.backbones import ResNet
    from contrastlearn.heads import projection_head

    assert list(inspect.signature(projection_head).parameters) == [
        "in_features",
        "dims",
        "batchnorm",
    ]
    assert projection_head.__doc__.startswith("MLP projection head")
    with pytest.raises(InvalidParameterError, match="'batchnorm' parameter of projection_head"):
        projection_head(8, (4,), batchnorm="none")
    with pytest.raises(InvalidParameterError, match="'stem' parameter of ResNet must be one of"):
        ResNet("basic", (1,), stem="tiny")
    with pytest.raises(
        InvalidParameterError, match="'width' parameter of ResNet must be an int >= 2"
    ):
        ResNet("basic", (1,), stem="deep", width=1)


def test_a_typo_in_a_declaration_fails_when_the_function_is_defined():
    from contrastlearn.validation import validate_params

    with pytest.raises(ValueError, match=r"has no parameters \['sizes'\]"):

        @validate_params({"sizes": Interval(numbers.Integral, 1)})
        def f(size):
            return size
