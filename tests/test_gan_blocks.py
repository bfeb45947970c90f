"""Tests of commgan.gan.blocks: shapes, norms, conditioning, DCGAN init."""

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from commgan.gan.blocks import (
    ConcatCondition,
    EmbeddingCondition,
    broadcast_condition,
    conv_block,
    dcgan_init_,
    mlp,
)


class TestConvBlock:
    @pytest.mark.parametrize("norm", ["batch", "spectral", "instance", "none"])
    def test_1d_down_and_up_shapes(self, norm):
        x = torch.randn(4, 3, 32)
        down = conv_block(1, 3, 8, kernel=4, stride=2, padding=1, norm=norm, activation="leaky")
        up = conv_block(1, 8, 5, kernel=4, stride=2, padding=1, norm=norm, transpose=True)
        y = down(x)
        assert y.shape == (4, 8, 16)
        assert up(y).shape == (4, 5, 32)

    @pytest.mark.parametrize("norm", ["batch", "spectral", "instance", "none"])
    def test_2d_down_and_up_shapes(self, norm):
        x = torch.randn(2, 3, 16, 16)
        down = conv_block(2, 3, 8, kernel=4, stride=2, padding=1, norm=norm, activation="leaky")
        up = conv_block(2, 8, 3, kernel=4, stride=2, padding=1, norm=norm, activation="tanh",
                        transpose=True)
        y = down(x)
        assert y.shape == (2, 8, 8, 8)
        out = up(y)
        assert out.shape == (2, 3, 16, 16)
        assert out.abs().max() <= 1.0  # tanh output

    def test_dcgan_projection_from_1x1(self):
        block = conv_block(2, 100, 64, kernel=4, stride=1, padding=0, transpose=True)
        assert block(torch.randn(2, 100, 1, 1)).shape == (2, 64, 4, 4)

    def test_layer_types(self):
        block = conv_block(1, 2, 4, 3, padding=1, norm="batch", activation="relu", transpose=True)
        assert [type(m) for m in block] == [nn.ConvTranspose1d, nn.BatchNorm1d, nn.ReLU]
        assert block[0].bias is None  # batch norm follows
        block = conv_block(2, 2, 4, 3, norm="none", activation="none")
        assert [type(m) for m in block] == [nn.Conv2d, nn.Identity]
        assert block[0].bias is not None
        assert isinstance(conv_block(2, 2, 4, 3, norm="instance")[1], nn.InstanceNorm2d)

    @pytest.mark.parametrize("transpose", [False, True])
    def test_spectral_norm_applied(self, transpose):
        torch.manual_seed(0)
        block = conv_block(2, 4, 6, 3, padding=1, norm="spectral", activation="leaky",
                           transpose=transpose)
        conv = block[0]
        assert parametrize.is_parametrized(conv, "weight")
        assert not any(isinstance(m, nn.BatchNorm2d) for m in block)
        for _ in range(5):  # one power iteration per train-mode forward pass
            block(torch.randn(2, 4, 8, 8))
        block.eval()
        # The effective weight, reshaped as torch's spectral norm does, has sigma_max ~ 1.
        dim = 1 if transpose else 0
        w = conv.weight.movedim(dim, 0).flatten(1)
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=5e-3)

    @pytest.mark.parametrize(
        "kwargs, match",
        [({"dim": 3}, "dim"), ({"norm": "layer"}, "norm"), ({"activation": "gelu"}, "activation")],
    )
    def test_invalid_arguments_raise(self, kwargs, match):
        args = {"dim": 1, "in_ch": 2, "out_ch": 2, "kernel": 3} | kwargs
        with pytest.raises(ValueError, match=match):
            conv_block(**args)


class TestConditioning:
    def test_concat_vector_1d(self):
        out = ConcatCondition()(torch.randn(4, 3, 10), torch.randn(4, 2))
        assert out.shape == (4, 5, 10)

    def test_concat_broadcasts_the_same_vector_everywhere(self):
        c = torch.randn(2, 3)
        out = broadcast_condition(torch.zeros(2, 1, 5, 6), c)
        assert out.shape == (2, 4, 5, 6)
        assert torch.equal(out[:, 1:, 2, 4], c)
        assert torch.equal(out[:, 1:, 0, 0], c)

    def test_concat_spatial_condition_and_flat_features(self):
        assert broadcast_condition(torch.randn(2, 3, 8, 8), torch.randn(2, 1, 8, 8)).shape == (
            2, 4, 8, 8)
        assert broadcast_condition(torch.randn(5, 7), torch.randn(5, 2)).shape == (5, 9)
        with pytest.raises(ValueError, match="does not match"):
            broadcast_condition(torch.randn(2, 3, 8, 8), torch.randn(2, 1, 4, 4))

    @pytest.mark.parametrize("spatial", [(12,), (6, 6)])
    def test_embedding(self, spatial):
        cond = EmbeddingCondition(num_classes=10, embed_dim=4)
        labels = torch.tensor([0, 3, 9])
        out = cond(torch.randn(3, 2, *spatial), labels)
        assert out.shape == (3, 6, *spatial)
        emb = cond.embedding(labels)
        assert torch.equal(out[:, 2:].flatten(2)[..., -1], emb)
        out.sum().backward()
        assert cond.embedding.weight.grad is not None


class TestMLP:
    def test_shapes_and_layers(self):
        net = mlp(2, [16, 8], 3, activation="relu", out_activation="tanh")
        assert net(torch.randn(5, 2)).shape == (5, 3)
        assert sum(isinstance(m, nn.Linear) for m in net) == 3
        assert isinstance(net[-1], nn.Tanh)
        assert isinstance(mlp(2, [], 1)[-1], nn.Linear)


class TestDCGANInit:
    def test_statistics(self):
        torch.manual_seed(0)
        net = nn.Sequential(
            conv_block(2, 64, 128, 4, 2, 1, norm="batch"),  # 131k conv weights
            conv_block(1, 64, 64, 4, 2, 1, norm="none", transpose=True),
            nn.BatchNorm1d(4096),
            conv_block(2, 8, 8, 3, norm="spectral"),
        )
        dcgan_init_(net)
        conv_w = net[0][0].weight
        assert conv_w.mean().item() == pytest.approx(0.0, abs=1e-3)
        assert conv_w.std().item() == pytest.approx(0.02, rel=0.02)
        tconv = net[1][0]
        assert tconv.weight.std().item() == pytest.approx(0.02, rel=0.05)
        assert torch.equal(tconv.bias, torch.zeros_like(tconv.bias))
        bn = net[2]
        assert bn.weight.mean().item() == pytest.approx(1.0, abs=2e-3)
        assert bn.weight.std().item() == pytest.approx(0.02, rel=0.05)
        assert torch.equal(bn.bias, torch.zeros_like(bn.bias))
        sn_original = net[3][0].parametrizations.weight.original
        assert sn_original.std().item() == pytest.approx(0.02, rel=0.2)

    def test_returns_module(self):
        net = mlp(2, [4], 1)
        assert dcgan_init_(net) is net
