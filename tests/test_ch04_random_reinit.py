"""Chapter 4 (random reinitialisation and random pruning) at small settings: the per-density table of
ticket and controls is complete, lines up, and agrees with the per-seed records."""

from __future__ import annotations

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities

PARAMETERS = CHAPTER_TEST_PARAMETERS["04_random_reinit"]
ROUNDS, SEEDS = PARAMETERS["rounds"], PARAMETERS["seeds"]
ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]
ARMS = ("ticket", "reinit", "random_prune")


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["04_random_reinit"]


@pytest.mark.notebook
def test_keys_present(metrics):
    for key in ("per_round", "records", "dense_acc", "round_21", "density_21", "ticket_acc_21", "reinit_acc_21",
                "random_prune_acc_21", "ticket_minus_reinit_21", "ticket_minus_random_prune_21", "seed_margins_21"):
        assert key in metrics, key
    assert metrics["seeds"] == SEEDS and metrics["rounds"] == ROUNDS
    assert len(metrics["per_round"]) == ROUNDS + 1
    for entry in metrics["per_round"]:
        for arm in ARMS:
            for stat in ("acc", "acc_sd", "iteration", "iteration_sd"):
                assert f"{arm}_{stat}" in entry, (arm, stat)
        assert "ticket_minus_reinit" in entry


@pytest.mark.notebook
def test_densities_follow_the_schedule(metrics):
    expected = expected_densities(ROUNDS)
    for entry in metrics["per_round"]:
        assert entry["density"] == pytest.approx(expected[entry["round"]], abs=1e-9)
    for rec in metrics["records"]:
        assert rec["density"] == pytest.approx(expected[rec["round"]], abs=1e-9), rec


@pytest.mark.notebook
def test_records_line_up(metrics):
    records = metrics["records"]
    keys = [(r["round"], r["seed"], r["arm"]) for r in records]
    assert len(set(keys)) == len(keys), "duplicate records"
    assert set(keys) == {(r, s, a) for r in range(ROUNDS + 1) for s in SEEDS for a in ARMS}
    by_key = {(r["round"], r["seed"], r["arm"]): r for r in records}
    for (r, s, _arm), rec in by_key.items():
        assert rec["density"] == by_key[(r, s, "ticket")]["density"]
        assert 0.1 < rec["early_stop_test_acc"] <= 1.0, rec
        assert EVAL_EVERY <= rec["early_stop_iteration"] <= ITERATIONS, rec


@pytest.mark.notebook
def test_table_agrees_with_records(metrics):
    records = metrics["records"]

    def values(r, arm, key):
        return [x[key] for x in records if x["round"] == r and x["arm"] == arm]

    def mean(v):
        return sum(v) / len(v)

    def sd(v):  # sample standard deviation, as pandas computes it
        m = mean(v)
        return (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5

    for entry in metrics["per_round"]:
        r = entry["round"]
        for arm in ARMS:
            acc = values(r, arm, "early_stop_test_acc")
            it = values(r, arm, "early_stop_iteration")
            assert len(acc) == len(SEEDS)
            assert entry[f"{arm}_acc"] == pytest.approx(mean(acc))
            assert entry[f"{arm}_acc_sd"] == pytest.approx(sd(acc), abs=1e-9)
            assert entry[f"{arm}_iteration"] == pytest.approx(mean(it))
            assert entry[f"{arm}_iteration_sd"] == pytest.approx(sd(it), abs=1e-9)
        assert entry["ticket_minus_reinit"] == pytest.approx(entry["ticket_acc"] - entry["reinit_acc"])
        if r == 0:  # every arm of round 0 is the dense network
            assert entry["reinit_acc"] == entry["ticket_acc"] == entry["random_prune_acc"]
    r21 = metrics["round_21"]
    densities = [e["density"] for e in metrics["per_round"]]
    assert r21 == min(range(len(densities)), key=lambda r: abs(densities[r] - 0.211))
    row = metrics["per_round"][r21]
    assert metrics["ticket_minus_reinit_21"] == pytest.approx(row["ticket_acc"] - row["reinit_acc"])
    assert metrics["ticket_minus_random_prune_21"] == pytest.approx(row["ticket_acc"] - row["random_prune_acc"])
    assert len(metrics["seed_margins_21"]) == len(SEEDS)
    assert mean(metrics["seed_margins_21"]) == pytest.approx(metrics["ticket_minus_reinit_21"])
    assert metrics["dense_acc"] == pytest.approx(metrics["per_round"][0]["ticket_acc"])
