"""Latent-neighbour positive pairs: the lookup, and pretrainers trained on them."""

import itertools
import warnings

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.model_selection import GridSearchCV

import contrastlearn as cl
from contrastlearn._validation import InvalidParameterError
from contrastlearn.pairing import LatentNeighbors

SIZES = {"shape": 3, "scale": 6, "orientation": 8, "position": 5}


def grid_table(rows=None):
    """A factor table over the full grid of SIZES (or some of its rows), values not indices."""
    table = pd.DataFrame(
        list(itertools.product(*(range(n) for n in SIZES.values()))), columns=list(SIZES)
    )
    table["shape"] = pd.Categorical(np.array(["square", "ellipse", "heart"])[table["shape"]])
    table["scale"] = 0.5 + 0.1 * table["scale"]
    table["orientation"] = table["orientation"] * 2 * np.pi / SIZES["orientation"]
    return table if rows is None else table.iloc[rows].reset_index(drop=True)


def grid_positions(table):
    return np.stack([pd.factorize(table[c], sort=True)[0] for c in SIZES], axis=1)


STEPS = {"shape": 0, "scale": 1, "orientation": 2, "position": 1}


def test_partners_differ_by_at_most_the_step_and_cover_every_offset():
    table = grid_table()
    pairs = LatentNeighbors(step=STEPS, periodic=["orientation"]).fit(table)
    rng = np.random.default_rng(0)
    rows = np.repeat(np.arange(len(table)), 20)
    partners = pairs.sample(rows, rng.random(len(rows)))
    delta = grid_positions(table)[partners] - grid_positions(table)[rows]
    delta[:, 2] = (delta[:, 2] + 4) % 8 - 4  # orientation wraps: 7 -> 0 is one step
    assert (np.abs(delta) <= list(STEPS.values())).all()
    assert (np.abs(delta).sum(axis=1) > 0).all()  # another image, never the anchor itself
    assert (table["shape"][partners].values == table["shape"][rows].values).all()
    assert (delta[:, 2] == 2).any() and (delta[:, 2] == -2).any()
    # an inner anchor reaches all 3 * 5 * 3 - 1 = 44 neighbouring cells, each about equally often
    inner = pairs.sample(np.full(44_000, 102), rng.random(44_000))  # scale 2, orient. 4, pos. 2
    counts = np.unique(inner, return_counts=True)[1]
    assert len(counts) == 44 and counts.min() > 800 and counts.max() < 1200


def test_orientation_wraps_around_only_when_periodic():
    table = grid_table()
    anchor = np.flatnonzero((table["orientation"] == 0).values)[:1]
    for periodic, expected in ((["orientation"], True), ([], False)):
        pairs = LatentNeighbors(step={"shape": 0, "orientation": 1}, periodic=periodic).fit(table)
        partners = pairs.sample(np.repeat(anchor, 200), np.linspace(0, 1, 200, endpoint=False))
        last = table["orientation"].max()
        assert (table["orientation"][partners] == last).any() == expected


def test_neighbour_counts_match_a_brute_force_search():
    rows = np.random.default_rng(1).choice(720, 150, replace=False)
    table = grid_table(rows)
    pairs = LatentNeighbors(step=STEPS, periodic=["orientation"]).fit(table)
    p = grid_positions(grid_table())[rows]  # positions on the full grid, as the step means
    d = np.abs(p[:, None] - p[None])
    d[..., 2] = np.minimum(d[..., 2], 8 - d[..., 2])
    # ranks of a subset equal full-grid indices only where every value occurs; check that here
    assert all(table[c].nunique() == n for c, n in SIZES.items())
    within = (d <= list(STEPS.values())).all(axis=2) & (d.sum(axis=2) > 0)
    np.testing.assert_array_equal(pairs.count_neighbors(), within.sum(axis=1))


def test_duplicate_latents_are_not_each_others_neighbours():
    table = pd.DataFrame({"a": [0, 0, 1, 5]})
    pairs = LatentNeighbors().fit(table)
    # ranks: 0, 0, 1, 2 -> rows 0 and 1 both neighbour row 2, never each other
    np.testing.assert_array_equal(pairs.count_neighbors(), [1, 1, 3, 1])
    assert set(pairs.sample([2] * 300, np.linspace(0, 1, 300, endpoint=False))) == {0, 1, 3}


@pytest.mark.parametrize(
    "pairing, latents, message",
    [
        (LatentNeighbors(), None, "needs the latent factors"),
        (LatentNeighbors(), pd.DataFrame({"a": range(10)}), "latents has 10 rows but X has 64"),
        (LatentNeighbors(step={"size": 1}), pd.DataFrame({"a": range(64)}), "'size'.*not a column"),
        (LatentNeighbors(step=-1), pd.DataFrame({"a": range(64)}), "'step' parameter"),
        (LatentNeighbors(step={"a": 0}), pd.DataFrame({"a": range(64)}), "at least one factor"),
        (LatentNeighbors(step=8), pd.DataFrame(np.zeros((64, 6))), "neighbouring grid cells"),
        (LatentNeighbors(), pd.DataFrame({"a": [1.0] * 63 + [np.nan]}), "missing values"),
        (
            LatentNeighbors(periodic="a"),
            pd.DataFrame({"a": range(64)}),
            "must be a list of factor names. Got .a.",
        ),
        (LatentNeighbors(), np.zeros(64), "must be 2-D"),
    ],
)
def test_bad_pairing_input_is_explained(pairing, latents, message):
    X = np.random.default_rng(0).random((64, 8, 8), dtype=np.float32)
    with pytest.raises(ValueError, match=message):
        cl.CLR(pairing=pairing, max_epochs=1, batch_size=32).fit(X, latents=latents)


def test_pairing_parameter_is_validated():
    with pytest.raises(InvalidParameterError, match="'pairing' parameter of CLR"):
        cl.CLR(pairing="latent").fit(np.zeros((8, 8, 8)))


class RecordingCLR(cl.CLR):
    """CLR that keeps the raw batches and partners it trained on."""

    def _pair_loss(self, module, x, partner=None):
        self.seen_.append((x.clone(), None if partner is None else partner.clone()))
        return super()._pair_loss(module, x, partner)


@pytest.fixture
def labelled_grid():
    """Images 8x8 whose every pixel holds the image's row number, with their factor table."""
    rows = np.random.default_rng(2).choice(720, 240, replace=False)
    X = np.repeat(np.arange(240, dtype=np.float32), 64).reshape(240, 8, 8)
    return X, grid_table(rows)


def test_pretrainer_trains_on_latent_neighbours(labelled_grid):
    X, table = labelled_grid
    clr = RecordingCLR(
        pairing=LatentNeighbors(step=STEPS, periodic=["orientation"]),
        normalize=None,
        max_epochs=2,
        batch_size=64,
        random_state=0,
    )
    clr.seen_ = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a few of 240 grid points lack neighbours
        clr.fit(X, latents=table)
    anchors = torch.cat([x[:, 0, 0, 0] for x, _ in clr.seen_]).long().numpy()
    partners = torch.cat([p[:, 0, 0, 0] for _, p in clr.seen_]).long().numpy()
    assert len(anchors) == 2 * 3 * 64  # 2 epochs of 3 full batches
    counts = LatentNeighbors(step=STEPS, periodic=["orientation"]).fit(table).count_neighbors()
    has = counts[anchors] > 0
    assert (partners[~has] == anchors[~has]).all()
    p = grid_positions(table)
    delta = np.abs(p[partners[has]] - p[anchors[has]])
    delta[:, 2] = np.minimum(delta[:, 2], 8 - delta[:, 2])
    assert (delta <= list(STEPS.values())).all() and (delta.sum(axis=1) > 0).all()
    assert clr.net_.partners is None  # the lookup is not kept (nor pickled) after fit


def test_augment_pairing_passes_no_partner(labelled_grid):
    X, table = labelled_grid
    clr = RecordingCLR(max_epochs=1, batch_size=64, random_state=0)
    clr.seen_ = []
    clr.fit(X, latents=table)  # latents are ignored with pairing="augment"
    assert all(partner is None for _, partner in clr.seen_)


def test_images_without_neighbours_are_reported(labelled_grid):
    X, table = labelled_grid
    with pytest.warns(UserWarning, match=r"\d+ of 240 images have no latent neighbour"):
        cl.CLR(
            pairing=LatentNeighbors(step={**dict.fromkeys(SIZES, 0), "scale": 1}),
            max_epochs=0,
            batch_size=64,
        ).fit(X, latents=table)


@pytest.mark.parametrize("method", [cl.CLR, cl.CPLR, cl.SimSiam])
def test_latent_pairing_fit_repeats_and_differs_from_augment_pairs(method, labelled_grid):
    X, table = labelled_grid
    X = X / 240 + np.random.default_rng(0).random(X.shape, dtype=np.float32)
    common = {"max_epochs": 2, "batch_size": 64, "random_state": 0}
    pairing = LatentNeighbors(step={"shape": 0, "scale": 2, "orientation": 2, "position": 2})
    first = method(pairing=pairing, **common).fit(X, latents=table).transform(X)
    again = method(pairing=pairing, **common).fit(X, latents=table).transform(X)
    augment = method(**common).fit(X).transform(X)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, augment)


def test_dino_takes_latent_pairs(labelled_grid):
    X, table = labelled_grid
    dino = cl.DINO(
        pairing=LatentNeighbors(step={"shape": 0, "scale": 2, "position": 2}),
        n_prototypes=32,
        projection_dims=(32, 16),
        n_local_crops=2,
        max_epochs=1,
        batch_size=64,
        random_state=0,
    )
    assert np.isfinite(dino.fit(X / 240, latents=table).history_[-1, "train_loss"])


def test_hdf5_stream_reads_partners_in_any_order(labelled_grid, tmp_path):
    X, table = labelled_grid
    X = X / 240 + np.random.default_rng(0).random(X.shape, dtype=np.float32)
    with h5py.File(tmp_path / "grid.h5", "w") as f:
        f["images"] = X
    pairing = LatentNeighbors(step={"shape": 0, "scale": 2, "orientation": 2, "position": 2})
    common = {"pairing": pairing, "max_epochs": 2, "batch_size": 64, "random_state": 0}
    in_memory = cl.CLR(**common).fit(X, latents=table).transform(X)
    with h5py.File(tmp_path / "grid.h5", "r") as f:
        streamed = cl.CLR(**common).fit(f["images"], latents=table).transform(X)
    np.testing.assert_allclose(streamed, in_memory, rtol=1e-5, atol=1e-6)


def test_grid_search_splits_latents_with_the_images(labelled_grid):
    X, table = labelled_grid
    X = X / 240 + np.random.default_rng(0).random(X.shape, dtype=np.float32)
    y = table["shape"].cat.codes.to_numpy()
    search = GridSearchCV(
        cl.CLR(
            pairing=LatentNeighbors(step={"shape": 0, "scale": 2, "position": 2}),
            max_epochs=1,
            batch_size=32,
            random_state=0,
        ),
        {
            "pairing__step": [
                {"shape": 0, "scale": 2, "position": 2},
                {"shape": 0, "scale": 3, "position": 3},
            ]
        },
        scoring=cl.evaluation.make_few_label_scorer(label_fraction=0.5),
        cv=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        search.fit(X, y, latents=table)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
