"""LARS, the warm-up + cosine schedule, and the optimiser choice of every pretrainer."""

import math

import numpy as np
import pytest
import torch

import contrastlearn as cl
from contrastlearn._model import Preprocess
from contrastlearn.optim import LARS, MomentumSGD, WarmupCosine


def test_lars_step_by_hand():
    weight = torch.nn.Parameter(torch.tensor([[3.0, 4.0]]))  # norm 5
    bias = torch.nn.Parameter(torch.tensor([1.0]))
    weight.grad = torch.tensor([[0.0, 1.0]])
    bias.grad = torch.tensor([2.0])
    optimizer = LARS([weight, bias], lr=0.5, momentum=0.9, weight_decay=0.1, trust_coefficient=0.01)
    optimizer.step()
    grad = torch.tensor([[0.3, 1.4]])  # g + 0.1 w
    trust = 0.01 * 5.0 / math.hypot(0.3, 1.4)
    torch.testing.assert_close(weight.detach(), torch.tensor([[3.0, 4.0]]) - 0.5 * trust * grad)
    # The bias is neither decayed nor adapted: plain SGD with momentum.
    torch.testing.assert_close(bias.detach(), torch.tensor([0.0]))
    bias.grad = torch.tensor([2.0])
    optimizer.step()
    torch.testing.assert_close(bias.detach(), torch.tensor([0.0 - (0.9 * 1.0 + 0.5 * 2.0)]))


def test_lars_leaves_a_zero_weight_to_momentum_sgd():
    weight = torch.nn.Parameter(torch.zeros(2, 2))
    weight.grad = torch.ones(2, 2)
    LARS([weight], lr=0.1).step()  # trust ratio 1 when |w| = 0
    torch.testing.assert_close(weight.detach(), torch.full((2, 2), -0.1))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lr": 0},
        {"lr": 1, "momentum": 1.0},
        {"lr": 1, "weight_decay": -1},
        {"lr": 1, "trust_coefficient": 0},
    ],
)
def test_lars_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match="LARS got an invalid"):
        LARS([torch.nn.Parameter(torch.ones(1))], **kwargs)


def test_warmup_cosine_factors():
    schedule = WarmupCosine(total_steps=20, warmup_steps=4)
    factors = [schedule(step) for step in range(20)]
    assert factors[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert factors[12] == pytest.approx(0.5)  # half way through the decay
    assert all(a > b for a, b in zip(factors[4:], factors[5:]))
    assert WarmupCosine(10, 2, cosine=False)(7) == 1.0


def test_fit_warms_up_then_decays_the_learning_rate_per_step(small_images):
    X, _ = small_images  # 240 images, batch 64: 3 steps an epoch
    clr = cl.CLR(max_epochs=4, batch_size=64, lr=0.01, warmup_epochs=1, random_state=0).fit(X)
    lrs = [lr for epoch in clr.history_[:, "batches"] for lr in [b["event_lr"] for b in epoch]]
    # the rate each step trained with: 0 at the first, the peak after 3 warm-up steps
    expected = [0.01 * WarmupCosine(12, 3)(step) for step in range(12)]
    np.testing.assert_allclose(lrs, expected, atol=1e-12)
    assert lrs[0] == 0 and lrs[3] == pytest.approx(0.01) and lrs[-1] < 0.001


@pytest.mark.parametrize(
    "estimator",
    [
        cl.CLR(
            max_epochs=3,
            batch_size=64,
            optimizer="lars",
            lr=1.0,
            weight_decay=1e-4,
            warmup_epochs=1,
            random_state=0,
        ),
        cl.SimSiam(max_epochs=3, batch_size=64, optimizer="lars", lr=1.0, random_state=0),
        cl.DINO(
            max_epochs=3,
            batch_size=64,
            n_prototypes=64,
            projection_dims=(64, 32),
            n_local_crops=0,
            optimizer="lars",
            lr=1.0,
            random_state=0,
        ),
    ],
)
def test_every_pretrainer_trains_with_lars(small_images, estimator):
    X, _ = small_images
    estimator.fit(X)
    assert type(estimator.net_.optimizer_) is LARS
    losses = estimator.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_simsiam_trains_with_its_papers_momentum_sgd(small_images):
    X, _ = small_images
    simsiam = cl.SimSiam(
        max_epochs=3,
        batch_size=64,
        optimizer="sgd",
        lr=0.05 * 64 / 256,
        weight_decay=1e-4,
        random_state=0,
    ).fit(X)
    optimizer = simsiam.net_.optimizer_
    assert type(optimizer) is MomentumSGD
    assert optimizer.defaults["momentum"] == 0.9 and optimizer.defaults["weight_decay"] == 1e-4
    losses = simsiam.history_[:, "train_loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_bad_optimizer_and_warmup(small_images):
    with pytest.raises(
        ValueError, match="'optimizer' parameter of CLR must be one of 'adamw', 'lars', 'sgd'"
    ):
        cl.CLR(optimizer="rmsprop").fit(small_images[0])
    with pytest.raises(ValueError, match="'warmup_epochs' parameter of CPLR must be a float >= 0"):
        cl.CPLR(warmup_epochs=-1).fit(small_images[0])


def test_minmax_normalisation_scales_every_image_to_the_unit_interval():
    x = torch.tensor([[[[2.0, 4.0], [6.0, 10.0]]], [[[5.0, 5.0], [5.0, 5.0]]]])
    out = Preprocess(False, "minmax", n_channels=1)(x)
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 0.25], [0.5, 1.0]]))
    torch.testing.assert_close(out[1], torch.zeros(1, 2, 2))  # a constant image
    masked = x.clone()
    masked[0, 0, 1, 1] = float("nan")  # the maximum is a dead pixel
    out = Preprocess(False, "minmax", n_channels=1, nan_policy="mask")(masked)
    torch.testing.assert_close(out[0, 0], torch.tensor([[0.0, 0.5], [1.0, 0.0]]))
