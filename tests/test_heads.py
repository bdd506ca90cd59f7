"""The shared heads and the momentum teacher of contrastlearn.heads."""

import math

import pytest
import torch
from torch import nn

import contrastlearn as cl
from contrastlearn.heads import (
    DINOHead,
    MomentumTeacher,
    frozen_copy,
    prediction_head,
    projection_head,
)


def test_projection_head_layouts():
    torch.manual_seed(0)
    simclr = projection_head(16, (32, 8))
    assert [type(layer) for layer in simclr] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert simclr(torch.randn(5, 16)).shape == (5, 8)
    normed = projection_head(16, (32, 8), batchnorm="all")
    assert all(layer.bias is None for layer in normed if isinstance(layer, nn.Linear))
    last = normed[-1]
    assert isinstance(last, nn.BatchNorm1d) and not last.bias.requires_grad  # scale only


def test_prediction_head_maps_back_to_its_input_width():
    predictor = prediction_head(12, 3)
    assert predictor[0].out_features == 3 and predictor[-1].out_features == 12
    assert predictor(torch.randn(4, 12)).shape == (4, 12)


def test_dino_head_gives_cosine_similarities_to_its_prototypes():
    torch.manual_seed(0)
    out = DINOHead(16, (32, 8), n_prototypes=10)(torch.randn(6, 16))
    assert out.shape == (6, 10) and out.abs().max() <= 1 + 1e-6
    assert cl.dino.DINOHead is DINOHead  # the old import path keeps working


def test_momentum_rises_along_a_half_cosine():
    ema = MomentumTeacher(momentum=0.9, final_momentum=1.0, total_steps=10)
    momenta = []
    for step in (0, 5, 10, 20):
        ema.set_step(step)
        momenta.append(ema.current_momentum())
    assert momenta == pytest.approx([0.9, 0.95, 1.0, 1.0])
    ema.set_step(2)
    assert ema.current_momentum() == pytest.approx(1 - 0.1 * (1 + math.cos(math.pi / 5)) / 2)


def test_update_by_hand_and_the_teacher_gets_no_gradient():
    torch.manual_seed(0)
    student = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    teacher = frozen_copy(student)
    assert not any(p.requires_grad for p in teacher.parameters())
    with torch.no_grad():
        for p in student.parameters():
            p.mul_(3.0)
    before = [p.clone() for p in teacher.parameters()]
    ema = MomentumTeacher(momentum=0.8, total_steps=4)
    ema.update(teacher, student)
    for new, old, s in zip(teacher.parameters(), before, student.parameters()):
        torch.testing.assert_close(new, 0.8 * old + 0.2 * s)
    assert ema.steps_taken == int(ema.step) == 1


def test_the_step_count_travels_with_the_state_dict():
    holder = nn.Module()
    holder.ema = MomentumTeacher(momentum=0.9, total_steps=100)
    teacher, student = nn.Linear(2, 2), nn.Linear(2, 2)
    for _ in range(7):
        holder.ema.update(teacher, student)
    state = holder.state_dict()
    assert int(state["ema.step"]) == 7
    fresh = nn.Module()
    fresh.ema = MomentumTeacher(momentum=0.9, total_steps=100)
    fresh.load_state_dict(state)
    assert fresh.ema.steps_taken == 7
    assert fresh.ema.current_momentum() == holder.ema.current_momentum()


def test_networks_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="same network"):
        MomentumTeacher().update(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)))
