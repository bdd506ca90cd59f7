"""Free-text reports of make_diffraction and make_lenses (return_reports=True)."""

import re

import numpy as np
import pytest

from contrastlearn.datasets import make_diffraction, make_lenses
from contrastlearn.validation import InvalidParameterError

EMPTY = ("no hit", "miss", "empty", "nothing on the detector", "blank frame", "no particle")
SHAPES = {
    "spherical": ("round", "spherical", "sphere-like", "circular", "ball-shaped"),
    "oblate": ("flattened", "oblate", "disc-like", "squashed", "pancake-shaped"),
    "prolate": ("elongated", "prolate", "cigar-shaped", "stretched", "egg-shaped"),
    "streak": ("streak", "streaky", "rod", "rod-like", "needle", "needle-like"),
}
PAIR = ("dimer", "two particles", "pair", "two droplets", "twin", "doublet", "second particle")
LAYERED = ("core", "layered", "shell")
LENS = ("lens", "lensing", "lensed")
NOT_LENS = ("no lens", "not a lens", "non-lens", "no lensing", "no strong lensing")


def says(report, words):
    """Whether ``report`` holds one of ``words`` as whole words (case-insensitive)."""
    return any(re.search(rf"\b{re.escape(w)}\b", report, re.IGNORECASE) for w in words)


@pytest.fixture(scope="module")
def diffraction():
    out = make_diffraction(
        300, image_size=32, random_state=0, return_params=True, return_reports=True
    )
    return out


def test_one_report_per_pattern_as_the_last_element(diffraction):
    X, Y, names, params, reports = diffraction
    assert isinstance(reports, list) and len(reports) == len(X) == 300
    assert all(isinstance(r, str) and 5 <= len(r) < 400 for r in reports)
    X2, Y2, names2, reports2 = make_diffraction(
        300, image_size=32, random_state=0, return_reports=True
    )
    assert reports2 == reports  # the same with or without params


def test_the_flag_changes_no_image_label_or_parameter(diffraction):
    X, Y, names, params, _ = diffraction
    X0, Y0, names0, params0 = make_diffraction(
        300, image_size=32, random_state=0, return_params=True
    )
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)
    assert names == names0
    assert params.equals(params0)
    # a Generator as random_state: the same draws with or without reports
    a = make_diffraction(20, image_size=16, random_state=np.random.default_rng(5))
    b = make_diffraction(
        20, image_size=16, random_state=np.random.default_rng(5), return_reports=True
    )
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_reports_are_deterministic_and_depend_on_the_seed():
    first = make_diffraction(40, image_size=16, random_state=3, return_reports=True)[-1]
    again = make_diffraction(40, image_size=16, random_state=3, return_reports=True)[-1]
    other = make_diffraction(40, image_size=16, random_state=4, return_reports=True)[-1]
    assert first == again
    assert first != other


def test_empty_shots_say_so_and_hits_do_not(diffraction):
    _, _, _, params, reports = diffraction
    empty = (params["shape"] == "empty").to_numpy()
    assert empty.sum() >= 10
    for report, is_empty in zip(reports, empty):
        assert says(report, EMPTY) == is_empty, report


def test_every_hit_names_its_own_shape(diffraction):
    _, _, _, params, reports = diffraction
    for report, shape in zip(reports, params["shape"]):
        if shape == "empty":
            continue
        assert says(report, SHAPES[shape]), (shape, report)
        if shape == "spherical":  # a sphere is never called elongated or flat
            others = SHAPES["oblate"] + SHAPES["prolate"] + SHAPES["streak"]
            assert not says(report, others), report


def test_dimers_and_layered_particles_are_mentioned_unless_omitted(diffraction):
    _, _, _, params, reports = diffraction
    for column, words in (("dimer_separation", PAIR), ("core_ratio", LAYERED)):
        has = params[column].notna().to_numpy()
        assert has.sum() >= 20
        mentioned = np.array([says(r, words) for r in reports])
        assert not mentioned[~has].any()  # never said of the others
        assert mentioned[has].mean() >= 0.75  # left out with probability 0.1


def test_size_words_follow_the_radius(diffraction):
    _, _, _, params, reports = diffraction
    radius = params["radius"].to_numpy()
    grid = 2 * 32
    low, high = 0.04 * grid, 0.09 * grid
    checked = 0
    for report, r in zip(reports, radius):
        if says(report, ("large", "big", "sizeable")):
            assert r >= low + (high - low) / 3, report
            checked += 1
        if says(report, ("small", "tiny", "compact")):
            assert r < low + 2 * (high - low) / 3, report
            checked += 1
    assert checked >= 50


def test_reports_are_varied():
    *_, params, reports = make_diffraction(
        800,
        image_size=16,
        empty_fraction=0.0,
        dimer_fraction=0.0,
        layered_fraction=0.0,
        random_state=1,
        return_params=True,
        return_reports=True,
    )
    spheres = [r for r, s in zip(reports, params["shape"]) if s == "spherical"]
    assert len(spheres) >= 150
    assert len(set(spheres)) >= 0.9 * len(spheres)
    used = {w for w in SHAPES["spherical"] for r in spheres if says(r, (w,))}
    assert len(used) == len(SHAPES["spherical"])  # every synonym occurs
    assert any(" nm" in r for r in spheres) and any(" px" in r for r in spheres)
    assert any(r[0].isupper() and r.endswith(".") for r in spheres)  # sentences
    assert any(";" in r for r in spheres)  # and terse log lines


def test_return_reports_is_validated():
    with pytest.raises(
        InvalidParameterError, match="'return_reports' parameter of make_diffraction must be a bool"
    ):
        make_diffraction(4, return_reports="yes")
    with pytest.raises(
        InvalidParameterError, match="'return_reports' parameter of make_lenses must be a bool"
    ):
        make_lenses(4, return_reports=1)


@pytest.fixture(scope="module")
def lenses():
    pytest.importorskip("lenstronomy")
    return make_lenses(40, image_size=16, random_state=0, return_params=True, return_reports=True)


def test_lens_reports_say_lens_or_not(lenses):
    X, y, params, reports = lenses
    assert len(reports) == len(X) == 40
    assert 5 <= y.sum() <= 35
    for report, label in zip(reports, y):
        if label:
            assert says(report, LENS) and not says(report, NOT_LENS), report
            assert says(report, ("ring", "arc", "arcs")), report
        else:
            assert says(report, NOT_LENS), report
            assert not says(report, ("ring", "arc", "arcs")), report


def test_lens_reports_mention_companions_and_keep_the_images(lenses):
    X, y, params, reports = lenses
    companion = params["has_companion"].to_numpy()
    assert companion.sum() >= 3
    mentioned = np.array([says(r, ("companion", "neighbouring", "next to it")) for r in reports])
    assert not mentioned[~companion].any()
    assert mentioned[companion].mean() >= 0.6
    X0, y0, params0 = make_lenses(40, image_size=16, random_state=0, return_params=True)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    assert params.equals(params0)
    again = make_lenses(40, image_size=16, random_state=0, return_reports=True)
    assert again[-1] == reports
