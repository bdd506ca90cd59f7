import math

import numpy as np
import pytest
import torch

from contrastlearn.projection import PolarProjection, to_cartesian, to_polar


def ring(size=65, radius=20.0, centre=None, width=1.0):
    centre = ((size - 1) / 2,) * 2 if centre is None else centre
    rows, cols = np.mgrid[:size, :size].astype(float)
    r = np.hypot(rows - centre[0], cols - centre[1])
    return np.exp(-0.5 * ((r - radius) / width) ** 2)


def test_a_ring_maps_to_a_line_of_constant_radius():
    polar = to_polar(ring(radius=20), n_radii=33, n_angles=90, max_radius=32)  # row i at radius i
    assert polar.shape == (33, 90)
    assert (polar.argmax(axis=0) == 20).all()
    assert polar[20].std() < 0.05 * polar[20].mean()  # bilinear sampling of a 1-px ring


def test_log_radial_rows_follow_log_radius():
    n, lo, hi = 50, 2.0, 30.0
    polar = to_polar(ring(radius=12), n_radii=n, max_radius=hi, log_radial=True, min_radius=lo)
    expected = (n - 1) * math.log(12 / lo) / math.log(hi / lo)
    assert abs(polar.mean(axis=1).argmax() - expected) <= 1


def test_rotation_becomes_a_shift_along_angles():
    rng = np.random.default_rng(0)
    image = ring(size=64, radius=15, width=6) * rng.random((64, 64))
    polar = to_polar(image, n_angles=128)
    rotated = to_polar(np.rot90(image).copy(), n_angles=128)  # 90 degrees = 32 columns
    shifted = np.roll(polar, -32, axis=1)
    assert np.abs(rotated - shifted)[2:-2].max() < 1e-4


def test_round_trip_reproduces_a_smooth_image_away_from_the_centre():
    rows, cols = np.mgrid[:64, :64] - 31.5
    smooth = np.exp(-(rows ** 2 + cols ** 2) / 300) * (1 + 0.3 * np.cos(cols / 6))
    back = to_cartesian(to_polar(smooth, n_radii=64, n_angles=256), (64, 64))
    radius = np.hypot(rows, cols)
    inside = (radius > 3) & (radius < 28)
    assert np.abs(back - smooth)[inside].max() < 0.02
    assert (back[radius > 32.5] == 0).all()  # outside max_radius


def test_per_image_centres():
    centres = np.array([[20.0, 30.0], [40.0, 25.0]])
    images = np.stack([ring(size=64, radius=10, centre=c) for c in centres])
    own = to_polar(images, center=centres, n_radii=21, max_radius=20)
    assert (own.argmax(axis=1) == 10).all()
    shared = to_polar(images, center=centres[0], n_radii=21, max_radius=20)
    assert (shared[0].argmax(axis=0) == 10).all() and not (shared[1].argmax(axis=0) == 10).all()
    back = to_cartesian(own, (64, 64), center=centres, max_radius=20)
    peak = np.unravel_index(back[1].argmax(), (64, 64))
    assert abs(math.hypot(peak[0] - 40, peak[1] - 25) - 10) <= 1


def test_gradients_flow_and_torch_stays_torch_on_its_dtype():
    x = torch.rand(3, 2, 16, 16, dtype=torch.float64, requires_grad=True)
    polar = to_polar(x)
    assert isinstance(polar, torch.Tensor) and polar.dtype == torch.float64
    assert polar.shape == (3, 2, 16, 16)
    back = to_cartesian(polar)
    back.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


@pytest.mark.parametrize("shape", [(16, 16), (4, 16, 16), (4, 3, 16, 16)])
def test_numpy_in_numpy_out_for_every_layout(shape):
    out = to_polar(np.ones(shape, dtype=np.uint8), n_radii=8, n_angles=12)
    assert isinstance(out, np.ndarray) and out.shape == shape[:-2] + (8, 12)
    assert out.dtype == np.float32


def test_module_keeps_the_image_size():
    assert PolarProjection()(torch.rand(2, 1, 24, 24)).shape == (2, 1, 24, 24)


@pytest.mark.parametrize("call,fragment", [
    (lambda: to_polar(np.ones(5)), "shape"),
    (lambda: to_polar(np.ones((8, 8)), center=[1, 2, 3]), "center"),
    (lambda: to_polar(np.ones((8, 8)), max_radius=-1), "max_radius"),
    (lambda: to_polar(np.ones((8, 8)), log_radial=True, min_radius=0), "min_radius"),
    (lambda: to_polar(np.array([["a"]])), "real numbers"),
])
def test_bad_input(call, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment):
        call()
