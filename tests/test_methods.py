"""BYOL, MoCo (v3 and v2), Barlow Twins, VICReg, NNCLR, SwAV and MAE as estimators."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from skorch.callbacks import Callback

import contrastlearn as cl
from contrastlearn.evaluation import few_label_accuracy
from contrastlearn.heads import MemoryBank
from contrastlearn.nnclr import _nearest

METHODS = {
    "BYOL": lambda **kw: cl.BYOL(**kw),
    "MoCo v3": lambda **kw: cl.MoCo(**kw),
    "MoCo v2": lambda **kw: cl.MoCo(queue_size=512, predictor_hidden=None, **kw),
    "BarlowTwins": lambda **kw: cl.BarlowTwins(**kw),
    "VICReg": lambda **kw: cl.VICReg(**kw),
    "NNCLR": lambda **kw: cl.NNCLR(support_size=512, **kw),
    "SwAV": lambda **kw: cl.SwAV(n_prototypes=64, n_local_crops=2, **kw),
}


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images[:600], data.target[:600]


def score(embedding, y):
    return few_label_accuracy(embedding, y, label_fraction=100 / len(y))  # 10 labels per class


@pytest.mark.parametrize("name", METHODS)
def test_each_method_beats_raw_pixels_and_its_untrained_network(digits, name):
    # Measured (400 digits, 12 epochs, seed 0): pixels 0.949, untrained 0.934; BYOL 0.963,
    # MoCo v3 0.967, MoCo v2 0.974, Barlow Twins 0.964, VICReg 0.967, NNCLR 0.961, SwAV 0.961.
    X, y = digits[0][:400], digits[1][:400]
    make = METHODS[name]
    trained = make(augment="upright", max_epochs=12, batch_size=128, random_state=0)
    untrained = make(augment="upright", max_epochs=0, random_state=0)
    accuracy = score(trained.fit_transform(X), y)
    assert accuracy > score(X.reshape(len(X), -1), y) + 0.005
    assert accuracy > score(untrained.fit_transform(X), y) + 0.02


class PreemptedAfter(Callback):
    """Fail at the end of an epoch, as a pre-empted job would."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.epochs:
            raise RuntimeError("pre-empted")


@pytest.mark.parametrize("name", ["BYOL", "MoCo v2", "NNCLR", "SwAV"])
def test_a_preempted_fit_resumes_its_target_queue_and_support_set_bit_for_bit(
    digits, name, tmp_path
):
    X = digits[0][:256]
    params = dict(augment="upright", max_epochs=3, batch_size=64, random_state=0)
    whole = METHODS[name](**params).fit(X)
    with pytest.raises(RuntimeError, match="pre-empted"):
        METHODS[name](checkpoint_dir=tmp_path, callbacks=[PreemptedAfter(2)], **params).fit(X)
    resumed = METHODS[name](checkpoint_dir=tmp_path, **params).fit(X)
    assert resumed.history_[:, "train_loss"] == whole.history_[:, "train_loss"]
    np.testing.assert_array_equal(resumed.transform(X), whole.transform(X))
    for key, value in whole.net_.module_.state_dict().items():
        torch.testing.assert_close(resumed.net_.module_.state_dict()[key], value, rtol=0, atol=0)


def test_moco_v2_writes_both_views_keys_into_its_queue(digits):
    X = digits[0][:128]
    moco = cl.MoCo(
        queue_size=512, predictor_hidden=None, max_epochs=1, batch_size=64, random_state=0
    ).fit(X)
    queue = moco.net_.module_.queue
    assert int(queue.pointer) == 2 * 2 * 64  # 2 steps, both views' keys
    torch.testing.assert_close(queue.vectors.norm(dim=1), torch.ones(512))
    fresh = (
        cl.MoCo(queue_size=512, predictor_hidden=None, max_epochs=0, batch_size=64, random_state=0)
        .fit(X)
        .net_.module_.queue.vectors
    )
    assert not torch.equal(queue.vectors[:256], fresh[:256])
    torch.testing.assert_close(queue.vectors[256:], fresh[256:])  # not yet written
    assert not hasattr(cl.MoCo(max_epochs=1, batch_size=64).fit(X).net_.module_, "queue")


def test_the_memory_bank_overwrites_its_oldest_rows():
    bank = MemoryBank(4, 2)
    bank.push(torch.tensor([[1.0, 0.0]] * 3))
    bank.push(torch.tensor([[0.0, 2.0]] * 2))
    np.testing.assert_array_equal(
        bank.vectors.numpy(), [[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]
    )
    assert int(bank.pointer) == 1
    assert set(bank.state_dict()) == {"vectors", "pointer"}


def test_nnclr_takes_each_projections_cosine_nearest_neighbour_from_the_support_set():
    support = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    z = torch.tensor([[5.0, 1.0], [-0.1, 3.0], [-2.0, -1.0]], requires_grad=True)
    found = _nearest(z, support)
    torch.testing.assert_close(found, support[[0, 1, 2]])
    assert not found.requires_grad


def test_grid_search_chooses_the_method():
    data = load_digits()
    X, y = data.images[:300], data.target[:300]
    common = dict(augment="upright", max_epochs=2, batch_size=64, random_state=0)
    search = GridSearchCV(
        Pipeline([("ssl", cl.CLR(**common)), ("probe", cl.LinearProbe())]),
        {"ssl": [cl.CLR(**common), cl.BYOL(**common), cl.VICReg(**common)]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert type(search.best_params_["ssl"]).__name__ in {"CLR", "BYOL", "VICReg"}
    assert search.score(X, y) > 0.5


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda: cl.BYOL(teacher_momentum=1.5), "'teacher_momentum' parameter of BYOL"),
        (lambda: cl.MoCo(queue_size=-1), "'queue_size' parameter of MoCo"),
        (lambda: cl.BarlowTwins(redundancy_weight=-1), "'redundancy_weight' parameter of"),
        (lambda: cl.VICReg(variance_weight="a"), "'variance_weight' parameter of VICReg"),
        (lambda: cl.NNCLR(support_size=0), "'support_size' parameter of NNCLR"),
    ],
)
def test_bad_parameters_name_the_method_and_the_parameter(digits, make, fragment):
    with pytest.raises(ValueError, match=fragment):
        make().fit(digits[0][:64])


def test_swav_keeps_its_prototypes_unit_and_frozen_for_the_first_epochs(digits):
    X = digits[0][:128]
    params = dict(n_prototypes=16, n_local_crops=2, batch_size=64, random_state=0)
    initial = cl.SwAV(max_epochs=0, **params).fit(X).net_.module_.prototypes.weight
    frozen = cl.SwAV(max_epochs=1, freeze_prototypes_epochs=1, **params).fit(X)
    moving = cl.SwAV(max_epochs=1, freeze_prototypes_epochs=0, **params).fit(X)
    torch.testing.assert_close(frozen.net_.module_.prototypes.weight, initial)
    weight = moving.net_.module_.prototypes.weight
    assert not torch.allclose(weight, initial)
    torch.testing.assert_close(weight.norm(dim=1), torch.ones(16))
    assert int(moving.net_.module_.step) == 2


# ---------------------------------------------------------------- MAE
@pytest.fixture(scope="module")
def digits16():
    data = load_digits()
    return np.kron(data.images[:256], np.ones((2, 2))), data.target[:256]  # 4x4 patches of 4 px


def test_the_vit_encoder_of_the_visible_patches_is_the_unmasked_encoder_when_all_are_kept():
    from contrastlearn.backbones import vit_tiny

    vit = vit_tiny(in_channels=1, patch_size=4, image_size=16).eval()
    x = torch.randn(2, 1, 16, 16)
    everything = torch.arange(16).expand(2, -1)
    torch.testing.assert_close(vit.forward_visible(x, everything), vit.forward_tokens(x))
    # a dropped patch has no influence on the kept tokens
    keep = torch.tensor([[0, 5, 9], [1, 2, 3]])
    changed = x.clone()
    changed[:, :, 12:, 12:] = 10.0  # patch 15, kept by neither image
    torch.testing.assert_close(vit.forward_visible(x, keep), vit.forward_visible(changed, keep))


def test_mae_learns_to_reconstruct_the_hidden_patches(digits16):
    X = digits16[0][:128]
    params = dict(decoder_depth=1, batch_size=64, random_state=0)
    with warnings.catch_warnings():  # a short MAE's CLS token is nearly constant
        warnings.simplefilter("ignore", cl.monitor.CollapseWarning)
        trained = cl.MAE(max_epochs=6, **params).fit(X)
    losses = trained.history_[:, "train_loss"]
    assert losses[-1] < 0.85 * losses[0]
    for pooling in ("cls", "mean"):
        embedding = cl.MAE(pooling=pooling, max_epochs=0, **params).fit(X).transform(X)
        assert embedding.shape == (len(X), 192) and np.isfinite(embedding).all()


def test_mae_hides_the_asked_fraction_and_needs_a_vit(digits16):
    X = digits16[0][:64]
    mae = cl.MAE(mask_ratio=0.75, max_epochs=0, batch_size=32, random_state=0).fit(X)
    module = mae.net_.module_
    seen = []
    original = module.backbone.vit.forward_visible
    module.backbone.vit.forward_visible = lambda x, keep: (
        seen.append(keep.shape) or original(x, keep)
    )
    mae._training_loss(module, torch.zeros(8, 1, 16, 16), None)
    assert seen == [(8, 4)]  # 16 patches, 75 % hidden
    with pytest.raises(ValueError, match="MAE needs a Vision Transformer"):
        cl.MAE(backbone="small_cnn", max_epochs=1).fit(X)
    with pytest.raises(ValueError, match="decoder_dim=100 must be divisible by decoder_heads=3"):
        cl.MAE(decoder_dim=100, decoder_heads=3, max_epochs=1).fit(X)


# ---------------------------------------------------------------- Jigsaw
def test_the_permutation_set_starts_with_the_identity_and_keeps_its_members_apart():
    from contrastlearn.jigsaw import permutation_set

    perms = permutation_set(9, 30)
    assert perms.shape == (30, 9) and (perms[0] == np.arange(9)).all()
    assert len({tuple(p) for p in perms}) == 30
    assert all(sorted(p) == list(range(9)) for p in perms)
    distances = [(a != b).sum() for i, a in enumerate(perms) for b in perms[:i]]
    assert min(distances) >= 7  # greedy max-min Hamming distance on 9 tiles
    np.testing.assert_array_equal(perms, permutation_set(9, 30))  # fixed
    assert len({tuple(p) for p in permutation_set(4, 24)}) == 24
    with pytest.raises(ValueError, match="exceeds the 24 orders of 4 tiles"):
        permutation_set(4, 25)


def test_jigsaw_puts_each_tile_in_the_slot_its_permutation_names():
    jigsaw = cl.Jigsaw(grid=2)
    images = torch.arange(16.0).view(1, 1, 4, 4)
    tiles = jigsaw._tiles(images)
    np.testing.assert_array_equal(tiles[0, 1, 0].numpy(), [[2.0, 3.0], [6.0, 7.0]])
    order = torch.tensor([[2, 0, 3, 1]])
    puzzled = torch.gather(tiles, 1, order.view(1, 4, 1, 1, 1).expand_as(tiles))
    torch.testing.assert_close(puzzled[0, 0], tiles[0, 2])


def test_jigsaw_learns_to_solve_its_puzzles_on_new_images():
    data = load_digits()
    X = np.kron(data.images, np.ones((3, 3)))  # 24x24
    train, test = X[:384], X[1000:1200]
    jigsaw = cl.Jigsaw(
        grid=2,
        n_permutations=8,
        augment="upright",
        max_epochs=10,
        batch_size=128,
        random_state=0,
    ).fit(train)
    module = jigsaw.net_.module_.eval()
    torch.manual_seed(1)
    with torch.no_grad():
        x = module.preprocess(torch.from_numpy(test).float()[:, None])
        tiles = jigsaw._tiles(x)
        labels = torch.randint(8, (len(x),))
        order = module.permutations[labels]
        puzzled = torch.gather(tiles, 1, order.view(len(x), 4, 1, 1, 1).expand_as(tiles))
        features = module.backbone(puzzled.flatten(0, 1)).view(len(x), 4, -1)
        accuracy = (module.puzzle(features)[0].argmax(1) == labels).float().mean().item()
    assert accuracy > 0.5  # chance: 1/8
    assert jigsaw.history_[-1, "train_loss"] < 0.7 * jigsaw.history_[0, "train_loss"]


def test_the_position_terms_vanish_when_tiles_are_placed_by_content():
    from contrastlearn.losses import jigsaw_loss

    normal = torch.eye(3)[None] * 20  # slot i confidently says "position i"
    order = torch.tensor([[2, 0, 1]])  # slot 0 holds tile 2, ...
    puzzled = normal[:, order[0]]  # each tile keeps its own prediction wherever it sits
    certain = torch.tensor([[0.0, 30.0]])  # the permutation term alone: ~0
    labels = torch.tensor([1])
    assert jigsaw_loss(certain, labels, puzzled, normal, order).item() < 1e-6
    following_the_slot = normal.clone()  # predictions that read the slot, not the tile
    assert jigsaw_loss(certain, labels, following_the_slot, normal, order).item() > 10
    assert jigsaw_loss(certain, labels, following_the_slot, normal, order, kl_weight=0) < 1e-6


def test_jigsaw_rotations_and_bad_images(digits):
    X = np.kron(digits[0][:64], np.ones((2, 2)))  # 16x16
    rotated = cl.Jigsaw(
        grid=2, n_permutations=4, rotate_tiles=True, max_epochs=1, batch_size=32, random_state=0
    ).fit(X)
    assert rotated.net_.module_.puzzle.rotation.out_features == 4
    with pytest.raises(ValueError, match="cuts images into tiles"):
        cl.Jigsaw(max_epochs=1).fit(X.reshape(64, -1))
    with pytest.raises(ValueError, match="too small for 3x3 tiles"):
        cl.Jigsaw(max_epochs=1).fit(np.zeros((8, 5, 5)))


# ---------------------------------------------------------------- the estimator contract
CONTRACT = {
    "BYOL": lambda: cl.BYOL(predictor_hidden=32),
    "MoCo v2": lambda: cl.MoCo(queue_size=64, predictor_hidden=None),
    "BarlowTwins": lambda: cl.BarlowTwins(projection_dims=(64, 64)),
    "VICReg": lambda: cl.VICReg(projection_dims=(64, 64)),
    "NNCLR": lambda: cl.NNCLR(support_size=64),
    "SwAV": lambda: cl.SwAV(n_prototypes=16, n_local_crops=2),
    "MAE": lambda: cl.MAE(decoder_depth=1),
    "Jigsaw": lambda: cl.Jigsaw(grid=2),
}


@pytest.mark.parametrize("name", CONTRACT)
def test_each_method_streams_from_a_file_monitors_an_eval_set_and_pickles(name, digits16, tmp_path):
    X, y = digits16[0][:96].astype(np.float32), digits16[1][:96]
    cl.datasets.save_cxi(tmp_path / "digits.cxi", X)
    params = dict(max_epochs=1, batch_size=32, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", cl.monitor.CollapseWarning)
        from_file = (
            CONTRACT[name]()
            .set_params(**params)
            .fit(cl.datasets.load_cxi(tmp_path / "digits.cxi"), eval_set=(X[:48], y[:48]))
        )
    embedding = from_file.transform(X)
    np.testing.assert_array_equal(
        from_file.transform(cl.datasets.load_cxi(tmp_path / "digits.cxi")), embedding
    )
    assert 0 <= from_file.history_[-1, "valid_knn"] <= 1
    restored = pickle.loads(pickle.dumps(from_file))
    np.testing.assert_array_equal(restored.transform(X), embedding)
