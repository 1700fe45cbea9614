"""Chapter 9 (what makes a ticket): Zhou et al.'s masks at the ticket's layer densities, supermask accuracies
computed by hand, pruning-at-initialisation masks at the ticket's density with shuffles that keep their layer
counts, paired differences against hand computations, and the metrics of the chapter's small run."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from conftest import CHAPTER_TEST_PARAMETERS, expected_densities, t_interval

import lottery_core as lc
from lottery_core.book import ch09

PARAMETERS = CHAPTER_TEST_PARAMETERS["09_what_makes_a_ticket"]
SIGNS = ("sign_constant", "ticket_random_signs")


@pytest.fixture(scope="module")
def batch(tiny_imp):
    _, data = tiny_imp
    return data.x_train[:50], data.y_train[:50]


def test_zhou_masks_keep_the_tickets_layer_counts_and_large_final_keeps_the_largest(tiny_imp):
    result, data = tiny_imp
    masks = ch09.zhou_masks(result, data, 2, 1)
    assert set(masks) == set(ch09.SUPERMASKS)
    ticket = result.mask(2, 1)
    for name, mask in masks.items():
        assert mask.counts() == ticket.counts(), name
    final = result.trained_state(0, 1)
    for key, keep in masks["large_final"].items():
        w = final[key].abs()
        assert w[keep].min() >= w[~keep].max()
    assert any(not torch.equal(masks["random"][k], ticket[k]) for k in ticket)


def test_supermask_accuracy_is_the_untrained_masked_network_by_hand(tiny_imp):
    result, data = tiny_imp
    frame = ch09.supermask_frame(result, data, [1])
    assert len(frame) == len(result.seeds) * len(ch09.SUPERMASKS)
    row = frame[(frame["seed"] == 2) & (frame["arm"] == "imp")].iloc[0]
    model = result.network(data, 2, result.initial_state(2))
    with torch.no_grad():
        for key, param in lc.prunable_parameters(model).items():
            param.mul_(result.mask(1, 2)[key].to(param.dtype))
        by_hand = (model(data.x_test).argmax(1) == data.y_test).float().mean().item()
    assert row["test_acc"] == pytest.approx(by_hand, abs=1e-6)
    assert row["density"] == pytest.approx(result.mask(1, 2).density())


def test_pai_masks_keep_the_tickets_overall_count_and_magnitude_is_the_largest_theta0(tiny_imp, batch):
    result, data = tiny_imp
    ticket = result.mask(3, 0)
    masks = ch09.pai_masks(result, data, 0, ticket.density(), ch09.PAI_METHODS, batch)
    for name, mask in masks.items():
        assert sum(mask.counts().values()) == sum(ticket.counts().values()), name
    theta0 = result.initial_state(0)
    kept = torch.cat([theta0[k].abs()[m].flatten() for k, m in masks["magnitude"].items()])
    pruned = torch.cat([theta0[k].abs()[~m].flatten() for k, m in masks["magnitude"].items()])
    assert kept.min() >= pruned.max()


def test_chapter_arms_pair_every_mask_with_a_shuffle_and_a_reinitialisation(tiny_imp, batch):
    result, data = tiny_imp
    arms = ch09.chapter_arms(result, data, 3, SIGNS, ["snip", "magnitude"], batch)
    assert len(arms) == len(result.seeds) * (len(SIGNS) + 2 * 3)
    by = {(a.seed, a.name): a for a in arms}
    for s in result.seeds:
        for name in SIGNS:
            assert by[(s, name)].mask.counts() == result.mask(3, s).counts()
        for method in ("snip", "magnitude"):
            mask, shuffled = by[(s, method)].mask, by[(s, method + ch09.SHUFFLED)].mask
            assert shuffled.counts() == mask.counts()
            assert any(not torch.equal(mask[k], shuffled[k]) for k in mask)
            fresh = by[(s, method + ch09.REINIT)]
            assert all(torch.equal(fresh.mask[k], mask[k]) for k in mask)  # the same mask, new weights
            theta0 = result.initial_state(s)
            for k, keep in mask.items():
                assert not torch.equal(fresh.state[k][keep], theta0[k][keep])
                assert bool((fresh.state[k][~keep] == 0).all())
    signs = by[(0, "sign_constant")].state
    theta0 = result.initial_state(0)
    for key, keep in result.mask(3, 0).items():
        assert torch.equal(torch.sign(signs[key][keep]), torch.sign(theta0[key][keep]))
        assert signs[key][keep].abs().unique().numel() == 1


def test_train_frame_refuses_a_round_without_the_shared_controls(tiny_imp):
    result, data = tiny_imp
    with pytest.raises(ValueError, match="control_rounds"):
        ch09.train_frame(result, data, 2, [])


def _frame(values: dict[str, list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"round": 7, "seed": s, "arm": arm, "density": 0.2, "early_stop_test_acc": v}
                         for arm, vs in values.items() for s, v in enumerate(vs)])


def test_pai_summary_differences_are_the_hand_computed_paired_intervals():
    values = {"ticket": [0.70, 0.72, 0.71, 0.69], "random_prune": [0.55, 0.52, 0.56, 0.50],
              "snip": [0.60, 0.58, 0.59, 0.61], "snip_shuffled": [0.59, 0.59, 0.57, 0.60],
              "reinit": [0.50, 0.51, 0.49, 0.52], "snip_reinit": [0.58, 0.59, 0.56, 0.60]}
    out = ch09.pai_summary(_frame(values), ["snip"])
    imp_loss = [a - b for a, b in zip(values["ticket"], values["random_prune"])]
    snip_loss = [a - b for a, b in zip(values["snip"], values["snip_shuffled"])]
    imp_reinit = [a - b for a, b in zip(values["ticket"], values["reinit"])]
    snip_reinit = [a - b for a, b in zip(values["snip"], values["snip_reinit"])]
    for got, diffs in ((out["imp"]["vs_shuffled"], imp_loss), (out["snip"]["vs_shuffled"], snip_loss),
                       (out["snip"]["shuffle_gap"], [a - b for a, b in zip(imp_loss, snip_loss)]),
                       (out["imp"]["vs_reinit"], imp_reinit), (out["snip"]["vs_reinit"], snip_reinit),
                       (out["snip"]["reinit_gap"], [a - b for a, b in zip(imp_reinit, snip_reinit)]),
                       (out["snip"]["ticket_minus"], [a - b for a, b in zip(values["ticket"], values["snip"])])):
        assert (got["mean"], got["low"], got["high"]) == pytest.approx(t_interval(diffs))


def test_signs_summary_keeps_the_share_of_the_lead_over_reinit():
    values = {"ticket": [0.70, 0.72, 0.71], "reinit": [0.60, 0.62, 0.61], "sign_constant": [0.65, 0.67, 0.66]}
    out = ch09.signs_summary(_frame(values), ["sign_constant"])
    assert out["sign_constant"]["kept"]["mean"] == pytest.approx(0.5)
    assert out["sign_constant"]["vs_ticket"]["mean"] == pytest.approx(-0.05)
    assert out["reinit"]["kept"] is None


def test_supermask_summary_pairs_each_mask_with_the_random_one():
    frame = pd.DataFrame([{"round": 5, "seed": s, "arm": arm, "density": 0.3, "test_acc": v}
                          for arm, vs in {"imp": [0.3, 0.25, 0.28], "random": [0.1, 0.12, 0.09]}.items()
                          for s, v in enumerate(vs)])
    rows = {r["arm"]: r for r in ch09.supermask_summary(frame)}
    assert rows["random"]["vs_random"] is None
    got = rows["imp"]["vs_random"]
    assert (got["mean"], got["low"], got["high"]) == pytest.approx(t_interval([0.2, 0.13, 0.19]))


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["09_what_makes_a_ticket"]


@pytest.mark.notebook
def test_the_metrics_hold_every_mask_at_the_tickets_density(m):
    rounds, seeds = PARAMETERS["supermask_rounds"], PARAMETERS["seeds"]
    densities = expected_densities(max(rounds))
    assert m["density"] == pytest.approx(densities[PARAMETERS["ticket_round"]])
    assert sorted((r["round"], r["arm"]) for r in m["supermask"]) == sorted(
        (r, a) for r in rounds for a in ch09.SUPERMASKS)
    for r in m["supermask"]:
        assert r["density"] == pytest.approx(densities[r["round"]], abs=1e-4) and r["accuracy"]["n"] == len(seeds)
    assert set(m["pai"]) == {"imp", *m["methods"]} and set(m["signs"]) == {*ch09.SIGN_ARMS, "reinit"}
    for v in m["pai"].values():
        iv = v["vs_shuffled"]
        assert iv["n"] == len(seeds) and iv["low"] <= iv["mean"] <= iv["high"]
        assert iv["mean"] == pytest.approx(v["accuracy"]["mean"] - v["shuffled"]["mean"], abs=1e-9)
        assert v["vs_reinit"]["mean"] == pytest.approx(v["accuracy"]["mean"] - v["reinit"]["mean"], abs=1e-9)
    assert len(ch09.claims.table(m)) == len(ch09.claims)
