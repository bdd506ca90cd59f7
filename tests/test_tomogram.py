"""make_tomogram, extract_crops, make_particle_crops and EdgeFrameFilter."""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import roc_auc_score

from contrastlearn.datasets import EdgeFrameFilter, extract_crops, make_particle_crops
from contrastlearn.datasets._tomogram import (
    PARTICLE_CLASSES,
    PARTICLE_COLUMNS,
    _render_particles,
    _wedge_mask,
    make_tomogram,
)
from contrastlearn.validation import InvalidParameterError

SHAPE = (48, 96, 96)


@pytest.fixture(scope="module")
def clean():
    """Noise-free tomogram with the missing wedge, and its table."""
    return make_tomogram(SHAPE, 30, snr=np.inf, random_state=0)


@pytest.fixture(scope="module")
def truth(clean):
    return _render_particles(clean[1], SHAPE)


def ball(shape, centre, radius):
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    return (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2


def row(z, y, x, cls="sphere", radius=3.0):
    return {
        "z": z,
        "y": y,
        "x": x,
        "class": cls,
        "radius": radius,
        "phi": 0.0,
        "theta": 0.0,
        "psi": 0.0,
        "a": radius,
        "b": radius,
        "c": radius,
        "subunits": 0,
    }


# --- the tomogram -----------------------------------------------------------------------------


def test_table_columns_counts_and_sizes(clean):
    volume, particles = clean
    assert volume.shape == SHAPE and volume.dtype == np.float32
    assert list(particles.columns) == PARTICLE_COLUMNS
    assert len(particles) == 30
    assert particles["radius"].between(3, 8).all()
    counts = particles["class"].value_counts()
    assert set(counts.index) == set(PARTICLE_CLASSES) and counts.max() - counts.min() <= 1
    r = particles["radius"].to_numpy()
    centres = particles[["z", "y", "x"]].to_numpy()
    assert (centres - r[:, None] >= 0).all() and (centres + r[:, None] <= np.array(SHAPE) - 1).all()
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    assert (dist >= r[:, None] + r[None, :]).all()  # bounding balls are disjoint
    assert (particles.loc[particles["class"] == "assembly", "subunits"].between(3, 5)).all()


def test_ground_truth_where_the_table_says(clean, truth):
    _, particles = clean
    labels, density = truth
    centres = particles[["z", "y", "x"]].to_numpy()
    hollow = (particles["class"] == "shell").to_numpy()
    at_centre = density[tuple(centres.T)]
    assert (at_centre[~hollow] == 1).all() and (at_centre[hollow] == 0).all()
    near = np.zeros(SHAPE, dtype=bool)
    for (z, y, x), r, k in zip(centres, particles["radius"], range(len(particles))):
        own = ball(SHAPE, (z, y, x), r + 0.5)
        assert (labels[own] == k).sum() > 0 and set(np.unique(labels[own])) <= {-1, k}
        near |= own
    assert (density[~near] == 0).all()  # nothing outside bounding balls
    assert (labels >= 0).sum() == density.sum()


def test_noisy_density_is_higher_at_the_centres():
    volume, particles = make_tomogram(
        SHAPE, 30, particle_classes=("sphere", "ellipsoid", "rod"), snr=0.1, random_state=1
    )
    near = np.zeros(SHAPE, dtype=bool)
    centre_means = []
    for z, y, x, r in particles[["z", "y", "x", "radius"]].to_numpy():
        centre_means.append(volume[ball(SHAPE, (z, y, x), 1.5)].mean())
        near |= ball(SHAPE, (z, y, x), r + 3)
    background = volume[~near]
    assert np.mean(centre_means) > background.mean() + 3 * background.std() / np.sqrt(19)
    assert np.mean(np.array(centre_means) > background.mean()) > 0.8


def test_repeatable_and_seed_dependent():
    a, ta = make_tomogram((24, 48, 48), 8, random_state=3)
    b, tb = make_tomogram((24, 48, 48), 8, random_state=np.random.RandomState(3))
    c, tc = make_tomogram((24, 48, 48), 8, random_state=4)
    np.testing.assert_array_equal(a, b)
    pd.testing.assert_frame_equal(ta, tb)
    assert not np.array_equal(a, c) and not ta[["z", "y", "x"]].equals(tc[["z", "y", "x"]])
    g, _ = make_tomogram((24, 48, 48), 8, random_state=np.random.default_rng(3))
    assert g.shape == (24, 48, 48)


def test_impossible_and_bad_requests_raise():
    with pytest.raises(ValueError, match="cannot fit"):
        make_tomogram((16, 32, 32), 60, radius_range=(5, 6), random_state=0)
    with pytest.raises(ValueError, match="cannot fit"):
        make_tomogram((16, 64, 64), 1, radius_range=(8, 9), random_state=0)
    with pytest.raises(ValueError, match="particle_classes"):
        make_tomogram(particle_classes=("sphere", "cube"))
    with pytest.raises(ValueError, match="radius_range"):
        make_tomogram(radius_range=(5, 3))
    with pytest.raises(ValueError, match="snr"):
        make_tomogram(snr=0)
    with pytest.raises(ValueError, match="tilt_range"):
        make_tomogram(tilt_range=95)
    with pytest.raises(ValueError, match="shape"):
        make_tomogram(shape=(64, 64))
    with pytest.raises(TypeError, match="n_particles"):
        make_tomogram(n_particles=2.5)
    with pytest.raises(TypeError, match="random_state"):
        make_tomogram(random_state="zero")


def test_noise_has_the_requested_snr(clean):
    signal, particles = clean
    for snr in (0.1, 2.0):
        noisy, same = make_tomogram(SHAPE, 30, snr=snr, random_state=0)
        pd.testing.assert_frame_equal(same, particles)  # noise is drawn last
        noise = noisy.astype(np.float64) - signal
        assert noise.var() == pytest.approx(signal.var() / snr, rel=1e-4)
        assert abs(noise.mean()) < 0.01 * noise.std()


def test_snr_region_particles_scales_the_noise_to_the_particles(clean, truth):
    signal, particles = clean
    inside = truth[1] > 0
    default, _ = make_tomogram(SHAPE, 30, snr=0.5, random_state=0)
    volume, _ = make_tomogram(SHAPE, 30, snr=0.5, snr_region="volume", random_state=0)
    np.testing.assert_array_equal(volume, default)  # the default is unchanged
    noisy, same = make_tomogram(SHAPE, 30, snr=0.5, snr_region="particles", random_state=0)
    pd.testing.assert_frame_equal(same, particles)
    noise = noisy.astype(np.float64) - signal
    power = ((signal[inside] - signal.mean()) ** 2).mean()
    assert noise.var() == pytest.approx(power / 0.5, rel=1e-4)
    # particles fill a few percent of the volume, so this is far noisier than the default
    assert noise.var() > 10 * (default.astype(np.float64) - signal).var()
    crops, _, _ = make_particle_crops(
        30, shape=SHAPE, snr=0.5, snr_region="particles", random_state=0
    )
    np.testing.assert_array_equal(crops, extract_crops(noisy, particles)[0])


@pytest.mark.parametrize("snr_region", ["particle", "Volume", None, 1])
def test_snr_region_validates(snr_region):
    with pytest.raises(
        ValueError,
        match="The 'snr_region' parameter of make_tomogram must be one of 'volume', 'particles'",
    ):
        make_tomogram((16, 32, 32), 2, snr_region=snr_region, random_state=0)


def test_no_particles_in_either_snr_region_gives_an_empty_volume():
    for region in ("volume", "particles"):
        volume, particles = make_tomogram((16, 32, 32), 0, snr_region=region, random_state=0)
        assert len(particles) == 0 and not volume.any()


def test_missing_wedge_empties_fourier_space(clean):
    volume, _ = clean
    power = np.abs(np.fft.rfftn(volume.astype(np.float64))) ** 2
    wedge = np.broadcast_to(_wedge_mask(SHAPE, 60), power.shape)
    assert 0.2 < (~wedge).mean() < 0.5  # a real wedge is missing
    assert power[~wedge].sum() < 1e-10 * power.sum()
    noisy, _ = make_tomogram(SHAPE, 30, snr=0.1, random_state=0)  # noise is wedge-filtered too
    power = np.abs(np.fft.rfftn(noisy.astype(np.float64))) ** 2
    assert power[~wedge].sum() < 1e-10 * power.sum()
    full = (
        np.abs(
            np.fft.rfftn(
                make_tomogram(SHAPE, 30, snr=np.inf, tilt_range=90, random_state=0)[0].astype(
                    np.float64
                )
            )
        )
        ** 2
    )
    assert full[~wedge].sum() > 1e-3 * full.sum()


def test_missing_wedge_elongates_along_z():
    kwargs = dict(
        shape=SHAPE, n_particles=12, particle_classes="sphere", snr=np.inf, random_state=5
    )
    ratios = {}
    for tilt in (90, 60, 30):
        volume, particles = make_tomogram(tilt_range=tilt, **kwargs)
        out = []
        for z, y, x, r in particles[["z", "y", "x", "radius"]].itertuples(index=False):
            h = int(r) + 4
            box = (
                np.clip(
                    volume[
                        max(z - h, 0) : z + h + 1,
                        max(y - h, 0) : y + h + 1,
                        max(x - h, 0) : x + h + 1,
                    ],
                    0,
                    None,
                )
                ** 2
            )
            grids = np.meshgrid(*(np.arange(n) for n in box.shape), indexing="ij")
            var = [np.average((g - np.average(g, weights=box)) ** 2, weights=box) for g in grids]
            out.append(var[0] / var[2])  # z spread / x spread
        ratios[tilt] = np.median(out)
    assert 0.8 < ratios[90] < 1.25
    assert ratios[60] > 1.2 * ratios[90] and ratios[30] > ratios[60]


# --- crops and labels -------------------------------------------------------------------------


def test_crops_index_back_into_the_volume(clean):
    volume, particles = clean
    crops, labels, positions = extract_crops(volume, particles, 16, 8)
    assert crops.shape == (48 * 11 * 11, 16, 16) and crops.dtype == np.float32
    assert labels.shape == (len(crops),) and set(np.unique(labels)) == {0, 1}
    assert list(positions.columns) == ["slice", "row", "col", "particle", "overlap"]
    s, r, c = (positions[k].to_numpy() for k in ("slice", "row", "col"))
    idx = (
        s[:, None, None],
        r[:, None, None] + np.arange(16)[:, None],
        c[:, None, None] + np.arange(16),
    )
    np.testing.assert_array_equal(volume[idx], crops)
    assert ((positions["particle"] >= 0) == (labels == 1)).all()
    for axis in (1, 2):
        crops, _, positions = extract_crops(volume, particles, 12, 10, axis=axis)
        for i in (0, 17, len(crops) - 1):
            s, r, c = positions.loc[i, ["slice", "row", "col"]]
            np.testing.assert_array_equal(
                np.take(volume, s, axis)[r : r + 12, c : c + 12], crops[i]
            )


def test_labels_follow_the_cross_sections(clean, truth):
    volume, particles = clean
    labels_volume, _ = truth
    crops, labels, positions = extract_crops(volume, particles, 16, 8, min_overlap=0.5)
    area = np.stack([(labels_volume == k).sum(axis=(1, 2)) for k in range(len(particles))])
    held = np.zeros(len(crops))
    for i, (s, r, c) in enumerate(positions[["slice", "row", "col"]].to_numpy()):
        patch = labels_volume[s, r : r + 16, c : c + 16]
        ks, counts = np.unique(patch[patch >= 0], return_counts=True)
        if ks.size:
            held[i] = (counts / area[ks, s]).max()
            if labels[i]:
                assert positions.loc[i, "particle"] in ks
    np.testing.assert_allclose(positions["overlap"], held)
    assert ((held >= 0.5) == (labels == 1)).all()
    assert labels.sum() > 200  # every particle is seen
    assert set(positions.loc[labels == 1, "particle"]) == set(range(len(particles)))
    # label-0 crops hold (almost) no particle voxels, label-1 crops a good part of one
    blurred = make_tomogram(SHAPE, 30, snr=np.inf, tilt_range=90, random_state=0)[0]
    clean_crops = extract_crops(blurred, particles, 16, 8)[0]
    strong = clean_crops.max(axis=(1, 2)) > 0.5
    assert strong[labels == 1].mean() > 0.95
    assert strong[labels == 0].mean() < 0.2  # only the partial neighbours
    voxels = extract_crops((labels_volume >= 0).astype(np.float32), particles)[0].sum(axis=(1, 2))
    assert voxels[labels == 0].mean() < 0.1 * voxels[labels == 1].mean()
    assert (voxels[labels == 0] == 0).mean() > 0.8


def test_label_rule_on_a_single_sphere():
    table = pd.DataFrame([row(10, 20, 20, radius=3.0)])
    volume = np.zeros((24, 48, 48), dtype=np.float32)
    _, labels, positions = extract_crops(volume, table, 16, 8)
    on = positions.loc[labels == 1]
    # the disk spans rows and columns 17..23 in slices 7..13: whole in crops starting at 8 and 16
    assert set(on["slice"]) == set(range(7, 14))
    assert set(map(tuple, on[["row", "col"]].to_numpy())) == {(8, 8), (8, 16), (16, 8), (16, 16)}
    assert (on["overlap"] == 1).all() and (on["particle"] == 0).all()
    # at min_overlap=1 a crop must hold the whole cross-section; a tiny fraction is enough at 0.01
    _, strict, _ = extract_crops(volume, table, 16, 8, min_overlap=1.0)
    np.testing.assert_array_equal(strict, labels)
    table = pd.DataFrame([row(10, 16, 16, radius=3.0)])  # straddles the crop borders
    _, labels, positions = extract_crops(volume, table, 16, 8, min_overlap=0.5)
    frac = positions.loc[positions["slice"] == 10].set_index(["row", "col"])["overlap"]
    assert frac[(8, 8)] == 1 and frac[(0, 0)] == pytest.approx(4 / 29)  # 2x2 of 29 disk voxels
    assert (
        labels[
            (positions["slice"] == 10) & (positions["row"] == 0) & (positions["col"] == 0)
        ].item()
        == 0
    )


def test_extract_crops_validates():
    volume, table = np.zeros((16, 32, 32)), pd.DataFrame([row(8, 16, 16)])
    with pytest.raises(ValueError, match="volume"):
        extract_crops(volume[0], table)
    with pytest.raises(TypeError, match="particles"):
        extract_crops(volume, table.to_numpy())
    with pytest.raises(ValueError, match="missing the columns"):
        extract_crops(volume, table.drop(columns="psi"))
    with pytest.raises(ValueError, match="crop_size"):
        extract_crops(volume, table, crop_size=40)
    with pytest.raises(ValueError, match="stride"):
        extract_crops(volume, table, stride=0)
    with pytest.raises(ValueError, match="axis"):
        extract_crops(volume, table, axis=3)
    with pytest.raises(ValueError, match="min_overlap"):
        extract_crops(volume, table, min_overlap=0)


def test_make_particle_crops_is_the_composition():
    crops, labels, positions = make_particle_crops(
        10, shape=(24, 64, 64), random_state=2, snr=1.0, radius_range=(3, 5)
    )
    volume, particles = make_tomogram(
        (24, 64, 64), 10, snr=1.0, radius_range=(3, 5), random_state=2
    )
    ref = extract_crops(volume, particles)
    np.testing.assert_array_equal(crops, ref[0])
    np.testing.assert_array_equal(labels, ref[1])
    pd.testing.assert_frame_equal(positions, ref[2])
    with pytest.raises(TypeError, match="unexpected keyword"):
        make_particle_crops(5, noise=0.1)


# --- the edge filter --------------------------------------------------------------------------


@pytest.mark.parametrize("snr", [np.inf, 1.0])
def test_edge_filter_keeps_particle_frames(snr):
    crops, labels, _ = make_particle_crops(30, shape=SHAPE, snr=snr, random_state=0)
    filt = EdgeFrameFilter().fit(crops)
    keep = filt.get_support(crops)
    assert keep[labels == 1].mean() > 0.5
    assert keep[labels == 0].mean() < 0.15
    assert roc_auc_score(labels, filt.scores(crops)) > 0.85
    np.testing.assert_array_equal(filt.transform(crops), crops[keep])
    np.testing.assert_array_equal(filt.mask(crops), keep)
    np.testing.assert_array_equal(filt.fit_transform(crops), crops[keep])
    np.testing.assert_allclose(filt.scores_, filt.scores(crops))


def test_edge_filter_threshold_and_scores():
    frames = np.zeros((3, 16, 16))
    frames[1, 4:12, 4:12] = 1.0
    frames[2, 4:12, 4:12] = 3.0
    scores = EdgeFrameFilter(sigma=0).scores(frames)
    assert scores[0] == 0 and scores[2] == pytest.approx(3 * scores[1])
    # an ideal unit step has gradient 1 on the two pixels across it, Sobel/8 gives 1/2 on each
    step = np.zeros((1, 8, 8))
    step[0, :, 4:] = 1.0
    assert EdgeFrameFilter(sigma=0).scores(step)[0] == pytest.approx(2 * 0.5 / 8)
    filt = EdgeFrameFilter(threshold=scores[1] + 1e-9, sigma=0).fit(frames)
    np.testing.assert_array_equal(filt.get_support(frames), [False, False, True])
    np.testing.assert_array_equal(
        EdgeFrameFilter(threshold=scores[1], sigma=0).fit(frames).get_support(frames),
        [False, True, True],
    )
    auto = EdgeFrameFilter(sigma=0).fit(frames)
    assert scores[0] < auto.threshold_ <= scores[2]
    restored = pickle.loads(pickle.dumps(auto))
    np.testing.assert_array_equal(restored.get_support(frames), auto.get_support(frames))
    assert clone(auto).get_params() == auto.get_params()


def test_edge_filter_validates():
    frames = np.random.default_rng(0).normal(size=(5, 8, 8))
    with pytest.raises(NotFittedError):
        EdgeFrameFilter().transform(frames)
    with pytest.raises(ValueError, match="X must be a stack"):
        EdgeFrameFilter().fit(frames[0])
    bad = frames.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        EdgeFrameFilter().fit(bad)
    with pytest.raises(TypeError, match="real numbers"):
        EdgeFrameFilter().fit(frames.astype(complex))
    with pytest.raises(ValueError, match="threshold"):
        EdgeFrameFilter(threshold="otsu").fit(frames)
    with pytest.raises(ValueError, match="threshold"):
        EdgeFrameFilter(threshold=np.inf).fit(frames)
    with pytest.raises(ValueError, match="method"):
        EdgeFrameFilter(method="prewitt").fit(frames)
    with pytest.raises(ValueError, match="sigma"):
        EdgeFrameFilter(sigma=-1).fit(frames)


VOLUME, TABLE = np.zeros((16, 32, 32)), pd.DataFrame([row(8, 16, 16)])


@pytest.mark.parametrize(
    "function,kwargs,name",
    [
        (make_tomogram, {"shape": (16, 32, 4)}, "shape"),
        (make_tomogram, {"shape": (16, 32, 32.0)}, "shape"),
        (make_tomogram, {"n_particles": -1}, "n_particles"),
        (make_tomogram, {"particle_classes": ()}, "particle_classes"),
        (make_tomogram, {"particle_classes": "cube"}, "particle_classes"),
        (make_tomogram, {"radius_range": (1, 3)}, "radius_range"),
        (make_tomogram, {"radius_range": (3, np.inf)}, "radius_range"),
        (make_tomogram, {"snr": np.nan}, "snr"),
        (make_tomogram, {"snr": "high"}, "snr"),
        (make_tomogram, {"snr_region": None}, "snr_region"),
        (make_tomogram, {"tilt_range": -1}, "tilt_range"),
        (make_tomogram, {"random_state": 2**32}, "random_state"),
        (extract_crops, {"volume": "volume", "particles": TABLE}, "volume"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE.to_dict()}, "particles"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE, "crop_size": 1}, "crop_size"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE, "crop_size": 33}, "crop_size"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE, "stride": 2.0}, "stride"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE, "axis": True}, "axis"),
        (extract_crops, {"volume": VOLUME, "particles": TABLE, "min_overlap": 1.5}, "min_overlap"),
        (make_particle_crops, {"n_particles": 1.5}, "n_particles"),
        (make_particle_crops, {"shape": (8, 8)}, "shape"),
        (make_particle_crops, {"crop_size": 0}, "crop_size"),
        (make_particle_crops, {"axis": -1}, "axis"),
        (make_particle_crops, {"min_overlap": 0}, "min_overlap"),
        (make_particle_crops, {"random_state": "seed"}, "random_state"),
    ],
)
def test_a_bad_argument_raises_the_layers_error_naming_function_and_parameter(
    function, kwargs, name
):
    with pytest.raises(InvalidParameterError) as raised:
        function(**kwargs)
    assert str(raised.value).startswith(f"The {name!r} parameter of {function.__name__} must be ")


def test_crop_size_is_bounded_by_the_slices_in_the_layers_words():
    with pytest.raises(InvalidParameterError) as raised:
        extract_crops(np.zeros((40, 12, 32)), TABLE, crop_size=16)
    assert str(raised.value) == (
        "The 'crop_size' parameter of extract_crops must be an int in [2, 12]. Got 16."
    )
    with pytest.raises(InvalidParameterError, match=r"an int in \[2, 32\]\. Got 33\."):
        extract_crops(np.zeros((40, 12, 32)), TABLE, crop_size=33, axis=1)


def test_an_infinite_snr_and_a_single_class_name_are_accepted():
    volume, particles = make_tomogram(
        (16, 32, 32), 2, particle_classes="rod", radius_range=(3, 4), snr=np.inf, random_state=0
    )
    assert set(particles["class"]) == {"rod"} and np.isfinite(volume).all()
