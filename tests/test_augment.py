import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator
from sklearn.datasets import load_digits

import contrastlearn as cl
from contrastlearn import augment as A
from contrastlearn.augment import PRESETS, Augment, resolve_augment
from contrastlearn.evaluation import few_label_accuracy
from contrastlearn.validation import InvalidParameterError

OPS = {
    "random_affine": lambda x: A.random_affine(x),
    "crop_only": lambda x: A.random_affine(x, scale=(0.3, 0.5), rotation=0, hflip=0, vflip=0),
    "rotation_only": lambda x: A.random_affine(
        x, scale=(1, 1), ratio=(1, 1), rotation=180, hflip=0, vflip=0
    ),
    "color_jitter": lambda x: A.color_jitter(x, p=1.0),
    "gaussian_blur": lambda x: A.gaussian_blur(x, p=1.0),
    "gaussian_noise": lambda x: A.gaussian_noise(x, std=0.1),
    "poisson_noise": lambda x: A.poisson_noise(x, photons=20.0),
    "pipeline": Augment(photons=50.0, noise_std=0.05),
    "translation_only": lambda x: A.random_affine(
        x, scale=(1, 1), ratio=(1, 1), rotation=0, hflip=0, vflip=0, translate=0.2
    ),
    "random_gain": lambda x: A.random_gain(x, gain=(0.5, 1.5), jitter=0.2),
    "random_erasing": lambda x: A.random_erasing(x, p=1.0),
    "cplr_reference": PRESETS["cplr-reference"],
}


def images(dtype=torch.float32, shape=(6, 2, 16, 16)):
    g = torch.Generator().manual_seed(0)
    return torch.rand(*shape, generator=g).to(dtype)


@pytest.mark.parametrize("name", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_keeps_shape_dtype_device_and_changes_every_image(name, dtype):
    x = images(dtype)
    torch.manual_seed(0)
    out = OPS[name](x)
    assert out.shape == x.shape and out.dtype == x.dtype and out.device == x.device
    changed = (out - x).abs().flatten(1).amax(1) > 1e-4
    assert changed.all(), f"{name} left {int((~changed).sum())} image(s) unchanged"
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", OPS)
def test_repeatable_under_seed(name):
    x = images()
    torch.manual_seed(3)
    first = OPS[name](x)
    torch.manual_seed(3)
    assert torch.equal(first, OPS[name](x))


def test_flips_are_exact_mirror_images():
    x = images()
    common = dict(scale=(1, 1), ratio=(1, 1), rotation=0)
    assert torch.allclose(A.random_affine(x, hflip=1, vflip=0, **common), x.flip(-1), atol=1e-6)
    assert torch.allclose(A.random_affine(x, hflip=0, vflip=1, **common), x.flip(-2), atol=1e-6)


def test_identity_settings_leave_images_unchanged():
    x = images()
    out = A.random_affine(x, scale=(1, 1), ratio=(1, 1), rotation=0, hflip=0, vflip=0)
    assert torch.allclose(out, x, atol=1e-6)


def test_rotation_moves_a_bright_pixel_around_the_centre():
    # A dot right of centre rotated by up to 180 degrees keeps its distance to the centre.
    x = torch.zeros(64, 1, 33, 33)
    x[:, :, 16, 26] = 1.0
    torch.manual_seed(0)
    out = A.random_affine(x, scale=(1, 1), ratio=(1, 1), rotation=180, hflip=0, vflip=0)
    rows, cols = torch.meshgrid(torch.arange(33.0), torch.arange(33.0), indexing="ij")
    mass = out[:, 0].sum((1, 2))
    radius = torch.sqrt(((out[:, 0] * ((rows - 16) ** 2 + (cols - 16) ** 2)).sum((1, 2))) / mass)
    assert torch.allclose(radius, torch.full_like(radius, 10.0), atol=1.0)
    angle = torch.atan2(
        (out[:, 0] * (rows - 16)).sum((1, 2)), (out[:, 0] * (cols - 16)).sum((1, 2))
    )
    assert angle.std() > 1.0  # spread over the circle, not stuck at 0


def test_blur_smooths_and_jitter_changes_contrast():
    torch.manual_seed(0)
    noise = torch.randn(8, 1, 32, 32)
    assert A.gaussian_blur(noise, sigma=(1.0, 1.0), p=1.0).std() < 0.5 * noise.std()
    high = A.color_jitter(noise, brightness=0.0, contrast=0.5, p=1.0)
    ratio = high.flatten(1).std(1) / noise.flatten(1).std(1)
    assert ((ratio > 0.5 - 1e-4) & (ratio < 1.5 + 1e-4)).all() and (ratio - 1).abs().max() > 0.05


def test_poisson_noise_keeps_mean_and_grows_with_fewer_photons():
    torch.manual_seed(0)
    x = torch.rand(16, 1, 32, 32) + 1.0
    few = A.poisson_noise(x, photons=5.0)
    many = A.poisson_noise(x, photons=500.0)
    assert torch.allclose(few.mean((1, 2, 3)), x.mean((1, 2, 3)), rtol=0.05)
    assert (few - x).std() > 3 * (many - x).std()


def test_vectors_get_feature_dropout():
    torch.manual_seed(0)
    x = torch.ones(200, 50)
    out = Augment(feature_drop=0.3)(x)
    assert out.shape == x.shape
    assert (out == 0).float().mean().item() == pytest.approx(0.3, abs=0.03)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"crop_scale": (0.5, 1.5)}, "crop_scale"),
        ({"crop_scale": (0.9, 0.2)}, "crop_scale"),
        ({"hflip": 2.0}, "hflip"),
        ({"rotation": -1}, "rotation"),
        ({"photons": 0}, "photons"),
        ({"padding_mode": "wrap"}, "padding_mode"),
    ],
)
def test_bad_parameters_are_named(params, fragment):
    with pytest.raises(ValueError, match=fragment):
        Augment(**params).validate()


def test_crops_resampled_to_a_smaller_output_size():
    x = images()
    torch.manual_seed(0)
    local = Augment(crop_scale=(0.05, 0.4))(x, output_size=(8, 8))
    assert local.shape == (6, 2, 8, 8) and torch.isfinite(local).all()
    # with every geometric option off, a resize alone still happens
    plain = Augment(crop_scale=(1, 1), rotation=0, hflip=0, vflip=0, jitter_prob=0, blur_prob=0)
    assert plain(x, output_size=(4, 4)).shape == (6, 2, 4, 4)


# Augment()(x) for this x and torch.manual_seed(0), computed with the code before translation,
# gain and erasing existed (rounded to 6 decimals), and the next torch.rand(1) after that call.
DEFAULT_VIEW = [
    0.404947,
    0.327198,
    0.385495,
    0.504389,
    0.648981,
    0.389547,
    0.395121,
    0.536289,
    0.552662,
    0.536868,
    0.246294,
    0.236113,
    0.261097,
    0.372284,
    0.427648,
    0.346015,
    0.447476,
    0.618566,
    0.626174,
    0.555862,
    0.711554,
    0.602349,
    0.622692,
    0.772313,
    0.69054,
    0.298852,
    0.340303,
    0.351712,
    0.329558,
    0.297256,
    0.345622,
    0.389247,
    0.403918,
    0.385011,
    0.357929,
    0.409225,
    0.44157,
    0.450066,
    0.434265,
    0.417529,
    0.467122,
    0.475073,
    0.461574,
    0.436728,
    0.422568,
    0.496939,
    0.481796,
    0.440743,
    0.394956,
    0.370012,
    0.574721,
    0.694535,
    0.61849,
    0.613182,
    0.780053,
    0.561148,
    0.576391,
    0.469001,
    0.342819,
    0.517226,
    0.558389,
    0.420169,
    0.235956,
    0.148835,
    0.312778,
    0.63945,
    0.49327,
    0.376471,
    0.257392,
    0.236948,
    0.754264,
    0.688471,
    0.633756,
    0.414839,
    0.206505,
]
DEFAULT_NEXT_DRAW = 0.20812976360321045
DEFAULT_VECTOR_VIEW = [
    0.496257,
    0.768222,
    0.0,
    0.13203,
    0.307423,
    0.634079,
    0.490093,
    0.896445,
    0.455628,
    0.632306,
    0.348893,
    0.0,
    0.0,
    0.168859,
    0.293888,
    0.518522,
]


def test_default_pipeline_output_is_unchanged():
    x = torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    out = Augment()(x)
    assert torch.allclose(out.flatten(), torch.tensor(DEFAULT_VIEW), atol=1e-6, rtol=0)
    assert torch.rand(1).item() == DEFAULT_NEXT_DRAW  # no extra random draws
    torch.manual_seed(0)
    out = Augment()(torch.rand(2, 8))
    assert torch.allclose(out.flatten(), torch.tensor(DEFAULT_VECTOR_VIEW), atol=1e-6, rtol=0)


def _centroid_shift(out, centre):
    rows, cols = torch.meshgrid(
        torch.arange(out.shape[-2] * 1.0), torch.arange(out.shape[-1] * 1.0), indexing="ij"
    )
    mass = out[:, 0].sum((1, 2))
    return (
        (out[:, 0] * rows).sum((1, 2)) / mass - centre,
        (out[:, 0] * cols).sum((1, 2)) / mass - centre,
    )


@pytest.mark.parametrize("translate", [0.0, 0.25])
def test_translation_shifts_a_centred_dot_within_bounds_after_rotation(translate):
    # Rotation and flips leave a centred dot in place; the shift is drawn in the output frame,
    # so each axis moves by at most translate * 33 (a shift rotated afterwards would exceed it).
    x = torch.zeros(400, 1, 33, 33)
    x[:, :, 16, 16] = 1.0
    torch.manual_seed(0)
    out = A.random_affine(x, scale=(1, 1), ratio=(1, 1), rotation=180, translate=translate)
    dy, dx = _centroid_shift(out, 16)
    limit = translate * 33 + 0.5
    assert dy.abs().max() <= limit and dx.abs().max() <= limit
    if translate:
        assert dy.abs().mean() > 2 and dx.abs().mean() > 2  # expected 33 / 8
    else:
        assert dy.abs().max() < 1e-3 and dx.abs().max() < 1e-3


@pytest.mark.parametrize("padding_mode,fills", [("zeros", True), ("border", False)])
def test_translation_fills_per_padding_mode(padding_mode, fills):
    torch.manual_seed(0)
    out = Augment(
        crop_scale=(1, 1),
        crop_ratio=(1, 1),
        rotation=0,
        hflip=0,
        vflip=0,
        translate=0.25,
        padding_mode=padding_mode,
        jitter_prob=0,
        blur_prob=0,
    )(torch.ones(16, 1, 16, 16))
    assert ((out.flatten(1).amin(1) < 0.5).float().mean() > 0.5) == fills
    assert (out <= 1 + 1e-6).all()


def test_gain_factors_lie_in_range_and_jitter_widens_it():
    torch.manual_seed(0)
    out = A.random_gain(torch.ones(2000, 2, 3, 3), gain=(0.5, 1.5), jitter=0.2)
    factor = out.flatten(1)[:, 0]
    assert (out == factor[:, None, None, None]).all()  # one factor per image
    assert (factor >= 0.3).all() and (factor <= 1.7).all()
    assert factor.min() < 0.5 and factor.max() > 1.5  # about 5% of images lie beyond each end
    plain = A.random_gain(torch.ones(2000, 1, 1, 1), gain=(0.5, 1.5)).flatten()
    assert (plain >= 0.5).all() and (plain <= 1.5).all() and plain.std() > 0.25


def test_clip_bounds_intensities_after_gain():
    x = torch.rand(32, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    base = dict(
        crop_scale=(1, 1), rotation=0, hflip=0, vflip=0, jitter_prob=0, blur_prob=0, gain=(1.5, 2.0)
    )
    torch.manual_seed(0)
    out = Augment(**base, clip=(0.0, 1.0))(x)
    assert out.min() >= 0 and out.max() == 1.0
    torch.manual_seed(0)
    assert Augment(**base)(x).max() > 1.4  # without the clip the gain goes past 1


def test_erasing_boxes_follow_scale_ratio_and_value():
    torch.manual_seed(0)
    n = 100
    out = A.random_erasing(
        torch.ones(500, 2, n, n), p=1.0, scale=(0.05, 0.3), ratio=(0.25, 2.5), value=-1.0
    )
    erased = out == -1.0
    assert ((out == 1.0) | erased).all() and torch.equal(erased[:, 0], erased[:, 1])
    box = erased[:, 0]
    height = box.any(2).sum(1).double()
    width = box.any(1).sum(1).double()
    assert torch.equal(box.sum((1, 2)).double(), height * width)  # one solid rectangle
    # Rounding both ends moves each side by at most one pixel, so the drawn box (h n, w n) lies in
    # [height - 1, height + 1] x [width - 1, width + 1]; that bounds its area and aspect.
    assert ((height + 1) * (width + 1) / n**2 >= 0.05).all()
    assert ((height - 1) * (width - 1) / n**2 <= 0.3).all()
    assert ((width + 1) / (height - 1) >= 0.25).all() and ((width - 1) / (height + 1) <= 2.5).all()
    area, aspect = height * width / n**2, width / height
    assert area.std() > 0.05 and aspect.min() < 0.3 and aspect.max() > 2.2  # ranges are used


def test_erasing_probability_is_respected():
    torch.manual_seed(0)
    out = A.random_erasing(torch.ones(2000, 1, 16, 16), p=0.5)
    erased = (out == 0).flatten(1).any(1).double().mean().item()
    assert erased == pytest.approx(0.5, abs=0.05)
    assert not (A.random_erasing(torch.ones(50, 1, 16, 16), p=0.0) == 0).any()


def test_erasing_is_the_last_image_operation():
    torch.manual_seed(0)
    out = Augment(erase_prob=1.0, erase_value=7.0, photons=20.0)(torch.rand(8, 1, 32, 32) + 1)
    assert ((out == 7.0).flatten(1).sum(1) >= 0.05 * 32 * 32 * 0.8).all()


def test_cplr_reference_preset_matches_the_reference_list():
    expected = dict(
        crop_scale=(0.2, 1.0),
        crop_ratio=(1.0, 1.0),
        rotation=90.0,
        hflip=0.5,
        vflip=0.0,
        translate=0.125,
        gain=(0.5, 1.5),
        gain_jitter=0.2,
        clip=(0.0, 1.0),
        brightness=0.0,
        contrast=0.0,
        jitter_prob=0.0,
        blur_sigma=(0.1, 1.5),
        blur_prob=0.0,
        photons=None,
        erase_prob=1.0,
        erase_scale=(0.05, 0.3),
        erase_ratio=(0.25, 2.5),
        erase_value=0.0,
        noise_std=0.0,
        feature_drop=0.2,
        padding_mode="zeros",
    )
    assert PRESETS["cplr-reference"].get_params() == expected
    torch.manual_seed(0)
    x = torch.rand(16, 1, 32, 32)
    view = resolve_augment("cplr-reference", Augment())(x)
    assert view.shape == x.shape and view.min() >= 0 and view.max() <= 1
    assert ((view == 0).flatten(1).sum(1) >= 0.04 * 32 * 32).all()  # every image has its box


def test_resolve_augment_returns_fresh_validated_pipelines():
    default = Augment(rotation=10)
    got = resolve_augment(None, default)
    assert got is not default and got.get_params() == default.get_params()
    mine = Augment(erase_prob=0.3)
    got = resolve_augment(mine, default)
    assert got is not mine and got.erase_prob == 0.3
    preset = resolve_augment("cplr-reference", default)
    preset.set_params(erase_prob=0.0)
    assert PRESETS["cplr-reference"].erase_prob == 1.0
    with pytest.raises(ValueError, match="erase_prob"):
        resolve_augment(Augment(erase_prob=2.0), default)
    for bad in ("cplr", 3, {"rotation": 5}):
        with pytest.raises(
            InvalidParameterError,
            match="'augment' parameter of resolve_augment .*'isotropic', 'upright', 'cplr-ref",
        ):
            resolve_augment(bad, default)


def test_new_parameters_are_nested_settable():
    class Holder(BaseEstimator):
        def __init__(self, augment=None):
            self.augment = augment

    holder = Holder(Augment()).set_params(
        augment__erase_prob=0.5,
        augment__translate=0.1,
        augment__gain=(0.8, 1.2),
        augment__clip=(0, 1),
    )
    params = holder.get_params()
    assert (params["augment__erase_prob"], params["augment__translate"]) == (0.5, 0.1)
    assert holder.augment.gain == (0.8, 1.2) and holder.augment.clip == (0, 1)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"translate": -0.1}, "translate"),
        ({"translate": 1.5}, "translate"),
        ({"gain": (1.5, 0.5)}, "gain"),
        ({"gain": (-1.0, 1.0)}, "gain"),
        ({"gain": 1.0}, "gain"),
        ({"gain_jitter": -0.2}, "gain_jitter"),
        ({"clip": (1.0, 0.0)}, "clip"),
        ({"clip": (0.0, float("inf"))}, "clip"),
        ({"erase_prob": 1.5}, "erase_prob"),
        ({"erase_scale": (0.1, 1.5)}, "erase_scale"),
        ({"erase_scale": (0.3, 0.1)}, "erase_scale"),
        ({"erase_ratio": (0.0, 1.0)}, "erase_ratio"),
        ({"erase_value": float("nan")}, "erase_value"),
        ({"erase_value": "0"}, "erase_value"),
    ],
)
def test_bad_new_parameters_are_named(params, fragment):
    with pytest.raises(ValueError, match=f"The '{fragment}' parameter of Augment must be"):
        Augment(**params).validate()


def test_isotropic_and_upright_presets():
    assert PRESETS["isotropic"].get_params() == Augment().get_params()
    upright = resolve_augment("upright", Augment())
    assert upright.hflip == upright.vflip == 0 and 0 < upright.rotation <= 15
    assert cl.CLR(augment="upright")._validate_params() is None
    with pytest.raises(cl._validation.InvalidParameterError, match="'isotropic', 'upright'"):
        cl.CLR(augment="uprigth").fit(np.zeros((4, 8, 8)))


def test_upright_beats_isotropic_on_digits():
    """Digits have an orientation: a flipped 2 or a 6 turned into a 9 teaches the wrong thing."""
    digits = load_digits()
    X, y = digits.images[:600], digits.target[:600]
    scores = {}
    for preset in ("upright", "isotropic"):
        clr = cl.CLR(
            augment=preset, max_epochs=8, batch_size=128, monitor_samples=0, random_state=0
        )
        scores[preset] = few_label_accuracy(clr.fit_transform(X), y, label_fraction=0.2)
    assert scores["upright"] > scores["isotropic"] + 0.02, scores


@pytest.mark.parametrize(
    "call, parameter",
    [
        (lambda x: A.random_affine(x, scale=(0.5, 1.5)), "scale"),
        (lambda x: A.random_affine(x, padding_mode="wrap"), "padding_mode"),
        (lambda x: A.random_affine(x, output_size=(8,)), "output_size"),
        (lambda x: A.random_gain(x, gain=(1.5, 0.5)), "gain"),
        (lambda x: A.color_jitter(x, p=1.2), "p"),
        (lambda x: A.gaussian_blur(x, sigma=(0, 1)), "sigma"),
        (lambda x: A.gaussian_noise(x, std=-1), "std"),
        (lambda x: A.poisson_noise(x, photons=0), "photons"),
        (lambda x: A.random_erasing(x, ratio=(2, 1)), "ratio"),
        (lambda x: A.feature_dropout(x.flatten(1), p=-0.1), "p"),
        (lambda x: A.random_affine(x.numpy()), "x"),
    ],
)
def test_every_augmentation_function_names_a_bad_argument(call, parameter):
    with pytest.raises(InvalidParameterError, match=f"The '{parameter}' parameter of "):
        call(torch.rand(2, 1, 8, 8))


def test_augment_and_its_functions_word_a_rule_alike():
    messages = []
    for call in (
        lambda: Augment(blur_prob=2).validate(),
        lambda: A.gaussian_blur(torch.rand(1, 1, 4, 4), p=2),
    ):
        with pytest.raises(InvalidParameterError) as error:
            call()
        messages.append(str(error.value).split(" must be ")[1])
    assert messages[0] == messages[1] == "a float in [0, 1]. Got 2."
