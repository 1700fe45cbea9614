"""Chapter 6's arms (lottery_core.arms): the ticket's θ0 scaled per layer, its magnitudes with random signs, its
values at shuffled positions, and train_arms, which trains them all in one batched call."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import lottery_core as lc
from lottery_core.arms import train_arms
from lottery_core.starts import (
    arm_alpha,
    arm_init,
    arm_label,
    check_arms,
    random_signs,
    scaled_arm,
    scaled_ticket,
    shuffled_positions,
)

CFG = dataclasses.replace(lc.get_preset("book", num_samples=None), iterations=60, eval_every=30)


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")



def rms(values: torch.Tensor) -> float:
    return float(values.double().pow(2).mean().sqrt())


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
def test_scaled_ticket_multiplies_each_layer_by_a_power_of_one_over_sqrt_density(ticket, alpha):
    _, theta0, mask = ticket
    state = scaled_ticket(theta0, mask, alpha)
    for key, keep in mask.items():
        d = keep.float().mean().item()
        assert rms(state[key][keep]) == pytest.approx(rms(theta0[key][keep]) * d ** (-alpha / 2), rel=1e-5), key
        assert bool((state[key][~keep] == 0).all())
        # same weights, same signs: a positive multiple of θ0 at every kept position
        assert torch.equal(torch.sign(state[key][keep]), torch.sign(theta0[key][keep]))
    for key in theta0:
        if key not in mask:  # biases untouched
            assert torch.equal(state[key], theta0[key])


def test_random_signs_keep_the_magnitudes_and_flip_about_half(ticket):
    _, theta0, mask = ticket
    state = random_signs(theta0, mask, seed=5)
    assert all(torch.equal(state[k], v) for k, v in random_signs(theta0, mask, seed=5).items())
    flipped, total = 0, 0
    for key, keep in mask.items():
        assert torch.allclose(state[key][keep].abs(), theta0[key][keep].abs())
        assert bool((state[key][~keep] == 0).all())
        flipped += int((torch.sign(state[key][keep]) != torch.sign(theta0[key][keep])).sum())
        total += int(keep.sum())
    # a fair coin per weight: within 5 binomial standard deviations of one half
    assert abs(flipped / total - 0.5) < 5 * math.sqrt(0.25 / total)
    other = random_signs(theta0, mask, seed=6)
    assert any(not torch.equal(other[k], state[k]) for k in mask)


def test_shuffled_positions_keep_the_layer_values_at_other_positions(ticket):
    _, theta0, mask = ticket
    state = shuffled_positions(theta0, mask, seed=2)
    for key, keep in mask.items():
        kept, original = state[key][keep], theta0[key][keep]
        assert torch.equal(kept.sort().values, original.sort().values), key  # the same values (Appendix F.3)
        assert bool((state[key][~keep] == 0).all())
        assert (kept != original).float().mean() > 0.9, key  # almost every value moved


def test_arm_names(ticket):
    model, theta0, mask = ticket
    assert scaled_arm(0.5) == "ticket_scaled_0.5" and scaled_arm(1) == "ticket_scaled_1"
    assert arm_alpha("ticket") == 0 and arm_alpha("ticket_scaled_0.5") == 0.5 and arm_alpha("reinit") is None
    assert arm_label("ticket_scaled_1") == "ticket × 1/√d" and arm_label("ticket_scaled_0.5") == "ticket × (1/√d)½"
    for bad in ("ticket_scaled_x", "ticket_scaled_nan", "nonsense"):
        with pytest.raises(ValueError, match="unknown arm"):
            check_arms(bad)
    # one registry: every control is a named start with its own label, and keeps the ticket's mask
    assert set(lc.CONTROLS) < set(lc.ARM_LABELS) and len(set(lc.ARM_LABELS.values())) == len(lc.ARM_LABELS)
    assert arm_label("reinit") == "random reinitialisation"
    _, same = arm_init("reinit_layer_scaled", model, theta0, mask, seed=4)
    assert same is mask
    ticket_state, _ = arm_init("ticket", model, theta0, mask, seed=0)
    assert all(torch.equal(ticket_state[k], theta0[k] * mask[k]) for k in mask)


@pytest.fixture(scope="module")
def imp_run(data):
    """A rewound-to-θ30 IMP run of one pruning round, two seeds, 60 iterations."""
    return lc.run_imp(CFG, rounds=1, seeds=[0, 1], rewind_iteration=30, data=data, verbose=False)


def test_train_arms_trains_every_round_seed_and_arm_from_its_own_start(imp_run, data):
    arms = ["ticket", "ticket_scaled_1", "reinit"]
    run = train_arms(imp_run, [1], arms, data=data, snapshot_at=(0, 30, 60), verbose=False)
    assert len(run.frame) == 2 * len(arms)
    assert set(zip(run.frame["seed"], run.frame["arm"])) == {(s, a) for s in (0, 1) for a in arms}
    for s in (0, 1):
        mask = imp_run.mask(1, s)
        assert run.masks[(1, s)] is mask
        snaps = run.snapshots[(1, s, "ticket")]
        # the run rewinds to θ30 and trains from there: no snapshot before iteration 30
        assert sorted(snaps) == [30, 60]
        start = imp_run.rewind_state(s)
        assert all(torch.equal(snaps[30][k], start[k] * mask[k]) for k in mask)
        scaled = run.snapshots[(1, s, "ticket_scaled_1")][30]
        for k, keep in mask.items():
            d = keep.float().mean().item()
            assert rms(scaled[k][keep]) == pytest.approx(rms(start[k][keep]) / math.sqrt(d), rel=1e-5)
            # pruned weights stay exactly zero through training
            assert bool((run.snapshots[(1, s, "reinit")][60][k][~keep] == 0).all())
    assert run.frame["density"].tolist() == pytest.approx([imp_run.mask(1, s).density() for s in (0, 1)
                                                           for _ in arms])


def test_train_arms_from_iteration_zero_gives_the_whole_budget(imp_run, data):
    run = train_arms(imp_run, [1], ["reinit"], data=data, start_iteration=0, snapshot_at=(0, 60), verbose=False)
    assert sorted(run.snapshots[(1, 0, "reinit")]) == [0, 60]
    assert (run.frame["early_stop_iteration"] % 30 == 0).all() and run.frame["early_stop_iteration"].min() >= 30
    with pytest.raises(ValueError, match="unknown arm"):
        train_arms(imp_run, [1], ["bogus"], data=data)
