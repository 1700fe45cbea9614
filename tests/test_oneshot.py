"""One-shot pruning of a trained network: exact per-layer counts, the smallest magnitudes removed,
accuracy without retraining, and one-shot tickets that match an iterative run's densities."""

from __future__ import annotations

import pytest
import torch

import lottery_core as lc
from lottery_core.book import oneshot
from lottery_core.book.oneshot import removed_norm_share
from lottery_core.training import loss_and_accuracy


@pytest.fixture(scope="module")
def trained(tiny_imp):
    result, data = tiny_imp
    model = lc.build_model(result.config.model, data.input_shape, data.num_classes)
    return model, result.trained_state(0, 0), data


def _kept_above_pruned(state, mask):
    for key, m in mask.items():
        w = state[key].abs()
        if m.any() and (~m).any():
            assert w[m].min() >= w[~m].max(), key


def test_layerwise_prune_keeps_exact_counts_and_the_largest_weights(trained):
    model, state, _ = trained
    mask = oneshot.prune_trained(model, state, 0.8)
    sizes, counts = mask.sizes(), mask.counts()
    out = lc.output_layer_name(model)
    for key, n in sizes.items():
        removed = round((0.4 if key == out else 0.8) * n)  # the output layer at half rate, as the paper
        assert counts[key] == n - removed, key
    _kept_above_pruned(state, mask)


def test_global_prune_ranks_all_layers_together(trained):
    model, state, _ = trained
    mask = oneshot.prune_trained(model, state, 0.7, scope="global")
    total = sum(mask.sizes().values())
    assert sum(mask.counts().values()) == total - round(0.7 * total)
    kept = torch.cat([state[k].abs()[m] for k, m in mask.items()])
    pruned = torch.cat([state[k].abs()[~m] for k, m in mask.items()])
    assert kept.min() >= pruned.max()


def test_matching_mask_has_the_targets_counts_but_its_own_choice(tiny_imp, trained):
    result, _ = tiny_imp
    model, state, _ = trained
    target = result.mask(3, 0)
    mask = oneshot.matching_mask(model, state, target)
    assert mask.counts() == target.counts()
    _kept_above_pruned(state, mask)
    # round 1's iterative mask is itself a one-shot mask of the dense network's trained weights
    assert all(torch.equal(a, b) for a, b in zip(oneshot.matching_mask(model, state, result.mask(1, 0)).values(),
                                                 result.mask(1, 0).values()))


def test_masked_accuracy_is_the_pruned_networks_accuracy(trained):
    model, state, data = trained
    mask = oneshot.prune_trained(model, state, 0.5)
    got = oneshot.masked_accuracy(model, state, mask, data)
    manual = lc.build_model("lenet_300_100", data.input_shape, data.num_classes)
    manual.load_state_dict({k: v * mask[k] if k in mask else v for k, v in state.items()})
    with torch.no_grad():
        _, test = loss_and_accuracy(manual(data.x_test), data.y_test)
    assert got["test_acc"] == pytest.approx(test.item())
    assert 0.0 <= got["val_acc"] <= 1.0


def test_removed_norm_share(trained):
    model, state, _ = trained
    dense = lc.Mask.ones_like(model)
    assert removed_norm_share(state, dense) == pytest.approx(0.0)
    mask = oneshot.prune_trained(model, state, 0.5)
    total = sum(state[k].double().pow(2).sum() for k in mask)
    gone = sum(state[k].double()[~mask[k]].pow(2).sum() for k in mask)
    assert removed_norm_share(state, mask) == pytest.approx((gone / total).item())
    # the smallest half carries far less than half of the squared norm
    assert removed_norm_share(state, mask) < removed_norm_share(state, lc.random_prune(mask, seed=0))


def test_one_shot_sweep_arms_match_in_size(tiny_imp, trained):
    result, data = tiny_imp
    model = trained[0]
    states = {s: result.trained_state(0, s) for s in result.seeds[:2]}
    sweep = oneshot.one_shot_sweep(model, states, [0.0, 0.5, 0.9], data, random_draws=2)
    assert len(sweep) == 2 * 3 * (1 + 2 + 1)
    by = sweep.groupby(["seed", "rate", "arm"])["density"].mean().unstack("arm")
    assert (by["random"] == by["magnitude"]).all()
    assert (by["global"] - by["magnitude"]).abs().max() <= 1.0 / 43000
    dense = sweep[sweep["rate"] == 0.0]
    assert dense["test_acc"].nunique() == len(states)  # rate 0: every arm is the dense network of its seed


def test_one_shot_tickets_match_the_iterative_densities(tiny_imp, capsys):
    result, data = tiny_imp
    frame = oneshot.train_one_shot(result, [1, 3], data=data)
    assert capsys.readouterr().out.startswith("trained 6 one-shot tickets (2 densities x 3 seeds) together in ")
    assert sorted(zip(frame["round"], frame["seed"])) == [(r, s) for r in (1, 3) for s in result.seeds]
    for _, row in frame.iterrows():
        assert row["density"] == pytest.approx(result.mask(row["round"], row["seed"]).density(), abs=1e-12)
    # at round 1 the one-shot ticket is the iterative ticket (same mask, θ0, data order): same training
    tickets = result.to_long_frame().query("arm == 'ticket' and round == 1").set_index("seed")
    first = frame[frame["round"] == 1].set_index("seed")
    assert (first["early_stop_test_acc"] - tickets["early_stop_test_acc"]).abs().max() <= 0.01
    with pytest.raises(ValueError, match="not pruned rounds"):
        oneshot.train_one_shot(result, [0], data=data)
