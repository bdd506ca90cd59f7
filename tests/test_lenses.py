"""make_lenses: outputs, labels, reproducibility, the lensing and observing physics."""

import sys

import numpy as np
import pandas as pd
import pytest

from contrastlearn.datasets._lenses import BANDS, _render, _sample_params, make_lenses
from contrastlearn.validation import InvalidParameterError

PIXEL_SCALE = 0.263  # the default (DES)
MASS = [
    "theta_E",
    "lens_q",
    "lens_phi",
    "lens_e1",
    "lens_e2",
    "gamma_ext",
    "gamma_phi",
    "gamma1",
    "gamma2",
    "magnification",
]
SOURCE = [
    "source_x",
    "source_y",
    "source_R_sersic",
    "source_n_sersic",
    "source_q",
    "source_phi",
    "source_e1",
    "source_e2",
    "source_mag_g",
    "source_mag_r",
    "source_mag_i",
]


@pytest.fixture(scope="module")
def sample():
    """60 default images with their parameters and noise-free renderings."""
    pytest.importorskip("lenstronomy")
    X, y, params = make_lenses(60, random_state=0, return_params=True)
    full = _render(params)  # galaxy + lensed source (or companion)
    light = _render(params, source=False)  # the galaxy alone
    source = _render(params, lens_light=False)  # the lensed source (or companion) alone
    return X, y, params, full, light, source


def radius(params, i, image_size=32, pixel_scale=PIXEL_SCALE):
    """Distance (arcsec) of every pixel centre from image i's galaxy centre."""
    c = (image_size - 1) / 2
    rows, cols = np.mgrid[:image_size, :image_size]
    return np.hypot(
        (cols - c) * pixel_scale - params["center_x"][i],
        (rows - c) * pixel_scale - params["center_y"][i],
    )


def simulators(bands=("g", "r", "i")):
    from contrastlearn.datasets._lenses import _simulators

    return [sim for sim, _ in _simulators(bands, 32, PIXEL_SCALE)]


# --- outputs and labels -------------------------------------------------------------------


def test_shapes_dtypes_labels_and_params(sample):
    X, y, params, *_ = sample
    assert X.shape == (60, 3, 32, 32) and X.dtype == np.float32
    assert np.isfinite(X).all()
    assert y.shape == (60,) and y.dtype == np.int64 and set(np.unique(y)) == {0, 1}
    assert isinstance(params, pd.DataFrame) and len(params) == 60
    np.testing.assert_array_equal(params["is_lens"].to_numpy(), y == 1)
    lens = y == 1
    assert params.loc[lens, MASS].notna().all().all()
    assert params.loc[~lens, MASS].isna().all().all()
    assert not params.loc[lens, "has_companion"].any()
    has_source = lens | params["has_companion"].to_numpy()
    assert params.loc[has_source, SOURCE].notna().all().all()
    assert params.loc[~has_source, SOURCE].isna().all().all()
    assert 0 < params["has_companion"].sum() < (~lens).sum()  # some non-lenses, not all
    t = params.loc[lens]
    assert t["theta_E"].between(0.8, 2.5).all()
    assert (t["magnification"] > 1.5).all()  # lensing brightens the source
    assert (
        np.hypot(t["source_x"] - t["center_x"], t["source_y"] - t["center_y"])
        <= 0.5 * t["theta_E"] + 1e-12
    ).all()
    assert params["seed"].nunique() == 60


def test_bands_image_size_and_pixel_scale():
    pytest.importorskip("lenstronomy")
    X, y, params = make_lenses(
        4, image_size=20, bands="zY", pixel_scale=0.2, random_state=1, return_params=True
    )
    assert X.shape == (4, 2, 20, 20)
    assert {"light_mag_z", "light_mag_Y", "source_mag_z", "source_mag_Y"} <= set(params.columns)
    assert "light_mag_g" not in params.columns
    X, y = make_lenses(3, bands=["i"], lens_fraction=1.0, random_state=1)
    assert X.shape == (3, 1, 32, 32) and (y == 1).all()
    _, y = make_lenses(3, lens_fraction=0.0, random_state=1)
    assert (y == 0).all()


def test_lens_fraction_is_respected():
    """Labels are independent Bernoulli draws; a companion comes with half the non-lenses."""
    n = 4000
    for fraction in (0.2, 0.5, 0.9):
        params = _sample_params(n, ("g", "r", "i"), fraction, np.random.RandomState(0))
        tolerance = 4 * np.sqrt(fraction * (1 - fraction) / n)
        assert abs(params["is_lens"].mean() - fraction) < tolerance
        companions = params.loc[~params["is_lens"], "has_companion"]
        assert abs(companions.mean() - 0.5) < 4 * np.sqrt(0.25 / len(companions))


def test_parameter_stream_does_not_depend_on_bands():
    a = _sample_params(50, ("g", "r", "i"), 0.5, np.random.RandomState(3))
    b = _sample_params(50, ("i", "Y"), 0.5, np.random.RandomState(3))
    pd.testing.assert_series_equal(a["theta_E"], b["theta_E"])
    pd.testing.assert_series_equal(a["source_mag_i"], b["source_mag_i"])


def test_repeatable_under_random_state():
    pytest.importorskip("lenstronomy")
    np.random.seed(123)
    state = np.random.get_state()[1].copy()
    X1, y1, p1 = make_lenses(6, random_state=0, return_params=True)
    X2, y2, p2 = make_lenses(6, random_state=0, return_params=True)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    pd.testing.assert_frame_equal(p1, p2)
    X3, _ = make_lenses(6, random_state=1)
    assert not np.allclose(X1, X3)
    # the noise comes from random_state, never from numpy's global generator
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for make in (np.random.RandomState, np.random.default_rng):
        Xa, _ = make_lenses(3, random_state=make(5))
        Xb, _ = make_lenses(3, random_state=make(5))
        np.testing.assert_array_equal(Xa, Xb)


# --- physics ------------------------------------------------------------------------------


def test_lenses_have_light_at_the_einstein_radius(sample):
    """Observed minus the galaxy's own light: lenses show the arcs at about theta_E, isolated
    non-lenses show nothing but noise."""
    X, y, params, _, light, source = sample
    residual = (X - light).sum(axis=1)
    lens_annulus, lens_outside, empty_annulus = [], [], []
    for i in range(len(y)):
        r = radius(params, i)
        if y[i] == 1:
            theta_e = params["theta_E"][i]
            lens_annulus.append(residual[i][np.abs(r - theta_e) < 0.5].mean())
            lens_outside.append(residual[i][r > theta_e + 1.5].mean())
            # the lensed light (noise-free) is centred on the Einstein ring
            w = source[i].sum(axis=0)
            assert 0.8 < (w * r).sum() / w.sum() / theta_e < 1.6
        elif not params["has_companion"][i]:
            empty_annulus.append(residual[i][np.abs(r - 1.6) < 0.5].mean())
    lens_annulus = np.array(lens_annulus)
    se = lens_annulus.std() / np.sqrt(len(lens_annulus))
    assert lens_annulus.mean() > 3 * se
    assert np.median(lens_annulus) > 10 * np.abs(np.median(lens_outside))
    # the same annulus of galaxies without a source: consistent with zero, far below lenses
    empty_annulus = np.array(empty_annulus)
    assert len(empty_annulus) >= 5
    empty_se = empty_annulus.std() / np.sqrt(len(empty_annulus))
    assert abs(empty_annulus.mean()) < 4 * empty_se
    assert abs(empty_annulus.mean()) < 0.02 * lens_annulus.mean()


def test_magnitudes_set_the_flux(sample):
    """A galaxy of magnitude m gives 10**(-0.4 (m - zero point)) e-/s, most of it in the
    cut-out (up to a few per cent from sampling the cuspy Sersic cores on a 3 x 3 grid)."""
    _, _, params, _, light, _ = sample
    for j, band in enumerate("gri"):
        expected = 10 ** (
            -0.4 * (params[f"light_mag_{band}"] - BANDS[band]["magnitude_zero_point"])
        )
        fraction = light[:, j].sum(axis=(1, 2)) / expected.to_numpy()
        assert ((fraction > 0.7) & (fraction < 1.06)).all()
    # the red galaxy is brighter in i than in g (in e-/s), the way its colours say
    assert (light[:, 2].sum(axis=(1, 2)) > light[:, 0].sum(axis=(1, 2))).all()


def test_noise_follows_background_plus_poisson(sample):
    """Residual variance = background sigma^2 + model / exposure time (Poisson, in e-/s)."""
    X, _, _, full, _, _ = sample
    for j, sim in enumerate(simulators()):
        model = full[:, j].ravel()
        squared = ((X[:, j] - full[:, j]).ravel().astype(np.float64)) ** 2
        design = np.stack([np.ones_like(model), model], axis=1)
        intercept, slope = np.linalg.lstsq(design, squared, rcond=None)[0]
        assert intercept == pytest.approx(sim.background_noise**2, rel=0.05)
        assert slope * sim.exposure_time == pytest.approx(1.0, abs=0.4)
        z = (X[:, j] - full[:, j]) / np.sqrt(
            sim.background_noise**2 + full[:, j] / sim.exposure_time
        )
        assert z.std() == pytest.approx(1.0, abs=0.03)
        assert abs(z.mean()) < 0.02


def test_noise_free_images_are_no_sharper_than_the_psf(sample):
    """A PSF-convolved non-negative scene can not peak above its neighbours more than the
    PSF itself does; the noisy images (single-pixel noise) do."""
    X, _, _, full, _, _ = sample

    def peak_ratio(images):
        core = images[:, 1:-1, 1:-1]
        neighbours = (
            sum(
                images[:, 1 + di : images.shape[1] - 1 + di, 1 + dj : images.shape[2] - 1 + dj]
                for di in (-1, 0, 1)
                for dj in (-1, 0, 1)
                if di or dj
            )
            / 8
        )
        return (core / neighbours)[:, 3:-3, 3:-3].max()  # away from the cut-out edges

    for j, band in enumerate("gri"):
        sigma = BANDS[band]["seeing"] / (2 * np.sqrt(2 * np.log(2))) / PIXEL_SCALE
        psf = 1 / ((4 * np.exp(-1 / (2 * sigma**2)) + 4 * np.exp(-1 / sigma**2)) / 8)
        assert peak_ratio(full[:, j]) <= psf * 1.01
        assert peak_ratio(X[:, j].astype(np.float64)) > psf


# --- optional dependency and validation ---------------------------------------------------


def test_missing_lenstronomy_raises_with_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "lenstronomy", None)
    with pytest.raises(ImportError, match=r'pip install "contrastlearn\[astro\]"'):
        make_lenses(2, random_state=0)


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"n_samples": True}, TypeError, "n_samples"),
        ({"image_size": 8}, ValueError, "image_size"),
        ({"image_size": 32.0}, TypeError, "image_size"),
        ({"lens_fraction": 1.5}, ValueError, "lens_fraction"),
        ({"lens_fraction": -0.1}, ValueError, "lens_fraction"),
        ({"lens_fraction": float("nan")}, ValueError, "lens_fraction"),
        ({"lens_fraction": "half"}, TypeError, "lens_fraction"),
        ({"bands": ()}, ValueError, "bands"),
        ({"bands": ""}, ValueError, "bands"),
        ({"bands": ("g", "u")}, ValueError, "bands"),
        ({"bands": ("g", "g")}, ValueError, "bands"),
        ({"bands": ("g", 1)}, TypeError, "bands"),
        ({"bands": 3}, TypeError, "bands"),
        ({"pixel_scale": 0}, ValueError, "pixel_scale"),
        ({"pixel_scale": float("inf")}, ValueError, "pixel_scale"),
        ({"pixel_scale": "0.2"}, TypeError, "pixel_scale"),
        ({"random_state": "seed"}, TypeError, "random_state"),
        ({"return_params": "yes"}, TypeError, "return_params"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, name):
    with pytest.raises(error, match=name) as raised:
        make_lenses(**{"n_samples": 2, **kwargs})
    assert raised.type is InvalidParameterError
    assert str(raised.value).startswith(f"The {name!r} parameter of make_lenses must be ")
