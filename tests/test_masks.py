"""masks.py: one boolean tensor per prunable weight (Linear and Conv2d weights only)."""

from __future__ import annotations

import os
import pickle

import pytest
import torch
from torch import nn

import lottery_core as lc


def lenet(inputs=40, seed=0):
    return lc.build_model("lenet_300_100", (inputs,), 10, seed=seed)


def test_ones_like_covers_linear_and_conv_weights_only():
    model = lc.build_model("conv2", (3, 32, 32), 10)
    mask = lc.Mask.ones_like(model)
    convs = [n for n, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert list(mask) == [f"{n}.weight" for n in convs]
    assert list(lc.prunable_parameters(model)) == list(mask)
    assert mask.density() == 1.0
    assert lc.output_layer_name(model) == "classifier.5.weight"


def test_density_counts_surviving_weights_over_all_layers():
    mask = lc.Mask({"a": torch.tensor([True, False, False, False]), "b": torch.ones(2, 3, dtype=torch.bool)})
    assert mask.counts() == {"a": 1, "b": 6} and mask.sizes() == {"a": 4, "b": 6}
    assert mask.density() == pytest.approx(7 / 10)
    assert mask.layer_densities() == {"a": 0.25, "b": 1.0}


def test_apply_zeroes_exactly_the_pruned_weights():
    model = lenet()
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    before = lc.snapshot(model)
    mask.apply(model)
    for key, p in lc.prunable_parameters(model).items():
        assert bool((p[~mask[key]] == 0).all())
        assert torch.equal(p[mask[key]], before[key][mask[key]])


def test_save_load_roundtrip(tmp_path):
    model = lenet()
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    mask.save(tmp_path / "m.pt")
    loaded = lc.Mask.load(tmp_path / "m.pt")
    assert loaded.equal(mask) and not loaded.equal(lc.Mask.ones_like(model))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]


def test_load_never_runs_code(tmp_path):
    class Hostile:
        def __reduce__(self):
            return (os.mkdir, (str(tmp_path / "pwned"),))

    with open(tmp_path / "evil.pt", "wb") as f:
        pickle.dump(Hostile(), f, protocol=2)
    with pytest.raises(ValueError, match="cannot be read"):
        lc.Mask.load(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_mask_rejects_non_boolean_tensors():
    with pytest.raises(ValueError, match="bool"):
        lc.Mask({"w": torch.ones(3)})


def test_mask_that_does_not_fit_is_rejected():
    with pytest.raises(ValueError, match="does not fit"):
        lc.Mask.ones_like(lenet(40)).apply(lenet(784))
    with pytest.raises(ValueError, match="does not fit"):
        lc.Mask.ones_like(lenet()).apply(lc.build_model("conv2", (3, 32, 32), 10))
