"""rewind.py: snapshots, rewinding to θ0 or θk under a mask, and fresh reinitialisation."""

from __future__ import annotations

import pytest
import torch

import lottery_core as lc


def lenet(seed=1):
    return lc.build_model("lenet_300_100", (40,), 10, seed=seed)


def test_snapshot_is_a_copy_that_training_does_not_touch():
    model = lenet()
    snap = lc.snapshot(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    assert all(not torch.equal(snap[k], v) for k, v in model.state_dict().items())


def test_rewinding_gives_theta0_times_mask():
    model = lenet()
    theta0 = lc.snapshot(model)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    with torch.no_grad():  # stands in for training
        for p in model.parameters():
            p.mul_(3.0).add_(0.1)
    lc.rewind(model, theta0, mask)
    for key, p in model.state_dict().items():
        expected = theta0[key] * mask[key] if key in mask else theta0[key]
        assert torch.equal(p, expected), key


def test_reinitialize_draws_fresh_glorot_weights_under_the_mask():
    model = lenet()
    theta0 = lc.snapshot(model)
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    lc.reinitialize(model, mask, seed=7)
    w, keep = model.state_dict()["net.1.weight"], mask["net.1.weight"]
    assert bool((w[~keep] == 0).all())
    assert not torch.equal(w[keep], theta0["net.1.weight"][keep])
    assert w[keep].std().item() == pytest.approx(lc.xavier_std(40, 300), rel=0.05)
    again = lc.reinitialize(lenet(), mask, seed=7)
    assert torch.equal(again.state_dict()["net.1.weight"], w)


def test_reinitialize_keeps_a_models_own_initialiser_unless_glorot_is_asked_for():
    """nn.Linear's default is Kaiming-uniform with a = sqrt(5): U(-b, b), b = 1/sqrt(fan_in), std = 1/sqrt(3 fan_in)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(400, 300), torch.nn.ReLU(), torch.nn.Linear(300, 10))
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    # 60,000 kept draws: 1% is 5 standard errors of a uniform sample std (0.18%), 3 of a normal one (0.29%),
    # and Glorot (0.053) is 85% above the default (0.029)
    own = lc.reinitialize(model, mask, seed=3).state_dict()["0.weight"]
    assert own[mask["0.weight"]].std().item() == pytest.approx(1 / (3 * 400) ** 0.5, rel=0.01)
    assert own[mask["0.weight"]].abs().max().item() <= 1 / 400**0.5
    assert bool((own[~mask["0.weight"]] == 0).all())
    glorot = lc.reinitialize(model, mask, seed=3, init="glorot").state_dict()["0.weight"]
    assert glorot[mask["0.weight"]].std().item() == pytest.approx(lc.xavier_std(400, 300), rel=0.01)
    with pytest.raises(ValueError, match="unknown init 'he'"):
        lc.reinitialize(model, mask, seed=3, init="he")
