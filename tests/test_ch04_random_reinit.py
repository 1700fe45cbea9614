"""Chapter 4 (random reinitialisation and random pruning) at small settings: the ticket against its controls at
the rounds where they trained, every gap a paired t interval of the per-seed records."""

from __future__ import annotations

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities, t_interval

PARAMETERS = CHAPTER_TEST_PARAMETERS["04_random_reinit"]
ROUNDS, SEEDS, CONTROL_ROUNDS = PARAMETERS["rounds"], PARAMETERS["seeds"], PARAMETERS["control_rounds"]
ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]
ARMS = ("ticket", "reinit", "random_prune")


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["04_random_reinit"]


def _values(records, r, arm, key="early_stop_test_acc"):
    if arm == "dense":
        r, arm = 0, "ticket"
    return {x["seed"]: x[key] for x in records if x["round"] == r and x["arm"] == arm}



@pytest.mark.notebook
def test_controls_at_the_control_rounds(metrics):
    assert metrics["seeds"] == SEEDS and metrics["rounds"] == ROUNDS
    assert metrics["control_rounds"] == CONTROL_ROUNDS
    keys = [(r["round"], r["seed"], r["arm"]) for r in metrics["records"]]
    assert len(set(keys)) == len(keys), "duplicate records"
    assert set(keys) == ({(r, s, "ticket") for r in range(ROUNDS + 1) for s in SEEDS}
                         | {(r, s, a) for r in CONTROL_ROUNDS for s in SEEDS for a in ARMS[1:]})
    expected = expected_densities(ROUNDS)
    for rec in metrics["records"]:
        assert rec["density"] == pytest.approx(expected[rec["round"]], abs=1e-9), rec
        assert EVAL_EVERY <= rec["early_stop_iteration"] <= ITERATIONS, rec


@pytest.mark.notebook
def test_table_agrees_with_records(metrics):
    records = metrics["records"]
    for entry in metrics["per_round"]:
        r = entry["round"]
        for arm in ARMS:
            acc = list(_values(records, r, arm).values())
            if not acc:
                assert entry[f"{arm}_acc"] is None and r not in CONTROL_ROUNDS
                continue
            mean = sum(acc) / len(acc)
            sd = (sum((a - mean) ** 2 for a in acc) / (len(acc) - 1)) ** 0.5
            assert entry[f"{arm}_acc"] == pytest.approx(mean)
            assert entry[f"{arm}_acc_sd"] == pytest.approx(sd, abs=1e-9)


@pytest.mark.notebook
def test_every_gap_is_the_paired_t_interval_of_the_records(metrics):
    from lottery_core.book.ch04 import CONTROL_COMPARISONS

    records = metrics["records"]
    for key, (arm, baseline, column) in CONTROL_COMPARISONS.items():
        assert [iv["round"] for iv in metrics[key]] == CONTROL_ROUNDS, key
        for iv in metrics[key]:
            a, b = _values(records, iv["round"], arm, column), _values(records, iv["round"], baseline, column)
            want = t_interval([a[s] - b[s] for s in SEEDS])
            assert (iv["mean"], iv["low"], iv["high"]) == pytest.approx(want, abs=1e-9), (key, iv["round"])
    r21 = metrics["round_21"]
    densities = {e["round"]: e["density"] for e in metrics["per_round"] if e["round"] in CONTROL_ROUNDS}
    assert r21 == min(densities, key=lambda r: abs(densities[r] - 0.211))
    margins = [_values(records, r21, "ticket")[s] - _values(records, r21, "reinit")[s] for s in SEEDS]
    assert metrics["seed_margins_21"] == pytest.approx(margins)
    assert metrics["ticket_minus_reinit_21"] == pytest.approx(sum(margins) / len(margins))


@pytest.mark.notebook
def test_the_largest_gap_is_chosen_on_validation_accuracy(metrics):
    records = metrics["records"]
    val_gap = {r: sum(_values(records, r, "ticket", "early_stop_val_acc")[s]
                      - _values(records, r, "reinit", "early_stop_val_acc")[s] for s in SEEDS) for r in CONTROL_ROUNDS}
    assert metrics["largest_gap_round"] == max(val_gap, key=val_gap.get)


@pytest.mark.notebook
def test_the_ticket_beats_its_reinitialised_copy_as_it_did(metrics):
    # Regression band. Source: this test's settings (3 seeds, 300 iterations) gave ticket − reinit = +10.4 points
    # at round 3 (95% interval +9.4 to +11.4) on 2026-11-26; the book's default run gives +2.2 there after 3,000
    # iterations. ±3 points covers another CPU's float summation order.
    at3 = next(iv for iv in metrics["ticket_minus_reinit"] if iv["round"] == 3)
    assert at3["mean"] == pytest.approx(0.104, abs=0.03) and at3["low"] > 0
