import copy
import math
import pickle

import numpy as np
import pytest
import torch
from scipy import ndimage

from contrastlearn.projection import (
    REFERENCE_PROJECTION_SETTINGS,
    PolarProjection,
    central_mask,
    to_cartesian,
    to_polar,
)
from contrastlearn.validation import InvalidParameterError


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
    smooth = np.exp(-(rows**2 + cols**2) / 300) * (1 + 0.3 * np.cos(cols / 6))
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


@pytest.mark.parametrize(
    "call,fragment",
    [
        (lambda: to_polar(np.ones(5)), "shape"),
        (lambda: to_polar(np.ones((8, 8)), center=[1, 2, 3]), "center"),
        (lambda: to_polar(np.ones((8, 8)), max_radius=-1), "max_radius"),
        (lambda: to_polar(np.ones((8, 8)), log_radial=True, min_radius=0), "min_radius"),
        (lambda: to_polar(np.array([["a"]])), "real numbers"),
    ],
)
def test_bad_input(call, fragment):
    with pytest.raises((ValueError, TypeError), match=fragment):
        call()


def grid(size=65):
    rows, cols = np.mgrid[:size, :size] - (size - 1) / 2
    return np.hypot(rows, cols), np.arctan2(rows, cols) % (2 * math.pi)  # to_polar's angle


def spoke(angle, size=65, width=0.05):
    radius, theta = grid(size)
    off = (theta - angle + math.pi) % (2 * math.pi) - math.pi
    return np.exp(-0.5 * (off / width) ** 2) * (radius > 3) * (radius < 30)


def test_a_radial_range_puts_a_ring_on_the_predicted_row():
    # rows at radii 10, 11, ..., 30: the ring at radius 20 is row 10
    polar = to_polar(ring(radius=20), n_radii=21, min_radius=10, max_radius=30)
    assert (polar.argmax(axis=0) == 10).all()
    assert polar[0].max() < 1e-10  # radius 10 is far from the ring


@pytest.mark.parametrize(
    "angle_range,column", [((0.5, 2.5), 10), ((2.5, 0.5), 30), ((-1.0, 1.5), 32)]
)
def test_an_azimuth_range_puts_a_spoke_on_the_predicted_column(angle_range, column):
    # 41 angles from start to stop, both included: the spoke at 1.0 rad is at
    # column 40 * (1.0 - start) / (stop - start)
    polar = to_polar(spoke(1.0), n_angles=41, max_radius=30, angle_range=angle_range)
    assert (polar[30:].argmax(axis=1) == column).all()  # radii > 14 px: a smooth spoke


def test_nothing_outside_the_azimuth_range_is_sampled():
    assert to_polar(spoke(1.0), n_angles=41, max_radius=30, angle_range=(3.0, 5.0)).max() < 1e-12


def test_nearest_returns_only_input_values_and_bilinear_mixes_them():
    image = np.random.default_rng(0).random((40, 40)).astype(np.float32)
    nearest = to_polar(image, max_radius=18, n_angles=90, interpolation="nearest")
    assert np.isin(nearest, image).all()
    bilinear = to_polar(image, max_radius=18, n_angles=90)
    assert not np.isin(bilinear, image).all()


@pytest.mark.parametrize(
    "shape,radius,sigma,center",
    [
        ((31, 40), 7.5, 1.5, (14, 19.5)),
        ((64, 64), 10, 1.5, None),
        ((5, 6), 1.2, 2.0, None),  # the blur reaches past the edges: reflected as in scipy
        ((9, 7), 2, 0.0, (8, 0)),
    ],
)
def test_central_mask_is_scipys_blurred_disk(shape, radius, sigma, center):
    centre = np.subtract(shape, 1) / 2 if center is None else center
    rows, cols = np.mgrid[: shape[0], : shape[1]]
    disk = np.where(np.hypot(rows - centre[0], cols - centre[1]) <= radius, 0.0, 1.0)
    mask = central_mask(shape, radius, sigma=sigma, center=center)
    assert mask.dtype == np.float32 and mask.shape == shape
    np.testing.assert_allclose(mask, ndimage.gaussian_filter(disk, sigma), atol=1e-7)


def test_central_mask_is_zero_inside_one_outside_with_a_blurred_edge():
    mask = central_mask((64, 64), 10)
    profile = mask[32, 32:]  # from the centre outwards; the edge is 10.5 px out
    assert profile[:3].max() < 1e-6 and profile[-10:].min() > 1 - 1e-6
    assert (np.diff(profile) >= 0).all() and ((profile > 0.05) & (profile < 0.95)).sum() >= 2


def test_central_mask_on_torch_follows_the_centre_tensor():
    centres = torch.tensor([[10.0, 12.0], [20.0, 5.0]], dtype=torch.float64)
    masks = central_mask((30, 30), 4, center=centres)
    assert isinstance(masks, torch.Tensor) and masks.dtype == torch.float64
    assert masks.shape == (2, 30, 30)
    np.testing.assert_allclose(
        masks[1].numpy(), central_mask((30, 30), 4, center=(20, 5)), atol=1e-6
    )


def test_the_mask_is_applied_before_resampling_around_each_images_centre():
    centres = np.array([[20.0, 30.0], [40.0, 25.0]])
    images = np.random.default_rng(1).random((2, 64, 64))
    masked = to_polar(
        images, center=centres, n_radii=20, max_radius=19, mask_radius=6, mask_sigma=1.0
    )
    for image, centre, polar in zip(images, centres, masked):
        expected = to_polar(
            image * central_mask((64, 64), 6, sigma=1.0, center=centre),
            center=centre,
            n_radii=20,
            max_radius=19,
        )
        np.testing.assert_allclose(polar, expected, atol=1e-6)
    assert np.abs(masked[:, :3]).max() < 1e-3 and masked[:, 10:].min() > 0  # rows = radii


@pytest.mark.parametrize(
    "angle_range,interpolation", [((0.5, 4.0), "bilinear"), ((4.0, 0.5), "nearest")]
)
def test_to_cartesian_inverts_a_ranged_polar_image_and_is_zero_outside(angle_range, interpolation):
    radius, theta = grid(65)
    rows, cols = np.mgrid[:65, :65] - 32
    smooth = np.exp(-(radius**2) / 300) * (1 + 0.3 * np.cos(cols / 6))
    ranges = dict(min_radius=8, max_radius=28, angle_range=angle_range, interpolation=interpolation)
    polar = to_polar(smooth, n_radii=64, n_angles=256, **ranges)
    back = to_cartesian(polar, (65, 65), **ranges)
    inside = (radius > 9) & (radius < 27) & (theta > 0.55) & (theta < 3.95)
    outside = (radius < 7.5) | (radius > 28.5) | (theta < 0.45) | (theta > 4.05)
    assert np.abs(back - smooth)[inside].max() < 0.02
    assert (back[outside] == 0).all()


def test_polar_projection_fractions_scale_with_the_image():
    module = PolarProjection(radial_range=(0.25, 0.75), mask_radius=0.2)
    for size in (32, 64):
        image = torch.from_numpy(ring(size=size, radius=size / 4, width=size / 32))
        polar = module(image[None, None].float())[0, 0].numpy()
        assert polar.shape == (size, size)
        # radii 0.25..0.75 of size / 2 over size rows: radius size / 4 is the middle row
        assert abs(polar.mean(axis=1).argmax() - (size - 1) / 2) <= 1
    ones = module(torch.ones(1, 1, 64, 64))[0, 0]  # rows from radius 8 px; hole 6.4 px
    assert ones[0].max() < 0.95 and ones[24:].min() > 1 - 1e-6  # row 24: 14 px


def test_polar_projection_repr_copy_and_pickle():
    assert repr(PolarProjection()) == "PolarProjection()"
    module = PolarProjection(angle_range=(0, math.pi), interpolation="nearest", mask_radius=0.3)
    assert repr(module) == (
        "PolarProjection(angle_range=(0.0, 3.141592653589793), "
        "interpolation='nearest', mask_radius=0.3)"
    )
    x = torch.rand(2, 1, 20, 20)
    for clone in (copy.deepcopy(module), pickle.loads(pickle.dumps(module))):
        assert repr(clone) == repr(module) and torch.equal(clone(x), module(x))


def test_reference_settings_follow_the_reference_grid():
    # The reference samples phi_i = 2 pi i / 1034 counter-clockwise with rows going up
    # (row = c - rho sin phi) and keeps rows 167..867 and columns 310..1010.
    assert REFERENCE_PROJECTION_SETTINGS["radial_range"] == (310 / 1034, 1010 / 1034)
    module = PolarProjection(**REFERENCE_PROJECTION_SETTINGS)
    size, phi = 129, math.radians(100)  # a spoke at reference azimuth 100 degrees
    radius, theta = grid(size)
    off = (theta + phi + math.pi) % (2 * math.pi) - math.pi  # theta = -phi
    image = np.exp(-0.5 * (off / 0.03) ** 2) * (radius > 30) * (radius < 60)
    polar = module(torch.from_numpy(image)[None, None].float())[0, 0].numpy()
    start, stop = 2 * math.pi * 167 / 1034, 2 * math.pi * 867 / 1034
    column = (phi - start) / (stop - start) * (size - 1)
    assert abs(polar[50:100].sum(axis=0).argmax() - column) <= 1
    # The radial range starts at the edge of the hole (0.3 of the half-width).
    ones = module(torch.ones(1, 1, size, size))[0, 0]
    assert 0.2 < ones[0].mean() < 0.8 and ones[25:].min() > 1 - 1e-6  # row 25: 28 px


@pytest.mark.parametrize(
    "options",
    [
        dict(min_radius=4, max_radius=14, angle_range=(1.0, 3.0)),
        dict(interpolation="nearest", mask_radius=3),
        dict(log_radial=True, min_radius=2, max_radius=15, mask_radius=2.5, mask_sigma=0.5),
    ],
)
def test_torch_and_numpy_agree_and_gradients_flow(options):
    images = np.random.default_rng(2).random((3, 2, 32, 32))
    expected = to_polar(images, **options)
    x = torch.tensor(images, requires_grad=True)
    polar = to_polar(x, **options)
    np.testing.assert_allclose(polar.detach().numpy(), expected, atol=1e-12)
    polar.sum().backward()
    assert x.grad.abs().sum() > 0
    cartesian = {k: v for k, v in options.items() if not k.startswith("mask")}
    np.testing.assert_allclose(
        to_cartesian(torch.from_numpy(expected), **cartesian).numpy(),
        to_cartesian(expected, **cartesian),
        atol=1e-12,
    )


@pytest.mark.parametrize(
    "call,error,fragment",
    [
        (
            lambda: to_polar(np.ones((8, 8)), min_radius=5, max_radius=4),
            InvalidParameterError,
            r"The 'min_radius' parameter of to_polar must be a float in \[0, 4\)\. Got 5\.",
        ),
        (lambda: to_polar(np.ones((8, 8)), min_radius="1"), TypeError, "'min_radius' parameter"),
        (
            lambda: to_polar(np.ones((8, 8)), angle_range=(1, 1)),
            ValueError,
            r"'angle_range' parameter of to_polar .* 0 < \|stop - start\|",
        ),
        (lambda: to_polar(np.ones((8, 8)), angle_range=(0, 7)), ValueError, "'angle_range'"),
        (lambda: to_polar(np.ones((8, 8)), angle_range=1.0), TypeError, "'angle_range'"),
        (
            lambda: to_polar(np.ones((8, 8)), angle_range=(0, np.nan)),
            ValueError,
            r"'angle_range' .*Got \(0, nan\)",
        ),
        (
            lambda: to_polar(np.ones((8, 8)), interpolation="bicubic"),
            ValueError,
            "'interpolation' parameter of to_polar must be one of 'bilinear', 'nearest'. "
            "Got 'bicubic'",
        ),
        (
            lambda: to_polar(np.ones((8, 8)), n_angles=1, angle_range=(0, 1)),
            ValueError,
            r"The 'n_angles' parameter of to_polar must be an int >= 2\. Got 1\.",
        ),
        (
            lambda: to_polar(np.ones((8, 8)), mask_radius=-1),
            ValueError,
            "'mask_radius' parameter of to_polar must be None or a float >= 0",
        ),
        (
            lambda: to_polar(np.ones((8, 8)), mask_radius=2, mask_sigma=None),
            TypeError,
            "'mask_sigma'",
        ),
        (
            lambda: to_polar(np.ones((2, 8, 8)), center=np.zeros((3, 2)), mask_radius=2),
            ValueError,
            r"shape \(2, 2\); got shape \(3, 2\)",
        ),
        (
            lambda: to_cartesian(np.ones((8, 8)), interpolation="cubic"),
            ValueError,
            "'interpolation' parameter of to_cartesian",
        ),
        (
            lambda: to_cartesian(np.ones((8, 8)), min_radius=6, max_radius=5),
            ValueError,
            r"The 'min_radius' parameter of to_cartesian must be a float in \[0, 5\)",
        ),
        (
            lambda: central_mask((8,), 2),
            TypeError,
            r"The 'shape' parameter of central_mask must be a tuple \(H, W\) of ints >= 1",
        ),
        (lambda: central_mask((8, 8), -2), ValueError, "'radius' parameter of central_mask"),
        (lambda: central_mask((8, 8), 2, center=[1, 2, 3]), ValueError, "center"),
        (
            lambda: PolarProjection(radial_range=(0.8, 0.2)),
            ValueError,
            "'radial_range' parameter of PolarProjection .* low < high",
        ),
        (
            lambda: PolarProjection(log_radial=True, radial_range=(0, 1)),
            ValueError,
            r"'radial_range' .* numbers > 0 with low < high\. Got \(0, 1\)",
        ),
        (lambda: PolarProjection(radial_range=0.5), TypeError, "'radial_range' parameter"),
        (
            lambda: PolarProjection("yes"),
            TypeError,
            "The 'log_radial' parameter of PolarProjection must be a bool",
        ),
        (lambda: PolarProjection(interpolation="area"), ValueError, "'interpolation'"),
        (lambda: PolarProjection(mask_radius=-0.1), ValueError, "'mask_radius'"),
        (lambda: PolarProjection(angle_range=(0, 10)), ValueError, "'angle_range'"),
        (lambda: PolarProjection(center=(1, "a")), TypeError, "'center'"),
    ],
)
def test_bad_arguments_raise_naming_them(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


IMAGES = np.ones((8, 8))


@pytest.mark.parametrize(
    "function,kwargs,name",
    [
        (to_polar, {"images": "pixels"}, "images"),
        (to_polar, {"images": IMAGES, "center": "middle"}, "center"),
        (to_polar, {"images": IMAGES, "n_radii": 1}, "n_radii"),
        (to_polar, {"images": IMAGES, "n_radii": 8.0}, "n_radii"),
        (to_polar, {"images": IMAGES, "n_angles": 0}, "n_angles"),
        (to_polar, {"images": IMAGES, "max_radius": 0}, "max_radius"),
        (to_polar, {"images": IMAGES, "max_radius": np.inf}, "max_radius"),
        (to_polar, {"images": IMAGES, "min_radius": -1}, "min_radius"),
        (to_polar, {"images": IMAGES, "angle_range": (0, 1, 2)}, "angle_range"),
        (to_polar, {"images": IMAGES, "log_radial": 1}, "log_radial"),
        (to_polar, {"images": IMAGES, "interpolation": None}, "interpolation"),
        (to_polar, {"images": IMAGES, "mask_radius": "2"}, "mask_radius"),
        (to_polar, {"images": IMAGES, "mask_sigma": -1}, "mask_sigma"),
        (to_cartesian, {"polar": None}, "polar"),
        (to_cartesian, {"polar": IMAGES, "output_shape": (8,)}, "output_shape"),
        (to_cartesian, {"polar": IMAGES, "output_shape": (8, 8.0)}, "output_shape"),
        (to_cartesian, {"polar": IMAGES, "center": 3}, "center"),
        (to_cartesian, {"polar": IMAGES, "max_radius": -2}, "max_radius"),
        (to_cartesian, {"polar": IMAGES, "min_radius": np.nan}, "min_radius"),
        (to_cartesian, {"polar": IMAGES, "angle_range": (2, 2)}, "angle_range"),
        (to_cartesian, {"polar": IMAGES, "log_radial": "no"}, "log_radial"),
        (to_cartesian, {"polar": IMAGES, "interpolation": "area"}, "interpolation"),
        (central_mask, {"shape": (8, 0), "radius": 2}, "shape"),
        (central_mask, {"shape": 8, "radius": 2}, "shape"),
        (central_mask, {"shape": (8, 8), "radius": None}, "radius"),
        (central_mask, {"shape": (8, 8), "radius": 2, "sigma": -0.5}, "sigma"),
        (central_mask, {"shape": (8, 8), "radius": 2, "center": "middle"}, "center"),
    ],
)
def test_a_bad_argument_raises_the_layers_error_naming_function_and_parameter(
    function, kwargs, name
):
    with pytest.raises(InvalidParameterError) as error:
        function(**kwargs)
    assert str(error.value).startswith(f"The {name!r} parameter of {function.__name__} must be ")


def test_polar_projection_centred_on_the_beam_pixel_of_an_fft_simulation():
    """make_diffraction puts the beam on pixel size // 2: a ring there is a straight line."""
    size = 64
    rows, cols = np.mgrid[:size, :size] - size // 2
    image = torch.from_numpy(np.exp(-0.5 * (np.hypot(rows, cols) - 12) ** 2))[None, None].float()
    straight = PolarProjection(center="pixel")(image)[0, 0]
    middle = PolarProjection()(image)[0, 0]
    row = straight.mean(1).argmax()
    assert straight[row].std() < 0.5 * middle[middle.mean(1).argmax()].std()
    explicit = PolarProjection(center=(size // 2, size // 2))(image)
    torch.testing.assert_close(explicit[0, 0], straight)
    assert "center='pixel'" in repr(PolarProjection(center="pixel"))
    with pytest.raises(
        InvalidParameterError,
        match="The 'center' parameter of PolarProjection must be one of 'middle', 'pixel' or",
    ):
        PolarProjection(center="beam")
