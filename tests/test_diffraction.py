"""make_diffraction: labels, reproducibility, detector and the scattering physics."""

import numpy as np
import pandas as pd
import pytest

from contrastlearn.datasets import make_diffraction
from contrastlearn.datasets._diffraction import _OVERSAMPLING, _detector_mask, _render
from contrastlearn.validation import InvalidParameterError

NAMES = ["spherical", "oblate", "prolate", "streak", "dimer", "layered", "empty"]
SPHERE_ZEROS = (4.4934, 7.7253, 10.9041, 14.0662, 17.2208, 20.3713, 23.5195)  # tan(x) = x


def particle(
    shape="spherical",
    radius_axial=10.0,
    radius_equatorial=None,
    axis=(0, 0, 1),
    dimer=None,
    core=None,
):
    """One row of a params table: dimer=(separation, angle, size_ratio), core=(ratio, density)."""
    radius_equatorial = radius_axial if radius_equatorial is None else radius_equatorial
    dimer = (np.nan,) * 3 if dimer is None else dimer
    core = (np.nan,) * 2 if core is None else core
    return {
        "shape": shape,
        "radius_axial": radius_axial,
        "radius_equatorial": radius_equatorial,
        "axis_x": axis[0],
        "axis_y": axis[1],
        "axis_z": axis[2],
        "dimer_separation": dimer[0],
        "dimer_angle": dimer[1],
        "dimer_size_ratio": dimer[2],
        "core_ratio": core[0],
        "core_density": core[1],
    }


def render(*rows, image_size=64):
    return _render(pd.DataFrame(list(rows)), image_size)


def radial_profile(image):
    n = image.shape[0]
    k = np.arange(n) - n // 2
    r = np.rint(np.hypot(k[:, None], k[None, :])).astype(int)
    return np.bincount(r.ravel(), image.ravel()) / np.bincount(r.ravel())


def local_minima(profile, start, stop):
    i = np.arange(max(start, 1), min(stop, len(profile) - 1))
    return i[(profile[i] < profile[i - 1]) & (profile[i] < profile[i + 1])]


def anisotropy(images):
    """Largest / smallest eigenvalue of the intensity-weighted second moment of k, per image."""
    n = images.shape[-1]
    k = np.arange(n) - n // 2
    kx, ky = np.meshgrid(k, k)
    w = images / images.sum(axis=(1, 2), keepdims=True)
    cov = np.stack(
        [np.stack([(w * a * b).sum(axis=(1, 2)) for b in (kx, ky)], -1) for a in (kx, ky)], -2
    )
    eig = np.linalg.eigvalsh(cov)
    return eig[:, 1] / eig[:, 0]


@pytest.fixture(scope="module")
def sample():
    return make_diffraction(
        400,
        empty_fraction=0.2,
        dimer_fraction=0.3,
        layered_fraction=0.25,
        random_state=0,
        return_params=True,
    )


# --- outputs and labels -------------------------------------------------------------------


def test_shapes_dtypes_and_names(sample):
    X, Y, names, params = sample
    assert X.shape == (400, 64, 64) and X.dtype == np.float32
    assert Y.shape == (400, 7) and np.issubdtype(Y.dtype, np.integer)
    assert set(np.unique(Y)) <= {0, 1}
    assert names == NAMES
    assert isinstance(params, pd.DataFrame) and len(params) == 400
    assert (X >= 0).all() and np.array_equal(X, np.round(X))
    np.testing.assert_array_equal(params["counts"].to_numpy(), X.sum(axis=(1, 2)))
    X16, Y16, _ = make_diffraction(3, image_size=16, random_state=0)
    assert X16.shape == (3, 16, 16) and Y16.shape == (3, 7)


def test_labels_match_params(sample):
    _, Y, names, params = sample
    label = {name: Y[:, j].astype(bool) for j, name in enumerate(names)}
    empty = label["empty"]
    np.testing.assert_array_equal(empty, params["shape"] == "empty")
    assert (Y[empty].sum(axis=1) == 1).all()  # empty carries only "empty"
    assert params.loc[empty, ["radius", "dimer_separation", "core_ratio"]].isna().all().all()
    assert (params.loc[empty, "photons"] == 0).all()
    assert (Y[~empty, :4].sum(axis=1) == 1).all()  # exactly one shape otherwise
    for name in names[:4]:
        np.testing.assert_array_equal(label[name], params["shape"] == name)
    np.testing.assert_array_equal(label["dimer"], params["dimer_separation"].notna())
    np.testing.assert_array_equal(label["dimer"], params["dimer_size_ratio"].notna())
    np.testing.assert_array_equal(label["layered"], params["core_ratio"].notna())
    assert (label["dimer"] & label["layered"]).any()  # labels combine
    aspect = params["aspect_ratio"]
    assert np.allclose(aspect[label["spherical"]], 1)
    assert (aspect[label["oblate"]] < 1).all() and (aspect[label["prolate"]] > 1).all()
    assert (aspect[label["streak"]] >= 4).all()
    # streaks lie close to the detector plane (the beam is z); other axes are random in 3-D
    assert (params.loc[label["streak"], "axis_z"].abs() <= np.sin(np.deg2rad(15)) + 1e-12).all()
    assert (params.loc[label["prolate"], "axis_z"].abs() > 0.5).any()
    assert params.loc[label["spherical"], ["axis_x", "axis_y", "axis_z"]].isna().all().all()
    full = ~empty & ~label["spherical"]
    axis = params.loc[full, ["axis_x", "axis_y", "axis_z"]].to_numpy()
    np.testing.assert_allclose(np.linalg.norm(axis, axis=1), 1)
    np.testing.assert_allclose(params["radius_axial"] / params["radius_equatorial"], aspect)


@pytest.mark.parametrize("fractions", [(0.2, 0.3, 0.25), (0.0, 0.5, 0.0), (0.5, 0.5, 0.1)])
def test_requested_fractions_are_respected(fractions):
    n = 400
    empty, dimer, layered = fractions
    _, Y, names = make_diffraction(
        n,
        empty_fraction=empty,
        dimer_fraction=dimer,
        layered_fraction=layered,
        image_size=16,
        random_state=1,
    )
    observed = dict(zip(names, Y.mean(axis=0)))
    expected = {"empty": empty, "dimer": dimer, "layered": layered}
    expected.update({name: (1 - empty) / 4 for name in names[:4]})
    for name, p in expected.items():
        assert abs(observed[name] - p) <= 4 * np.sqrt(p * (1 - p) / n) + 1e-12, name


def test_all_empty_shots_are_background_only():
    X, Y, names, params = make_diffraction(
        50,
        empty_fraction=1.0,
        dimer_fraction=0.0,
        layered_fraction=0.0,
        random_state=0,
        return_params=True,
    )
    assert (Y[:, names.index("empty")] == 1).all() and Y.sum() == 50
    # about 0.5 % of the fluence as a uniform background, far below a particle's signal
    assert 0.2 * 1e4 * 0.005 < X.sum(axis=(1, 2)).mean() < 2 * 1e4 * 0.005
    assert X.max() <= 5


# --- randomness ---------------------------------------------------------------------------


def test_repeatable_under_a_seed_and_different_for_another():
    a = make_diffraction(20, random_state=3, return_params=True)
    b = make_diffraction(20, random_state=3, return_params=True)
    c = make_diffraction(20, random_state=4, return_params=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    pd.testing.assert_frame_equal(a[3], b[3])
    assert not np.array_equal(a[0], c[0])
    assert not a[3]["radius"].equals(c[3]["radius"])


def test_accepts_randomstate_and_generator():
    x1 = make_diffraction(5, random_state=np.random.RandomState(7))[0]
    x2 = make_diffraction(5, random_state=7)[0]
    np.testing.assert_array_equal(x1, x2)
    g1 = make_diffraction(5, random_state=np.random.default_rng(7))[0]
    g2 = make_diffraction(5, random_state=np.random.default_rng(7))[0]
    np.testing.assert_array_equal(g1, g2)
    assert g1.shape == (5, 64, 64) and not np.array_equal(g1, x1)


# --- physics ------------------------------------------------------------------------------


@pytest.mark.parametrize("radius", [7.0, 10.0, 12.5])
def test_sphere_minima_sit_at_form_factor_zeros(radius):
    image_size = 64
    grid = _OVERSAMPLING * image_size
    profile = radial_profile(render(particle(radius_axial=radius))[0])
    zeros = np.array([x * grid / (2 * np.pi * radius) for x in SPHERE_ZEROS])
    found = local_minima(profile, 2, image_size // 2)
    inside = zeros[(zeros >= 3) & (zeros <= image_size // 2 - 3)]
    assert len(inside) >= 2
    # every zero of the form factor is a minimum of the profile, and vice versa
    for k in inside:
        assert np.abs(found - k).min() <= 1.0, (k, found)
    for k in found[(found >= 3) & (found <= image_size // 2 - 3)]:
        assert np.abs(zeros - k).min() <= 1.0, (k, zeros)
    # the form factor itself: away from its zeros the profile is |3 (sin x - x cos x) / x^3|^2
    # up to a constant (an amplitude, |F|, would give a slope of 1/2 in log-log)
    k = np.arange(1, image_size // 2)
    x = 2 * np.pi * k * radius / grid
    form = (3 * (np.sin(x) - x * np.cos(x)) / x**3) ** 2
    ok = form > 1e-3 * form.max()
    slope = np.polyfit(np.log(form[ok]), np.log(profile[k][ok]), 1)[0]
    assert 0.9 < slope < 1.1


@pytest.mark.parametrize("tilt", [0.0, 45.0, 90.0])
def test_spheroid_rings_scale_with_its_projected_semi_axes(tilt):
    # a prolate spheroid (semi-axes 16, 8, 8) with its axis in the x-z plane, tilted out of
    # the detector plane: its projection is an ellipse with semi-axes
    # sqrt(16^2 cos^2 + 8^2 sin^2) along x and 8 along y, so its minima along kx and ky are
    # the sphere's for those radii
    t = np.deg2rad(tilt)
    image = render(particle("prolate", 16.0, 8.0, axis=(np.cos(t), 0.0, np.sin(t))))[0]
    along_x = np.hypot(16 * np.cos(t), 8 * np.sin(t))
    for line, semi_axis in [(image[32, 32:], along_x), (image[32:, 32], 8.0)]:
        zeros = np.array([z * 128 / (2 * np.pi * semi_axis) for z in SPHERE_ZEROS])
        found = local_minima(line, 2, 32)
        for k in zeros[zeros <= 29]:
            assert np.abs(found - k).min() <= 1.0, (tilt, semi_axis, k, found)


def test_layered_particle_shifts_the_rings():
    homogeneous = radial_profile(render(particle(radius_axial=10.0))[0])
    dense_core = radial_profile(render(particle(radius_axial=10.0, core=(0.6, 3.0)))[0])
    first = local_minima(homogeneous, 2, 32)[0]
    shifted = local_minima(dense_core, 2, 32)[0]
    assert abs(shifted - first) >= 1
    assert not np.allclose(homogeneous, dense_core, rtol=0.2)


def test_dimer_shows_fringes_along_its_axis_only():
    separation = 20.0  # along x: fringes along kx with period grid / separation pixels
    single, pair = render(
        particle(radius_axial=6.0), particle(radius_axial=6.0, dimer=(separation, 0.0, 1.0))
    )
    c = 32
    k = np.arange(64) - c
    along = pair[c] / single[c]  # row through the centre: along kx
    across = pair[:, c] / single[:, c]  # column: along ky
    ok = single[c] > 1e-4 * single.max()
    fringe = np.cos(np.pi * k * separation / 128) ** 2
    along, across = along / along[c], across / across[c]
    np.testing.assert_allclose(along[ok], fringe[ok], atol=0.02)
    assert along[ok].min() < 0.1 and along[ok].max() > 0.9  # deep modulation
    ok = single[:, c] > 1e-4 * single.max()
    np.testing.assert_allclose(across[ok], 1, atol=0.02)  # none perpendicular
    # the single sphere has the same profile along kx and ky: no fringes
    np.testing.assert_allclose(single[c], single[:, c], rtol=1e-3, atol=1e-9)
    # dominant modulation frequency of the pair: separation / grid cycles per pixel
    spectrum = np.abs(np.fft.rfft(along - along.mean()))
    assert abs(np.argmax(spectrum) - 64 * separation / 128) <= 1


def test_generated_dimers_carry_fringes_of_their_separation():
    # The fringes of a pair at displacement d make the Patterson map (the inverse FFT of the
    # intensity: the autocorrelation of the density) peak at d; a single particle's is ~0 there.
    X, _, _, params = make_diffraction(
        80,
        fluence=1e6,
        hole_radius=0,
        gap_width=0,
        empty_fraction=0.0,
        dimer_fraction=0.5,
        layered_fraction=0.3,
        random_state=2,
        return_params=True,
    )
    patterson = np.abs(np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(X, axes=(1, 2))), axes=(1, 2)))
    patterson /= patterson[:, 32, 32][:, None, None]
    dimer = params["dimer_separation"].notna().to_numpy()
    # displacement in pixels of the Patterson map, which are _OVERSAMPLING grid pixels
    shift = np.where(dimer, params["dimer_separation"], 2.5 * params["radius"]) / _OVERSAMPLING
    angle = np.where(dimer, params["dimer_angle"], np.random.default_rng(0).uniform(0, 6, 80))
    col = np.rint(32 + shift * np.cos(angle)).astype(int)
    row = np.rint(32 + shift * np.sin(angle)).astype(int)
    value = patterson[np.arange(80), row, col]
    assert dimer.sum() > 20 and (~dimer).sum() > 20
    assert value[dimer].min() > 0.25
    assert np.median(value[~dimer]) < 0.05


def test_streak_is_anisotropic_and_sphere_isotropic():
    sphere, streak = render(
        particle(radius_axial=8.0),
        particle("streak", radius_axial=30.0, radius_equatorial=5.0, axis=(1.0, 0.0, 0.0)),
    )
    ratio = anisotropy(np.stack([sphere, streak]))
    assert ratio[0] < 1.01
    assert ratio[1] > 10
    # the streak runs perpendicular to the rod: along ky for a rod along x
    c, outer = 32, np.abs(np.arange(64) - 32) >= 3
    assert streak[outer, c].sum() > 100 * streak[c, outer].sum()


def test_generated_streaks_are_more_anisotropic_than_spheres():
    X, Y, names = make_diffraction(
        200,
        fluence=1e6,
        empty_fraction=0.0,
        dimer_fraction=0.0,
        layered_fraction=0.0,
        gap_width=0,
        random_state=5,
    )
    ratio = anisotropy(X)
    sphere = Y[:, names.index("spherical")] == 1
    streak = Y[:, names.index("streak")] == 1
    assert np.median(ratio[streak]) > 4 * np.median(ratio[sphere])
    assert np.median(ratio[sphere]) < 1.5


def test_counts_are_poisson_around_the_rendered_intensity():
    fluence = 1e6
    X, _, _, params = make_diffraction(30, fluence=fluence, random_state=6, return_params=True)
    mask = _detector_mask(64, 3, 2)
    expected = params["photons"].to_numpy()[:, None, None] * _render(params, 64)
    expected += 0.005 * fluence / 64**2
    expected[:, mask] = 0
    assert (X[:, mask] == 0).all()
    keep = ~mask
    chi2 = ((X[:, keep] - expected[:, keep]) ** 2 / expected[:, keep]).mean()
    assert 0.9 < chi2 < 1.1


# --- detector -----------------------------------------------------------------------------


def test_hole_and_gap_read_zero():
    X = make_diffraction(
        40, fluence=1e6, hole_radius=4, gap_width=3, empty_fraction=0.0, random_state=0
    )[0]
    k = np.arange(64) - 32
    hole = np.hypot(k[:, None], k[None, :]) < 4
    assert (X[:, hole] == 0).all()
    assert (X[:, 31:34] == 0).all()
    assert (X[:, 30] > 0).any() and (X[:, 34] > 0).any()
    open_ = make_diffraction(
        40, fluence=1e6, hole_radius=0, gap_width=0, empty_fraction=0.0, random_state=0
    )[0]
    # without hole or gap the forward peak is (about) the brightest pixel
    assert (open_[:, 32, 32] > 0.5 * open_.max(axis=(1, 2))).all()


def test_saturation_clips_counts():
    kwargs = {"n_samples": 20, "fluence": 1e5, "random_state": 0}
    free = make_diffraction(**kwargs)[0]
    clipped = make_diffraction(saturation=50, **kwargs)[0]
    assert free.max() > 50
    assert clipped.max() == 50
    np.testing.assert_array_equal(clipped, np.minimum(free, 50))


def test_log_scale_is_log1p_of_counts():
    counts = make_diffraction(10, random_state=0)[0]
    logged = make_diffraction(10, random_state=0, log_scale=True)[0]
    assert logged.dtype == np.float32
    np.testing.assert_allclose(logged, np.log1p(counts), rtol=1e-6)


def test_counts_scale_with_fluence():
    low = make_diffraction(100, fluence=1e3, random_state=0, return_params=True)
    high = make_diffraction(100, fluence=1e4, random_state=0, return_params=True)
    np.testing.assert_allclose(high[3]["photons"], 10 * low[3]["photons"])
    ratio = high[0].sum() / low[0].sum()
    assert 9 < ratio < 11
    # the expected photons scatter around the fluence
    assert 0.85e4 < high[3].loc[high[3]["shape"] != "empty", "photons"].mean() < 1.15e4


# --- validation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"n_samples": 0}, ValueError, "n_samples"),
        ({"n_samples": 2.5}, TypeError, "n_samples"),
        ({"image_size": 8}, ValueError, "image_size"),
        ({"image_size": "64"}, TypeError, "image_size"),
        ({"fluence": 0}, ValueError, "fluence"),
        ({"fluence": np.inf}, ValueError, "fluence"),
        ({"fluence": "lots"}, TypeError, "fluence"),
        ({"empty_fraction": 1.5}, ValueError, "empty_fraction"),
        ({"dimer_fraction": -0.1}, ValueError, "dimer_fraction"),
        ({"layered_fraction": np.nan}, ValueError, "layered_fraction"),
        ({"empty_fraction": 0.6, "dimer_fraction": 0.5}, ValueError, "dimer_fraction"),
        ({"empty_fraction": 0.6, "layered_fraction": 0.5}, ValueError, "layered_fraction"),
        ({"hole_radius": -1}, ValueError, "hole_radius"),
        ({"gap_width": -1}, ValueError, "gap_width"),
        ({"gap_width": 64}, ValueError, "gap_width"),
        ({"gap_width": 1.5}, TypeError, "gap_width"),
        ({"saturation": 0}, ValueError, "saturation"),
        ({"log_scale": "yes"}, TypeError, "log_scale"),
        ({"return_params": 1}, TypeError, "return_params"),
        ({"random_state": "seed"}, TypeError, "random_state"),
        ({"random_state": -1}, ValueError, "random_state"),
        ({"random_state": 2**32}, ValueError, "random_state"),
        ({"random_state": True}, TypeError, "random_state"),
        ({"hole_radius": 32.5}, ValueError, "hole_radius"),
        ({"saturation": "high"}, TypeError, "saturation"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, name):
    kwargs = {"n_samples": 4, **kwargs}
    with pytest.raises(error, match=name) as raised:
        make_diffraction(**kwargs)
    assert raised.type is InvalidParameterError
    assert str(raised.value).startswith(f"The {name!r} parameter of make_diffraction must be ")


def test_data_dependent_bounds_are_worded_by_the_layer():
    with pytest.raises(InvalidParameterError) as raised:
        make_diffraction(4, empty_fraction=0.6, dimer_fraction=0.5)
    assert str(raised.value) == (
        "The 'dimer_fraction' parameter of make_diffraction must be a float in [0, 0.4]. Got 0.5."
    )
    with pytest.raises(InvalidParameterError, match=r"an int in \[0, 32\)\. Got 32\."):
        make_diffraction(4, image_size=32, gap_width=32)
    with pytest.raises(InvalidParameterError, match=r"a float in \[0, 16\]\. Got 17\."):
        make_diffraction(4, image_size=32, hole_radius=17)


def test_a_numpy_generator_and_an_int_seed_are_both_accepted():
    a = make_diffraction(3, image_size=16, random_state=np.random.default_rng(1))[0]
    b = make_diffraction(3, image_size=16, random_state=np.random.default_rng(1))[0]
    np.testing.assert_array_equal(a, b)
    c = make_diffraction(3, image_size=16, random_state=np.random.RandomState(1))[0]
    np.testing.assert_array_equal(c, make_diffraction(3, image_size=16, random_state=1)[0])
