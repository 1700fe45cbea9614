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
def test_imp_rewound_to_each_k_is_compared_with_imp_rewound_to_theta0(m):
    ks = [0, *PARAMETERS["imp_rewind_iterations"]]
    assert sorted((r["k"], r["round"]) for r in m["rewound"]) == sorted((k, r) for k in ks for r in ROUNDS)
    for r in m["rewound"]:
        assert ("vs_theta0" in r) == (r["k"] > 0)
        acc = r["accuracy"]
        assert acc["n"] == len(SEEDS) and acc["low"] <= acc["mean"] <= acc["high"]
    # k = 0 is the run the barriers' tickets come from: the same accuracies as the chapter's IMP table
    theta0 = {r["round"]: r["accuracy"]["mean"] for r in m["rewound"] if r["k"] == 0}
    assert theta0 == {r["round"]: pytest.approx(r["accuracy"], abs=1e-9) for r in m["imp"]["rounds"]}


@pytest.mark.notebook
def test_the_claims_table_has_one_row_per_claim(m):
    assert m["optimizer"] == "sgd_momentum" and m["contrast_optimizer"] == "adam"
    assert m["rewind_iterations"] == KS and m["dense_drop"]["n"] == len(SEEDS)
    assert len(ch08.claims.table(m)) == len(ch08.claims)


def test_a_barrier_is_at_least_half_the_gap_between_the_ends():
    from lottery_core.stability import error_barrier
    assert error_barrier([0.1, 0.3]) == pytest.approx(0.1)
    assert error_barrier([0.2, 0.1, 0.2]) == pytest.approx(0.0)


def test_rewound_accuracy_pairs_each_ticket_with_its_dense_network_and_with_rewinding_to_theta0():
    import pandas as pd

    def frame(acc: dict[int, list[float]]) -> pd.DataFrame:
        return pd.DataFrame([{"seed": s, "round": r, "density": 0.8 ** r, "early_stop_test_acc": a}
                             for r, accs in acc.items() for s, a in enumerate(accs)])

    theta0 = frame({0: [0.70, 0.72, 0.74], 2: [0.80, 0.81, 0.79]})
    late = frame({0: [0.70, 0.72, 0.74], 2: [0.78, 0.80, 0.81]})
    rows = {(r["k"], r["round"]): r for r in ch08.rewound_accuracy({0: theta0, 300: late}, [2])}
    assert rows[(0, 2)]["vs_dense"]["mean"] == pytest.approx(0.08)  # (0.10 + 0.09 + 0.05) / 3
    assert rows[(300, 2)]["vs_theta0"]["mean"] == pytest.approx(-0.01 / 3)  # (-0.02 - 0.01 + 0.02) / 3
    assert "vs_theta0" not in rows[(0, 2)] and rows[(300, 2)]["density"] == pytest.approx(0.64)
    with pytest.raises(ValueError, match="k = 0"):
        ch08.rewound_accuracy({300: late}, [2])
