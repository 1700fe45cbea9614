"""Chapter 3 (winning tickets) at small settings: the metrics it writes are complete and consistent."""

from __future__ import annotations

import math

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities

PARAMETERS = CHAPTER_TEST_PARAMETERS["03_winning_tickets"]
ROUNDS, SEEDS = PARAMETERS["rounds"], PARAMETERS["seeds"]
ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["03_winning_tickets"]


@pytest.mark.notebook
def test_keys_present(metrics):
    for key in ("per_round", "records", "dense_acc", "dense_iteration", "round_21", "density_21",
                "ticket_acc_21", "ticket_minus_dense_21", "reinit_acc_21", "ticket_minus_reinit_21",
                "layer_sizes", "schedule_784", "curve_rounds"):
        assert key in metrics, key
    assert metrics["iterations"] == ITERATIONS and metrics["eval_every"] == EVAL_EVERY
    assert metrics["seeds"] == SEEDS and metrics["rounds"] == ROUNDS
    for entry in metrics["per_round"]:
        for arm in ("ticket", "reinit", "random_prune"):
            assert f"{arm}_acc" in entry and f"{arm}_iteration" in entry


@pytest.mark.notebook
def test_densities_follow_the_schedule(metrics):
    expected = expected_densities(ROUNDS)
    assert metrics["layer_sizes"] == {"net.1.weight": 12000, "net.3.weight": 30000, "net.5.weight": 1000}
    assert [e["round"] for e in metrics["per_round"]] == list(range(ROUNDS + 1))
    for entry, want in zip(metrics["per_round"], expected):
        assert entry["density"] == pytest.approx(want, abs=1e-9)
        # and close to the smooth 0.8^r (hidden) / 0.9^r (output) schedule
        smooth = (42000 * 0.8 ** entry["round"] + 1000 * 0.9 ** entry["round"]) / 43000
        assert entry["density"] == pytest.approx(smooth, abs=1e-3)
    for rec in metrics["records"]:
        assert rec["density"] == pytest.approx(expected[rec["round"]], abs=1e-9)
    # the 784-input schedule of the paper's network: 51.3% after 3 rounds (Frankle & Carbin 2019)
    assert metrics["schedule_784"][3] == pytest.approx(0.513, abs=0.001)
    # fewer inputs -> the half-rate output layer is a larger share -> higher density at the same round
    assert metrics["per_round"][-1]["density"] > metrics["schedule_784"][ROUNDS]


@pytest.mark.notebook
def test_accuracies_and_iterations_in_range(metrics):
    for rec in metrics["records"]:
        assert 0.1 < rec["early_stop_test_acc"] <= 1.0, rec
        assert EVAL_EVERY <= rec["early_stop_iteration"] <= ITERATIONS, rec
        assert rec["early_stop_iteration"] % EVAL_EVERY == 0 or rec["early_stop_iteration"] == ITERATIONS
    assert 0.1 < metrics["dense_acc"] <= 1.0


@pytest.mark.notebook
def test_ticket_and_control_records_line_up(metrics):
    records = metrics["records"]
    keys = {(r["round"], r["seed"], r["arm"]) for r in records}
    assert len(keys) == len(records), "duplicate records"
    assert keys == {(r, s, a) for r in range(ROUNDS + 1) for s in SEEDS for a in ("ticket", "reinit", "random_prune")}
    by_key = {(r["round"], r["seed"], r["arm"]): r for r in records}
    for r in range(ROUNDS + 1):
        for s in SEEDS:
            ticket = by_key[(r, s, "ticket")]
            for arm in ("reinit", "random_prune"):
                assert by_key[(r, s, arm)]["density"] == ticket["density"]
                if r == 0:  # at round 0 every arm is the dense network itself
                    assert by_key[(r, s, arm)]["early_stop_test_acc"] == ticket["early_stop_test_acc"]


@pytest.mark.notebook
def test_summary_numbers_match_records(metrics):
    records = metrics["records"]

    def mean(r, arm, key):
        vals = [x[key] for x in records if x["round"] == r and x["arm"] == arm]
        return sum(vals) / len(vals)

    for entry in metrics["per_round"]:
        for arm in ("ticket", "reinit", "random_prune"):
            assert entry[f"{arm}_acc"] == pytest.approx(mean(entry["round"], arm, "early_stop_test_acc"))
            assert entry[f"{arm}_iteration"] == pytest.approx(mean(entry["round"], arm, "early_stop_iteration"))
    assert metrics["dense_acc"] == pytest.approx(mean(0, "ticket", "early_stop_test_acc"))
    r21 = metrics["round_21"]
    densities = [e["density"] for e in metrics["per_round"]]
    assert r21 == min(range(len(densities)), key=lambda r: abs(densities[r] - 0.211))
    assert metrics["ticket_acc_21"] == pytest.approx(mean(r21, "ticket", "early_stop_test_acc"))
    assert metrics["ticket_minus_reinit_21"] == pytest.approx(
        mean(r21, "ticket", "early_stop_test_acc") - mean(r21, "reinit", "early_stop_test_acc"))
    assert metrics["ticket_minus_dense_21"] == pytest.approx(metrics["ticket_acc_21"] - metrics["dense_acc"])
    assert set(metrics["curve_rounds"]) <= set(range(ROUNDS + 1)) and 0 in metrics["curve_rounds"]
    assert not math.isnan(metrics["best_acc"])
    final = [x["final_test_acc"] for x in records if x["round"] == r21 and x["arm"] == "ticket"]
    assert metrics["ticket_final_acc_21"] == pytest.approx(sum(final) / len(final))
    assert 0.1 < metrics["dense_final_acc"] <= 1.0
