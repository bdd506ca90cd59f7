"""Procedural dSprites: 64 x 64 binary sprites on an exact grid of five latent factors."""

import math
import numbers

import numpy as np
import pandas as pd

from .._validation import ints
from ..validation import validate_params
from ._cxi import image_index
from ._diffraction import RANDOM_STATE_OR_GENERATOR, _as_rng

__all__ = ["SpriteImages", "make_sprites"]

#: Shape names, in the order of ``shape_index``.
SHAPES = ("square", "ellipse", "heart")
#: Scale values (sprite size relative to the largest).
SCALES = np.linspace(0.5, 1.0, 6)
#: Orientations in radians, counter-clockwise as displayed (row 0 at the top), in [0, 2 pi).
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
#: Positions of the sprite centre along x (columns) and y (rows), as a fraction of the range.
POSITIONS = np.linspace(0.0, 1.0, 32)
#: Grid size along (shape, scale, orientation, position_x, position_y); the last varies fastest.
GRID_SHAPE = (len(SHAPES), len(SCALES), len(ORIENTATIONS), len(POSITIONS), len(POSITIONS))
#: Number of grid points (images) in the full grid.
N_GRID = math.prod(GRID_SHAPE)
#: Side of the square images in pixels.
IMAGE_SIZE = 64
#: Radius of a sprite at scale 1, in pixels; every shape lies within it at every orientation.
SIZE = 10.0
#: Distance of the extreme centre positions from the image border (pixel centres 0 and 63).
MARGIN = SIZE

#: Columns of the ``factors`` table, in order.
FACTOR_NAMES = ["shape", "scale", "orientation", "position_x", "position_y"]
FACTOR_COLUMNS = FACTOR_NAMES + [f"{name}_index" for name in FACTOR_NAMES] + ["grid_index"]

_CHUNK = 2048  # images rendered per vectorised batch
_SQUARE_HALF_SIDE = 1 / np.sqrt(2)  # square of circumradius 1 in the unit frame
_ELLIPSE_AXES = (1.0, 0.5)  # semi-axes along u and v in the unit frame
_HEART_SCALE = 1.3  # (X, Y) = 1.3 (u, v) + (0, _HEART_SHIFT) for the classical heart
_HEART_SHIFT = 0.25  # centres the heart: its farthest points are 1.25 / 1.3 from (0, 0)


def _rotation_table():
    """cos and sin of ORIENTATIONS with exact quarter-turn symmetry.

    Only the first quadrant is evaluated; the others follow by the exact maps
    ``(cos, sin) -> (-sin, cos)``, so a sprite rotated by a multiple of pi / 2
    is rendered bit-for-bit like the rotated sprite (e.g. a square at theta and
    at theta + pi / 2 give identical images).
    """
    quarter = len(ORIENTATIONS) // 4
    c, s = np.cos(ORIENTATIONS[:quarter]), np.sin(ORIENTATIONS[:quarter])
    return np.concatenate([c, -s, -c, s]), np.concatenate([s, c, -s, -c])


_COS, _SIN = _rotation_table()


@validate_params(
    {
        # At most the grid: the points are drawn without replacement.
        "n_samples": [None, ints(1, N_GRID)],
        "random_state": RANDOM_STATE_OR_GENERATOR,
    }
)
def make_sprites(n_samples=None, *, random_state=None):
    """Procedurally rendered dSprites: binary sprites on an exact factor grid.

    A re-implementation of the dSprites data set [1]_ from its definition, not
    a copy of its file: every combination of five independent latent factors,

    =========== ======================================== =====
    factor      values                                   count
    =========== ======================================== =====
    shape       ``"square"``, ``"ellipse"``, ``"heart"`` 3
    scale       0.5, 0.6, ..., 1.0                       6
    orientation 0, 2 pi / 40, ..., 2 pi 39 / 40 (rad)    40
    position_x  0, 1 / 31, ..., 1                        32
    position_y  0, 1 / 31, ..., 1                        32
    =========== ======================================== =====

    gives one 64 x 64 image, 737,280 in all, in grid order (position_y varies
    fastest, then position_x, orientation, scale, shape, as in the original
    file). Useful to test whether learned representations disentangle or
    recover known generative factors.

    **Rendering.** Pixel ``(row, col)`` is 1 if its centre ``(x, y) = (col,
    row)`` lies in the sprite, else 0. The sprite centre is ``cx = 10 +
    position_x * 43``, ``cy = 10 + position_y * 43`` pixels. A pixel is mapped
    to the sprite's unit frame by ``(dx, dy) = (x - cx, cy - y)`` (y up, so
    orientations turn counter-clockwise as displayed), a rotation by
    ``-orientation`` and a division by ``10 * scale``. In that frame every
    shape lies within the unit circle (so nothing leaves the image):

    - square: ``|u| <= 1 / sqrt(2)`` and ``|v| <= 1 / sqrt(2)``;
    - ellipse: ``u^2 + (v / 0.5)^2 <= 1`` (long axis along x at orientation 0);
    - heart: ``(X^2 + Y^2 - 1)^3 - X^2 Y^3 <= 0`` with ``X = 1.3 u``,
      ``Y = 1.3 v + 0.25`` (lobes up, tip down at orientation 0; its farthest
      point is at radius 1.25 / 1.3 ~ 0.96).

    Rendering is exact and deterministic: the same grid point gives the same
    image whichever way it is requested.

    Parameters
    ----------
    n_samples : int or None, default=None
        None for the full grid, lazily (see Returns). An int ``k`` (1 to
        737,280) for ``k`` distinct grid points drawn at random without
        replacement, in random order, rendered at once.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the draw of the grid points; unused when ``n_samples`` is None.

    Returns
    -------
    images : SpriteImages or ndarray of shape (n_samples, 64, 64), dtype uint8
        Binary images (0 or 1). With ``n_samples=None`` a :class:`SpriteImages`
        of all 737,280 grid points, rendered on indexing (about 3 GB if
        converted to one array); every contrastlearn pretrainer streams it
        batch by batch.
    factors : pandas.DataFrame
        One row per image (``RangeIndex`` aligned with ``images``). Columns:
        ``shape`` (categorical, categories ``["square", "ellipse", "heart"]``),
        ``scale``, ``orientation`` (radians), ``position_x``, ``position_y``
        (float64 grid values), the matching int64 grid indices
        ``shape_index``, ``scale_index``, ``orientation_index``,
        ``position_x_index``, ``position_y_index``, and ``grid_index`` (int64,
        ``np.ravel_multi_index`` of the five indices into ``GRID_SHAPE =
        (3, 6, 40, 32, 32)``).

    Raises
    ------
    TypeError
        If ``n_samples`` is not None or an int, or ``random_state`` is not a
        seed or random generator.
    ValueError
        If ``n_samples`` is < 1 or larger than the grid.

    See Also
    --------
    SpriteImages : the lazy image stack of any set of grid points.

    References
    ----------
    .. [1] L. Matthey, I. Higgins, D. Hassabis and A. Lerchner, "dSprites:
       Disentanglement testing Sprites dataset" (2017),
       https://github.com/deepmind/dsprites-dataset

    Examples
    --------
    >>> from contrastlearn.datasets import make_sprites
    >>> images, factors = make_sprites(5, random_state=0)
    >>> images.shape, images.dtype
    ((5, 64, 64), dtype('uint8'))
    >>> list(factors.columns[:5])
    ['shape', 'scale', 'orientation', 'position_x', 'position_y']
    >>> factors["grid_index"].is_unique
    True

    The full grid, rendered on demand:

    >>> images, factors = make_sprites()
    >>> images.shape, len(factors)
    ((737280, 64, 64), 737280)
    >>> factors.iloc[:1, :5]
        shape  scale  orientation  position_x  position_y
    0  square    0.5          0.0         0.0         0.0
    >>> square = images[0]       # centre (10, 10), half side 5 / sqrt(2) ~ 3.5
    >>> int(square.sum()), square[10, 6:15].tolist()     # a 7 x 7 block around (10, 10)
    (49, [0, 1, 1, 1, 1, 1, 1, 1, 0])
    """
    rng = _as_rng(random_state)
    if n_samples is None:
        return SpriteImages(), _factors(np.arange(N_GRID, dtype=np.int64))
    n_samples = int(n_samples)
    grid_index = np.asarray(rng.choice(N_GRID, size=n_samples, replace=False), dtype=np.int64)
    return _render(grid_index), _factors(grid_index)


class SpriteImages:
    """The dSprites images of a set of grid points, rendered on indexing.

    A lazy image stack of shape ``(n, 64, 64)`` and dtype uint8: indexing
    (an int, a slice, an integer array in any order with repeats, or a boolean
    mask) renders just those images and returns a new numpy array. It holds
    only the grid indices (nothing for the full grid), so it pickles to a few
    bytes and can be handed to worker processes. Every contrastlearn
    pretrainer accepts it in ``fit`` and ``transform`` and streams it batch by
    batch. See :func:`make_sprites` for the factors and the rendering.

    Parameters
    ----------
    grid_index : array-like of int or None, default=None
        Flat indices into the grid (``np.ravel_multi_index`` of the factor
        indices into ``GRID_SHAPE = (3, 6, 40, 32, 32)``), any order, repeats
        allowed. None for all 737,280 grid points in grid order.

    Attributes
    ----------
    grid_index : ndarray of int64 or None
        As given (a copy), None for the full grid.
    shape : tuple of int
        ``(n, 64, 64)``.
    dtype : numpy.dtype
        ``uint8``.
    ndim : int
        Always 3.
    size : int
        ``n * 64 * 64``.

    Notes
    -----
    ``np.asarray(images)`` renders every image at once; for the full grid that
    is about 3 GB (737,280 x 64 x 64 bytes). Index in batches instead.

    Examples
    --------
    >>> import numpy as np
    >>> from contrastlearn.datasets import SpriteImages
    >>> images = SpriteImages()
    >>> images
    SpriteImages(grid_index=None, shape=(737280, 64, 64), dtype=uint8)
    >>> images[[5, 0, 5]].shape, images[0].shape
    ((3, 64, 64), (64, 64))
    >>> subset = SpriteImages(np.arange(0, 737280, 1000))
    >>> len(subset), bool((subset[1] == images[1000]).all())
    (738, True)
    """

    dtype = np.dtype(np.uint8)
    ndim = 3

    def __init__(self, grid_index=None):
        if grid_index is not None:
            grid_index = _check_grid_index(grid_index)
        self.grid_index = grid_index

    @property
    def shape(self):
        return (len(self), IMAGE_SIZE, IMAGE_SIZE)

    @property
    def size(self):
        return len(self) * IMAGE_SIZE * IMAGE_SIZE

    def __len__(self):
        return N_GRID if self.grid_index is None else len(self.grid_index)

    def __getitem__(self, index):
        index = image_index(index, type(self).__name__)
        n = len(self)
        if isinstance(index, (bool, np.bool_)):
            raise IndexError(
                "SpriteImages takes an int, a slice, an integer array or a "
                f"boolean mask of length {n}; got {index!r}."
            )
        if isinstance(index, numbers.Integral):
            position = int(index)
            if not -n <= position < n:
                raise IndexError(f"index {position} is out of range for {n} images.")
            return self._render_positions(np.array([position % n]))[0]
        if isinstance(index, slice):
            positions = range(n)[index]
            return self._render_positions(
                np.arange(positions.start, positions.stop, positions.step, dtype=np.int64)
            )
        if index is Ellipsis:
            return self[:]
        positions = np.asarray(index)
        if positions.dtype == bool:
            if positions.shape != (n,):
                raise IndexError(f"a boolean mask must have shape ({n},); got {positions.shape}.")
            return self._render_positions(np.flatnonzero(positions))
        if positions.size == 0:
            positions = positions.astype(np.int64)
        if positions.dtype.kind not in "iu":
            raise IndexError(
                "SpriteImages takes an int, a slice, an integer array or a "
                f"boolean mask; got an array of dtype {positions.dtype}."
            )
        positions = positions.astype(np.int64)
        if positions.size and not (-n <= positions.min() and positions.max() < n):
            raise IndexError(
                f"indices must be in [-{n}, {n}) for {n} images; got "
                f"[{positions.min()}, {positions.max()}]."
            )
        images = self._render_positions(positions.ravel() % n if n else positions.ravel())
        return images.reshape(*positions.shape, IMAGE_SIZE, IMAGE_SIZE)

    def _render_positions(self, positions):
        """Render the images at these non-negative positions of the stack."""
        grid_index = positions if self.grid_index is None else self.grid_index[positions]
        return _render(grid_index)

    def __array__(self, dtype=None, copy=None):
        images = self[:]
        return images if dtype is None else images.astype(dtype, copy=False)

    def __repr__(self):
        grid = "None" if self.grid_index is None else f"<{len(self)} indices>"
        return f"SpriteImages(grid_index={grid}, shape={self.shape}, dtype={self.dtype})"


def _check_grid_index(grid_index):
    values = np.asarray(grid_index)
    if values.ndim != 1:
        raise ValueError(
            f"grid_index must be None or a 1-D array of ints; got shape {values.shape}."
        )
    if values.size == 0:
        return values.astype(np.int64)
    if values.dtype.kind not in "iu":
        raise TypeError(f"grid_index must hold ints; got dtype {values.dtype}.")
    if values.min() < 0 or values.max() >= N_GRID:
        raise ValueError(
            f"grid_index must be in [0, {N_GRID}); got values in [{values.min()}, {values.max()}]."
        )
    return values.astype(np.int64)  # always a copy


def _factors(grid_index):
    """The factors table (see :func:`make_sprites`) of int64 flat grid indices."""
    indices = [i.astype(np.int64, copy=False) for i in np.unravel_index(grid_index, GRID_SHAPE)]
    values = [SCALES, ORIENTATIONS, POSITIONS, POSITIONS]
    table = {"shape": pd.Categorical.from_codes(indices[0], categories=list(SHAPES), ordered=False)}
    for name, grid, index in zip(FACTOR_NAMES[1:], values, indices[1:]):
        table[name] = grid[index]
    for name, index in zip(FACTOR_NAMES, indices):
        table[f"{name}_index"] = index
    table["grid_index"] = np.asarray(grid_index, dtype=np.int64)
    return pd.DataFrame(table, columns=FACTOR_COLUMNS)


def _render(grid_index):
    """Binary images ``(n, 64, 64)`` uint8 of int64 flat grid indices, in chunks."""
    grid_index = np.asarray(grid_index, dtype=np.int64)
    images = np.empty((len(grid_index), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for start in range(0, len(grid_index), _CHUNK):
        stop = start + _CHUNK
        images[start:stop] = _render_chunk(grid_index[start:stop])
    return images


def _render_chunk(grid_index):
    """Render one batch (float64, vectorised over images; no loop per image).

    In pixel units, ``u = c dx + s dy`` and ``v = -s dx + c dy`` with ``(c, s)
    = (cos, sin)(orientation)``; both are outer sums of per-image row and
    column terms, so each costs one addition per pixel. The square and the
    ellipse are tested in pixel units against the radius ``R = SIZE * scale``
    (``|u|, |v| <= R / sqrt(2)``; ``u^2 + (2 v)^2 <= R^2``), so axis-aligned
    sprites with a centre on a pixel are rendered exactly (integer
    arithmetic); the heart is tested in its (X, Y) frame. Only +, -, * and
    comparisons touch the pixels, so every image is rendered identically
    whatever batch it is in.
    """
    shape, scale, orientation, px, py = np.unravel_index(grid_index, GRID_SHAPE)
    span = IMAGE_SIZE - 1 - 2 * MARGIN
    cx = MARGIN + POSITIONS[px] * span
    cy = MARGIN + POSITIONS[py] * span
    radius = SIZE * SCALES[scale]
    c, s = _COS[orientation], _SIN[orientation]
    pixels = np.arange(IMAGE_SIZE, dtype=np.float64)
    dx = pixels[None, :] - cx[:, None]  # (n, 64), along columns
    dy = cy[:, None] - pixels[None, :]  # (n, 64), along rows, pointing up
    out = np.zeros((len(grid_index), IMAGE_SIZE, IMAGE_SIZE), dtype=bool)
    for k, name in enumerate(SHAPES):
        rows = np.flatnonzero(shape == k)
        if rows.size == 0:
            continue
        ck, sk, dxk, dyk = c[rows, None], s[rows, None], dx[rows], dy[rows]
        rk = radius[rows, None, None]

        def frame(factor_u, factor_v, shift_v=0.0):
            """(factor_u u, factor_v v + shift_v) of every pixel, each (r, 64, 64)."""
            u = (factor_u * ck * dxk)[:, None, :] + (factor_u * sk * dyk)[:, :, None]
            v = ((-factor_v * sk) * dxk)[:, None, :] + (factor_v * ck * dyk + shift_v)[:, :, None]
            return u, v

        if name == "square":
            u, v = frame(1.0, 1.0)
            np.abs(u, out=u)
            np.abs(v, out=v)
            half_side = rk * _SQUARE_HALF_SIDE
            inside = (u <= half_side) & (v <= half_side)
        elif name == "ellipse":
            u, v = frame(1.0 / _ELLIPSE_AXES[0], 1.0 / _ELLIPSE_AXES[1])
            u *= u
            v *= v
            u += v
            inside = u <= rk * rk
        else:  # heart
            factor = _HEART_SCALE / radius[rows, None]
            x, y = frame(factor, factor, _HEART_SHIFT)
            x *= x  # X^2
            t = y * y
            t += x
            t -= 1.0  # X^2 + Y^2 - 1
            y *= y * y  # Y^3
            y *= x  # X^2 Y^3
            x = t * t
            x *= t  # (X^2 + Y^2 - 1)^3
            inside = x <= y
        out[rows] = inside
    return out.view(np.uint8)
