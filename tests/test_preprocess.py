import math

import h5py
import numpy as np
import pytest
from scipy import ndimage

from contrastlearn.datasets import load_cxi, preprocess_diffraction
from contrastlearn.validation import InvalidParameterError


def reference(image, target_dim):
    """create_static_dataset_proj_learning.py, transcribed to numpy for one image."""
    resize = pytest.importorskip("skimage.transform").resize
    img_dim = image.shape[0]
    blacks = np.ones([img_dim, img_dim])
    center = int(np.shape(blacks)[0] / 2)
    rad_circ = int(0.30 * center)
    rows, cols = np.mgrid[:img_dim, :img_dim]
    # cv2.circle(blacks, (center, center), rad_circ, 0, -1): the pixels within rad_circ
    circle_img = np.where((rows - center) ** 2 + (cols - center) ** 2 <= rad_circ**2, 0, blacks)
    blur_circle_img = ndimage.gaussian_filter(circle_img, sigma=1.5)
    pol_crop_size = np.round(np.cos(np.pi / 4) * 0.99 * img_dim)
    lr_cut = np.ceil((img_dim - pol_crop_size) / 2).astype(int)
    x_dims = (int(rad_circ * 2), int(np.sqrt(lr_cut) * 2))
    ci_y_cut = np.ceil(sum(x_dims) / 2).astype(int)

    def polar_to_cartesian(img):  # the tf code, in float32 numpy
        r = img.shape[0]
        i = np.tile(np.linspace(0.0, r - 1, r, dtype=np.float32)[:, None], [1, r])
        j = np.tile(np.linspace(0.0, r - 1, r, dtype=np.float32)[None, :], [r, 1])
        i_phi = i / (r - 1) * 2 * math.pi
        j_rho = j / (r - 1)
        rp_x = j_rho * np.cos(i_phi)
        rp_y = j_rho * np.sin(i_phi)
        y_i = 0.5 * (r - 1) * (1 - rp_y)
        x_j = 0.5 * (r - 1) * (1 + rp_x)
        return img[np.rint(y_i).astype(int), np.rint(x_j).astype(int)]

    def norm_img(data):
        data = np.array(data).astype(np.float32)
        return (data - data.max()) * (np.float32(1) / (data.max() - data.min())) + 1

    image = np.expand_dims(blur_circle_img * np.squeeze(image.astype(np.float32)), -1)
    ci = np.expand_dims(polar_to_cartesian(image.squeeze()), -1)[
        ci_y_cut:-ci_y_cut, x_dims[0] : -x_dims[-1]
    ]
    image = image[lr_cut:-lr_cut, lr_cut:-lr_cut]
    return (
        norm_img(resize(image, (target_dim, target_dim)))[..., 0],
        norm_img(resize(ci, (target_dim, target_dim)))[..., 0],
    )


@pytest.mark.parametrize("size,output_size", [(103, 32), (64, 24), (64, 50)])  # 50: upsampling
def test_equals_the_reference_script(size, output_size):
    X = np.random.default_rng(size).random((3, size, size)).astype(np.float32) ** 3
    images, projections = preprocess_diffraction(X, output_size=output_size)
    assert images.shape == projections.shape == (3, output_size, output_size)
    assert images.dtype == projections.dtype == np.float32
    for k in range(3):
        expected_image, expected_projection = reference(X[k], output_size)
        np.testing.assert_allclose(images[k], expected_image, atol=1e-5)
        np.testing.assert_allclose(projections[k], expected_projection, atol=1e-5)


def test_a_centred_ring_projects_to_one_column_from_the_hole_edge():
    rows, cols = np.mgrid[:103, :103] - 51.0
    ring = np.exp(-0.5 * (np.hypot(rows, cols) - 30) ** 2)
    # 103 px: projection crop rows 19..83, columns 30..94 at radius j / 2 px, 65 x 65,
    # so output_size=65 keeps its pixels; radius 30 px is column 60 - 30. Nearest
    # sampling (half-pixel radial steps, errors up to 0.7 px) moves the peak by <= 1 px.
    _, projection = preprocess_diffraction(ring[None], output_size=65)
    assert projection[0].mean(axis=0).argmax() == 30
    assert (np.abs(projection[0].argmax(axis=1) - 30) <= 2).all()
    assert projection[0][:, :20].max() < 1e-3 and projection[0][:, 41:].max() < 1e-3  # 5 px off


def test_each_image_is_scaled_to_0_1_and_constant_images_give_zeros():
    X = np.random.default_rng(0).random((4, 64, 64)) * 1000 - 300
    X[2] = 0
    images, projections = preprocess_diffraction(X, output_size=16)
    for out in (images, projections):
        assert np.isfinite(out).all()
        np.testing.assert_array_equal(out[2], 0)
        np.testing.assert_allclose(out[[0, 1, 3]].min(axis=(1, 2)), 0, atol=1e-6)
        np.testing.assert_allclose(out[[0, 1, 3]].max(axis=(1, 2)), 1, atol=1e-6)


def test_lazy_input_in_chunks_equals_the_array(tmp_path):
    X = np.random.default_rng(1).random((5, 40, 40)).astype(np.float32)
    with h5py.File(tmp_path / "shots.cxi", "w") as f:
        f["stack"] = X
        for i, image in enumerate(X, start=1):
            f[f"entry_{i}/instrument_1/detector_1/data"] = image
    expected = preprocess_diffraction(X, output_size=16)
    shots = load_cxi(tmp_path / "shots.cxi")
    with h5py.File(tmp_path / "shots.cxi", "r") as f:
        for source in (f["stack"], shots):
            for got, want in zip(
                preprocess_diffraction(source, output_size=16, batch_size=2), expected
            ):
                np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "images,kwargs,error,message",
    [
        (
            np.zeros((2, 16, 20)),
            {},
            ValueError,
            r"square 2-D images of shape \(n, H, H\).*\(2, 16, 20\)",
        ),
        (np.zeros((16, 16)), {}, ValueError, r"shape \(n, H, H\).*got shape \(16, 16\)"),
        (np.zeros((2, 1, 16, 16)), {}, ValueError, r"got shape \(2, 1, 16, 16\)"),
        (np.zeros((2, 4, 4)), {}, ValueError, r"H >= 8"),
        (np.zeros((2, 16, 16), complex), {}, TypeError, r"real numbers; got dtype complex128"),
        (np.zeros((2, 16, 16)), {"output_size": 0}, ValueError, r"'output_size' .* an int >= 1"),
        (np.zeros((2, 16, 16)), {"output_size": 8.0}, TypeError, r"'output_size' .* an int"),
        (np.zeros((2, 16, 16)), {"batch_size": 0}, ValueError, r"'batch_size' .* an int >= 1"),
        (
            np.zeros((2, 16, 16)),
            {"hole_fraction": 1.5},
            ValueError,
            r"The 'hole_fraction' parameter of preprocess_diffraction must be a float in \[0, 1\)",
        ),
        (
            np.zeros((2, 16, 16)),
            {"hole_sigma": -1},
            ValueError,
            r"The 'hole_sigma' parameter of preprocess_diffraction must be a float >= 0\.",
        ),
    ],
)
def test_bad_input_raises(images, kwargs, error, message):
    with pytest.raises(error, match=message):
        preprocess_diffraction(images, **kwargs)


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"images": "patterns"}, "images"),
        ({"images": None}, "images"),
        ({"output_size": True}, "output_size"),
        ({"output_size": -4}, "output_size"),
        ({"hole_fraction": 1}, "hole_fraction"),
        ({"hole_fraction": -0.1}, "hole_fraction"),
        ({"hole_sigma": np.inf}, "hole_sigma"),
        ({"hole_sigma": "1.5"}, "hole_sigma"),
        ({"batch_size": 0}, "batch_size"),
        ({"batch_size": 2.0}, "batch_size"),
    ],
)
def test_a_bad_argument_raises_the_layers_error_naming_function_and_parameter(kwargs, name):
    with pytest.raises(InvalidParameterError) as raised:
        preprocess_diffraction(**{"images": np.zeros((2, 16, 16)), **kwargs})
    assert str(raised.value).startswith(
        f"The {name!r} parameter of preprocess_diffraction must be "
    )
