import numpy as np
import pytest
from sklearn.decomposition import PCA

from contrastlearn.model_selection import projection_grid_search
from contrastlearn.validation import InvalidParameterError

COLUMNS = [
    "Type",
    "Mode",
    "Reference mode",
    "Temperature",
    "F1",
    "Precision",
    "Recall",
    "Accuracy",
    "Overlap",
    "Fit seconds",
]


@pytest.mark.parametrize("protocol", ["reference", "split"])
def test_grid_covers_every_configuration_temperature_and_baseline(small_images, protocol):
    X, y = small_images
    Y = np.eye(10, dtype=int)[y]
    table = projection_grid_search(
        X,
        Y,
        temperatures=[0.1, 0.5],
        protocol=protocol,
        baselines=["PCA", "PCA (correlation)", "Random"],
        max_epochs=1,
        batch_size=64,
        random_state=0,
    )
    assert list(table.columns) == COLUMNS
    assert list(table["Type"]) == ["CLR"] * 4 + ["CPLR"] * 4 + [
        "PCA",
        "PCA (correlation)",
        "Random",
    ]
    # contrastlearn's names beside the study's, which calls the recorded image "Polar"
    pairs = dict(zip(table["Mode"], table["Reference mode"]))
    assert pairs["Cartesian ⟷ Cartesian"] == "Polar ⟷ Polar"
    assert pairs["Polar ⟷ Cartesian"] == "Cartesian ⟷ Polar"
    scores = table[["F1", "Precision", "Recall", "Accuracy", "Overlap"]].to_numpy()
    assert np.all((scores >= 0) & (scores <= 1))
    pca, correlation, random = (
        table[table["Type"] == name].iloc[0] for name in ["PCA", "PCA (correlation)", "Random"]
    )
    assert pca["F1"] == correlation["F1"] and pca["Overlap"] != correlation["Overlap"]
    # the random embedding is the floor: PCA of real digits is far above it
    assert pca["F1"] > random["F1"] + 0.3 and pca["Overlap"] > random["Overlap"] + 0.3


def test_the_reference_protocol_scores_all_images_with_the_cross_validated_perceptron(small_images):
    from contrastlearn.baselines import baseline_embeddings
    from contrastlearn.evaluation import linear_evaluation, overlap_score

    X, y = small_images
    Y = np.eye(10, dtype=int)[y]
    table = projection_grid_search(X, Y, configurations=[], baselines=["PCA"], random_state=3)
    pca = baseline_embeddings("PCA", X, [X], n_components=64, random_state=3)[0]
    macro = linear_evaluation(pca.probe, Y, random_state=3).loc["macro avg"]
    row = table.iloc[0]
    assert row["F1"] == macro["f1"] and row["Accuracy"] == macro["accuracy"]
    assert row["Overlap"] == overlap_score(pca.neighbors, Y, 0.01, "euclidean")
    assert row["Mode"] == "64 components, euclidean"


def test_labels_restrict_the_scores_and_labels_without_positives_are_skipped(small_images):
    X, y = small_images
    Y = np.eye(10, dtype=int)[y]
    Y[:, 9] = 0  # a label no image carries
    kwargs = dict(configurations=[], baselines=["PCA"], random_state=0)
    every = projection_grid_search(X, Y, **kwargs).iloc[0]
    without = projection_grid_search(X, Y, labels=list(range(9)), **kwargs).iloc[0]
    assert every["F1"] == without["F1"] and every["Overlap"] == without["Overlap"]
    two = projection_grid_search(X, Y, labels=[0, 1], **kwargs).iloc[0]
    assert two["F1"] != every["F1"]


def test_bad_configuration_protocol_baseline_and_label_length(small_images):
    X, y = small_images
    with pytest.raises(ValueError, match="'configurations' parameter of projection_grid_search"):
        projection_grid_search(X, y, configurations=["C-X"])
    with pytest.raises(ValueError, match="'protocol' parameter of projection_grid_search"):
        projection_grid_search(X, y, protocol="holdout")
    with pytest.raises(ValueError, match="'baselines' parameter of projection_grid_search"):
        projection_grid_search(X, y, baselines=["ICA"])
    with pytest.raises(ValueError, match="Y has 3 rows but X has 240"):
        projection_grid_search(X, y[:3])


def test_design_example_grid_search_of_cplr_temperature_with_the_overlap_scorer():
    from sklearn.model_selection import GridSearchCV

    import contrastlearn as cl

    X, Y, names = cl.datasets.make_diffraction(n_samples=120, image_size=32, random_state=0)
    search = GridSearchCV(
        cl.CPLR(representations="polar-cartesian", max_epochs=1, batch_size=32, random_state=0),
        {"temperature": [0.05, 0.5]},
        scoring=cl.make_overlap_scorer(n_neighbors=5),
        cv=2,
    ).fit(X, Y)
    scores = search.cv_results_["mean_test_score"]
    assert np.all((scores > 0) & (scores <= 1))
    assert search.best_params_["temperature"] == [0.05, 0.5][int(np.argmax(scores))]
    embedding = search.best_estimator_.transform(X)
    probe = cl.LinearProbe().fit(embedding, Y)
    assert probe.predict(embedding).shape == Y.shape
    assert list(probe.report(embedding, Y, label_names=names).index[-2:]) == [
        "macro avg",
        "micro avg",
    ]


def test_label_efficiency_compares_pretrained_and_supervised_on_the_same_split(small_images):
    import contrastlearn as cl
    from contrastlearn.model_selection import label_efficiency

    X, y = small_images
    binary = (y >= 5).astype(int)
    table = label_efficiency(
        X,
        binary,
        {
            "SimSiam": cl.SimSiam(max_epochs=1, batch_size=64),
            "DINO": cl.DINO(
                n_prototypes=32,
                projection_dims=(32, 16),
                n_local_crops=1,
                max_epochs=1,
                batch_size=64,
            ),
        },
        n_labels=[40, 10_000, None],
        max_epochs=3,
        batch_size=32,
    )
    assert list(table.columns) == ["Method", "Backbone", "Labels", "Accuracy", "ROC AUC"]
    assert sorted(set(table["Method"])) == ["DINO", "SimSiam", "supervised"]
    assert sorted(set(table["Labels"])) == [40, 180]  # 10 000 > pool: skipped; None: all 180
    assert table[["Accuracy", "ROC AUC"]].apply(lambda c: c.between(0, 1).all()).all()
    with pytest.raises(ValueError, match="non-empty dict"):
        label_efficiency(X, binary, [])


def test_parallel_grid_search_gives_the_serial_scores(small_images, tmp_path, one_torch_thread):
    from sklearn.model_selection import GridSearchCV

    import contrastlearn as cl

    X, y = small_images
    X = X.astype(np.float32)
    cl.datasets.save_cxi(tmp_path / "digits.cxi", X)
    on_disk = cl.datasets.load_cxi(tmp_path / "digits.cxi")
    scores = {}
    # n_jobs=2 pickles the estimator (and the file's path, for the CXI file) into two workers
    for name, images, n_jobs in [("serial", X, 1), ("parallel", X, 2), ("file", on_disk, 2)]:
        search = GridSearchCV(
            cl.CLR(max_epochs=2, batch_size=64, random_state=0, device="cpu"),
            {"temperature": [0.1, 0.5]},
            cv=2,
            n_jobs=n_jobs,
            scoring=cl.evaluation.make_few_label_scorer(label_fraction=0.5),
        ).fit(images, y)
        scores[name] = search.cv_results_["mean_test_score"]
    np.testing.assert_allclose(scores["parallel"], scores["serial"], atol=1e-6)
    np.testing.assert_allclose(scores["file"], scores["serial"], atol=1e-6)
    assert search.best_estimator_.transform(X[:5]).shape == (5, 256)


def test_label_efficiency_uses_a_frozen_pretrainer_as_it_is(small_images):
    from sklearn.frozen import FrozenEstimator

    import contrastlearn as cl
    from contrastlearn.model_selection import label_efficiency

    X, y = small_images
    binary = (y >= 5).astype(int)
    simsiam = cl.SimSiam(max_epochs=1, batch_size=64, random_state=3).fit(X[:64])  # elsewhere
    weights = [p.detach().clone() for p in simsiam.net_.module_.parameters()]
    table = label_efficiency(
        X,
        binary,
        {"SimSiam": FrozenEstimator(simsiam)},
        n_labels=[40],
        supervised_backbone=None,
        max_epochs=1,
        batch_size=32,
    )
    assert table[["Method", "Labels"]].values.tolist() == [["SimSiam", 40]]
    assert simsiam.random_state == 3  # neither reseeded nor refitted
    assert all(bool((p == w).all()) for p, w in zip(simsiam.net_.module_.parameters(), weights))
    with pytest.raises(Exception, match="not fitted"):
        label_efficiency(X, binary, {"SimSiam": FrozenEstimator(cl.SimSiam())}, n_labels=[40])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"X": "images.cxi"}, "X"),
        ({"configurations": "C-C"}, "configurations"),
        ({"temperatures": [0.1, 0]}, "temperatures"),
        ({"protocol": None}, "protocol"),
        ({"labels": 2}, "labels"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"test_size": 1.5}, "test_size"),
        ({"baselines": ["PCA", "ICA"]}, "baselines"),
        ({"vae_params": [("max_epochs", 1)]}, "vae_params"),
        ({"random_state": -1}, "random_state"),
        ({"verbose": -1}, "verbose"),
    ],
)
def test_grid_search_bad_parameters_raise_before_fitting_anything(kwargs, name):
    args = {"X": np.zeros((20, 8, 8)), "Y": np.arange(20) % 2, **kwargs}
    with pytest.raises(
        InvalidParameterError, match=f"The '{name}' parameter of projection_grid_search must be"
    ):
        projection_grid_search(args.pop("X"), args.pop("Y"), **args)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"y": None}, "y"),
        ({"pretrainers": {}}, "pretrainers"),
        ({"pretrainers": {"PCA": PCA()}}, "pretrainers"),
        ({"n_labels": [10, 0]}, "n_labels"),
        ({"n_labels": 10}, "n_labels"),
        ({"test_size": 0}, "test_size"),
        ({"supervised_backbone": "resnet1000"}, "supervised_backbone"),
        ({"fine_tune": "no"}, "fine_tune"),
        ({"random_state": "0"}, "random_state"),
        ({"verbose": 0.5}, "verbose"),
    ],
)
def test_label_efficiency_bad_parameters_raise_before_fitting_anything(kwargs, name):
    import contrastlearn as cl
    from contrastlearn.model_selection import label_efficiency

    args = {
        "X": np.zeros((20, 8, 8)),
        "y": np.arange(20) % 2,
        "pretrainers": {"CLR": cl.CLR(max_epochs=1)},
        **kwargs,
    }
    with pytest.raises(
        InvalidParameterError, match=f"The '{name}' parameter of label_efficiency must be"
    ):
        label_efficiency(args.pop("X"), args.pop("y"), args.pop("pretrainers"), **args)
