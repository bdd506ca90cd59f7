"""Tests for contrastlearn.backbones."""

import pytest
import torch
from torch import nn

from contrastlearn.backbones import (
    BACKBONE_NAMES,
    MLP,
    ResNet,
    SelectiveKernelConv,
    SmallCNN,
    SqueezeExcitation,
    embedding_dim,
    make_backbone,
    resnet18,
    resnet34,
    resnet50,
)

RESNET_NAMES = [n for n in BACKBONE_NAMES if "resnet" in n]


def n_params(module):
    return sum(p.numel() for p in module.parameters())


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
        *(f"{p}resnet{d}" for p in ("", "se_", "sk_") for d in (18, 34, 50)),
    }


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
@pytest.mark.parametrize("name", ["small_cnn", "small_cnn_small"] + [n + "_small" for n in RESNET_NAMES])
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


@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "se_resnet18", "sk_resnet18_small"])
def test_gradients_reach_first_conv(name):
    net = make_backbone(name, 3)
    net(torch.randn(2, 3, 32, 32)).pow(2).sum().backward()
    first_conv = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first_conv.weight.grad is not None
    assert first_conv.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "se_resnet18", "sk_resnet18", "resnet50_small"])
def test_channels_last_matches_contiguous(name):
    net = randomize_batchnorm(make_backbone(name, 3)).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        out = net(x.to(memory_format=torch.channels_last))
        out_cl_model = net.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
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
    ],
)
def test_resnet_rejects_bad_arguments(kwargs, match):
    args = {"block": "basic", "layers": (1, 1)} | kwargs
    with pytest.raises(ValueError, match=match):
        ResNet(**args)


def test_embedding_dim_user_module():
    module = nn.Sequential(nn.Flatten(), nn.Linear(64, 7))
    assert embedding_dim(module, (1, 8, 8)) == 7


def test_embedding_dim_restores_training_flags():
    module = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    module[1].eval()  # mixed modes must survive
    running_mean = module[1].running_mean.clone()
    assert embedding_dim(module, (1, 8, 8)) == 4
    assert [m.training for m in module.modules()] == [True, True, False, True, True]
    torch.testing.assert_close(module[1].running_mean, running_mean)  # eval forward: stats untouched


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
