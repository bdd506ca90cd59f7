import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone

import contrastlearn as cl

FAST = dict(max_epochs=2, batch_size=64, random_state=0)
DINO_FAST = dict(n_prototypes=64, projection_dims=(64, 32), n_local_crops=2, **FAST)


def parameters(module):
    return [p.detach().clone() for p in module.parameters()]


@pytest.mark.parametrize("make", [lambda: cl.SimSiam(**FAST), lambda: cl.DINO(**DINO_FAST)])
def test_estimator_contract(small_images, make):
    X, _ = small_images
    model = make().fit(X)
    embedding = model.transform(X)
    assert embedding.shape == (len(X), 256) and embedding.dtype == np.float32
    assert np.isfinite(embedding).all()
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).transform(X), embedding)
    np.testing.assert_array_equal(clone(model).fit(X).transform(X), embedding)  # repeatable
    prefix = type(model).__name__.lower()
    assert model.get_feature_names_out()[0] == f"{prefix}0"


def test_simsiam_learns_with_a_predictor(small_images):
    X, _ = small_images
    model = cl.SimSiam(max_epochs=5, batch_size=64, random_state=0).fit(X)
    losses = model.history_[:, "train_loss"]
    assert losses[-1] < losses[0] and -1 <= losses[-1] <= 1
    assert hasattr(model.net_.module_, "predictor")


def test_dino_teacher_gets_no_gradient_and_follows_the_ema_rule(small_images):
    X, _ = small_images
    frozen = cl.DINO(teacher_momentum=1.0, **DINO_FAST)
    frozen.fit(X[:64])
    initial = cl.DINO(teacher_momentum=1.0, **{**DINO_FAST, "max_epochs": 0}).fit(X[:64])
    module, start = frozen.net_.module_, initial.net_.module_
    # momentum 1: the teacher never moves, whatever the gradients do to the student
    for a, b in zip(module.backbone.parameters(), start.backbone.parameters()):
        assert torch.equal(a, b) and a.grad is None and not a.requires_grad
    assert any(
        not torch.equal(a, b)
        for a, b in zip(module.student_backbone.parameters(), start.student_backbone.parameters())
    )


def test_one_ema_step_by_hand(small_images):
    X, _ = small_images
    dino = cl.DINO(teacher_momentum=0.9, **{**DINO_FAST, "max_epochs": 0}).fit(X[:64])
    module = dino.net_.module_
    with torch.no_grad():
        for p in module.student_backbone.parameters():
            p.add_(1.0)
    teacher, student = parameters(module.backbone), parameters(module.student_backbone)
    dino._after_optimizer_step(module)  # step 0 of the schedule: momentum = 0.9
    for new, t, s in zip(module.backbone.parameters(), teacher, student):
        torch.testing.assert_close(new, 0.9 * t + 0.1 * s)
    assert module.momentum_teacher.steps_taken == int(module.momentum_teacher.step) == 1


def test_dino_multicrop_shapes_and_centering(small_images):
    X, _ = small_images
    dino = cl.DINO(**{**DINO_FAST, "max_epochs": 0, "n_local_crops": 3}).fit(X[:64])
    module = dino.net_.module_
    seen = []
    module.student_backbone.register_forward_hook(
        lambda m, inputs, out: seen.append(inputs[0].shape)
    )
    torch.manual_seed(0)
    dino._pair_loss(module, torch.from_numpy(X[:10])[:, None])
    assert seen == [(20, 1, 8, 8), (30, 1, 4, 4)]  # 2 global crops, 3 local crops of half size
    assert module.center.abs().sum() > 0  # the running mean of teacher outputs moved


def test_teacher_temperature_warms_up_linearly(small_images):
    X, _ = small_images
    dino = cl.DINO(
        warmup_teacher_temperature=0.02,
        teacher_temperature=0.06,
        warmup_teacher_epochs=2,
        **{**DINO_FAST, "max_epochs": 0},
    ).fit(X[:64])
    module = dino.net_.module_
    temperatures = []
    for step in (0, module.steps_per_epoch, 2 * module.steps_per_epoch, 9 * module.steps_per_epoch):
        module.momentum_teacher.set_step(step)
        temperatures.append(dino._current_teacher_temperature(module))
    assert temperatures == pytest.approx([0.02, 0.04, 0.06, 0.06])


def test_the_loss_sees_the_scheduled_temperature_after_training(small_images):
    X, _ = small_images
    dino = cl.DINO(
        warmup_teacher_temperature=0.02,
        teacher_temperature=0.06,
        warmup_teacher_epochs=2,
        **{**DINO_FAST, "max_epochs": 1},
    ).fit(X[:64])
    module = dino.net_.module_
    # one epoch of the two-epoch warm-up
    assert module.momentum_teacher.steps_taken == module.steps_per_epoch
    assert module.teacher_temperature.item() == pytest.approx(0.04)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"n_prototypes": 0}, "'n_prototypes'"),
        ({"teacher_momentum": 1.5}, "'teacher_momentum'"),
        ({"center_momentum": "high"}, "'center_momentum'"),
        ({"local_crop_scale": (0.5, 0.1)}, "'local_crop_scale'"),
        ({"n_local_crops": -1}, "'n_local_crops'"),
    ],
)
def test_dino_bad_parameters(small_images, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        cl.DINO(**params).fit(small_images[0])


def test_simsiam_bad_predictor(small_images):
    with pytest.raises(ValueError, match="'predictor_hidden'"):
        cl.SimSiam(predictor_hidden=0).fit(small_images[0])


def test_dino_with_a_vision_transformer_on_multicrop(small_images):
    X, _ = small_images
    X16 = np.kron(X[:96], np.ones((2, 2), dtype=X.dtype))  # 16x16 images, 8x8 local crops
    dino = cl.DINO(
        backbone="vit_tiny_p4",
        n_prototypes=64,
        projection_dims=(64, 32),
        n_local_crops=2,
        max_epochs=1,
        batch_size=32,
        random_state=0,
    ).fit(X16)
    assert dino.net_.module_.backbone.grid_size == (4, 4)  # position embeddings sized for 16 px
    assert dino.transform(X16).shape == (96, 192)  # the teacher's CLS token


# ---------------------------------------------------------------- iBOT
IBOT_FAST = dict(
    backbone="vit_tiny_p4",
    n_prototypes=32,
    projection_dims=(32, 16),
    n_local_crops=1,
    max_epochs=1,
    batch_size=32,
    random_state=0,
)


@pytest.fixture(scope="module")
def images16(small_images):
    X, _ = small_images
    return np.kron(X[:64], np.ones((2, 2), dtype=X.dtype))  # 16x16: 4x4 patches of 4 px


def test_ibot_fits_and_embeds_the_teachers_cls_token(images16):
    ibot = cl.iBOT(**IBOT_FAST).fit(images16)
    assert ibot.transform(images16).shape == (64, 192)
    assert ibot.net_.module_.patch_center.abs().sum() > 0
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(ibot)).transform(images16[:4]), ibot.transform(images16[:4])
    )


def test_ibot_masks_the_requested_fraction_of_patches(images16):
    from contrastlearn.ibot import random_patch_mask

    assert random_patch_mask(5, 16, 0.25).sum(1).tolist() == [4] * 5
    ibot = cl.iBOT(mask_ratio=0.5, **{**IBOT_FAST, "max_epochs": 0}).fit(images16)
    module = ibot.net_.module_
    masks = []
    forward_tokens = module.student_backbone.forward_tokens
    module.student_backbone.forward_tokens = lambda x, mask=None: (
        masks.append(mask),
        forward_tokens(x, mask),
    )[1]
    ibot._pair_loss(module, torch.from_numpy(images16[:10])[:, None])
    assert masks[0].shape == (20, 16) and masks[0].sum(1).tolist() == [8] * 20


def test_ibot_patch_loss_weight_changes_the_loss(images16):
    losses = []
    for weight in (0.0, 1.0):
        ibot = cl.iBOT(patch_loss_weight=weight, **{**IBOT_FAST, "max_epochs": 0}).fit(images16)
        torch.manual_seed(0)
        losses.append(
            ibot._pair_loss(ibot.net_.module_, torch.from_numpy(images16[:10])[:, None]).item()
        )
    assert losses[1] > losses[0] > 0


def test_ibot_needs_a_vision_transformer(small_images):
    with pytest.raises(ValueError, match="Vision Transformer"):
        cl.iBOT(backbone="small_cnn", n_prototypes=8, max_epochs=1).fit(small_images[0])
    with pytest.raises(ValueError, match="'mask_ratio'"):
        cl.iBOT(mask_ratio=1.5).fit(small_images[0])


def test_ibot_estimator_contract_without_data():
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    for check in (
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
        check_parameters_default_constructible,
    ):
        check("iBOT", cl.iBOT())
    assert clone(cl.iBOT(mask_ratio=0.4)).get_params()["mask_ratio"] == 0.4
