"""Chapter 8 (stability) at small settings: one barrier per seed, arm and k, each barrier at least half the gap
between its two copies' errors (so never negative), intervals that contain their means, and the metrics the
claims read."""

from __future__ import annotations

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, expected_densities

from lottery_core.book import ch08

PARAMETERS = CHAPTER_TEST_PARAMETERS["08_stability"]
SEEDS, KS, ROUNDS = PARAMETERS["seeds"], PARAMETERS["rewind_iterations"], PARAMETERS["ticket_rounds"]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["08_stability"]


@pytest.mark.notebook
def test_one_summary_row_per_arm_and_k_over_every_seed(m):
    arms = {r["arm"] for r in m["curve"]}
    assert len(arms) == 1 + len(ROUNDS)
    assert sorted((r["arm"], r["k"]) for r in m["curve"]) == sorted((a, k) for a in arms for k in KS)
    assert all(r["n"] == len(SEEDS) for r in m["curve"] + m["contrast"])
    assert sorted(r["k"] for r in m["contrast"]) == PARAMETERS["contrast_iterations"]


@pytest.mark.notebook
def test_barriers_are_never_negative_and_intervals_contain_their_means(m):
    for r in m["curve"] + m["contrast"]:
        assert r["barrier"] >= 0 and r["low"] <= r["barrier"] <= r["high"], r
        assert 0.0 < r["copy_acc"] <= 1.0, r


@pytest.mark.notebook
def test_tickets_have_the_densities_of_their_imp_rounds(m):
    densities = expected_densities(max(ROUNDS))
    for r in m["curve"]:
        want = 1.0 if r["arm"] == "dense" else densities[int(r["arm"].rsplit(" ", 1)[1])]
        assert r["density"] == pytest.approx(want, abs=1e-9), r
    assert [r["round"] for r in m["imp"]["rounds"]] == ROUNDS
    for r in m["imp"]["rounds"]:
        assert r["n"] == len(SEEDS) and r["low"] <= r["mean"] <= r["high"]


@pytest.mark.notebook
def test_the_claims_table_has_one_row_per_claim(m):
    assert m["optimizer"] == "sgd_momentum" and m["contrast_optimizer"] == "adam"
    assert m["rewind_iterations"] == KS and m["dense_drop"]["n"] == len(SEEDS)
    assert len(ch08.claims.table(m)) == len(ch08.claims)


def test_a_barrier_is_at_least_half_the_gap_between_the_ends():
    from lottery_core.stability import error_barrier
    assert error_barrier([0.1, 0.3]) == pytest.approx(0.1)
    assert error_barrier([0.2, 0.1, 0.2]) == pytest.approx(0.0)
