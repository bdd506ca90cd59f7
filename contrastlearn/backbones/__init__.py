"""Backbones: encoders that map images (or flat vectors) to representation vectors.

Every backbone in this module is a :class:`torch.nn.Module` that maps a float
batch of images ``(B, C, H, W)`` -- or of vectors ``(B, F)`` for :class:`MLP` --
to a batch of representations ``(B, D)``, and stores ``D`` in the integer
attribute ``out_features``. Contrastive learners put a projection head on top
of this representation during training and keep the representation itself for
downstream tasks.

Contents
--------
SmallCNN
    Four-stage convolutional encoder, fast on CPU, for small images (8 px up).
MLP
    Fully connected encoder for flat vector inputs.
ResNet, resnet18, resnet34, resnet50
    ResNet trunks (He et al. 2016) without the classification layer, with the
    torchvision ("imagenet") stem, the SimCLR CIFAR ("small") stem or the
    ResNet-D / SimCLR v2 ("deep") stem, 1x1-convolution or ResNet-D
    average-pooling projection shortcuts, and optional squeeze-and-excitation
    (:class:`SqueezeExcitation`) and/or selective-kernel
    (:class:`SelectiveKernelConv`) attention. ``make_backbone("cplr_resnet18")``
    is the SimCLR v2 ResNet-18 of the contrastive projection learning study
    (Zimmermann et al. 2023).
VisionTransformer, vit_tiny, vit_small, vit_base
    Vision Transformers (Dosovitskiy et al. 2021) as used by DINO and iBOT:
    any patch size, any input size that is a multiple of it (position
    embeddings are interpolated, so one network takes global and local
    crops), the CLS token as representation, all tokens and patch masking
    for masked image modelling through
    :meth:`VisionTransformer.forward_tokens`.
make_backbone, BACKBONE_NAMES
    Build a backbone from its name.
embedding_dim
    Output size of any backbone, user-written modules included.
"""

import re
from itertools import chain

import torch
from torch import nn

from ..validation import InstanceOf, InvalidParameterError, validate_params
from ._common import CHANNELS, SIDES, WIDTHS

# Pickles written before backbones became a package name these building blocks here.
from ._resnet import (  # noqa: E402, F401
    ResNet,
    SelectiveKernelConv,
    SqueezeExcitation,
    _AvgPoolShortcut,
    _MaxPool2dSame,
    _ResidualBlock,
    resnet18,
    resnet34,
    resnet50,
)
from ._small import MLP, SmallCNN
from ._vit import (  # noqa: E402, F401
    VisionTransformer,
    _Attention,
    _Block,
    _DropPath,
    _Mlp,
    _PatchEmbed,
    vit_base,
    vit_small,
    vit_tiny,
)

__all__ = [
    "BACKBONE_NAMES",
    "MLP",
    "ResNet",
    "SelectiveKernelConv",
    "SmallCNN",
    "SqueezeExcitation",
    "VisionTransformer",
    "embedding_dim",
    "is_backbone_name",
    "make_backbone",
    "resnet18",
    "resnet34",
    "resnet50",
    "vit_base",
    "vit_small",
    "vit_tiny",
]

_RESNETS = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
_ATTENTIONS = {"": None, "se_": "se", "sk_": "sk", "sesk_": "se+sk"}
# Name suffix -> stem and shortcut. "_small" (CIFAR stem) and "d" (ResNet-D) exclude each other.
_RESNET_SUFFIXES = {
    "": {"stem": "imagenet"},
    "_small": {"stem": "small"},
    "d": {"stem": "deep", "shortcut": "avgpool"},
}
# Named reference architectures: name -> (factory, keyword arguments).
_REFERENCE_RESNETS = {
    # The SimCLR v2 ResNet-18 of Zimmermann et al. 2023 (contrastive projection learning):
    # ResNet-D stem and shortcuts, squeeze-and-excitation with ratio 0.25 in every block.
    "cplr_resnet18": (
        resnet18,
        {"attention": "se", "se_ratio": 0.25, "stem": "deep", "shortcut": "avgpool"},
    ),
}
_VITS = {"vit_tiny": vit_tiny, "vit_small": vit_small, "vit_base": vit_base}
_VIT_NAME = re.compile(r"(vit_tiny|vit_small|vit_base)(?:_p([1-9][0-9]*))?")

BACKBONE_NAMES = (
    ("small_cnn", "mlp")
    + tuple(p + r for p in _ATTENTIONS for r in _RESNETS)
    + tuple(_REFERENCE_RESNETS)
    + tuple(_VITS)
)
"""Base names accepted by :func:`make_backbone`. ``"small_cnn"`` and the resnets (not
``"cplr_resnet18"``) also take a ``"_small"`` suffix, the resnets a ``"d"`` suffix (ResNet-D:
``"resnet18d"``, ``"sesk_resnet50d"``), the ViTs a patch-size suffix ``"_p<k>"``."""

_RESNET_SPECS = {
    prefix + depth + suffix: (factory, {"attention": attention, **trunk})
    for prefix, attention in _ATTENTIONS.items()
    for depth, factory in _RESNETS.items()
    for suffix, trunk in _RESNET_SUFFIXES.items()
} | _REFERENCE_RESNETS


def _parse_vit_name(name):
    """``(factory, patch_size)`` for a ViT name such as ``"vit_small_p16"``, else None."""
    match = _VIT_NAME.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        return None
    return _VITS[match[1]], int(match[2] or 8)


def is_backbone_name(name):
    """Whether :func:`make_backbone` knows ``name``.

    Parameters
    ----------
    name : object

    Returns
    -------
    bool

    Examples
    --------
    >>> is_backbone_name("sk_resnet34_small"), is_backbone_name("resnet19")
    (True, False)
    >>> is_backbone_name("sesk_resnet50d"), is_backbone_name("resnet18d_small")
    (True, False)
    >>> is_backbone_name("vit_small_p16"), is_backbone_name("vit_huge")
    (True, False)
    """
    return (
        name in ("small_cnn", "small_cnn_small", "mlp")
        or name in _RESNET_SPECS
        or _parse_vit_name(name) is not None
    )


@validate_params(
    {
        "name": InstanceOf(str, name="a str"),
        "in_channels": CHANNELS,
        "n_features": [None, CHANNELS],
        "image_size": [None, *SIDES],
    }
)
def make_backbone(name, in_channels, *, n_features=None, image_size=None):
    """Build a backbone from its name.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONE_NAMES`: ``"small_cnn"``, ``"mlp"``,
        ``"resnet18"``, ``"resnet34"``, ``"resnet50"``, their
        squeeze-and-excitation (``"se_resnet18"``, ...), selective-kernel
        (``"sk_resnet18"``, ...) and combined (``"sesk_resnet18"``, ...)
        variants, ``"cplr_resnet18"``, and the Vision Transformers
        ``"vit_tiny"``, ``"vit_small"``, ``"vit_base"``. Any of the 12 resnet
        names may end in ``"_small"`` (e.g. ``"se_resnet18_small"``) to use
        the 3x3 stride-1 stem without max pooling, for images of 32 px or
        less, or in ``"d"`` (e.g. ``"resnet18d"``, ``"sk_resnet50d"``) for
        ResNet-D as in SimCLR v2: the deep stem (three 3x3 convolutions) and
        average-pooling projection shortcuts in the first block of every
        stage (``stem="deep", shortcut="avgpool"``, see :class:`ResNet`);
        not both. ``"cplr_resnet18"`` is the SimCLR v2 ResNet-18 of the
        contrastive projection learning study (Zimmermann et al. 2023):
        ``"se_resnet18d"`` with squeeze-and-excitation ratio 0.25 instead of
        1/16 (11,550,528 parameters for 3 channels, 11,549,952 for 1).
        ``"small_cnn_small"`` is the small CNN with a stride-1 first layer.
        A ViT name may end in ``"_p<k>"`` for patch size ``k`` (e.g.
        ``"vit_small_p16"``, ``"vit_tiny_p4"``); the default is 8.
    in_channels : int
        Number of input image channels (ignored by ``"mlp"``).
    n_features : int, optional
        Size of the flat input vectors; required for ``"mlp"``, ignored
        otherwise.
    image_size : int or (int, int), optional
        Image size ``(H, W)`` the ViT position embeddings are built for
        (default 32; other multiples of the patch size are interpolated at
        run time). Ignored by the other backbones.

    Returns
    -------
    torch.nn.Module
        The backbone, with an integer ``out_features`` attribute.

    Raises
    ------
    ValueError
        If ``name`` is unknown, if ``name="mlp"`` and ``n_features`` is None,
        or if a ViT's ``image_size`` is not a multiple of its patch size.

    Examples
    --------
    >>> import torch
    >>> make_backbone("small_cnn", in_channels=1).out_features
    256
    >>> make_backbone("se_resnet18_small", in_channels=3).out_features
    512
    >>> net = make_backbone("cplr_resnet18", in_channels=1)
    >>> net.stem(torch.zeros(1, 1, 224, 224)).shape  # deep stem, 4x downsampling
    torch.Size([1, 64, 56, 56])
    >>> make_backbone("mlp", in_channels=1, n_features=64).out_features
    256
    >>> net = make_backbone("vit_tiny_p4", in_channels=1, image_size=16)
    >>> net.out_features, net.patch_size, net.grid_size
    (192, 4, (4, 4))
    """
    if name in ("small_cnn", "small_cnn_small"):
        return SmallCNN(in_channels, stem_stride=1 if name.endswith("_small") else 2)
    if name == "mlp":
        if n_features is None:
            raise InvalidParameterError(
                "make_backbone('mlp', ...) needs n_features, the size of the flat input vectors"
            )
        return MLP(n_features)
    vit = _parse_vit_name(name)
    if vit is not None:
        factory, patch_size = vit
        return factory(
            in_channels, patch_size=patch_size, image_size=32 if image_size is None else image_size
        )
    if name not in _RESNET_SPECS:
        raise InvalidParameterError(
            f"unknown backbone name {name!r}; valid names are {', '.join(BACKBONE_NAMES)} "
            "(small_cnn and the resnets other than cplr_resnet18 may also end in '_small', those "
            "resnets in 'd' for ResNet-D (e.g. 'se_resnet18d'), the vits in '_p<k>' for patch "
            "size k "
            "(e.g. 'vit_small_p16'))"
        )
    factory, kwargs = _RESNET_SPECS[name]
    return factory(in_channels, **kwargs)


@validate_params(
    {
        "module": InstanceOf(nn.Module, name="a torch.nn.Module"),
        "input_shape": [CHANNELS, WIDTHS],
    }
)
def embedding_dim(module, input_shape):
    """Return the size ``D`` of the vectors that a backbone outputs.

    Runs a batch of two all-zero samples through the module in eval mode
    under :func:`torch.no_grad` (on the device and dtype of its parameters)
    and restores every submodule's training flag afterwards; so a module
    that cannot take such samples is found before training.

    Parameters
    ----------
    module : torch.nn.Module
        The backbone, e.g. a user-written encoder.
    input_shape : int or tuple of int
        Shape of one input sample without the batch dimension, e.g.
        ``(C, H, W)`` for images or ``F`` for vectors.

    Returns
    -------
    int
        The output vector size ``D``.

    Raises
    ------
    TypeError
        If ``module`` is not a :class:`torch.nn.Module`.
    ValueError
        If the module fails on such input (e.g. it expects other channels),
        or does not return a 2-D ``(B, D)`` tensor.

    Examples
    --------
    >>> from torch import nn
    >>> embedding_dim(nn.Sequential(nn.Flatten(), nn.Linear(64, 7)), (1, 8, 8))
    7
    >>> embedding_dim(SmallCNN(3), (3, 32, 32))
    256
    """
    shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
    param = next(chain(module.parameters(), module.buffers()), None)
    like = (
        {"device": param.device, "dtype": param.dtype}
        if param is not None and param.is_floating_point()
        else {}
    )
    x = torch.zeros((2, *shape), **like)
    modes = [m.training for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            out = module(x)
    except RuntimeError as error:
        raise ValueError(
            f"the backbone failed on a batch of shape {tuple(x.shape)} (two samples shaped "
            f"like those of X): {error}"
        ) from error
    finally:
        for m, mode in zip(module.modules(), modes):
            m.training = mode

    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        got = (
            f"a tensor of shape {tuple(out.shape)}"
            if isinstance(out, torch.Tensor)
            else f"a {type(out).__name__}"
        )
        raise ValueError(
            f"the backbone returned {got} for an input of shape {tuple(x.shape)}; "
            "a backbone must map (B, C, H, W) images to (B, D) vectors"
        )
    return out.shape[1]
