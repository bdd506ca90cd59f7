"""make_sprites / SpriteImages: exact factor grid, hand-derived images, symmetries, laziness."""

import pickle

import numpy as np
import pandas as pd
import pytest

from contrastlearn.datasets import SpriteImages, make_sprites
from contrastlearn.datasets._sprites import (
    _HEART_SCALE,
    _HEART_SHIFT,
    GRID_SHAPE,
    ORIENTATIONS,
    POSITIONS,
    SCALES,
    SHAPES,
    _render,
)
from contrastlearn.validation import InvalidParameterError

N = 3 * 6 * 40 * 32 * 32
FACTORS = ["shape", "scale", "orientation", "position_x", "position_y"]
INDEX_COLUMNS = [f"{name}_index" for name in FACTORS]
SQUARE, ELLIPSE, HEART = 0, 1, 2


def image(shape, scale, orientation, position_x, position_y):
    """The image of one factor tuple (grid indices)."""
    index = np.ravel_multi_index((shape, scale, orientation, position_x, position_y), GRID_SHAPE)
    return SpriteImages([index])[0]


@pytest.fixture(scope="module")
def full():
    return make_sprites()


# --- the factor grid ----------------------------------------------------------------------------


def test_constants():
    assert SHAPES == ("square", "ellipse", "heart")
    np.testing.assert_allclose(SCALES, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    np.testing.assert_allclose(ORIENTATIONS, np.arange(40) * 2 * np.pi / 40)
    np.testing.assert_allclose(POSITIONS, np.arange(32) / 31)
    assert GRID_SHAPE == (3, 6, 40, 32, 32) and np.prod(GRID_SHAPE) == N == 737280


def test_full_grid_factors_are_exact(full):
    images, factors = full
    assert isinstance(images, SpriteImages) and images.grid_index is None
    assert images.shape == (N, 64, 64) and len(images) == N and images.ndim == 3
    assert images.dtype == np.uint8 and images.size == N * 64 * 64
    assert list(factors.columns) == FACTORS + INDEX_COLUMNS + ["grid_index"]
    assert len(factors) == N and isinstance(factors.index, pd.RangeIndex)
    assert isinstance(factors["shape"].dtype, pd.CategoricalDtype)
    assert list(factors["shape"].cat.categories) == list(SHAPES)
    assert not factors["shape"].cat.ordered
    for column in FACTORS[1:]:
        assert factors[column].dtype == np.float64
    for column in INDEX_COLUMNS + ["grid_index"]:
        assert factors[column].dtype == np.int64
    # every combination of the five indices exactly once, in grid order (position_y fastest)
    indices = factors[INDEX_COLUMNS].to_numpy()
    np.testing.assert_array_equal(np.ravel_multi_index(indices.T, GRID_SHAPE), np.arange(N))
    np.testing.assert_array_equal(factors["grid_index"], np.arange(N))
    np.testing.assert_array_equal(factors["position_y_index"][:40], np.arange(40) % 32)
    assert (factors.loc[N - 1, INDEX_COLUMNS] == [2, 5, 39, 31, 31]).all()
    # the unique values of each factor are the constants
    assert list(factors["shape"].unique()) == list(SHAPES)
    for column, grid in [
        ("scale", SCALES),
        ("orientation", ORIENTATIONS),
        ("position_x", POSITIONS),
        ("position_y", POSITIONS),
    ]:
        np.testing.assert_array_equal(np.unique(factors[column]), grid)
        np.testing.assert_array_equal(factors[column], grid[factors[f"{column}_index"]])
    assert factors["scale"].between(0.5, 1.0).all()
    assert (factors["orientation"] >= 0).all() and (factors["orientation"] < 2 * np.pi).all()
    assert factors["position_x"].between(0.0, 1.0).all()
    np.testing.assert_array_equal(
        np.asarray(factors["shape"]), np.array(SHAPES)[factors["shape_index"]]
    )


def test_subset_factors_match_grid():
    images, factors = make_sprites(500, random_state=3)
    assert images.shape == (500, 64, 64) and images.dtype == np.uint8
    assert isinstance(factors.index, pd.RangeIndex) and len(factors) == 500
    grid_index = factors["grid_index"].to_numpy()
    np.testing.assert_array_equal(
        grid_index, np.ravel_multi_index(factors[INDEX_COLUMNS].to_numpy().T, GRID_SHAPE)
    )
    assert len(np.unique(grid_index)) == 500  # distinct grid points
    assert (np.diff(grid_index) < 0).any()  # in random order
    for column, grid in [
        ("scale", SCALES),
        ("orientation", ORIENTATIONS),
        ("position_x", POSITIONS),
        ("position_y", POSITIONS),
    ]:
        np.testing.assert_array_equal(factors[column], grid[factors[f"{column}_index"]])
    np.testing.assert_array_equal(
        np.asarray(factors["shape"]), np.array(SHAPES)[factors["shape_index"]]
    )
    assert list(factors["shape"].cat.categories) == list(SHAPES)


# --- known images -------------------------------------------------------------------------------


def test_square_at_the_corner_is_a_15_by_15_block():
    # centre (10, 10), half side 10 / sqrt(2) = 7.07: rows and columns 3..17
    expected = np.zeros((64, 64), np.uint8)
    expected[3:18, 3:18] = 1
    got = image(SQUARE, 5, 0, 0, 0)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    assert got.sum() == 225


def test_ellipse_at_the_corner_is_exact_and_transposes_when_turned():
    # centre (10, 10), semi-axes 10 along x (columns) and 5 along y (rows), boundary included
    d = np.arange(64) - 10
    expected = (d[None, :] ** 2 + 4 * d[:, None] ** 2 <= 100).astype(np.uint8)
    got = image(ELLIPSE, 5, 0, 0, 0)
    np.testing.assert_array_equal(got, expected)
    assert got[10, 0] == got[10, 20] == got[5, 10] == got[15, 10] == 1  # the four tips
    assert got[10].sum() == 21 and got[:, 10].sum() == 11
    # a quarter turn about a centre on a pixel swaps rows and columns
    np.testing.assert_array_equal(image(ELLIPSE, 5, 10, 0, 0), expected.T)
    # the far corner: centre (53, 53)
    np.testing.assert_array_equal(
        image(ELLIPSE, 5, 0, 31, 31), np.roll(expected, (43, 43), axis=(0, 1))
    )


def test_position_moves_x_along_columns_and_y_along_rows():
    base = image(SQUARE, 5, 0, 0, 0)
    right = image(SQUARE, 5, 0, 31, 0)  # position_x = 1: centre column 53
    down = image(SQUARE, 5, 0, 0, 31)  # position_y = 1: centre row 53
    np.testing.assert_array_equal(right, np.roll(base, 43, axis=1))
    np.testing.assert_array_equal(down, np.roll(base, 43, axis=0))


def test_heart_points_up_and_turns_counter_clockwise():
    # at position (0, 0) the centre (10, 10) is on a pixel; scale 1 keeps it within rows and
    # columns 0..20
    heart = image(HEART, 5, 0, 0, 0)
    block = heart[:21, :21]
    assert block.sum() == heart.sum() > 150
    rows, cols = np.nonzero(heart)
    top, bottom = heart[rows.min()], heart[rows.max()]
    assert rows.min() < 10 - 5 and rows.max() > 10 + 8  # tip farther from the centre
    # two lobes at the top: two runs of pixels with a gap on the axis (column 10)
    assert top[10] == 0 and top[:10].any() and top[11:].any()
    assert np.flatnonzero(bottom).tolist() == [10]  # the tip, on the axis
    np.testing.assert_array_equal(block, block[:, ::-1])  # mirror symmetric
    # a quarter turn (orientation index 10) rotates it counter-clockwise as displayed
    turned = image(HEART, 5, 10, 0, 0)
    np.testing.assert_array_equal(turned[:21, :21], np.rot90(block))
    assert turned.sum() == heart.sum()
    tip = rows.max() - 10  # tip distance, in pixels
    assert turned[10, 10 + tip] == 1 and not turned[:, 11 + tip :].any()  # tip points right
    left = turned[:, rows.min()]  # the lobes now on the left
    assert left[10] == 0 and left[:10].any() and left[11:].any()
    assert not turned[:, : rows.min()].any()
    # half a turn: upside down
    np.testing.assert_array_equal(image(HEART, 5, 20, 0, 0)[:21, :21], block[::-1, ::-1])


def test_heart_lies_within_the_unit_circle():
    g = np.linspace(-1.2, 1.2, 2401)
    u, v = np.meshgrid(g, g)
    x, y = _HEART_SCALE * u, _HEART_SCALE * v + _HEART_SHIFT
    inside = (x * x + y * y - 1) ** 3 - x * x * y**3 <= 0
    radius = np.hypot(u[inside], v[inside])
    assert 0.95 < radius.max() <= 1.0
    assert v[inside].max() > 0.7 and v[inside].min() < -0.95  # lobes up, tip down


def test_sprites_at_the_edges_are_not_cut():
    # largest scale, every shape and orientation, at the four extreme positions: the pixel
    # count equals that at the centre of the image up to pixel-grid effects, i.e. none is cut
    corners = [(0, 0), (0, 31), (31, 0), (31, 31)]
    index = np.ravel_multi_index(
        np.meshgrid([0, 1, 2], [5], np.arange(40), [0, 31], [0, 31], indexing="ij"), GRID_SHAPE
    ).ravel()
    images = _render(index).reshape(3, 40, 2, 2, 64, 64)
    counts = images.sum(axis=(-1, -2))
    # at the corners, the centre lies on a pixel, so the four corners have equal counts
    for i, j in corners[1:]:
        np.testing.assert_array_equal(counts[:, :, i // 31, j // 31], counts[:, :, 0, 0])
    # and a shape at (0, 0) reaches into column 0 only by its extreme points
    assert images[:, :, 0, 0, :, 0].sum(axis=-1).max() <= 1


# --- symmetries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0, 3, 5])
@pytest.mark.parametrize("position", [(0, 0), (7, 20), (15, 15)])
def test_rotation_symmetries(scale, position):
    for o in (0, 3, 7):
        # the square is 4-fold symmetric, the ellipse 2-fold, the heart not at all
        np.testing.assert_array_equal(
            image(SQUARE, scale, o, *position), image(SQUARE, scale, o + 10, *position)
        )
        np.testing.assert_array_equal(
            image(ELLIPSE, scale, o, *position), image(ELLIPSE, scale, o + 20, *position)
        )
        assert (
            image(ELLIPSE, scale, o, *position) != image(ELLIPSE, scale, o + 10, *position)
        ).any()
        assert (image(HEART, scale, o, *position) != image(HEART, scale, o + 20, *position)).any()
        assert (image(HEART, scale, o, *position) != image(HEART, scale, o + 10, *position)).any()


def test_pixel_count_grows_with_scale_and_matches_area():
    for shape, area in [(SQUARE, 2.0), (ELLIPSE, np.pi / 2), (HEART, None)]:
        counts = np.array(
            [[image(shape, s, o, 15, 15).sum() for s in range(6)] for o in (0, 4, 13)]
        )
        assert (np.diff(counts, axis=1) > 0).all()
        if area is not None:  # unit-frame area times (10 scale)^2 pixels, up to pixel effects
            expected = np.broadcast_to(area * (10 * SCALES) ** 2, counts.shape)
            np.testing.assert_allclose(counts, expected, rtol=0.15)
    # every image has some pixels, all 0/1
    _, factors = make_sprites(300, random_state=5)
    images = SpriteImages(factors["grid_index"].to_numpy())[:]
    assert set(np.unique(images)) == {0, 1} and (images.sum(axis=(1, 2)) >= 20).all()


# --- lazy and eager -----------------------------------------------------------------------------


def test_lazy_equals_eager():
    images, factors = make_sprites(3000, random_state=7)  # more than one render chunk
    grid_index = factors["grid_index"].to_numpy()
    lazy = SpriteImages()
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 3000, size=300)  # unsorted, with repeats
    assert len(np.unique(rows)) < len(rows)
    np.testing.assert_array_equal(lazy[grid_index[rows]], images[rows])
    np.testing.assert_array_equal(lazy[list(grid_index[rows[:5]])], images[rows[:5]])
    np.testing.assert_array_equal(lazy[int(grid_index[rows[0]])], images[rows[0]])
    subset = SpriteImages(grid_index)
    assert subset.shape == (3000, 64, 64)
    np.testing.assert_array_equal(subset[:], images)
    np.testing.assert_array_equal(np.asarray(subset), images)
    np.testing.assert_array_equal(subset[rows], images[rows])
    np.testing.assert_array_equal(subset[2990:], images[2990:])
    np.testing.assert_array_equal(subset[::-700], images[::-700])
    np.testing.assert_array_equal(subset[-1], images[-1])
    mask = np.zeros(3000, bool)
    mask[[4, 10, 2999]] = True
    np.testing.assert_array_equal(subset[mask], images[mask])
    assert subset[[]].shape == (0, 64, 64)
    assert np.asarray(subset[:4], dtype=np.float32).dtype == np.float32


def test_full_grid_slices_are_in_grid_order(full):
    images, factors = full
    block = images[1000:1100]
    np.testing.assert_array_equal(block, _render(np.arange(1000, 1100)))
    np.testing.assert_array_equal(images[-1], _render([N - 1])[0])
    assert images[N - 1].sum() > 0
    with pytest.raises(IndexError):
        images[N]
    with pytest.raises(IndexError):
        images[[0, N]]
    with pytest.raises(IndexError):
        images[np.array([0.5])]
    with pytest.raises(IndexError):
        images[np.ones(3, bool)]
    with pytest.raises(TypeError, match="tuple"):
        images[0, 1]
    np.testing.assert_array_equal(images[[7, 3], ...], images[[7, 3]])  # as sklearn indexes


def test_reproducible_random_subsets():
    a_images, a = make_sprites(100, random_state=0)
    b_images, b = make_sprites(100, random_state=0)
    c_images, c = make_sprites(100, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_array_equal(a_images, b_images)
    assert not np.array_equal(a["grid_index"], c["grid_index"])
    _, d = make_sprites(100, random_state=np.random.default_rng(0))
    _, e = make_sprites(100, random_state=np.random.RandomState(0))
    assert d["grid_index"].is_unique and e["grid_index"].is_unique


def test_pickles_small_and_works():
    images = SpriteImages(np.arange(0, N, 2000))
    blob = pickle.dumps(images)
    assert len(blob) < 10_000
    restored = pickle.loads(blob)
    assert restored.shape == images.shape == (369, 64, 64)
    np.testing.assert_array_equal(restored[[3, 1, 3]], images[[3, 1, 3]])
    full = pickle.loads(pickle.dumps(SpriteImages()))
    assert len(pickle.dumps(SpriteImages())) < 200 and full.shape == (N, 64, 64)
    assert "737280" in repr(full)


def test_grid_index_is_copied_and_validated():
    index = np.array([5, 1, 5])
    images = SpriteImages(index)
    index[0] = 0
    np.testing.assert_array_equal(images.grid_index, [5, 1, 5])
    with pytest.raises(ValueError, match="grid_index"):
        SpriteImages([0, N])
    with pytest.raises(ValueError, match="grid_index"):
        SpriteImages([-1])
    with pytest.raises(TypeError, match="grid_index"):
        SpriteImages([0.5])
    with pytest.raises(TypeError, match="grid_index"):
        SpriteImages([True, False])
    with pytest.raises(ValueError, match="grid_index"):
        SpriteImages([[0, 1]])


def test_fits_a_pretrainer_lazily():
    import contrastlearn as cl

    images = SpriteImages(np.arange(0, N, 4000))
    model = cl.CLR(
        backbone="small_cnn", max_epochs=1, batch_size=64, random_state=0, device="cpu"
    ).fit(images)
    embedding = model.transform(images)
    assert embedding.shape[0] == len(images) and np.isfinite(embedding).all()


# --- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n_samples, error",
    [
        (0, ValueError),
        (-1, ValueError),
        (1.5, TypeError),
        (True, TypeError),
        (737281, ValueError),
        ("10", TypeError),
    ],
)
def test_bad_n_samples(n_samples, error):
    with pytest.raises(error, match="n_samples") as raised:
        make_sprites(n_samples)
    assert raised.type is InvalidParameterError
    assert str(raised.value).startswith("The 'n_samples' parameter of make_sprites must be ")


@pytest.mark.parametrize(
    "random_state, error",
    [
        ("seed", TypeError),
        (True, TypeError),
        (-1, ValueError),
        (2**32, ValueError),
        (1.5, TypeError),
    ],
)
def test_bad_random_state(random_state, error):
    with pytest.raises(error, match="random_state") as raised:
        make_sprites(10, random_state=random_state)
    assert raised.type is InvalidParameterError
    assert str(raised.value).startswith("The 'random_state' parameter of make_sprites must be ")
