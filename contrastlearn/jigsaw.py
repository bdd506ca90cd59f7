"""The jigsaw pretext: put the shuffled, rotated tiles of an image back (:class:`Jigsaw`)."""

import functools
import itertools
import math
import numbers

import numpy as np
import torch
from torch import nn

from ._base import BasePretrainer
from ._docs import PARAMETERS_DOC
from ._validation import BOOL, NONNEGATIVE, ints
from .losses import jigsaw_loss
from .validation import Interval, Options, validate_params

__all__ = ["Jigsaw", "permutation_set"]


@functools.lru_cache(maxsize=8)
def _permutations(n_tiles, n_permutations):
    every = np.array(list(itertools.permutations(range(n_tiles))), dtype=np.int64)
    chosen = [0]  # the identity: the image as it is
    closest = (every != every[0]).sum(1)
    for _ in range(n_permutations - 1):
        index = int(closest.argmax())
        chosen.append(index)
        closest = np.minimum(closest, (every != every[index]).sum(1))
    return every[chosen]


@validate_params(
    {"n_tiles": Interval(numbers.Integral, 2, 9, closed="both"), "n_permutations": ints(1)}
)
def permutation_set(n_tiles, n_permutations):
    """A fixed set of tile orders far apart from each other (Noroozi & Favaro's greedy choice).

    Starting from the identity, each next permutation is the one whose
    smallest Hamming distance to those already chosen is largest (the first
    such in lexicographic order), so the set is the same on every call and
    its members differ in as many positions as the greedy choice allows.

    Parameters
    ----------
    n_tiles : int
        Tiles of the puzzle, 2 to 9 (a 2x2 or 3x3 grid: 4 or 9).
    n_permutations : int
        At most ``n_tiles!``.

    Returns
    -------
    ndarray of shape (n_permutations, n_tiles)
        Row ``k`` lists, for each slot of the puzzled image, the tile put there.

    Examples
    --------
    >>> from contrastlearn.jigsaw import permutation_set
    >>> permutation_set(4, 3)
    array([[0, 1, 2, 3],
           [1, 0, 3, 2],
           [2, 3, 0, 1]])
    """
    if n_permutations > math.factorial(n_tiles):
        raise ValueError(
            f"n_permutations={n_permutations} exceeds the {math.factorial(n_tiles)} orders of "
            f"{n_tiles} tiles."
        )
    return _permutations(n_tiles, n_permutations).copy()


class _PuzzleHead(nn.Module):
    """Tile features -> (a transformer over the slots) -> permutation, positions, rotations."""

    def __init__(self, dim, n_tiles, n_permutations, depth, rotations):
        super().__init__()
        self.slots = nn.Parameter(torch.zeros(1, n_tiles, dim))
        nn.init.trunc_normal_(self.slots, std=0.02)
        layer = nn.TransformerEncoderLayer(
            dim, nhead=_heads(dim), dim_feedforward=2 * dim, batch_first=True, dropout=0.0
        )
        self.context = (
            nn.TransformerEncoder(layer, depth, enable_nested_tensor=False) if depth else None
        )
        self.permutation = nn.Linear(n_tiles * dim, n_permutations)
        self.position = nn.Linear(dim, n_tiles)
        self.rotation = nn.Linear(dim, 4) if rotations else None

    def forward(self, tiles):
        """``(B, n_tiles, D)`` features in slot order -> logits of each kind."""
        tokens = tiles + self.slots
        if self.context is not None:
            tokens = self.context(tokens)
        rotation = self.rotation(tokens) if self.rotation is not None else None
        return self.permutation(tokens.flatten(1)), self.position(tokens), rotation


def _heads(dim):
    return next(h for h in (8, 4, 2, 1) if dim % h == 0)


class Jigsaw(BasePretrainer):
    __doc__ = (
        """The jigsaw pretext: recover how an image's tiles were shuffled (and rotated).

    Every image is augmented once and cut into a ``grid`` x ``grid`` array of
    tiles. The tiles are put in the slots in the order of one of
    ``n_permutations`` fixed permutations (:func:`permutation_set`, chosen
    far apart in Hamming distance; the first is the identity) and, with
    ``rotate_tiles``, each turned by a random multiple of 90 degrees. The
    backbone encodes every tile; a small transformer encoder
    (``transformer_depth`` layers, 0 for none) lets the tile features of a
    puzzle see each other, with a learned embedding per slot; heads then
    predict which permutation was applied (cross-entropy), each tile's
    rotation (cross-entropy, with ``rotate_tiles``) and, per slot, the
    original position of the tile in it. The unshuffled input passes too:
    its position predictions are anchored to the true positions by a
    cross-entropy, and the puzzled input's, put back in the tiles' original
    order, are pulled towards them (a KL divergence from the detached
    normal predictions); both terms are weighted by ``kl_weight``. A tile's
    position must then be read from its content, not from the slot it was
    put in. ``transform`` returns the backbone's embedding of the whole
    image.

    This follows the description of the cryo-ET study's SpatialOrg pretext
    (tiles shuffled and optionally rotated, cross-entropy on the permutation
    plus a KL term between the predictions for the normal and the puzzled
    input, a transformer over tile features); its code was not available
    here, so the KL term (:func:`~contrastlearn.losses.jigsaw_loss`) is our
    reading of that description.

    Parameters
    ----------
    grid : {2, 3}, default=3
        Tiles per side.
    n_permutations : int or None, default=None
        Size of the permutation set: at most 24 for ``grid=2``; None takes
        all 24 for ``grid=2`` and 100 for ``grid=3``.
    rotate_tiles : bool, default=False
        Also turn each tile by 0, 90, 180 or 270 degrees and predict it
        (square tiles only).
    transformer_depth : int, default=1
        Transformer encoder layers over the tile features (0: the heads see
        each tile's feature alone, concatenated for the permutation).
    kl_weight : float, default=1.0
        Weight of the position terms, the anchor and the KL (0: the
        permutation's cross-entropy only, as in Noroozi & Favaro, and the
        unshuffled tiles are not encoded).
    """
        + PARAMETERS_DOC.replace("{projection_dims}", "(256, 128)")
        + """

    Notes
    -----
    Noroozi and Favaro (2016) used 3x3 tiles of 64 px from 225-px crops
    (random 64-px crops inside 75-px cells, so tile borders do not give the
    order away), 1000 permutations, a shared AlexNet per tile and a
    concatenation into fully connected layers, SGD, 350k steps. Here the
    tiles are the grid cells of the augmented image, without gaps (the
    augmentation's crops and blur blunt the border cue), the backbone is the
    estimator's (``small_cnn`` by default on the CPU), and no projection
    head is used (``projection_dims`` is not used).

    See Also
    --------
    MAE : Reconstruct hidden patches instead of their order.

    References
    ----------
    Noroozi and Favaro, "Unsupervised Learning of Visual Representations by
    Solving Jigsaw Puzzles", ECCV 2016, arXiv:1603.09246.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> import contrastlearn as cl
    >>> X = np.kron(load_digits().images[:128], np.ones((3, 3)))  # 24x24: 3x3 tiles of 8 px
    >>> jigsaw = cl.Jigsaw(n_permutations=10, max_epochs=1, batch_size=64, random_state=0)
    >>> jigsaw.fit_transform(X).shape
    (128, 256)
    """
    )

    _method_params = {
        "grid": 3,
        "n_permutations": None,
        "rotate_tiles": False,
        "transformer_depth": 1,
        "kl_weight": 1.0,
    }
    _parameter_constraints = {
        **BasePretrainer._parameter_constraints,
        "grid": Options([2, 3]),
        "n_permutations": [None, ints(1)],
        "rotate_tiles": BOOL,
        "transformer_depth": ints(0),
        "kl_weight": NONNEGATIVE,
    }

    def _make_head(self, in_features):
        return nn.Identity()

    def _make_module(self, X):
        if len(X.shape) != 4:
            raise ValueError(
                "Jigsaw cuts images into tiles; pass image_shape=(H, W) for flat input."
            )
        side = min(X.shape[-2:]) // self.grid
        if side < 2:
            raise ValueError(
                f"images of {X.shape[-2]}x{X.shape[-1]} px are too small for {self.grid}x"
                f"{self.grid} tiles of at least 2 px."
            )
        n_tiles = self.grid**2
        n_permutations = self.n_permutations or min(100, math.factorial(n_tiles))
        permutations = permutation_set(n_tiles, n_permutations)
        module = super()._make_module(X)
        module.register_buffer("permutations", torch.from_numpy(permutations))
        module.puzzle = _PuzzleHead(
            self._n_features_out,
            n_tiles,
            n_permutations,
            self.transformer_depth,
            self.rotate_tiles,
        )
        return module

    def _tiles(self, images):
        """``(B, C, H, W)`` -> ``(B, n_tiles, C, s, s)``, row-major, the image cut to the grid."""
        b, c = images.shape[:2]
        g = self.grid
        s = min(images.shape[-2:]) // g
        images = images[..., : g * s, : g * s]
        tiles = images.reshape(b, c, g, s, g, s).permute(0, 2, 4, 1, 3, 5)
        return tiles.reshape(b, g * g, c, s, s)

    def _training_loss(self, module, x, partner):
        tiles = self._tiles(module.represent(self.augment_(x)))  # (B, n, C, s, s)
        b, n = tiles.shape[:2]
        device = tiles.device
        labels = torch.randint(len(module.permutations), (b,), device=device)
        order = module.permutations[labels]  # slot -> tile
        puzzled = torch.gather(tiles, 1, order.view(b, n, 1, 1, 1).expand_as(tiles))
        rotations = None
        if self.rotate_tiles:
            rotations = torch.randint(4, (b, n), device=device)
            turned = torch.stack([torch.rot90(puzzled, k, dims=(-2, -1)) for k in range(4)])
            index = rotations.view(1, b, n, 1, 1, 1).expand(1, *puzzled.shape)
            puzzled = torch.gather(turned, 0, index)[0]
        both = self.kl_weight > 0  # the unshuffled tiles too, for the KL term
        batch = torch.cat([tiles, puzzled]) if both else puzzled
        features = module.backbone(batch.flatten(0, 1)).view(len(batch), n, -1)
        permutation_logits, position_logits, rotation_logits = module.puzzle(features)
        first = b if both else 0  # where the puzzled inputs start
        return jigsaw_loss(
            permutation_logits[first:],
            labels,
            position_logits[b:] if both else None,
            position_logits[:b] if both else None,
            order,
            rotation_logits[first:] if rotations is not None else None,
            rotations,
            self.kl_weight,
        )
