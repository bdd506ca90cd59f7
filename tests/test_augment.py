import pytest
import torch

from contrastlearn import augment as A
from contrastlearn.augment import Augment

OPS = {
    "random_affine": lambda x: A.random_affine(x),
    "crop_only": lambda x: A.random_affine(x, scale=(0.3, 0.5), rotation=0, hflip=0, vflip=0),
    "rotation_only": lambda x: A.random_affine(x, scale=(1, 1), ratio=(1, 1), rotation=180,
                                               hflip=0, vflip=0),
    "color_jitter": lambda x: A.color_jitter(x, p=1.0),
    "gaussian_blur": lambda x: A.gaussian_blur(x, p=1.0),
    "gaussian_noise": lambda x: A.gaussian_noise(x, std=0.1),
    "poisson_noise": lambda x: A.poisson_noise(x, photons=20.0),
    "pipeline": Augment(photons=50.0, noise_std=0.05),
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
    angle = torch.atan2((out[:, 0] * (rows - 16)).sum((1, 2)), (out[:, 0] * (cols - 16)).sum((1, 2)))
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


@pytest.mark.parametrize("params,fragment", [
    ({"crop_scale": (0.5, 1.5)}, "crop_scale"),
    ({"crop_scale": (0.9, 0.2)}, "crop_scale"),
    ({"hflip": 2.0}, "hflip"),
    ({"rotation": -1}, "rotation"),
    ({"photons": 0}, "photons"),
    ({"padding_mode": "wrap"}, "padding_mode"),
])
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
