"""Chapter 6 (the √10 argument) at small settings."""

from __future__ import annotations

import math

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL

TEST_ROUNDS = CHAPTER_TEST_PARAMETERS["06_sqrt10_magnitude"]["test_rounds"]
ARMS = ["ticket", "reinit", "reinit_layer_scaled", "reinit_neuron_scaled", "sign_constant", "sign_shuffle"]
ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["06_sqrt10_magnitude"]


@pytest.mark.notebook
def test_keys(m):
    for key in ("scale_table", "scale_by_round", "arms", "gap", "gap_closed", "verdict", "target_round",
                "ceiling_at_10pct"):
        assert key in m
    assert m["test_rounds"] == TEST_ROUNDS
    assert set(m["arms"]) == set(ARMS)
    assert len(m["scale_table"]) == 3
    # the round closest to 10% density among rounds 1..3 is the last one
    assert m["target_round"] == 3


@pytest.mark.notebook
def test_predicted_scale_is_one_over_sqrt_density(m):
    for layer, row in m["scale_table"].items():
        assert row["predicted_scale"] == pytest.approx(1 / math.sqrt(row["density"]), rel=1e-6), layer
        assert row["subnetwork_std"] == pytest.approx(row["dense_std"] / math.sqrt(row["density"]), rel=1e-6)
        assert row["dense_std"] == pytest.approx(math.sqrt(2 / (row["fan_in"] + row["fan_out"])), rel=1e-6)
    for row in m["scale_by_round"]:
        assert row["predicted_scale"] == pytest.approx(1 / math.sqrt(row["density"]), rel=1e-6)


@pytest.mark.notebook
def test_measured_scale_between_one_and_the_selection_ceiling(m):
    for row in m["scale_by_round"]:
        # magnitude pruning keeps weights that started large ...
        assert row["measured_scale"] >= 0.98, row
        # ... but no mask of that size can select a larger RMS than the largest |θ0|
        assert row["measured_scale"] <= row["ceiling_scale"] + 1e-6, row
        # and that ceiling is below Glorot's 1/sqrt(d) whenever weights were pruned: the top k of n squares
        # sum to less than all n, so RMS(top k) < RMS(all) / sqrt(k / n) (sample_scale = RMS(all θ0) / σ)
        if row["density"] < 0.999:
            assert row["ceiling_scale"] < row["predicted_scale"] * row["sample_scale"], row
    assert m["ceiling_at_10pct"] == pytest.approx(2.10, abs=0.01)  # sqrt(1 + 2 t φ(t) / 0.1), t = 1.645


@pytest.mark.notebook
def test_arms_trained_at_every_test_round(m):
    output = list(m["scale_table"])[-1]
    for arm in ARMS:
        for r in TEST_ROUNDS:
            a = m["arms"][arm][str(r)]
            assert a["n"] == 2
            assert 0.15 < a["acc_mean"] <= 1.0, (arm, r)  # well above chance (10 classes)
            assert 0 < a["early_stop_mean"] <= ITERATIONS
            assert a["density"] == pytest.approx(m["density"][str(r)], rel=1e-9)
    # the schedule: hidden layers 0.8^r, output 0.9^r, at the target round
    r = m["target_round"]
    for layer, row in m["scale_table"].items():
        assert row["density"] == pytest.approx(0.9**r if layer == output else 0.8**r, abs=0.01)


@pytest.mark.notebook
def test_gap_closed_matches_the_arm_means(m):
    acc = {arm: {r: m["arms"][arm][str(r)]["acc_mean"] for r in TEST_ROUNDS} for arm in ARMS}
    for r in TEST_ROUNDS:
        assert m["gap"][str(r)] == pytest.approx(acc["ticket"][r] - acc["reinit"][r], abs=1e-9)
    counted = [r for r in TEST_ROUNDS if acc["ticket"][r] - acc["reinit"][r] >= m["min_gap"]]
    assert m["counted_rounds"] == counted
    for arm, closed in m["gap_closed"].items():
        if not counted:
            assert closed["pooled"] is None
            continue
        num = sum(acc[arm][r] - acc["reinit"][r] for r in counted)
        den = sum(acc["ticket"][r] - acc["reinit"][r] for r in counted)
        assert closed["pooled"] == pytest.approx(num / den, rel=1e-6), arm
    best = max(m["gap_closed"][a]["pooled"] or -math.inf for a in ("reinit_layer_scaled", "reinit_neuron_scaled"))
    expected = ("no gap to explain" if not counted else "most" if best >= 0.75 else "part" if best >= 0.4
                else "a small part" if best >= 0.1 else "little or none")
    assert m["verdict"] == expected
