"""models.py: the paper's networks (Figure 2) with Gaussian Glorot initialisation."""

from __future__ import annotations

import pytest
import torch

import lottery_core as lc


@pytest.mark.parametrize(("name", "paper_weights", "rel"), [
    ("conv2", 4.3e6, 0.01),  # Frankle & Carbin 2019, Figure 2
    ("conv4", 2.4e6, 0.02),
    ("conv6", 2.26e6, 0.01),  # the figure's layer list; its table says 1.7M (see ConvNet's docstring)
])
def test_conv_networks_on_cifar10_have_the_papers_sizes(name, paper_weights, rel):
    model = lc.build_model(name, (3, 32, 32), 10)
    weights = sum(p.numel() for p in lc.prunable_parameters(model).values())
    assert weights == pytest.approx(paper_weights, rel=rel)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_lenet_has_the_papers_266k_weights_on_mnist():
    model = lc.build_model("lenet_300_100", (1, 28, 28), 10)
    assert [tuple(p.shape) for p in lc.prunable_parameters(model).values()] == [(300, 784), (100, 300), (10, 100)]
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_glorot_normal_weights_zero_biases_and_the_seed_decides():
    model = lc.build_model("lenet_300_100", (784,), 10, seed=1)
    for name, p in model.named_parameters():
        if name.endswith("bias"):
            assert bool((p == 0).all())
        else:
            fan_out, fan_in = p.shape
            assert p.std().item() == pytest.approx(lc.xavier_std(fan_in, fan_out), rel=0.05), name
    same, other = (lc.build_model("lenet_300_100", (784,), 10, seed=s) for s in (1, 2))
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), same.state_dict().values()))
    assert not torch.equal(model.state_dict()["net.1.weight"], other.state_dict()["net.1.weight"])


def test_bad_model_requests_are_value_errors():
    with pytest.raises(ValueError, match="valid models: lenet_300_100"):
        lc.build_model("resnet", (40,), 10)
    with pytest.raises(ValueError, match="needs image inputs"):
        lc.build_model("conv2", (40,), 10)
