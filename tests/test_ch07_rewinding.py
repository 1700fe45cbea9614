"""Chapter 7 (rewinding to iteration k, and the learning rate) at small settings: both rates train for the same
number of iterations, k lies inside 0.1% to 7% of training, every control trains the whole budget, and the margins
are paired differences with intervals that contain them."""

from __future__ import annotations

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities

PARAMETERS = CHAPTER_TEST_PARAMETERS["07_rewinding"]
ROUNDS, SEEDS, K = PARAMETERS["rounds"], PARAMETERS["seeds"], PARAMETERS["rewind_iteration"]
RUNS = [("default", 0), ("default", K), ("high", 0), ("high", K)]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["07_rewinding"]


def runs(m):
    return {(r["setting"], r["k"]): r for r in m["runs"]}


@pytest.mark.notebook
def test_same_budget_at_both_rates_and_k_inside_the_cited_range(m):
    rates = m["learning_rates"]
    assert rates["default"]["lr"] == pytest.approx(1.2e-3)
    assert rates["high"]["lr"] == pytest.approx(PARAMETERS["high_lr"])
    assert rates["default"]["iterations"] == rates["high"]["iterations"] == SMALL["iterations"]
    assert 0.001 <= m["rewind_iteration"] / SMALL["iterations"] <= 0.07  # Frankle et al. (2019): 0.1% to 7%
    assert sorted(runs(m)) == sorted(RUNS)


@pytest.mark.notebook
def test_margins_are_paired_intervals_of_the_stored_accuracies(m):
    for key, run in runs(m).items():
        assert run["density"] == pytest.approx(expected_densities(ROUNDS)[ROUNDS], abs=1e-9), key
        for name in ("margin", "ticket_vs_dense", "reinit_vs_dense"):
            iv = run[name]
            assert iv["n"] == len(SEEDS) and iv["low"] <= iv["mean"] <= iv["high"], (key, name)
        assert run["margin"]["mean"] == pytest.approx(run["ticket_acc"] - run["reinit_acc"], abs=1e-9)
        assert run["ticket_vs_dense"]["mean"] == pytest.approx(run["ticket_acc"] - run["dense_acc"], abs=1e-9)


@pytest.mark.notebook
def test_the_dense_network_depends_on_the_rate_only(m):
    by = runs(m)
    # round 0 of every run is the same dense training at that rate, whatever k records
    for setting in ("default", "high"):
        assert by[(setting, 0)]["dense_acc"] == pytest.approx(by[(setting, K)]["dense_acc"], abs=1e-9)
    # Glorot weights and zero biases: at θ0 no hidden unit is off for every training example
    for setting in ("default", "high"):
        assert all(v == 0.0 for v in by[(setting, 0)]["dead_units_at_rewind"].values())
