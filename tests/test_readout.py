"""latent_readout: reading generative factors (dSprites-like) back from embeddings."""

import numpy as np
import pandas as pd
import pytest

from contrastlearn.evaluation import latent_readout
from contrastlearn.evaluation._readout import _grid_hits
from contrastlearn.validation import InvalidParameterError

TWO_PI = 2 * np.pi
SHAPES = ["square", "ellipse", "heart"]
GRIDS = {
    "scale": np.linspace(0.5, 1, 6),
    "orientation": np.linspace(0, TWO_PI, 40, endpoint=False),
    "position_x": np.linspace(0, 1, 32),
    "position_y": np.linspace(0, 1, 32),
}
STEP = {name: grid[1] - grid[0] for name, grid in GRIDS.items()}
PERIODIC = {"orientation": TWO_PI}


def sprites_latents(n=3000, seed=0):
    """Random grid points of the dSprites factors (built here, not by contrastlearn.datasets)."""
    rng = np.random.default_rng(seed)
    table = {"shape": pd.Categorical(rng.choice(SHAPES, n), categories=SHAPES)}
    table.update({name: rng.choice(grid, n) for name, grid in GRIDS.items()})
    return pd.DataFrame(table)


def factor_embedding(latents, noise=0.0, seed=1):
    """The factors themselves: shape one-hot, orientation as (cos, sin), the rest as is.

    ``noise`` is the standard deviation of Gaussian noise in grid steps, added
    to scale, position and orientation (the angle, before cos and sin).
    """
    rng = np.random.default_rng(seed)

    def noisy(name):
        return latents[name].to_numpy() + noise * STEP[name] * rng.normal(size=len(latents))

    onehot = (latents["shape"].to_numpy()[:, None] == np.array(SHAPES)).astype(float)
    angle = noisy("orientation")
    return np.column_stack(
        [
            onehot,
            noisy("scale"),
            np.cos(angle),
            np.sin(angle),
            noisy("position_x"),
            noisy("position_y"),
        ]
    )


LATENTS = sprites_latents()


def test_perfect_embedding_reads_every_factor_back():
    scores = latent_readout(factor_embedding(LATENTS), LATENTS, periodic=PERIODIC, random_state=0)
    assert list(scores.columns) == ["kind", "n_values", "r2", "accuracy", "grid_accuracy", "chance"]
    assert scores.index.name == "factor"
    assert list(scores.index) == ["shape", "scale", "orientation", "position_x", "position_y"]
    assert scores["kind"].tolist() == [
        "categorical",
        "continuous",
        "periodic",
        "continuous",
        "continuous",
    ]
    assert scores["n_values"].tolist() == [3, 6, 40, 32, 32]
    regressed = scores.drop(index="shape")
    assert (regressed["r2"] >= 0.99).all() and regressed["accuracy"].isna().all()
    assert (scores["grid_accuracy"] >= 0.99).all()
    assert scores.loc["shape", "accuracy"] == 1.0 == scores.loc["shape", "grid_accuracy"]
    assert np.isnan(scores.loc["shape", "r2"])
    # chance: the most common grid value's share of the 750 test rows, a bit over 1 / n_values
    assert (
        (scores["chance"] >= 1 / scores["n_values"]) & (scores["chance"] <= 2 / scores["n_values"])
    ).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_embedding_scores_chance(seed):
    latents = sprites_latents(seed=seed)
    noise = np.random.default_rng(100 + seed).normal(size=(len(latents), 16))
    scores = latent_readout(noise, latents, periodic=PERIODIC, random_state=seed)
    # Tolerances from 200 seeds (3000 samples, 750 test rows, 16 random dimensions):
    # - continuous r2: mean -0.01, |r2| at most 0.034 -> 0.05;
    # - periodic (circular) r2: mean -0.04, sd 0.04, range [-0.17, 0.07] -> 0.2. The
    #   atan2 of a readout of noise points in a random direction, so the errors are not
    #   shrunk towards the mean as a regression's are; the bias is a finite-sample effect
    #   of the test part's own circular mean (-0.02 with 3000 test rows, -0.013 with 12000);
    # - shape accuracy - 1/3: sd 0.018, range [-0.048, 0.057] -> 0.07;
    # - grid_accuracy - chance: mean -0.013 to -0.02 (a readout of noise predicts the
    #   middle grid value, not the most common one), |.| at most 0.036 for orientation and
    #   position, 0.064 for scale and 0.075 for shape -> 0.05 and 0.09.
    continuous = scores["kind"] == "continuous"
    assert (scores.loc[continuous, "r2"].abs() <= 0.05).all()
    assert abs(scores.loc["orientation", "r2"]) <= 0.2
    assert scores.loc["shape", "accuracy"] == pytest.approx(1 / 3, abs=0.07)
    gap = (scores["grid_accuracy"] - scores["chance"]).abs()
    assert (gap[["orientation", "position_x", "position_y"]] <= 0.05).all()
    assert (gap[["scale", "shape"]] <= 0.09).all()


def test_noisy_embedding_scores_between_chance_and_one():
    readouts = [
        latent_readout(
            factor_embedding(LATENTS, noise=noise), LATENTS, periodic=PERIODIC, random_state=0
        )
        for noise in (0.25, 0.5, 1.0)
    ]
    factors = ["scale", "orientation", "position_x", "position_y"]
    half_step = readouts[1].loc[factors]
    # noise of half a grid step: |noise| < half a step for 68 % of the samples, a bit
    # more for the end values of scale and position, which have one neighbour only
    assert (half_step["grid_accuracy"] > half_step["chance"] + 0.4).all()
    assert (half_step["grid_accuracy"] < 0.9).all()
    assert half_step["grid_accuracy"].between(0.6, 0.85).all()
    accuracy = np.array([readout.loc[factors, "grid_accuracy"] for readout in readouts])
    r2 = np.array([readout.loc[factors, "r2"] for readout in readouts])
    assert (np.diff(accuracy, axis=0) < 0).all()  # worse with more noise
    assert (np.diff(r2, axis=0) < 0).all() and (r2 > 0.5).all()


def test_periodic_grid_wraps_around():
    grid = GRIDS["orientation"]
    index = np.array([0, 0, 0, 0, 39, 39, 5])
    predicted = np.array(
        [
            TWO_PI - 0.01,
            0.01,
            TWO_PI - 0.5 * STEP["orientation"] + 1e-3,
            grid[1] + 1e-3,
            0.001,
            grid[39] + 0.6 * STEP["orientation"],
            grid[5],
        ]
    )
    assert _grid_hits(predicted, index, grid, TWO_PI).tolist() == [
        True,
        True,
        True,
        False,
        False,
        False,
        True,
    ]
    # without the period, 2 pi - 0.01 is far from 0 and the end values have one neighbour,
    # so a prediction beyond the last grid value is nearest to it
    assert _grid_hits(predicted, index, grid).tolist() == [
        False,
        True,
        False,
        False,
        False,
        True,
        True,
    ]

    # end to end: orientations at 0 read back just below 2 pi count as correct
    scores, predictions = latent_readout(
        factor_embedding(LATENTS, noise=0.1),
        LATENTS,
        factors=["orientation"],
        periodic=PERIODIC,
        random_state=0,
        return_predictions=True,
    )
    at_zero = predictions.loc[predictions["orientation"] == 0, "orientation_predicted"]
    assert (at_zero > np.pi).any() and (at_zero < np.pi).any()  # wrapped, and not
    assert scores.loc["orientation", "grid_accuracy"] == 1.0
    assert scores.loc["orientation", "r2"] > 0.99


def test_period_endpoint_is_the_same_grid_value():
    # the dSprites files list orientation as linspace(0, 2 pi, 40): 0 and 2 pi coincide
    latents = pd.DataFrame({"orientation": np.tile(np.linspace(0, TWO_PI, 40), 20)})
    angle = latents["orientation"].to_numpy()
    scores = latent_readout(
        np.column_stack([np.cos(angle), np.sin(angle)]), latents, periodic=PERIODIC, random_state=0
    )
    assert scores.loc["orientation", "n_values"] == 39
    assert scores.loc["orientation", "grid_accuracy"] == 1.0


def test_return_predictions_gives_true_and_predicted_test_rows():
    latents = LATENTS.set_index(pd.RangeIndex(1000, 1000 + len(LATENTS)))
    scores, predictions = latent_readout(
        factor_embedding(LATENTS, noise=0.5),
        latents,
        periodic=PERIODIC,
        test_size=0.2,
        random_state=3,
        return_predictions=True,
    )
    assert list(predictions.columns) == [
        "shape",
        "shape_predicted",
        "scale",
        "scale_predicted",
        "orientation",
        "orientation_predicted",
        "position_x",
        "position_x_predicted",
        "position_y",
        "position_y_predicted",
    ]
    assert len(predictions) == 600 and predictions.index.isin(latents.index).all()
    for name in scores.index:  # the true values of those rows
        pd.testing.assert_series_equal(predictions[name], latents.loc[predictions.index, name])
    assert isinstance(predictions["shape_predicted"].dtype, pd.CategoricalDtype)
    assert (predictions["shape_predicted"] == predictions["shape"]).all()
    orientation = predictions["orientation_predicted"]
    assert ((orientation >= 0) & (orientation < TWO_PI)).all()
    # the scores are those of the returned predictions
    assert scores.loc["scale", "r2"] == pytest.approx(
        1
        - np.sum((predictions["scale_predicted"] - predictions["scale"]) ** 2)
        / np.sum((predictions["scale"] - predictions["scale"].mean()) ** 2)
    )
    nearest = GRIDS["position_x"][
        np.abs(
            predictions["position_x_predicted"].to_numpy()[:, None] - GRIDS["position_x"]
        ).argmin(1)
    ]
    assert scores.loc["position_x", "grid_accuracy"] == pytest.approx(
        np.mean(nearest == predictions["position_x"])
    )
    assert scores.loc["position_x", "chance"] == pytest.approx(
        predictions["position_x"].value_counts().max() / 600
    )
    # same split with the same random_state, and the scores alone by default
    pd.testing.assert_frame_equal(
        latent_readout(
            factor_embedding(LATENTS, noise=0.5),
            latents,
            periodic=PERIODIC,
            test_size=0.2,
            random_state=3,
        ),
        scores,
    )


def test_other_latent_formats_and_kinds():
    rng = np.random.default_rng(0)
    n = 400
    index = rng.integers(0, 3, n)
    value = rng.choice(np.linspace(0, 1, 5), n)
    embedding = np.column_stack([np.eye(3)[index], value])
    # a 2-D array: columns factor0, factor1; a numeric column is categorical only if named
    scores = latent_readout(
        embedding, np.column_stack([index, value]), categorical=["factor0"], random_state=0
    )
    assert scores.index.tolist() == ["factor0", "factor1"]
    assert scores["kind"].tolist() == ["categorical", "continuous"]
    assert scores["grid_accuracy"].tolist() == [1.0, 1.0]
    # a dict of arrays; strings and bools are categorical by dtype
    latents = {"name": np.array(SHAPES)[index], "flag": index == 1, "value": value}
    scores = latent_readout(embedding, latents, factors=["flag", "name"], random_state=0)
    assert scores.index.tolist() == ["flag", "name"]
    assert scores["kind"].tolist() == ["categorical", "categorical"]
    assert scores["n_values"].tolist() == [2, 3]
    assert (scores["accuracy"] == 1.0).all()
    # an int test_size is a number of test rows
    _, predictions = latent_readout(
        embedding, latents, test_size=7, random_state=0, return_predictions=True
    )
    assert len(predictions) == 7


def test_bad_inputs_raise():
    emb = factor_embedding(LATENTS)
    with pytest.raises(ValueError, match="got 2999 embeddings and 3000 rows of latents"):
        latent_readout(emb[:-1], LATENTS)
    with pytest.raises(
        InvalidParameterError, match=r"'factors' parameter.*columns \['shape', 'scale'.*'colour'"
    ):
        latent_readout(emb, LATENTS, factors=["scale", "colour"])
    with pytest.raises(InvalidParameterError, match="'periodic' parameter.*Got {'colour'"):
        latent_readout(emb, LATENTS, periodic={"colour": 1.0})
    with pytest.raises(ValueError, match="'orientation' cannot be both categorical and periodic"):
        latent_readout(emb, LATENTS, categorical=["orientation"], periodic=PERIODIC)
    with pytest.raises(ValueError, match="'shape' cannot be both categorical and periodic"):
        latent_readout(emb, LATENTS, periodic={"shape": 3})
    with pytest.raises(ValueError, match="'periodic' parameter.*period > 0"):
        latent_readout(emb, LATENTS, periodic={"orientation": 0})
    with pytest.raises(TypeError, match="'periodic' parameter of latent_readout must be"):
        latent_readout(emb, LATENTS, periodic=["orientation"])
    with pytest.raises(
        ValueError,
        match=r"'test_size' parameter of latent_readout must be a float in \(0, 1\) or an int "
        r"in \[1, 2999\]. Got 3000",
    ):
        latent_readout(emb, LATENTS, test_size=3000)
    for test_size in (0.0, 1.5, 0):
        with pytest.raises(ValueError, match="'test_size' parameter of latent_readout"):
            latent_readout(emb, LATENTS, test_size=test_size)
    for test_size in ("0.2", True, None):
        with pytest.raises(TypeError, match="'test_size' parameter of latent_readout"):
            latent_readout(emb, LATENTS, test_size=test_size)
    bad = emb.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="embeddings contains NaN"):
        latent_readout(bad, LATENTS)
    missing = LATENTS.copy()
    missing.loc[5, "scale"] = np.nan
    with pytest.raises(ValueError, match="column 'scale' has missing values"):
        latent_readout(emb, missing)
    one_class = LATENTS.assign(shape="square")
    with pytest.raises(ValueError, match="'shape' needs at least 2 classes in the training"):
        latent_readout(emb, one_class)
    with pytest.raises(ValueError, match="latents given as an array must be 2-D"):
        latent_readout(emb, LATENTS["scale"].to_numpy())
    with pytest.raises(TypeError, match="'latents' parameter of latent_readout must be a pandas"):
        latent_readout(emb, "latents.csv")
    with pytest.raises(ValueError, match="same length"):
        latent_readout(emb[:3], {"a": [1, 2, 3], "b": [1, 2]})


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"latents": "latents.csv"}, "latents"),
        ({"embeddings": None}, "embeddings"),
        ({"factors": ["scale", "scale"]}, "factors"),
        ({"factors": object()}, "factors"),
        ({"categorical": object()}, "categorical"),
        ({"periodic": {"orientation": -1.0}}, "periodic"),
        ({"periodic": {"orientation": float("inf")}}, "periodic"),
        ({"test_size": 1.0}, "test_size"),
        ({"test_size": 3000}, "test_size"),
        ({"random_state": -1}, "random_state"),
        ({"return_predictions": "yes"}, "return_predictions"),
    ],
)
def test_bad_parameters_name_latent_readout_and_the_parameter(kwargs, name):
    args = {"embeddings": factor_embedding(LATENTS), "latents": LATENTS, **kwargs}
    with pytest.raises(
        InvalidParameterError, match=f"The '{name}' parameter of latent_readout must be"
    ):
        latent_readout(args.pop("embeddings"), args.pop("latents"), **args)
