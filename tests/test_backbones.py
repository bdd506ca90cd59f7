"""Tests for contrastlearn.backbones."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from contrastlearn.backbones import (
    BACKBONE_NAMES,
    MLP,
    ResNet,
    SelectiveKernelConv,
    SmallCNN,
    SqueezeExcitation,
    VisionTransformer,
    embedding_dim,
    is_backbone_name,
    make_backbone,
    resnet18,
    resnet34,
    resnet50,
    vit_base,
    vit_small,
    vit_tiny,
)

# The nine original resnet names; the "sesk_" ones and "cplr_resnet18" have tests of their own.
RESNET_NAMES = [n for n in BACKBONE_NAMES if "resnet" in n and not n.startswith(("sesk_", "cplr_"))]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


def chain_blocks(net):
    return [block for stage in net.stages for block in stage]


def se_widths(net):
    return [m.hidden_channels for m in net.modules() if isinstance(m, SqueezeExcitation)]


def randomize_batchnorm(module):
    """Give every BatchNorm random statistics and affine parameters.

    Without this the zero-initialised last BN of each residual branch would
    hide the branch from output comparisons.
    """
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
    return module


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_backbone_names_cover_all_variants():
    assert set(BACKBONE_NAMES) == {
        "small_cnn",
        "mlp",
        *(f"{p}resnet{d}" for p in ("", "se_", "sk_", "sesk_") for d in (18, 34, 50)),
        "cplr_resnet18",
        "vit_tiny",
        "vit_small",
        "vit_base",
    }
    assert len(BACKBONE_NAMES) == len(set(BACKBONE_NAMES))


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name", RESNET_NAMES)
def test_resnet_imagenet_stem_output_shape(name, in_channels):
    net = make_backbone(name, in_channels)
    expected = 2048 if name.endswith("50") else 512
    assert net.out_features == expected
    out = net(torch.randn(2, in_channels, 32, 32))  # spatial size reaches 1x1
    assert out.shape == (2, expected)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize(
    "name", ["small_cnn", "small_cnn_small"] + [n + "_small" for n in RESNET_NAMES]
)
def test_small_image_backbones_output_shape(name, in_channels):
    net = make_backbone(name, in_channels)
    for size in (8, 32):
        out = net(torch.randn(2, in_channels, size, size))
        assert out.shape == (2, net.out_features)
        assert torch.isfinite(out).all()


def test_small_stem_keeps_resolution():
    # The small stem must not downsample: the first stage sees the full image.
    shapes = []

    def record(module, inputs, output):
        shapes.append(output.shape)

    net = resnet18(1, stem="small")
    net.stages[0].register_forward_hook(record)
    net(torch.randn(2, 1, 32, 32))
    assert shapes == [(2, 64, 32, 32)]


def test_mlp_backbone():
    net = make_backbone("mlp", in_channels=1, n_features=20)
    assert isinstance(net, MLP)
    assert net(torch.randn(5, 20)).shape == (5, net.out_features) == (5, 256)
    assert MLP(20, hidden=(64, 16))(torch.randn(5, 20)).shape == (5, 16)


@pytest.mark.parametrize("size", [1, 8, 13, 64])
def test_small_cnn_any_size_and_custom_widths(size):
    net = SmallCNN(in_channels=2, widths=(8, 16, 24))
    assert net(torch.randn(3, 2, size, size)).shape == (3, 24)


def test_small_cnn_default_size():
    assert 350_000 < n_params(SmallCNN(1)) < 450_000


def test_small_cnn_stem_stride_sets_first_layer_resolution():
    x = torch.randn(2, 1, 16, 16)
    assert make_backbone("small_cnn", 1).features[0](x).shape[-1] == 8
    assert make_backbone("small_cnn_small", 1).features[0](x).shape[-1] == 16


@pytest.mark.parametrize("shape", [(40, 40), (33, 47), (96, 96)])
def test_resnet_various_input_sizes(shape):
    assert resnet18(3)(torch.randn(2, 3, *shape)).shape == (2, 512)


def test_parameter_counts_match_torchvision():
    # torchvision resnet18 / resnet50 parameter counts minus the fc layer.
    assert n_params(resnet18(in_channels=3)) == 11_176_512
    assert n_params(resnet50(in_channels=3)) == 23_508_032


@pytest.mark.parametrize("factory, features", [(resnet18, 512), (resnet34, 512), (resnet50, 2048)])
@pytest.mark.parametrize("attention", ["se", "sk"])
def test_attention_variants_are_larger_with_same_features(factory, features, attention):
    plain = factory(3)
    net = factory(3, attention=attention)
    assert n_params(net) > n_params(plain)
    assert net.out_features == features
    module_type = SqueezeExcitation if attention == "se" else SelectiveKernelConv
    assert any(isinstance(m, module_type) for m in net.modules())


def test_squeeze_excitation_scales_input_by_gate():
    se = SqueezeExcitation(32, reduction=4)
    x = torch.randn(3, 32, 5, 5)
    gate = se.gate(x)
    assert gate.shape == (3, 32, 1, 1)
    assert ((gate > 0) & (gate < 1)).all()
    torch.testing.assert_close(se(x), x * gate)


def test_squeeze_excitation_reduction():
    # 64 channels, r=16: FC 64 -> 4 and FC 4 -> 64, with biases.
    assert n_params(SqueezeExcitation(64)) == 64 * 4 + 4 + 4 * 64 + 64


def test_selective_kernel_branch_weights_sum_to_one():
    sk = SelectiveKernelConv(8, 16, stride=2)
    assert [branch[0].dilation for branch in sk.branches] == [(1, 1), (2, 2)]
    x = torch.randn(3, 8, 10, 10)
    weights = sk.branch_weights(x)
    assert weights.shape == (3, 2, 16, 1, 1)
    assert (weights > 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(3, 16, 1, 1))
    out = sk(x)
    assert out.shape == (3, 16, 5, 5)
    # The output is the weighted sum of the two branches.
    branches = torch.stack([b(x) for b in sk.branches], dim=1)
    torch.testing.assert_close(out, (branches * weights).sum(dim=1))


def test_selective_kernel_fused_size_has_floor():
    # reduction 16 on 64 channels would give 4 dims; the floor is 32.
    assert SelectiveKernelConv(64, 64).select.in_channels == 32
    assert SelectiveKernelConv(1024, 1024).select.in_channels == 64


@pytest.mark.parametrize(
    "name",
    ["small_cnn", "resnet18", "se_resnet18", "sk_resnet18_small", "cplr_resnet18", "vit_tiny"],
)
def test_gradients_reach_first_conv(name):
    net = make_backbone(name, 3)
    net(torch.randn(2, 3, 32, 32)).pow(2).sum().backward()
    first_conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad is not None
    assert first_conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "name",
    [
        "small_cnn",
        "resnet18",
        "se_resnet18",
        "sk_resnet18",
        "resnet50_small",
        "cplr_resnet18",
        "sesk_resnet18d",
        "vit_tiny",
        "vit_tiny_p4",
    ],
)
def test_channels_last_matches_contiguous(name):
    net = randomize_batchnorm(make_backbone(name, 3)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        out = net(x.to(memory_format=torch.channels_last))
        out_cl_model = net.to(memory_format=torch.channels_last)(
            x.to(memory_format=torch.channels_last)
        )
    # Kernels differ between memory formats: compare up to float rounding
    # relative to the output scale (a layout bug gives O(1) differences).
    atol = 1e-4 * ref.abs().max().item()
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=atol)
    torch.testing.assert_close(out_cl_model, ref, rtol=1e-4, atol=atol)


def test_blocks_start_as_identity():
    # Zero-init of the last BN gamma: at init every residual branch outputs 0.
    net = resnet18(3).eval()
    block = net.stages[0][0]
    x = torch.rand(2, 64, 8, 8)  # non-negative, so relu(x + 0) == x
    with torch.no_grad():
        torch.testing.assert_close(block(x), x)


def test_make_backbone_unknown_name():
    with pytest.raises(ValueError, match="resnet19") as info:
        make_backbone("resnet19", 3)
    assert "resnet18" in str(info.value) and "small_cnn" in str(info.value)


def test_make_backbone_mlp_requires_n_features():
    with pytest.raises(ValueError, match="n_features"):
        make_backbone("mlp", 1)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"block": "wide"}, "block"),
        ({"attention": "cbam"}, "attention"),
        ({"stem": "tiny"}, "stem"),
        ({"layers": ()}, "layers"),
        ({"attention": "sk+se"}, "attention"),
        ({"shortcut": "pool"}, "shortcut"),
        ({"se_ratio": 0}, "se_ratio"),
        ({"se_ratio": -0.25}, "se_ratio"),
        ({"se_ratio": float("nan")}, "se_ratio"),
        ({"stem": "deep", "width": 1}, "width"),
        ({"width": 0}, "width"),
    ],
)
def test_resnet_rejects_bad_arguments(kwargs, match):
    args = {"block": "basic", "layers": (1, 1)} | kwargs
    with pytest.raises(ValueError, match=match):
        ResNet(**args)


@pytest.mark.parametrize("se_ratio", ["0.25", None, True])
def test_resnet_rejects_non_numeric_se_ratio(se_ratio):
    with pytest.raises(TypeError, match="se_ratio"):
        ResNet("basic", (1, 1), se_ratio=se_ratio)


# -------------------------------------------------- SE ratio, ResNet-D, SE+SK, cplr_resnet18


def test_squeeze_excitation_ratio():
    # SimCLR v2: hidden = max(1, int(channels * se_ratio)).
    assert [SqueezeExcitation(c, ratio=0.25).hidden_channels for c in (64, 128, 256, 512)] == [
        16,
        32,
        64,
        128,
    ]
    assert SqueezeExcitation(3, ratio=0.25).hidden_channels == 1  # int(0.75) = 0, floored at 1
    assert SqueezeExcitation(10, ratio=0.25).hidden_channels == 2  # int(2.5), truncated
    se = SqueezeExcitation(64, ratio=0.25)
    assert se.gate[1].out_channels == se.gate[3].in_channels == 16
    assert n_params(se) == 64 * 16 + 16 + 16 * 64 + 64
    # ratio 1/16 and the default reduction 16 give the same layer, for any width.
    for c in (1, 15, 16, 17, 64, 100, 2048):
        assert (
            SqueezeExcitation(c, ratio=1 / 16).hidden_channels
            == SqueezeExcitation(c).hidden_channels
        )
        assert SqueezeExcitation(c).hidden_channels == max(c // 16, 1)
    assert (
        SqueezeExcitation(64, 4).hidden_channels
        == SqueezeExcitation(64, reduction=4).hidden_channels
        == 16
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"reduction": 4, "ratio": 0.25}, ValueError, "not both"),
        ({"ratio": 0.0}, ValueError, "ratio"),
        ({"ratio": "1/4"}, TypeError, "ratio"),
        ({"reduction": 0}, ValueError, "reduction"),
        ({"reduction": 4.0}, TypeError, "reduction"),
    ],
)
def test_squeeze_excitation_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SqueezeExcitation(64, **kwargs)


def test_resnet_se_ratio_sets_gate_width():
    net = ResNet("basic", (1, 1), 1, attention="se", stem="small", width=16, se_ratio=0.5)
    assert se_widths(net) == [8, 16]


def test_existing_resnets_keep_their_layout():
    # Default keywords: torchvision stem, 1x1-conv shortcuts only where needed,
    # SE width channels // 16.
    net = make_backbone("se_resnet18", 3)
    assert net.stem[0][0].kernel_size == (7, 7) and isinstance(net.stem[1], nn.MaxPool2d)
    assert isinstance(net.stages[0][0].shortcut, nn.Identity)
    assert net.stages[1][0].shortcut[0].stride == (2, 2)
    assert se_widths(net) == [4, 4, 8, 8, 16, 16, 32, 32]
    assert n_params(make_backbone("resnet18", 3)) == 11_176_512


def tf_same_max_pool_3x3_s2(x):
    """TensorFlow MaxPool(3, 2, 'SAME'), written out: max over the valid elements of each window."""
    H, W = x.shape[-2:]
    out_h, out_w = -(-H // 2), -(-W // 2)
    top = max((out_h - 1) * 2 + 3 - H, 0) // 2
    left = max((out_w - 1) * 2 + 3 - W, 0) // 2
    out = torch.empty(*x.shape[:-2], out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            r, c = 2 * i - top, 2 * j - left
            out[..., i, j] = x[..., max(r, 0) : r + 3, max(c, 0) : c + 3].amax(dim=(-2, -1))
    return out


def test_deep_stem_layout():
    stem = ResNet("basic", (1,), 1, stem="deep").stem  # width 64: 32-32-64
    convs = [m for m in stem.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(1, 32), (32, 32), (32, 64)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.bias is None for c in convs)
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)]
    for layer in stem[:3]:  # each conv followed by BN and ReLU
        assert [type(m) for m in layer] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
    x = torch.randn(2, 1, 224, 224)
    with torch.no_grad():
        assert stem[0](x).shape[-2:] == (112, 112)
        assert stem(x).shape == (2, 64, 56, 56)


@pytest.mark.parametrize("size", [(6, 6), (7, 7), (8, 5), (112, 112)])
def test_deep_stem_max_pool_is_tf_same(size):
    # The reference's MaxPooling2D(3, 2, 'SAME'): for even sizes TF pads one row/column at the
    # end only, so its windows are shifted by one from nn.MaxPool2d(3, 2, padding=1).
    pool = ResNet("basic", (1,), 1, stem="deep", width=4).stem[-1]
    x = torch.randn(2, 3, *size)
    expected = tf_same_max_pool_3x3_s2(x)
    torch.testing.assert_close(pool(x), expected, rtol=0, atol=0)
    torch.testing.assert_close(
        pool(-x.abs()), tf_same_max_pool_3x3_s2(-x.abs()), rtol=0, atol=0
    )  # no pad wins
    if size == (6, 6):
        assert not torch.equal(nn.MaxPool2d(3, 2, padding=1)(x), expected)


def resnet_d_shortcut_pool(net, stage):
    """The average pooling of the first block's shortcut in ``stage``."""
    shortcut = net.stages[stage][0].shortcut
    assert [type(m).__name__ for m in shortcut] == ["_AvgPoolShortcut", "Conv2d", "BatchNorm2d"]
    return shortcut[0]


def test_avgpool_shortcut_stride_1_is_tf_same_average():
    # TF AveragePooling2D(2, 1, 'SAME'): pad one row/column at the end, average only the valid
    # elements, i.e. the python slice x[i:i+2, j:j+2] (clipped at the border).
    pool = resnet_d_shortcut_pool(ResNet("basic", (1, 1), 1, width=4, shortcut="avgpool"), 0)
    x = torch.randn(2, 3, 4, 5)
    expected = torch.empty_like(x)
    for i in range(4):
        for j in range(5):
            expected[..., i, j] = x[..., i : i + 2, j : j + 2].mean(dim=(-2, -1))
    torch.testing.assert_close(pool(x), expected)
    # the bottom-right element averages itself only; zero padding would have halved or quartered it
    torch.testing.assert_close(pool(x)[..., -1, -1], x[..., -1, -1])


@pytest.mark.parametrize("size", [(4, 4), (5, 7)])
def test_avgpool_shortcut_stride_2_is_zero_pad_then_valid_average(size):
    # The reference: FixedPadding(2) pads (0, 1) with zeros, then AveragePooling2D(2, 2, 'VALID');
    # the padded zeros count in the average (odd sizes only).
    pool = resnet_d_shortcut_pool(ResNet("basic", (1, 1), 1, width=4, shortcut="avgpool"), 1)
    H, W = size
    x = torch.randn(2, 3, H, W)
    padded = torch.zeros(2, 3, H + 1, W + 1)
    padded[..., :H, :W] = x
    out_h, out_w = (H + 1 - 2) // 2 + 1, (W + 1 - 2) // 2 + 1
    expected = torch.empty(2, 3, out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            expected[..., i, j] = padded[..., 2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean(
                dim=(-2, -1)
            )
    torch.testing.assert_close(pool(x), expected)
    assert expected.shape[-2:] == (-(-H // 2), -(-W // 2))  # same size as the stride-2 main branch


def test_avgpool_shortcut_projects_first_block_of_every_stage():
    net = ResNet("basic", (2, 2, 2), 1, stem="small", width=8, shortcut="avgpool")
    for stage, stride in zip(net.stages, (1, 2, 2)):
        pool, conv, bn = stage[0].shortcut
        assert pool.stride == stride and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
        assert conv.bias is None and (bn.weight == 1).all()
        assert isinstance(stage[1].shortcut, nn.Identity)
    # the first stage projects although channels (8 -> 8) and size stay the same
    assert (
        net.stages[0][0].shortcut[1].in_channels,
        net.stages[0][0].shortcut[1].out_channels,
    ) == (8, 8)
    block = randomize_batchnorm(net).eval().stages[1][0]
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        shortcut = block.shortcut[2](block.shortcut[1](block.shortcut[0](x)))
        torch.testing.assert_close(block(x), torch.relu(block.residual(x) + shortcut))
    # bottleneck blocks project the same way
    net = ResNet("bottleneck", (1, 1), 1, stem="small", width=8, shortcut="avgpool")
    assert [stage[0].shortcut[0].stride for stage in net.stages] == [1, 2]
    assert net.stages[0][0].shortcut[1].out_channels == 32


def test_se_plus_sk_blocks_contain_both():
    kinds = {
        a: ResNet("basic", (1, 1), 1, attention=a, stem="small", width=16)
        for a in (None, "se", "sk", "se+sk")
    }
    for block in chain_blocks(kinds["se+sk"]):
        assert isinstance(
            block.residual[0], SelectiveKernelConv
        )  # the 3x3 conv is a selective kernel
        assert isinstance(
            block.residual[-1], SqueezeExcitation
        )  # the gate closes the residual branch
        assert block.residual[-1].hidden_channels == max(
            block.residual[-1].gate[1].in_channels // 16, 1
        )
    # SE adds parameters, SK replaces the 3x3 conv: the two changes add up.
    plain = n_params(kinds[None])
    assert n_params(kinds["se+sk"]) - plain == (n_params(kinds["se"]) - plain) + (
        n_params(kinds["sk"]) - plain
    )
    net = ResNet("bottleneck", (1, 1), 1, attention="se+sk", stem="small", width=8)
    for block in chain_blocks(net):  # 1x1, SK 3x3, 1x1, SE
        assert isinstance(block.residual[1], SelectiveKernelConv) and isinstance(
            block.residual[-1], SqueezeExcitation
        )
        assert (
            block.residual[2][1].weight == 0
        ).all()  # the zero-init BN is the one before the gate
    out = net(torch.randn(2, 1, 8, 8))
    assert out.shape == (2, 64) and torch.isfinite(out).all()


def cplr_resnet18_param_count(in_channels):
    """Trainable parameters of the reference's ResNet-18 (resnet.py, sk_ratio > 0, se_ratio 0.25).

    Convolutions have no bias; every BatchNorm has gamma and beta (2 per channel); SE_Layer is
    conv1x1(c -> c/4, bias) and conv1x1(c/4 -> c, bias); the projection shortcut of the first block
    of every group is AvgPool (no parameters) + conv1x1 + BN.
    """
    bn = 2
    stem = (
        9 * in_channels * 32 + 32 * bn + 9 * 32 * 32 + 32 * bn + 9 * 32 * 64 + 64 * bn
    )  # = 288 * C + 27,904

    def block(c_in, c, project):
        h = c // 4
        main = 9 * c_in * c + c * bn + 9 * c * c + c * bn
        se = (c * h + h) + (h * c + c)
        return main + se + (c_in * c + c * bn if project else 0)

    groups = 0
    for c_in, c in ((64, 64), (64, 128), (128, 256), (256, 512)):
        groups += block(c_in, c, True) + block(c, c, False)
    # groups: 80,336 + 76,112 | 238,496 + 303,776 | 952,128 + 1,213,760
    #         | 3,804,800 + 4,852,352 = 11,521,760
    assert groups == 11_521_760
    return stem + groups


def test_cplr_resnet18_parameter_count():
    assert cplr_resnet18_param_count(1) == 11_549_952
    assert cplr_resnet18_param_count(3) == 11_550_528
    assert n_params(make_backbone("cplr_resnet18", 1)) == 11_549_952
    assert n_params(make_backbone("cplr_resnet18", 3)) == 11_550_528


def test_cplr_resnet18_layout():
    net = make_backbone("cplr_resnet18", 1)
    assert net.out_features == 512
    blocks = chain_blocks(net)
    assert len(blocks) == 8 and all(
        not any(isinstance(m, SelectiveKernelConv) for m in b.modules()) for b in blocks
    )
    assert [b.residual[-1].hidden_channels for b in blocks] == [16, 16, 32, 32, 64, 64, 128, 128]
    for block in blocks:
        conv_bn, last, se = block.residual  # conv3x3-BN-ReLU, conv3x3-BN, SE: SE after the 2nd BN
        assert [type(m) for m in conv_bn] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU]
        assert [type(m) for m in last] == [nn.Conv2d, nn.BatchNorm2d]
        assert isinstance(se, SqueezeExcitation) and se.gate[1].bias is not None
        assert (last[1].weight == 0).all()  # zero-init gamma of the last BN
    assert [b.residual[0][0].stride for b in blocks[::2]] == [(1, 1), (2, 2), (2, 2), (2, 2)]
    assert [resnet_d_shortcut_pool(net, i).stride for i in range(4)] == [1, 2, 2, 2]
    assert all(isinstance(b.shortcut, nn.Identity) for b in blocks[1::2])
    assert [type(m).__name__ for m in net.stem] == [
        "Sequential",
        "Sequential",
        "Sequential",
        "_MaxPool2dSame",
    ]
    # the same trunk as se_resnet18d, only with SE ratio 0.25 instead of 1/16
    other = make_backbone("se_resnet18d", 1)
    assert [k for k in net.state_dict()] == [k for k in other.state_dict()]
    assert se_widths(other) == [4, 4, 8, 8, 16, 16, 32, 32]


def test_cplr_resnet18_spatial_sizes():
    net = make_backbone("cplr_resnet18", 1).eval()
    sizes = []
    for module in (net.stem, *net.stages):
        module.register_forward_hook(lambda module, args, out: sizes.append(tuple(out.shape[1:])))
    with torch.no_grad():
        out = net(torch.randn(2, 1, 224, 224))
        assert out.shape == (2, 512) and torch.isfinite(out).all()
        assert sizes == [(64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]
        sizes.clear()
        assert net(torch.randn(2, 1, 64, 64)).shape == (2, 512)
        assert [s[-1] for s in sizes] == [16, 16, 8, 4, 2]
        assert net(torch.randn(2, 1, 33, 47)).shape == (
            2,
            512,
        )  # odd sizes: shortcut and main branch agree


@pytest.mark.parametrize(
    "name, attention, stem, shortcut",
    [
        ("resnet18d", None, "deep", "avgpool"),
        ("se_resnet34d", "se", "deep", "avgpool"),
        ("sesk_resnet18", "se+sk", "imagenet", "conv"),
        ("sesk_resnet18_small", "se+sk", "small", "conv"),
        ("sk_resnet50d", "sk", "deep", "avgpool"),
    ],
)
def test_new_resnet_names(name, attention, stem, shortcut):
    assert is_backbone_name(name)
    net = make_backbone(name, 2)
    has_se = any(isinstance(m, SqueezeExcitation) for m in net.modules())
    has_sk = any(isinstance(m, SelectiveKernelConv) for m in net.modules())
    assert (has_se, has_sk) == (attention in ("se", "se+sk"), attention in ("sk", "se+sk"))
    first_conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert (first_conv.kernel_size, first_conv.stride) == {
        "deep": ((3, 3), (2, 2)),
        "imagenet": ((7, 7), (2, 2)),
        "small": ((3, 3), (1, 1)),
    }[stem]
    first_shortcut = net.stages[0][0].shortcut
    if shortcut == "avgpool":
        assert type(first_shortcut[0]).__name__ == "_AvgPoolShortcut"
    else:
        assert not any(type(m).__name__ == "_AvgPoolShortcut" for m in net.modules())
    assert net.out_features == (2048 if name.startswith("sk_resnet50") else 512)


@pytest.mark.parametrize(
    "name",
    [
        "resnet18d_small",
        "resnet18_smalld",
        "cplr_resnet18_small",
        "cplr_resnet18d",
        "cplr_resnet34",
        "se_cplr_resnet18",
        "sksk_resnet18",
        "skse_resnet18",
        "sesk_resnet19d",
        "resnet18dd",
        "resnetd",
    ],
)
def test_unknown_resnet_names_raise(name):
    assert not is_backbone_name(name)
    with pytest.raises(ValueError, match="unknown backbone name") as info:
        make_backbone(name, 3)
    assert "cplr_resnet18" in str(info.value) and "'d'" in str(info.value)


def test_embedding_dim_user_module():
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 7))
    assert embedding_dim(module, (1, 8, 8)) == 7


def test_embedding_dim_restores_training_flags():
    module = nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    module[1].eval()  # mixed modes must survive
    running_mean = module[1].running_mean.clone()
    assert embedding_dim(module, (1, 8, 8)) == 4
    assert [m.training for m in module.modules()] == [True, True, False, True, True]
    torch.testing.assert_close(
        module[1].running_mean, running_mean
    )  # eval forward: stats untouched


def test_embedding_dim_uses_out_features():
    assert embedding_dim(resnet50(1), (1, 32, 32)) == 2048
    assert embedding_dim(MLP(10, hidden=(12,)), 10) == 12


def test_embedding_dim_rejects_feature_maps():
    with pytest.raises(ValueError, match=r"\(B, D\)") as info:
        embedding_dim(nn.Sequential(nn.Conv2d(1, 4, 3)), (1, 8, 8))
    assert "(2, 4, 6, 6)" in str(info.value)


def test_embedding_dim_rejects_non_module():
    with pytest.raises(TypeError):
        embedding_dim(lambda x: x, (1, 8, 8))


# ---------------------------------------------------------------- Vision Transformers


def vit_param_count(in_channels, patch_size, n_tokens, dim, depth, mlp_ratio=4):
    """Closed-form parameter count of a DINO/timm ViT without head or mask token."""
    hidden = mlp_ratio * dim
    block = (
        2 * 2 * dim
        + (dim * 3 * dim + 3 * dim)
        + (dim * dim + dim)
        + (dim * hidden + hidden)
        + (hidden * dim + dim)
    )
    patch_embed = in_channels * patch_size**2 * dim + dim
    return (
        patch_embed + dim + n_tokens * dim + depth * block + 2 * dim
    )  # + CLS, positions, final norm


def tiny_vit(**kwargs):
    """A ViT small enough for per-test construction (16 px images, 4 px patches)."""
    args = {"image_size": 16, "patch_size": 4, "embed_dim": 32, "depth": 2, "num_heads": 2} | kwargs
    return VisionTransformer(**args)


@pytest.mark.parametrize("in_channels", [1, 3])
@pytest.mark.parametrize("name, features", [("vit_tiny", 192), ("vit_small", 384)])
def test_vit_output_shape(name, features, in_channels):
    net = make_backbone(name, in_channels)
    assert isinstance(net, VisionTransformer)
    assert net.out_features == features
    assert net.patch_size == 8 and net.grid_size == (4, 4)  # defaults: patch 8, image 32
    out = net(torch.randn(2, in_channels, 32, 32))
    assert out.shape == (2, features)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "name, patch_size, features", [("vit_tiny_p4", 4, 192), ("vit_small_p16", 16, 384)]
)
def test_vit_patch_size_suffix(name, patch_size, features):
    net = make_backbone(name, 3)
    assert net.patch_size == patch_size
    assert net.patch_embed.proj.kernel_size == (patch_size, patch_size)
    assert net.patch_embed.proj.stride == (patch_size, patch_size)
    x = torch.randn(2, 3, 32, 32)
    assert net.forward_tokens(x).shape == (2, 1 + (32 // patch_size) ** 2, features)
    assert net(x).shape == (2, features)


def test_vit_base_construction():
    # No forward pass: construction and size only (an 85M-parameter model).
    net = make_backbone("vit_base", 1)
    assert net.out_features == 768
    assert len(net.blocks) == 12 and net.blocks[0].attn.num_heads == 12
    assert n_params(net) - net.mask_token.numel() == vit_param_count(1, 8, 1 + 16, 768, 12)


def test_vit_reference_parameter_counts():
    # DINO/timm ViT-S/16 and ViT-B/16 at 224 px without a head; the mask token
    # (embed_dim parameters) is ours, for masked image modelling (iBOT).
    assert vit_param_count(3, 16, 197, 384, 12) == 21_665_664
    assert vit_param_count(3, 16, 197, 768, 12) == 85_798_656
    with torch.device("meta"):  # build without allocating or initialising weights
        small = vit_small(3, patch_size=16, image_size=224)
        base = vit_base(3, patch_size=16, image_size=224)
    assert small.mask_token.shape == (1, 1, 384)
    assert n_params(small) - 384 == 21_665_664
    assert n_params(base) - 768 == 85_798_656


def test_vit_widths_depths_heads():
    with torch.device("meta"):
        nets = {f.__name__: f(3) for f in (vit_tiny, vit_small, vit_base)}
    spec = {
        name: (net.out_features, len(net.blocks), net.blocks[0].attn.num_heads)
        for name, net in nets.items()
    }
    assert spec == {"vit_tiny": (192, 12, 3), "vit_small": (384, 12, 6), "vit_base": (768, 12, 12)}
    assert all(net.blocks[0].mlp.fc1.out_features == 4 * net.out_features for net in nets.values())


def test_vit_accepts_global_and_local_crops():
    net = make_backbone("vit_tiny", 3).eval()
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 192)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 192)
    assert net.forward_tokens(torch.randn(2, 3, 16, 24)).shape == (2, 1 + 2 * 3, 192)
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 192)  # larger than built for


def test_vit_position_embedding_interpolation():
    net = tiny_vit()  # 4 x 4 patch grid
    assert net.interpolate_pos_encoding(16, 16) is net.pos_embed
    pos = net.interpolate_pos_encoding(8, 12)  # 2 x 3 grid
    assert pos.shape == (1, 1 + 6, 32)
    torch.testing.assert_close(pos[:, 0], net.pos_embed[:, 0])  # CLS position kept
    grid = net.pos_embed[:, 1:].reshape(1, 4, 4, 32).permute(0, 3, 1, 2)
    expected = F.interpolate(grid, size=(2, 3), mode="bicubic", align_corners=False)
    torch.testing.assert_close(pos[:, 1:], expected.flatten(2).transpose(1, 2))
    # A constant field stays constant, whatever the resampling kernel.
    with torch.no_grad():
        net.pos_embed[:, 1:] = 0.5
    torch.testing.assert_close(
        net.interpolate_pos_encoding(24, 8)[:, 1:], torch.full((1, 12, 32), 0.5)
    )


def test_vit_local_crop_uses_interpolated_positions():
    # A 16 px image through a net built for 32 px equals the same image through
    # a net built for 16 px that holds the interpolated position embeddings.
    net = tiny_vit(image_size=32).eval()
    small = tiny_vit(image_size=16).eval()
    state = net.state_dict() | {"pos_embed": net.interpolate_pos_encoding(16, 16).detach()}
    small.load_state_dict(state)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net.forward_tokens(x), small.forward_tokens(x))
        assert not torch.allclose(net(x), tiny_vit(image_size=32)(x))  # positions do matter


@pytest.mark.parametrize("shape", [(2, 3, 18, 18), (2, 3, 16, 18), (2, 3, 7, 16)])
def test_vit_rejects_sizes_not_multiple_of_patch(shape):
    net = tiny_vit()
    with pytest.raises(ValueError, match="multiples of patch_size=4") as info:
        net(torch.randn(*shape))
    assert f"{shape[2]}x{shape[3]}" in str(info.value)


@pytest.mark.parametrize(
    "x, match",
    [(torch.randn(2, 1, 16, 16), "3 input channels"), (torch.randn(3, 16, 16), r"\(B, C, H, W\)")],
)
def test_vit_rejects_bad_images(x, match):
    with pytest.raises(ValueError, match=match):
        tiny_vit()(x)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_size": 30}, "multiples of patch_size=4"),
        ({"image_size": (16, 16, 16)}, "image_size"),
        ({"patch_size": 0}, "patch_size"),
        ({"embed_dim": 30, "num_heads": 4}, "divisible by num_heads"),
        ({"drop_path": 1.0}, "drop_path"),
        ({"depth": 0}, "depth"),
    ],
)
def test_vit_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tiny_vit(**kwargs)


def test_vit_forward_tokens():
    net = tiny_vit().eval()
    x = torch.randn(3, 3, 16, 16)
    tokens = net.forward_tokens(x)
    assert tokens.shape == (3, 1 + 16, 32)
    torch.testing.assert_close(net(x), tokens[:, 0])
    # Final LayerNorm (weight 1, bias 0 at init): every token is standardised.
    torch.testing.assert_close(tokens.mean(-1), torch.zeros(3, 17), atol=1e-5, rtol=0)


def _change_patch(x, index, patch_size, grid_width):
    """Copy of ``x`` with new random pixels in patch ``index`` (row-major)."""
    r, c = divmod(index, grid_width)
    x = x.clone()
    x[..., r * patch_size : (r + 1) * patch_size, c * patch_size : (c + 1) * patch_size] = (
        torch.randn(x.shape[0], x.shape[1], patch_size, patch_size)
    )
    return x


def test_vit_masked_patches_are_ignored():
    net = tiny_vit().eval()
    x = torch.randn(2, 3, 16, 16)
    x_changed = _change_patch(x, 5, 4, 4)
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[0, 5] = True  # patch 5 masked in the first sample only
    with torch.no_grad():
        plain, plain_changed = net.forward_tokens(x), net.forward_tokens(x_changed)
        masked, masked_changed = (
            net.forward_tokens(x, mask=mask),
            net.forward_tokens(x_changed, mask=mask),
        )
    assert not torch.allclose(plain[0], plain_changed[0])  # unmasked, the pixels matter ...
    assert torch.equal(masked[0], masked_changed[0])  # ... masked, they do not, anywhere
    assert not torch.allclose(masked[1], masked_changed[1])  # the second sample is not masked
    torch.testing.assert_close(masked[1], plain[1])
    assert not torch.allclose(masked[0], plain[0])  # masking changes the sample's tokens


def test_vit_masked_embeddings_equal_mask_token():
    net = tiny_vit().eval()
    inputs = []
    net.blocks[0].register_forward_pre_hook(lambda module, args: inputs.append(args[0]))
    mask = torch.rand(2, 16) < 0.5
    mask[0, 0], mask[0, 1] = True, False
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        net.forward_tokens(x, mask=mask)
        patches = net.patch_embed(x)
    tokens = inputs[0][:, 1:] - net.pos_embed[:, 1:]  # block input minus positions
    torch.testing.assert_close(tokens[mask], net.mask_token[0].expand(int(mask.sum()), -1))
    torch.testing.assert_close(tokens[~mask], patches[~mask])
    torch.testing.assert_close(
        inputs[0][:, 0], (net.cls_token + net.pos_embed[:, :1])[:, 0].expand(2, -1)
    )


def test_vit_mask_as_grid_and_validation():
    net = tiny_vit().eval()
    x = torch.randn(2, 3, 16, 16)
    mask = torch.rand(2, 4, 4) < 0.5
    with torch.no_grad():
        torch.testing.assert_close(
            net.forward_tokens(x, mask=mask), net.forward_tokens(x, mask=mask.flatten(1))
        )
    with pytest.raises(ValueError, match="boolean"):
        net.forward_tokens(x, mask=mask.float())
    with pytest.raises(ValueError, match=r"\(2, 16\)"):
        net.forward_tokens(x, mask=torch.zeros(2, 15, dtype=torch.bool))


def test_vit_gradients():
    net = tiny_vit()
    mask = torch.zeros(2, 16, dtype=torch.bool)
    mask[:, :4] = True
    net.forward_tokens(torch.randn(2, 3, 16, 16), mask=mask).pow(2).sum().backward()
    for p in (
        net.patch_embed.proj.weight,
        net.cls_token,
        net.pos_embed,
        net.mask_token,
        net.blocks[0].attn.qkv.weight,
    ):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_vit_init():
    net = vit_tiny(3)
    linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert 0.019 < weights.std() < 0.021 and weights.abs().max() < 0.2
    assert all((m.bias == 0).all() for m in linears)
    norms = [m for m in net.modules() if isinstance(m, nn.LayerNorm)]
    assert len(norms) == 2 * 12 + 1
    assert all((m.weight == 1).all() and (m.bias == 0).all() and m.eps == 1e-6 for m in norms)
    for p in (net.pos_embed, net.cls_token, net.mask_token):
        assert 0.01 < p.std() < 0.03
    assert not torch.equal(net.cls_token, net.mask_token)


def test_vit_drop_path():
    net = tiny_vit(depth=3, drop_path=0.2)
    assert [block.drop_path.p for block in net.blocks] == pytest.approx([0.0, 0.1, 0.2])
    reference = tiny_vit(depth=3)
    reference.load_state_dict(net.state_dict())
    x = torch.randn(8, 3, 16, 16)
    with torch.no_grad():
        assert not torch.allclose(net(x), net(x))  # random in training mode
        net.eval(), reference.eval()
        torch.testing.assert_close(net(x), reference(x))  # identity in eval mode
    drop = net.blocks[-1].drop_path.train()
    drop.p = 0.5
    out = drop(torch.ones(1000, 3, 4))
    kept = out[:, 0, 0] > 0
    assert ((out == 0) | (out == 2)).all() and (out == out[:, :1, :1]).all()  # per sample, rescaled
    assert 400 < int(kept.sum()) < 600


def test_vit_bf16_autocast():
    net = tiny_vit().eval()
    dtypes = []
    net.blocks[0].attn.qkv.register_forward_hook(lambda module, args, out: dtypes.append(out.dtype))
    x = torch.randn(2, 3, 16, 16)
    mask = torch.rand(2, 16) < 0.5
    with torch.no_grad():
        ref = net.forward_tokens(x, mask=mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net.forward_tokens(x, mask=mask)
            local = net(torch.randn(2, 3, 8, 8))
    assert dtypes == [torch.float32, torch.bfloat16, torch.bfloat16]  # linear layers do run in bf16
    assert out.shape == ref.shape and local.shape == (2, 32)
    torch.testing.assert_close(out.float(), ref, atol=0.1, rtol=0.1)


def test_make_backbone_vit_image_size():
    net = make_backbone("vit_tiny_p4", 1, image_size=(16, 24))
    assert net.grid_size == (4, 6) and net.pos_embed.shape == (1, 1 + 24, 192)
    assert make_backbone("vit_tiny", 1).grid_size == (4, 4)  # default 32 px
    assert make_backbone("resnet18_small", 1, image_size=64).out_features == 512  # ignored
    with pytest.raises(ValueError, match="multiples of patch_size=8"):
        make_backbone("vit_tiny", 1, image_size=28)


@pytest.mark.parametrize(
    "name", ["vit_huge", "vit_small_p0", "vit_small_p08", "vit_small_small", "vit_tiny_p", "vit"]
)
def test_make_backbone_rejects_bad_vit_names(name):
    assert not is_backbone_name(name)
    with pytest.raises(ValueError, match="unknown backbone name") as info:
        make_backbone(name, 3)
    assert "vit_small" in str(info.value) and "_p<k>" in str(info.value)


def test_is_backbone_name():
    valid = ["vit_tiny", "vit_small_p16", "vit_base_p4", "resnet18_small", "small_cnn", "mlp"]
    assert all(is_backbone_name(name) for name in valid)
    assert not any(is_backbone_name(name) for name in ["resnet19", "vit_small_p16_small", None, 3])
