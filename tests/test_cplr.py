import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone

import contrastlearn as cl
from contrastlearn.projection import PolarProjection, to_polar

FAST = dict(max_epochs=2, batch_size=64, random_state=0)
#: Only a deterministic horizontal flip: views that show where augmentation happened.
FLIP = cl.Augment(
    crop_scale=(1.0, 1.0),
    crop_ratio=(1.0, 1.0),
    rotation=0.0,
    hflip=1.0,
    vflip=0.0,
    jitter_prob=0.0,
    blur_prob=0.0,
)


def embed_by_hand(estimator, X, representation):
    module = estimator.net_.module_.eval()
    with torch.no_grad():
        x = module.preprocess(torch.from_numpy(X)[:, None])
        return module.backbone(to_polar(x) if representation == "polar" else x).numpy()


@pytest.mark.parametrize(
    "estimator",
    [
        cl.CPLR(representations="polar-cartesian", **FAST),
        cl.CPLR(representations="cartesian-polar", **FAST),
        cl.CLR(representation="polar", **FAST),
        cl.CLR(representation="cartesian", **FAST),
    ],
)
def test_transform_embeds_the_recorded_images_in_every_configuration(small_images, estimator):
    X, _ = small_images
    estimator.fit(X)
    np.testing.assert_allclose(
        estimator.transform(X[:5]), embed_by_hand(estimator, X[:5], "image"), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "estimator",
    [cl.CPLR(embed="polar", **FAST), cl.CLR(representation="polar", embed="polar", **FAST)],
)
def test_embed_polar_embeds_the_projections(small_images, estimator):
    X, _ = small_images
    estimator.fit(X)
    np.testing.assert_allclose(
        estimator.transform(X[:4]), embed_by_hand(estimator, X[:4], "polar"), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("representations", ["polar-cartesian", "cartesian-polar"])
@pytest.mark.parametrize("project_first", [False, True])
def test_branches_see_the_representations_named_in_the_chosen_order(
    small_images, representations, project_first
):
    X, _ = small_images
    cplr = cl.CPLR(
        representations=representations, project_first=project_first, augment=FLIP, **FAST
    ).fit(X)
    module = cplr.net_.module_
    x = module.preprocess(torch.from_numpy(X[:6])[:, None])
    flipped = x.flip(-1)
    polar = to_polar(x).flip(-1) if project_first else to_polar(flipped)
    expected = {"cartesian": flipped, "polar": polar}
    for representation in representations.split("-"):
        torch.testing.assert_close(cplr._view(module, representation, x), expected[representation])
    # The two orders really differ: flipping a projection is not projecting a flipped image.
    assert not torch.allclose(to_polar(x).flip(-1), to_polar(flipped), atol=1e-3)


def test_separate_backbones_keep_the_embedded_representations_for_transform(small_images):
    X, _ = small_images
    for embed in ("image", "polar"):
        cplr = cl.CPLR(shared_backbone=False, embed=embed, **FAST).fit(X)
        module = cplr.net_.module_
        assert module.second_backbone is not module.backbone
        before = cplr.transform(X)
        with torch.no_grad():
            for p in module.second_backbone.parameters():
                p.add_(1.0)
        np.testing.assert_array_equal(cplr.transform(X), before)
        np.testing.assert_allclose(
            before[:3], embed_by_hand(cplr, X[:3], embed), rtol=1e-5, atol=1e-6
        )


@pytest.mark.parametrize("shared", [True, False])
def test_cplr_learns_and_repeats(small_images, shared):
    X, _ = small_images
    first = cl.CPLR(shared_backbone=shared, max_epochs=5, batch_size=64, random_state=0).fit(X)
    losses = first.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    again = cl.CPLR(shared_backbone=shared, max_epochs=5, batch_size=64, random_state=0).fit(X)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))


@pytest.mark.parametrize(
    "estimator",
    [cl.CPLR(representations="cartesian-polar", **FAST), cl.CLR(representation="polar", **FAST)],
)
def test_precomputed_polar_images_train_like_the_online_projection(small_images, estimator):
    """With no normalisation the online projection of the batch and the given projections agree."""
    X, _ = small_images
    settings = dict(normalize=None, project_first=True)
    online = clone(estimator).set_params(**settings).fit(X)
    given = clone(estimator).set_params(**settings).fit(X, polar_images=to_polar(X))
    np.testing.assert_allclose(
        given.history_[:, "train_loss"], online.history_[:, "train_loss"], rtol=1e-5
    )
    np.testing.assert_allclose(given.transform(X), online.transform(X), rtol=1e-4, atol=1e-5)
    # A projection the polar branch really sees: other images give another model.
    other = clone(estimator).set_params(**settings).fit(X, polar_images=to_polar(X[::-1]))
    assert not np.allclose(other.history_[:, "train_loss"], online.history_[:, "train_loss"])


@pytest.mark.parametrize(
    "estimator,polar_images,fragment",
    [
        (cl.CPLR(project_first=True), lambda X: to_polar(X)[:10], "has 10 images but X has 240"),
        (cl.CPLR(project_first=True), lambda X: np.zeros((len(X), 9, 9)), "shaped like X's images"),
        (cl.CPLR(), to_polar, "project_first=True"),
        (cl.CPLR(project_first=True, embed="polar"), to_polar, "embed='image'"),
        (cl.CLR(project_first=True), to_polar, "with a polar branch"),
        (
            cl.CPLR(project_first=True, pairing=cl.LatentNeighbors(step=1)),
            to_polar,
            "pairing='augment'",
        ),
    ],
)
def test_precomputed_polar_images_are_refused_where_they_cannot_be_used(
    small_images, estimator, polar_images, fragment
):
    X, _ = small_images
    with pytest.raises(ValueError, match=fragment):
        estimator.set_params(**FAST).fit(X, polar_images=polar_images(X))


def test_a_reference_projection_and_head_train(small_images):
    X, _ = small_images
    projection = PolarProjection(radial_range=(0.2, 1.0), interpolation="nearest")
    cplr = cl.CPLR(
        polar=projection,
        project_first=True,
        projection_dims=(64, 64, 32),
        projection_batchnorm="all",
        normalize="minmax",
        augment="cplr-reference",
        **FAST,
    ).fit(X)
    head = cplr.net_.module_.head
    last = head[-1]
    assert isinstance(last, torch.nn.BatchNorm1d) and (last.bias == 0).all()
    assert not any(layer.bias is not None for layer in head if isinstance(layer, torch.nn.Linear))
    assert cplr.net_.module_.polar is not projection  # copied, never trained in place
    assert np.isfinite(cplr.history_[:, "train_loss"]).all()


def test_cplr_estimator_contract(small_images):
    X, _ = small_images  # sklearn's data-free checks of CPLR: tests/test_common.py
    cplr = cl.CPLR(**FAST).fit(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(cplr)).transform(X), cplr.transform(X))
    np.testing.assert_array_equal(clone(cplr).fit(X).transform(X), cplr.transform(X))
    assert list(cplr.get_feature_names_out()[:1]) == ["cplr0"]


@pytest.mark.parametrize("estimator", [cl.CPLR(**FAST), cl.CLR(representation="polar", **FAST)])
def test_polar_views_need_images(estimator):
    with pytest.raises(ValueError, match="polar coordinates.*image_shape"):
        estimator.fit(np.zeros((10, 64)))
    assert estimator.set_params(image_shape=(8, 8)).fit(np.random.rand(10, 64)).transform(
        np.random.rand(3, 64)
    ).shape == (3, 256)


@pytest.mark.parametrize(
    "params,fragment",
    [
        ({"representations": "polar-polar"}, "'representations'"),
        ({"mode": "polar-polar"}, "'mode'"),
        ({"shared_backbone": "yes"}, "'shared_backbone'"),
        ({"temperature": -0.1}, "'temperature'"),
        ({"embed": "projection"}, "'embed' parameter of CPLR must be one of 'image', 'polar'"),
        ({"project_first": 1}, "'project_first'"),
        ({"polar": "radial"}, "'polar' parameter"),
        ({"projection_batchnorm": "last"}, "'projection_batchnorm'"),
    ],
)
def test_bad_parameters(small_images, params, fragment):
    with pytest.raises(ValueError, match=fragment):
        cl.CPLR(**params).fit(small_images[0])


def test_bad_representation_of_clr(small_images):
    with pytest.raises(ValueError, match="'representation' parameter of CLR must be one of"):
        cl.CLR(representation="spherical").fit(small_images[0])
    with pytest.raises(ValueError, match="'view' parameter of CLR must be one of"):
        cl.CLR(view="spherical").fit(small_images[0])


@pytest.mark.parametrize(
    "old, new",
    [
        (cl.CLR(view="polar", **FAST), cl.CLR(representation="polar", **FAST)),
        (
            cl.CPLR(mode="cartesian-polar", **FAST),
            cl.CPLR(representations="cartesian-polar", **FAST),
        ),
    ],
)
def test_the_old_names_of_the_representations_still_work_and_warn(small_images, old, new):
    X, _ = small_images
    ((old_name, value),) = [
        (name, v)
        for name, v in old.get_params(deep=False).items()
        if name in ("view", "mode") and v != "deprecated"
    ]
    with pytest.warns(FutureWarning, match=f"The '{old_name}' parameter of .* was renamed"):
        old.fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        new.fit(X)
    np.testing.assert_array_equal(old.transform(X[:8]), new.transform(X[:8]))
    assert clone(old).get_params()[old_name] == value


def test_an_old_and_a_new_name_together_is_an_error(small_images):
    with pytest.raises(ValueError, match="got both view='polar' and representation='polar'"):
        cl.CLR(view="polar", representation="polar").fit(small_images[0])


def test_module_view_is_the_old_name_of_represent(small_images):
    clr = cl.CLR(**FAST).fit(small_images[0])
    module = clr.net_.module_
    with pytest.warns(FutureWarning, match="renamed PretrainModule.represent"):
        assert module.view is module.represent
    # A model pickled when the submodule was called "view" loads with it renamed.
    state = module.__getstate__()
    state["_modules"] = {
        ("view" if k == "represent" else k): m for k, m in state["_modules"].items()
    }
    restored = type(module).__new__(type(module))
    restored.__setstate__(state)
    assert list(restored._modules)[:2] == ["preprocess", "represent"]
    x = torch.from_numpy(small_images[0][:4])[:, None]
    torch.testing.assert_close(restored.eval()(x), module.eval()(x))


def test_reference_names_cover_every_configuration():
    from contrastlearn.clr import REFERENCE_NAMES

    assert REFERENCE_NAMES[("CPLR", "cartesian-polar")] == "Polar ⟷ Cartesian"  # polcart
    assert REFERENCE_NAMES[("CLR", "cartesian")] == "Polar ⟷ Polar"  # recorded images
    assert len(set(REFERENCE_NAMES.values())) == 4
