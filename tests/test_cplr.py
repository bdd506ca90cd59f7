import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)
from torch import nn

import contrastlearn as cl
from contrastlearn.projection import PolarProjection, to_polar

FAST = dict(max_epochs=2, batch_size=64, random_state=0)


@pytest.mark.parametrize("mode,first,second", [
    ("polar-cartesian", PolarProjection, nn.Identity),
    ("cartesian-polar", nn.Identity, PolarProjection),
])
def test_branches_see_the_representations_the_mode_names(small_images, mode, first, second):
    X, _ = small_images
    cplr = cl.CPLR(mode=mode, **FAST).fit(X)
    module = cplr.net_.module_
    assert isinstance(module.view, first) and isinstance(module.second_view, second)
    # transform embeds branch 1's representation of the normalised images
    x = torch.from_numpy(X[:5])[:, None]
    with torch.no_grad():
        module.eval()
        expected = module.backbone(module.view(module.preprocess(x))).numpy()
    np.testing.assert_allclose(cplr.transform(X[:5]), expected, rtol=1e-5, atol=1e-6)


def test_polar_clr_embeds_polar_images(small_images):
    X, _ = small_images
    clr = cl.CLR(view="polar", **FAST).fit(X)
    module = clr.net_.module_.eval()
    with torch.no_grad():
        polar = to_polar(module.preprocess(torch.from_numpy(X[:4])[:, None]))
        expected = module.backbone(polar).numpy()
    np.testing.assert_allclose(clr.transform(X[:4]), expected, rtol=1e-5, atol=1e-6)


def test_separate_backbones_keep_branch_one_for_transform(small_images):
    X, _ = small_images
    cplr = cl.CPLR(shared_backbone=False, **FAST).fit(X)
    module = cplr.net_.module_
    assert module.second_backbone is not module.backbone
    before = cplr.transform(X)
    with torch.no_grad():
        for p in module.second_backbone.parameters():
            p.add_(1.0)
    np.testing.assert_array_equal(cplr.transform(X), before)


@pytest.mark.parametrize("shared", [True, False])
def test_cplr_learns_and_repeats(small_images, shared):
    X, _ = small_images
    first = cl.CPLR(shared_backbone=shared, max_epochs=5, batch_size=64, random_state=0).fit(X)
    losses = first.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    again = cl.CPLR(shared_backbone=shared, max_epochs=5, batch_size=64, random_state=0).fit(X)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))


def test_cplr_estimator_contract(small_images):
    X, _ = small_images
    for check in (check_no_attributes_set_in_init, check_get_params_invariance,
                  check_set_params):
        check("CPLR", cl.CPLR())
    check_parameters_default_constructible("CPLR", cl.CPLR())
    cplr = cl.CPLR(**FAST).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(cplr)).transform(X), cplr.transform(X))
    np.testing.assert_array_equal(clone(cplr).fit(X).transform(X), cplr.transform(X))
    assert list(cplr.get_feature_names_out()[:1]) == ["cplr0"]


@pytest.mark.parametrize("estimator", [cl.CPLR(**FAST), cl.CLR(view="polar", **FAST)])
def test_polar_views_need_images(estimator):
    with pytest.raises(ValueError, match="polar coordinates.*image_shape"):
        estimator.fit(np.zeros((10, 64)))
    assert estimator.set_params(image_shape=(8, 8)).fit(np.random.rand(10, 64)).transform(
        np.random.rand(3, 64)).shape == (3, 256)


@pytest.mark.parametrize("params,fragment", [
    ({"mode": "polar-polar"}, "'mode'"),
    ({"shared_backbone": "yes"}, "'shared_backbone'"),
    ({"temperature": -0.1}, "'temperature'"),
])
def test_bad_parameters(small_images, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        cl.CPLR(**params).fit(small_images[0])


def test_bad_view_of_clr(small_images):
    with pytest.raises(ValueError, match="'view' parameter of CLR must be one of"):
        cl.CLR(view="spherical").fit(small_images[0])
