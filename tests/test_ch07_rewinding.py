"""Chapter 7 (rewinding, the learning rate, Scratch-B and learning-rate rewinding) at small settings: both rates train
for the same number of iterations, every arm is trained under the ticket's mask from the right start, the margins are
paired differences with intervals that contain them, and the helpers build the starts they say they build."""

from __future__ import annotations

import pytest
import torch
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities

from lottery_core.book import ch07

PARAMETERS = CHAPTER_TEST_PARAMETERS["07_rewinding"]
ROUNDS, SEEDS, KS = PARAMETERS["rounds"], PARAMETERS["seeds"], PARAMETERS["rewind_iterations"]
SCRATCH = PARAMETERS["scratch_round"]
ARMS = {"dense", "ticket", "reinit", ch07.LR_REWIND, *(ch07.ticket_at(k) for k in KS)}


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["07_rewinding"]


@pytest.mark.notebook
def test_same_budget_at_both_rates_and_sgd_with_momentum_as_the_high_rate(m):
    default, sgd = m["settings"]["default"], m["settings"]["sgd"]
    assert (default["optimizer"], default["lr"]) == ("adam", pytest.approx(1.2e-3))
    assert (sgd["optimizer"], sgd["lr"]) == ("sgd_momentum", pytest.approx(PARAMETERS["high_lr"]))
    assert default["iterations"] == sgd["iterations"] == SMALL["iterations"]
    assert m["rewind_iterations"] == sorted(KS) and m["round"] == ROUNDS and m["scratch_round"] == SCRATCH


@pytest.mark.notebook
def test_every_arm_at_the_ticket_density_with_paired_intervals(m):
    for name, setting in m["settings"].items():
        assert setting["density"][str(ROUNDS)] == pytest.approx(expected_densities(ROUNDS)[ROUNDS], abs=1e-9), name
        acc, diffs = setting["acc"][str(ROUNDS)], setting["differences"][str(ROUNDS)]
        assert set(acc) == ARMS, name
        for key, iv in diffs.items():
            assert iv["n"] == len(SEEDS) and iv["low"] <= iv["mean"] <= iv["high"], (name, key)
        for arm in ARMS - {"dense", "reinit"}:
            assert diffs[f"{arm} vs reinit"]["mean"] == pytest.approx(acc[arm] - acc["reinit"], abs=1e-9)
        assert diffs["ticket vs dense"]["mean"] == pytest.approx(acc["ticket"] - acc["dense"], abs=1e-9)


@pytest.mark.notebook
def test_scratch_b_beside_scratch_e_at_its_round_at_the_default_rate_only(m):
    setting = m["settings"]["default"]  # the chapter's default scratch_settings: the default rate alone (cost)
    assert setting["density"][str(SCRATCH)] == pytest.approx(expected_densities(ROUNDS)[SCRATCH], abs=1e-9)
    assert set(setting["acc"][str(SCRATCH)]) == {"ticket", ch07.SCRATCH_E, ch07.SCRATCH_B}
    assert {"Scratch-B vs Scratch-E", "ticket vs Scratch-E", "ticket vs Scratch-B"} <= set(
        setting["differences"][str(SCRATCH)])
    assert str(SCRATCH) not in m["settings"]["sgd"]["acc"]


def test_rewind_points_are_the_dense_runs_theta_k(tiny_imp):
    import lottery_core as lc

    result, data = tiny_imp
    thetas = ch07.rewind_points(result, data, [10, 0])
    assert sorted(thetas) == [10]
    rewound = lc.run_imp(result.config, rounds=0, seeds=result.seeds, rewind_iteration=10, data=data, verbose=False)
    for s in result.seeds:
        for key, value in rewound.rewind_state(s).items():
            torch.testing.assert_close(thetas[10][s][key], value, rtol=1e-5, atol=1e-6)
        assert not torch.equal(thetas[10][s]["net.1.weight"], result.initial_state(s)["net.1.weight"])


def test_round_arms_start_from_theta_k_and_the_trained_weights_under_the_mask(tiny_imp):
    result, data = tiny_imp
    thetas = ch07.rewind_points(result, data, [10])
    groups = ch07.round_arms(result, data, 3, thetas, reinit=True)
    assert {k: sorted({a.name for a in arms}) for k, arms in groups.items()} == {
        0: [ch07.LR_REWIND, "reinit"], 10: [ch07.ticket_at(10)]}
    for arms in groups.values():
        for a in arms:
            mask = result.mask(3, a.seed)
            source = {ch07.LR_REWIND: result.trained_state(2, a.seed), "ticket θ10": thetas[10][a.seed]}.get(a.name)
            for key, keep in mask.items():
                assert torch.all(a.state[key][~keep] == 0), (a.name, key)
                if source is not None:
                    assert torch.equal(a.state[key][keep], source[key][keep]), (a.name, key)
                else:  # a fresh draw: not the ticket's θ0
                    assert not torch.equal(a.state[key][keep], result.initial_state(a.seed)[key][keep])


def test_scratch_e_is_scratch_b_stopped_at_the_usual_budget(tiny_imp):
    result, data = tiny_imp
    budget = result.config.iterations
    frame = ch07.scratch_frame(result, data, 2).set_index(["seed", "arm"])
    for s in result.seeds:
        e, b = frame.loc[(s, ch07.SCRATCH_E)], frame.loc[(s, ch07.SCRATCH_B)]
        assert e["early_stop_iteration"] <= budget < 3 * budget
        if b["early_stop_iteration"] <= budget:  # the longer run stopped early inside the usual budget: the same point
            assert b["early_stop_test_acc"] == e["early_stop_test_acc"]
    assert (frame.xs(ch07.SCRATCH_B, level="arm")["early_stop_iteration"] > budget).any()
