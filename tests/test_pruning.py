"""pruning.py: exact counts, smallest magnitudes, ties, no regrowth, layer rates, the paper's P_m."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import lottery_core as lc


def lenet(inputs=784, seed=0):
    return lc.build_model("lenet_300_100", (inputs,), 10, seed=seed)


def test_layerwise_prune_removes_exact_count_of_smallest_survivors():
    model = lenet(40)
    mask = lc.Mask.ones_like(model)
    new = lc.magnitude_prune(model, mask, 0.2)
    for key, p in lc.prunable_parameters(model).items():
        kept = new[key]
        assert int((~kept).sum()) == round(0.2 * p.numel())
        # every pruned weight is no larger in magnitude than every kept one
        assert p.detach().abs()[~kept].max() <= p.detach().abs()[kept].min()


@pytest.mark.parametrize("scope", ["layerwise", "global"])
def test_prune_counts_survivors_only_and_never_regrows(scope):
    model = lenet(40)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    with torch.no_grad():  # make pruned weights the largest: they must still stay pruned
        for key, p in lc.prunable_parameters(model).items():
            p[~mask[key]] = 100.0
    again = lc.magnitude_prune(model, mask, 0.5, scope=scope)
    for key in mask:
        assert not (again[key] & ~mask[key]).any()
    survivors = mask.counts() if scope == "layerwise" else {"all": sum(mask.counts().values())}
    left = again.counts() if scope == "layerwise" else {"all": sum(again.counts().values())}
    assert left == {k: n - round(0.5 * n) for k, n in survivors.items()}


def test_ties_still_give_exact_counts():
    model = nn.Sequential(nn.Linear(10, 10), nn.Linear(10, 3))
    with torch.no_grad():
        model[0].weight.fill_(0.5)
        model[1].weight.copy_(torch.tensor([1.0, -1.0, 1.0] * 10).view(3, 10))
    mask = lc.Mask.ones_like(model)
    for rate in (0.1, 0.25, 0.5, 0.75):
        new = lc.magnitude_prune(model, mask, rate)
        assert new.counts() == {k: n - round(rate * n) for k, n in mask.counts().items()}
    glob = lc.magnitude_prune(model, mask, 0.4, scope="global")
    assert sum(glob.counts().values()) == 130 - round(0.4 * 130)
    # globally the 0.5s go before the 1.0s
    assert int(glob["0.weight"].sum()) == 100 - 52 and bool(glob["1.weight"].all())


def test_global_scope_ranks_all_layers_together():
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    with torch.no_grad():
        model[0].weight.copy_(torch.arange(16.0).view(4, 4) + 1)
        model[1].weight.copy_(torch.arange(16.0).view(4, 4) + 100)
    new = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5, scope="global")
    assert int(new["0.weight"].sum()) == 0 and bool(new["1.weight"].all())


def test_layer_rates_and_paper_pm_values():
    """Hidden layers at 20% and the output layer at 10% per round reproduce the paper's P_m."""
    model = lenet(784)
    assert sum(p.numel() for p in lc.prunable_parameters(model).values()) == 266_200
    rates = lc.layer_rates_for(model, 0.2, output_prune_rate=0.1)
    assert rates[lc.output_layer_name(model)] == 0.1
    mask = lc.Mask.ones_like(model)
    seen = {}
    for r in range(1, 16):
        mask = lc.magnitude_prune(model, mask, 0.2, layer_rates=rates)
        seen[r] = 100 * mask.density()
    for rounds, pm in {3: 51.3, 7: 21.1, 9: 13.5, 15: 3.6}.items():
        assert seen[rounds] == pytest.approx(pm, abs=0.05), (rounds, seen[rounds])


def test_conv_rate_applies_to_convolutions():
    model = lc.build_model("conv2", (3, 32, 32), 10)
    rates = lc.layer_rates_for(model, 0.2, output_prune_rate=0.1, conv_prune_rate=0.1)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.2, layer_rates=rates)
    dens = mask.layer_densities()
    assert dens["features.0.weight"] == pytest.approx(0.9, abs=1e-3)
    assert dens["classifier.1.weight"] == pytest.approx(0.8, abs=1e-6)
    assert dens["classifier.5.weight"] == pytest.approx(0.9, abs=1e-3)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_outside_unit_interval_is_rejected(rate):
    model = lenet(40)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        lc.magnitude_prune(model, lc.Mask.ones_like(model), rate)


def test_bad_layer_rates_and_scope_are_rejected():
    model = lenet(40)
    mask = lc.Mask.ones_like(model)
    with pytest.raises(ValueError, match="unknown layers"):
        lc.magnitude_prune(model, mask, 0.2, layer_rates={"nope.weight": 0.1})
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        lc.magnitude_prune(model, mask, 0.2, layer_rates={"net.5.weight": 1.2})
    with pytest.raises(ValueError, match="valid scopes: layerwise, global"):
        lc.magnitude_prune(model, mask, 0.2, scope="per-neuron")


def test_mask_that_does_not_fit_is_rejected():
    small, big = lenet(40), lenet(784)
    with pytest.raises(ValueError, match="does not fit"):
        lc.magnitude_prune(big, lc.Mask.ones_like(small), 0.2)


def test_random_prune_keeps_each_layer_count_and_moves_positions():
    model = lenet(40)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.7)
    rand = lc.random_prune(mask, seed=3)
    assert rand.counts() == mask.counts()
    assert not rand.equal(mask)
    assert lc.random_prune(mask, seed=3).equal(rand)
    assert not lc.random_prune(mask, seed=4).equal(rand)
