"""masks.py: one boolean tensor per prunable weight (Linear and convolution weights, or a predicate's pick),
and the round trip through torch.nn.utils.prune."""

from __future__ import annotations

import copy
import os
import pickle

import pytest
import torch
from torch import nn
from torch.nn.utils import prune

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


def test_torch_prune_masks_round_trip():
    model = lenet()
    mask = lc.magnitude_prune(model, lc.Mask.ones_like(model), 0.5)
    pruned = mask.to_torch_prune(copy.deepcopy(model))
    assert [n for n, _ in pruned.named_parameters() if n.endswith("_orig")] == [f"{k}_orig" for k in mask]
    assert lc.Mask.from_torch_prune(pruned).equal(mask)
    x = torch.randn(5, 40)
    torch.testing.assert_close(pruned(x), mask.apply(copy.deepcopy(model))(x), rtol=0, atol=0)  # same arithmetic
    assert lc.Mask.from_torch_prune(pruned, remove=True).equal(mask)
    assert lc.masks.torch_pruned(pruned) == [] and list(lc.prunable_parameters(pruned)) == list(mask)
    assert lc.Mask.ones_like(pruned).equal(lc.Mask.ones_like(model))  # plain parameters again


def test_from_torch_prune_reads_what_l1_unstructured_left():
    model = lenet()
    prune.l1_unstructured(model.net[3], "weight", amount=0.3)
    mask = lc.Mask.from_torch_prune(model)
    assert list(mask) == ["net.3.weight"] and mask.density() == 0.7  # 9,000 of 30,000 weights go
    kept = model.net[3].weight_orig.abs()[mask["net.3.weight"]]
    assert kept.min() >= model.net[3].weight_orig.abs()[~mask["net.3.weight"]].max()  # the largest |w| stay
    with pytest.raises(ValueError, match="no parameter pruned"):
        lc.Mask.from_torch_prune(lenet())


def test_a_predicate_picks_the_pruned_parameters_and_the_default_skips_norm_layers():
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.BatchNorm1d(4), nn.Flatten(), nn.Linear(4 * 38, 10))
    assert list(lc.Mask.ones_like(model)) == ["0.weight", "3.weight"]
    hidden_only = lc.Mask.ones_like(model, lambda name, p: name == "0.weight")
    assert list(hidden_only) == ["0.weight"]
    pruned = lc.magnitude_prune(model, hidden_only, 0.5)
    assert pruned.layer_densities() == {"0.weight": 0.5}
    pruned.apply(model)
    assert int((model[0].weight == 0).sum()) == 6 and bool((model[3].weight != 0).all())
    with pytest.raises(ValueError, match="does not fit"):
        lc.Mask({"1.weight": torch.ones(3, dtype=torch.bool)}).apply(model)  # wrong shape for the norm layer
