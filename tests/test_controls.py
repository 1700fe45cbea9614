"""starts.py: the controls, the named starts that replace the ticket's θ0 (chapters 4 and 6)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

import lottery_core as lc
from lottery_core.scale import sparse_glorot_std, xavier_std

CFG = dataclasses.replace(lc.get_preset("book"), iterations=60, eval_every=30)


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")



def init(name, ticket, seed=0):
    model, theta0, mask = ticket
    return lc.arm_init(name, model, theta0, mask, seed=seed)


def rms(values: torch.Tensor) -> float:
    return float(values.pow(2).mean().sqrt())


@pytest.mark.parametrize("name", list(lc.CONTROLS))
def test_every_control_respects_its_mask_and_is_reproducible(ticket, name):
    state, mask = init(name, ticket, seed=7)
    again, _ = init(name, ticket, seed=7)
    for key, keep in mask.items():
        assert bool((state[key][~keep] == 0).all()), key
        assert bool((state[key][keep] != 0).all()), key
        assert torch.equal(state[key], again[key]), key
    assert mask.layer_densities() == pytest.approx(ticket[2].layer_densities())


def test_reinit_keeps_the_mask_and_draws_new_glorot_weights(ticket):
    _, theta0, mask = ticket
    state, same = init("reinit", ticket)
    assert all(torch.equal(same[k], mask[k]) for k in mask)
    for key, keep in mask.items():
        assert not torch.equal(state[key][keep], theta0[key][keep])
        expected = xavier_std(*torch.nn.init._calculate_fan_in_and_fan_out(theta0[key]))
        assert rms(state[key][keep]) == pytest.approx(expected, rel=0.1), key


def test_random_prune_moves_the_mask_but_keeps_theta0_and_layer_counts(ticket):
    _, theta0, mask = ticket
    state, new = init("random_prune", ticket)
    for key, keep in mask.items():
        assert int(new[key].sum()) == int(keep.sum())
        assert not torch.equal(new[key], keep)
        assert torch.equal(state[key][new[key]], theta0[key][new[key]])


def test_layer_scaled_reinit_is_reinit_times_one_over_sqrt_density(ticket):
    plain, _ = init("reinit", ticket, seed=5)
    scaled, mask = init("reinit_layer_scaled", ticket, seed=5)
    for key, density in mask.layer_densities().items():
        torch.testing.assert_close(scaled[key], plain[key] / math.sqrt(density))


def test_neuron_scaled_reinit_follows_each_weights_sparse_glorot_std(ticket):
    plain, _ = init("reinit", ticket, seed=5)
    scaled, mask = init("reinit_neuron_scaled", ticket, seed=5)
    for key, keep in mask.items():
        dense = xavier_std(*torch.nn.init._calculate_fan_in_and_fan_out(plain[key]))
        ratio = scaled[key][keep] / plain[key][keep]
        torch.testing.assert_close(ratio, (sparse_glorot_std(keep) / dense)[keep])
        # a sparse layer gets larger weights than its dense Glorot std, as the argument predicts
        assert rms(scaled[key][keep]) > 1.5 * dense, key


def test_sign_controls_keep_the_tickets_signs(ticket):
    _, theta0, mask = ticket
    constant, _ = init("sign_constant", ticket)
    shuffled, _ = init("sign_shuffle", ticket, seed=2)
    for key, keep in mask.items():
        signs = torch.sign(theta0[key][keep])
        assert torch.equal(torch.sign(constant[key][keep]), signs)
        assert torch.equal(torch.sign(shuffled[key][keep]), signs)
        # constant: one magnitude per layer, the Glorot std scaled by 1/sqrt(density)
        fans = torch.nn.init._calculate_fan_in_and_fan_out(theta0[key])
        expected = xavier_std(*fans) / math.sqrt(mask.layer_densities()[key])
        torch.testing.assert_close(constant[key][keep].abs(), torch.full_like(signs, expected))
        # shuffle: the same multiset of surviving magnitudes, in another order
        before, after = theta0[key][keep].abs(), shuffled[key][keep].abs()
        torch.testing.assert_close(after.sort().values, before.sort().values)
        assert not torch.equal(after, before)


def test_one_check_names_unknown_starts_wherever_they_are_given(ticket, data):
    assert lc.check_arms(None) == [] and lc.check_arms("reinit") == ["reinit"]
    assert lc.check_arms(["ticket_shuffled", "ticket_scaled_0.5"]) == ["ticket_shuffled", "ticket_scaled_0.5"]
    with pytest.raises(ValueError, match="unknown arm 'reinit_xyz'.*reinit_layer_scaled"):
        init("reinit_xyz", ticket)
    with pytest.raises(ValueError, match="unknown control 'ticket_shuffled'; valid controls: reinit, random_prune"):
        lc.check_arms("ticket_shuffled", controls_only=True)
    with pytest.raises(ValueError, match="unknown control 'nope'; valid controls: reinit, random_prune"):
        lc.run_imp(CFG, rounds=1, control=["reinit", "nope"], data=data, verbose=False)


def test_he_sparse_ticket_rescales_each_layer_from_glorot_to_he_at_its_kept_fan_in():
    """A 4 -> 3 layer keeping half its weights: Glorot's dense std is sqrt(2 / (4 + 3)), He's for a kept fan-in of
    0.5 * 4 is sqrt(2 / 2) = 1, so every kept weight is multiplied by sqrt(7 / 2) and the pruned ones are zero."""
    from lottery_core.starts import he_sparse_ticket

    w = torch.arange(1.0, 13.0).reshape(3, 4)
    keep = torch.tensor([[True, False] * 2] * 3)
    mask = lc.Mask({"w": keep})
    out = he_sparse_ticket({"w": w, "b": torch.zeros(3)}, mask)
    torch.testing.assert_close(out["w"], w * math.sqrt(7 / 2) * keep, rtol=1e-6, atol=0)
    assert torch.equal(out["b"], torch.zeros(3))
    assert lc.arm_label("ticket_he_sparse") == "ticket at He's sparse scale"
