import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy, make_few_label_scorer

LABELS = np.repeat(np.arange(4), 60)


@pytest.mark.parametrize("classifier", ["linear", "knn"])
def test_perfect_embedding_scores_one_and_random_scores_chance(classifier):
    assert few_label_accuracy(np.eye(4)[LABELS], LABELS, classifier=classifier) == 1.0
    noise = np.random.default_rng(0).normal(size=(len(LABELS), 16))
    assert few_label_accuracy(noise, LABELS, classifier=classifier) == pytest.approx(0.25, abs=0.08)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="label_fraction"):
        few_label_accuracy(np.eye(4)[LABELS], LABELS, label_fraction=1.5)
    with pytest.raises(ValueError, match="classifier"):
        make_few_label_scorer(classifier="svm")
    with pytest.raises(TypeError, match="n_neighbours"):
        make_few_label_scorer(n_neighbours=3)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        few_label_accuracy(np.eye(4)[LABELS], LABELS[:-1])


def test_grid_search_over_temperature_with_a_callable_scorer(small_images):
    X, y = small_images
    grid = {"temperature": [0.05, 0.1, 0.5]}
    search = GridSearchCV(cl.CLR(max_epochs=2, batch_size=64, random_state=0), grid,
                          scoring=make_few_label_scorer(label_fraction=0.5, classifier="knn"),
                          cv=2)
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 3 and np.all((scores > 0.3) & (scores <= 1))  # chance is 0.1
    assert search.best_params_["temperature"] == grid["temperature"][int(np.argmax(scores))]
    assert search.transform(X).shape == (len(X), 256)
    again = GridSearchCV(cl.CLR(max_epochs=2, batch_size=64, random_state=0), grid,
                         scoring=make_few_label_scorer(label_fraction=0.5, classifier="knn"),
                         cv=2).fit(X, y)
    np.testing.assert_array_equal(again.cv_results_["mean_test_score"], scores)


def test_grid_search_over_a_pipeline_ending_in_logistic_regression(small_images):
    X, y = small_images
    pipeline = Pipeline([
        ("clr", cl.CLR(max_epochs=2, batch_size=64, random_state=0)),
        ("logisticregression", LogisticRegression(max_iter=2000)),
    ])
    search = GridSearchCV(pipeline, {"clr__temperature": [0.1, 0.5]}, cv=2).fit(X, y)
    assert search.best_params_["clr__temperature"] in (0.1, 0.5)
    assert search.best_score_ > 0.5  # accuracy on 10 classes
    assert search.predict(X[:5]).shape == (5,)
