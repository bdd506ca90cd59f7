"""A catalogue of bad input over the public API, and what awkward but valid input gives.

Every bad input must raise the documented error type with a message that
names the argument, what was found and what is expected; no torch internal
error may reach the user. Awkward input that is valid (tiny data, constant
images, extreme intensities, odd memory layouts, NaN pixels under a
``nan_policy``) must work as documented.
"""

import h5py
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

import contrastlearn as cl
from contrastlearn.datasets import load_cxi, save_cxi

FAST = dict(max_epochs=1, batch_size=32, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def data(digits):
    """Digits, a fitted CLR, its embeddings and some files for the readers."""
    X, y = digits[0][:96], digits[1][:96]
    clr = cl.CLR(**FAST).fit(X)
    return {"X": X, "y": y, "clr": clr, "embedding": clr.transform(X)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    images = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    with h5py.File(folder / "odd.h5", "w") as f:
        f["flat"] = images.reshape(20, -1)
        f["words"] = np.full((20, 8, 8), b"x")
        f["entry_1/data_1/data"] = images
        f["entry_1/instrument_1/detector_1/mask"] = np.zeros((4, 4))
    with h5py.File(folder / "labels.h5", "w") as f:
        f["entry_1/data_1/data"] = images
        f["entry_1/result_1/labels"] = np.zeros(7)
    (folder / "notes.txt").write_text("not HDF5")
    save_cxi(folder / "exists.cxi", images)
    return folder


def with_pixel(X, value, image=3):
    X = X.astype(np.float64)
    X[image, 2, 2] = value
    return X


class ThreeChannelNet(nn.Sequential):
    def __init__(self):
        super().__init__(nn.Conv2d(3, 4, 3), nn.Flatten())


def fit(X, **params):
    return lambda d: cl.CLR(**{**FAST, **params}).fit(X(d) if callable(X) else X)


# (name, call on the fixtures, error type, regular expression the message must match)
CATALOGUE = [
    # ---- pretrainer.fit: shapes and sizes
    (
        "1-D array",
        fit(np.zeros(10)),
        ValueError,
        r"X must be images of shape \(n_samples, H, W\).*1 dimension\(s\) of shape \(10,\)",
    ),
    ("5-D array", fit(np.zeros((4, 2, 3, 8, 8))), ValueError, r"5 dimension\(s\)"),
    ("None", fit(None), ValueError, r"Reshape your data.*0 dimension\(s\)"),
    (
        "no images",
        fit(np.zeros((0, 8, 8))),
        ValueError,
        r"0 sample\(s\) \(shape=\(0, 8, 8\)\) while a minimum of 2 is required by CLR",
    ),
    (
        "a single image",
        fit(np.zeros((1, 8, 8))),
        ValueError,
        r"1 sample\(s\) .* minimum of 2 is required by CLR",
    ),
    (
        "images of width 0",
        fit(np.zeros((4, 8, 0))),
        ValueError,
        r"empty samples of shape \(1, 8, 0\); every image side .* at least 1",
    ),
    (
        "ragged list of images",
        fit([np.zeros((8, 8)), np.zeros((9, 9))]),
        ValueError,
        r"X must be an array of equally shaped images or vectors",
    ),
    (
        "flat vectors of the wrong size for image_shape",
        fit(np.zeros((4, 64)), image_shape=(9, 9)),
        ValueError,
        r"image_shape=\(9, 9\) holds 81 pixels but X has 64 features",
    ),
    (
        "flat vectors for a polar method",
        lambda d: cl.CPLR(**FAST).fit(d["X"].reshape(len(d["X"]), -1)),
        ValueError,
        r"CPLR projects images to polar coordinates, but X has flat samples of 64 features",
    ),
    # ---- pretrainer.fit: dtypes and values
    (
        "strings",
        fit(np.array([["a", "b"], ["c", "d"]])),
        ValueError,
        r"dtype='numeric' is not compatible with arrays of bytes/strings",
    ),
    (
        "complex numpy array",
        fit(np.zeros((4, 8, 8), complex)),
        ValueError,
        r"Complex data not supported: X has dtype complex128\. Pass real intensities",
    ),
    (
        "complex torch tensor",
        fit(torch.zeros(4, 8, 8, dtype=torch.complex64)),
        ValueError,
        r"Complex data not supported: X has dtype complex64",
    ),
    (
        "a NaN pixel",
        fit(lambda d: with_pixel(d["X"], np.nan)),
        ValueError,
        r"X contains 1 NaN, infinite or beyond-float32 pixel value\(s\), the first in image 3\. "
        r"Pass nan_policy='replace'",
    ),
    (
        "an infinite pixel",
        fit(lambda d: with_pixel(d["X"], -np.inf, image=5)),
        ValueError,
        r"1 NaN, infinite .* the first in image 5",
    ),
    (
        "a float64 pixel beyond float32",
        fit(lambda d: with_pixel(d["X"], 1e300)),
        ValueError,
        r"1 NaN, infinite or beyond-float32 pixel",
    ),
    (
        "NaN pixels in a torch tensor",
        fit(torch.full((4, 8, 8), float("nan"))),
        ValueError,
        r"256 NaN",
    ),
    # ---- pretrainer.fit: parameters and companions of X
    (
        "unknown nan_policy",
        fit(np.zeros((4, 8, 8)), nan_policy="drop"),
        ValueError,
        r"'nan_policy' parameter of CLR must be one of 'raise', 'replace', 'mask'\. Got 'drop'",
    ),
    (
        "latents of the wrong length",
        lambda d: cl.CLR(pairing=cl.LatentNeighbors(step=1), **FAST).fit(
            d["X"], latents=np.zeros((10, 2))
        ),
        ValueError,
        r"latents has 10 rows but X has 96 images",
    ),
    (
        "a GPU this machine lacks",
        fit(np.zeros((4, 8, 8)), device="cuda:7"),
        ValueError,
        r"device='cuda:7' is not available: this machine has \d+ CUDA device",
    ),
    (
        "a backbone for other channels",
        fit(np.zeros((4, 8, 8)), backbone=ThreeChannelNet()),
        ValueError,
        r"backbone failed on a batch of shape \(2, 1, 8, 8\).*3 channels",
    ),
    (
        "a backbone that returns images",
        fit(np.zeros((4, 8, 8)), backbone=nn.Identity()),
        ValueError,
        r"must map \(B, C, H, W\) images to \(B, D\) vectors",
    ),
    (
        "a ViT whose patches do not tile the image",
        fit(np.zeros((4, 12, 12)), backbone="vit_tiny"),
        ValueError,
        r"image_size \(12, 12\) must have sides that are multiples of patch_size=8",
    ),
    # ---- pretrainer.transform
    (
        "transform before fit",
        lambda d: cl.CLR().transform(d["X"]),
        NotFittedError,
        r"This CLR instance is not fitted yet",
    ),
    (
        "transform images of another size",
        lambda d: d["clr"].transform(np.zeros((2, 12, 12))),
        ValueError,
        r"samples of shape \(1, 12, 12\) were given, CLR was fitted on samples of "
        r"shape \(1, 8, 8\)",
    ),
    (
        "transform images with other channels",
        lambda d: d["clr"].transform(np.zeros((2, 3, 8, 8))),
        ValueError,
        r"X has 192 features, but CLR is expecting 64.*\(3, 8, 8\) were given",
    ),
    (
        "transform a NaN pixel",
        lambda d: d["clr"].transform(with_pixel(d["X"], np.nan, 7)),
        ValueError,
        r"1 NaN.*the first in image 7",
    ),
    (
        "transform no images",
        lambda d: d["clr"].transform(np.zeros((0, 8, 8))),
        ValueError,
        r"0 sample\(s\)",
    ),
    # ---- probes, detector, fine-tuning, metrics
    (
        "probe labels of the wrong length",
        lambda d: cl.LinearProbe().fit(d["embedding"], d["y"][:10]),
        ValueError,
        r"inconsistent numbers of samples: \[96, 10\]",
    ),
    (
        "probe with one class",
        lambda d: cl.LinearProbe().fit(d["embedding"], np.zeros(96)),
        ValueError,
        r"LinearProbe needs samples of at least 2 classes in y",
    ),
    (
        "probe on images instead of embeddings",
        lambda d: cl.LinearProbe().fit(d["X"], d["y"]),
        ValueError,
        r"Found array with dim 3.*LinearProbe",
    ),
    (
        "probe embeddings of another width",
        lambda d: cl.LinearProbe().fit(d["embedding"], d["y"]).predict(d["embedding"][:, :3]),
        ValueError,
        r"X has 3 features, but LinearProbe is expecting 256",
    ),
    (
        "detector labels of the wrong length",
        lambda d: cl.ParticleDetector().fit(d["embedding"], d["y"][:5]),
        ValueError,
        r"y has 5 labels but X has 96 samples",
    ),
    (
        "detector predict before fit",
        lambda d: cl.ParticleDetector().predict(d["embedding"]),
        NotFittedError,
        r"ParticleDetector instance is not fitted yet",
    ),
    (
        "fine-tuning labels of the wrong length",
        lambda d: cl.FineTunedClassifier(d["clr"], max_epochs=1).fit(d["X"], d["y"][:3]),
        ValueError,
        r"y has 3 labels but X has 96 images",
    ),
    (
        "overlap labels of the wrong length",
        lambda d: cl.overlap_score(d["embedding"], d["y"][:9]),
        ValueError,
        r"inconsistent numbers of samples: \[96, 9\]",
    ),
    (
        "overlap with more neighbours than images",
        lambda d: cl.overlap_score(d["embedding"], d["y"], n_neighbors=96),
        ValueError,
        r"The 'n_neighbors' parameter of overlap_score must be an int in \[1, 95\] or a float "
        r"in \(0, 1\). Got 96",
    ),
    (
        "overlap of NaN embeddings",
        lambda d: cl.overlap_score(np.full((9, 2), np.nan), np.ones(9)),
        ValueError,
        r"embeddings contains NaN",
    ),
    # ---- losses and projections
    (
        "nt_xent of mismatched batches",
        lambda d: cl.losses.nt_xent(torch.zeros(4, 8), torch.zeros(5, 8)),
        ValueError,
        r"z1 and z2 must be 2-D tensors of the same shape.*\(4, 8\) and \(5, 8\)",
    ),
    (
        "nt_xent of numpy arrays",
        lambda d: cl.losses.nt_xent(np.zeros((4, 8)), np.zeros((4, 8))),
        TypeError,
        r"The 'z1' parameter of nt_xent must be a torch tensor. Got ndarray",
    ),
    (
        "dino_loss of lists",
        lambda d: cl.losses.dino_loss([torch.zeros(4, 8)], [torch.zeros(4, 8)], torch.zeros(8)),
        TypeError,
        r"The 'student_outputs' parameter of dino_loss must be a torch tensor. Got list",
    ),
    (
        "augmenting a numpy array",
        lambda d: cl.Augment()(np.zeros((4, 1, 8, 8))),
        TypeError,
        r"Augment takes a floating-point torch tensor; got float64",
    ),
    (
        "augmenting uint8 images",
        lambda d: cl.Augment()(torch.zeros(4, 1, 8, 8, dtype=torch.uint8)),
        TypeError,
        r"floating-point torch tensor; got torch\.uint8",
    ),
    (
        "augmenting a 3-D batch",
        lambda d: cl.Augment()(torch.zeros(4, 8, 8)),
        ValueError,
        r"Augment takes images of shape \(B, C, H, W\) or vectors \(B, F\); got shape \(4, 8, 8\)",
    ),
    (
        "to_polar of a 1-D array",
        lambda d: cl.projection.to_polar(np.zeros(5)),
        ValueError,
        r"images must have shape \(H, W\), \(n, H, W\) or \(n, C, H, W\); got \(5,\)",
    ),
    # ---- readers and writers
    (
        "load_cxi of a missing file",
        lambda d, f: load_cxi(f / "missing.cxi"),
        FileNotFoundError,
        r"No CXI file at .*missing\.cxi",
    ),
    (
        "load_cxi of a file that is not HDF5",
        lambda d, f: load_cxi(f / "notes.txt"),
        ValueError,
        r"notes\.txt is not an HDF5 file",
    ),
    (
        "load_cxi of a missing dataset",
        lambda d, f: load_cxi(f / "odd.h5", "nope"),
        ValueError,
        r"odd\.h5 has no dataset 'nope'",
    ),
    (
        "load_cxi of a 2-D dataset",
        lambda d, f: load_cxi(f / "odd.h5", "flat"),
        ValueError,
        r"odd\.h5:flat must be an image stack of shape \(n, H, W\) or \(n, C, H, W\); got \(20, "
        r"64\)",
    ),
    (
        "load_cxi of string images",
        lambda d, f: load_cxi(f / "odd.h5", "words"),
        ValueError,
        r"odd\.h5:words holds values of dtype \|S1; images must be real numbers",
    ),
    (
        "load_cxi with a mask of another shape",
        lambda d, f: load_cxi(f / "odd.h5"),
        ValueError,
        r"mask has shape \(4, 4\); the detector mask must match the images' \(8, 8\)",
    ),
    (
        "load_cxi with labels of the wrong length",
        lambda d, f: load_cxi(f / "labels.h5"),
        ValueError,
        r"labels has 7 rows for 20 images",
    ),
    (
        "save_cxi of a 1-D array",
        lambda d, f: save_cxi(f / "new.cxi", np.zeros(5)),
        ValueError,
        r"X must have shape \(n, H, W\) or \(n, C, H, W\); got \(5,\)",
    ),
    (
        "save_cxi with labels of the wrong length",
        lambda d, f: save_cxi(f / "new.cxi", np.zeros((4, 8, 8)), labels=np.zeros(3)),
        ValueError,
        r"labels has 3 rows but X has 4 images",
    ),
    (
        "save_cxi of strings",
        lambda d, f: save_cxi(f / "new.cxi", np.full((4, 8, 8), "a")),
        ValueError,
        r"X must hold real numbers .*got dtype <U1",
    ),
    (
        "save_cxi with a mask of another shape",
        lambda d, f: save_cxi(f / "new.cxi", np.zeros((4, 8, 8)), mask=np.zeros(8)),
        ValueError,
        r"mask has shape \(8,\); it must match the images' \(8, 8\)",
    ),
    (
        "save_cxi over an existing file",
        lambda d, f: save_cxi(f / "exists.cxi", np.zeros((4, 8, 8))),
        FileExistsError,
        r"exists\.cxi exists; pass overwrite=True",
    ),
    # ---- generators
    (
        "make_diffraction of no samples",
        lambda d: cl.datasets.make_diffraction(n_samples=0),
        ValueError,
        r"The 'n_samples' parameter of make_diffraction must be an int >= 1. Got 0",
    ),
    (
        "make_lenses of a string count",
        lambda d: cl.datasets.make_lenses(n_samples="a"),
        TypeError,
        r"The 'n_samples' parameter of make_lenses must be an int >= 1. Got 'a'",
    ),
]


@pytest.mark.parametrize("name,call,error,message", CATALOGUE, ids=[c[0] for c in CATALOGUE])
def test_bad_input_raises_the_promised_error(name, call, error, message, data, files):
    if "GPU this machine lacks" in name and torch.cuda.device_count() > 7:
        pytest.skip("this machine has a cuda:7")
    with pytest.raises(error, match=message) as raised:
        call(data, files) if call.__code__.co_argcount == 2 else call(data)
    assert type(raised.value).__module__.split(".")[0] != "torch"  # never a torch internal error


# ---- awkward input that is valid: it works as documented


def test_fewer_images_than_the_batch_size_train_in_one_batch(data):
    clr = cl.CLR(**{**FAST, "batch_size": 256, "max_epochs": 2}).fit(data["X"][:5])
    assert [epoch["train_batch_count"] for epoch in clr.history_] == [1, 1]
    assert clr.transform(data["X"][:1]).shape == (1, 256)  # a single image embeds


@pytest.mark.parametrize("normalize", ["dataset", "image"])
def test_constant_images_give_finite_embeddings(normalize):
    X = np.full((40, 8, 8), 7.0)
    with pytest.warns(cl.monitor.CollapseWarning, match="all images get nearly the same"):
        clr = cl.CLR(normalize=normalize, **FAST).fit(X)  # identical images: rank 1, warned
    assert np.isfinite(clr.history_[:, "train_loss"]).all()
    assert np.isfinite(clr.transform(X)).all()


@pytest.mark.parametrize("log_intensity", [False, True])
def test_intensities_from_1e_minus_3_to_1e9_train(data, log_intensity):
    rng = np.random.default_rng(0)
    X = 10.0 ** rng.uniform(-3, 9, size=(64, 8, 8))
    clr = cl.CLR(log_intensity=log_intensity, **FAST).fit(X)
    assert np.isfinite(clr.history_[:, "train_loss"]).all()
    assert np.isfinite(clr.transform(X)).all()


@pytest.mark.parametrize("layout", ["reversed", "big-endian", "read-only", "fortran", "uint16"])
def test_memory_layouts_and_byte_orders_embed_like_a_plain_array(data, layout):
    X = np.round(data["X"][:, ::-1])  # a negative stride
    plain = np.ascontiguousarray(X, dtype=np.float32)
    odd = {
        "reversed": X,
        "big-endian": X.astype(">f4"),
        "fortran": np.asfortranarray(X),
        "uint16": X.astype(np.uint16),
        "read-only": plain.copy(),
    }[layout]
    odd.setflags(write=layout != "read-only")
    np.testing.assert_array_equal(data["clr"].transform(odd), data["clr"].transform(plain))


# ---- nan_policy


def test_replace_treats_bad_pixels_as_zeros(data):
    X = data["X"].copy()
    X[::7, 3, 4], X[1, 0, 0], X[2, 5, 5] = np.nan, np.inf, -np.inf
    zeros = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=0.0)
    replaced = cl.CLR(nan_policy="replace", **FAST).fit(X)
    clean = cl.CLR(**FAST).fit(zeros)
    assert replaced.history_[:, "train_loss"] == clean.history_[:, "train_loss"]
    np.testing.assert_array_equal(replaced.transform(X), clean.transform(zeros))


@pytest.mark.parametrize("normalize", ["dataset", "image", None])
def test_mask_leaves_bad_pixels_out_of_the_statistics_and_sets_them_to_the_mean(normalize):
    rng = np.random.default_rng(0)
    X = rng.normal(100.0, 5.0, size=(40, 2, 6, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    X[0, 1, 2, 2] = np.inf
    module = cl.CLR(nan_policy="mask", normalize=normalize, **FAST).fit(X).net_.module_
    out = module.preprocess(torch.as_tensor(X)).numpy()
    good = np.where(np.isfinite(X), X, np.nan)
    if normalize == "dataset":
        mean = np.nanmean(good, axis=(0, 2, 3), keepdims=True)
        expected = (good - mean) / np.nanstd(good, axis=(0, 2, 3), keepdims=True)
    elif normalize == "image":
        mean = np.nanmean(good, axis=(1, 2, 3), keepdims=True)
        expected = (good - mean) / np.nanstd(good, axis=(1, 2, 3), keepdims=True)
    else:
        expected = good
    np.testing.assert_allclose(out[np.isfinite(X)], expected[np.isfinite(X)], rtol=1e-4, atol=1e-5)
    assert (out[~np.isfinite(X)] == 0).all()


def test_mask_and_replace_differ_where_zero_is_not_the_mean(data):
    X = data["X"] + 100.0
    X[::5, 4, 4] = np.nan
    masked = cl.CLR(nan_policy="mask", **FAST).fit(X).net_.module_.preprocess.mean
    replaced = cl.CLR(nan_policy="replace", **FAST).fit(X).net_.module_.preprocess.mean
    assert masked.item() == pytest.approx(np.nanmean(X), rel=1e-6)
    assert replaced.item() == pytest.approx(np.nan_to_num(X).mean(), rel=1e-6)
