"""Chapter 5 (weight movement, Appendix F.5 / F.1) at small settings."""

from __future__ import annotations

import math

import pytest
from conftest import CHAPTER_TEST_PARAMETERS

ROUNDS = CHAPTER_TEST_PARAMETERS["05_weight_movement"]["movement_rounds"]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["05_weight_movement"]


@pytest.mark.notebook
def test_keys_and_layers(m):
    for key in ("movement", "bimodality", "density", "layer_density", "verdicts", "layers"):
        assert key in m
    assert m["movement_rounds"] == ROUNDS
    assert len(m["layers"]) == 3
    for r in map(str, ROUNDS):
        assert set(m["movement"][r]) == set(m["layers"])
        assert set(m["bimodality"][r]) == set(m["layers"])


@pytest.mark.notebook
def test_masks_follow_the_pruning_schedule(m):
    output = m["layers"][-1]
    for r in ROUNDS:
        for layer, d in m["layer_density"][str(r)].items():
            expected = 0.9**r if layer == output else 0.8**r
            assert d == pytest.approx(expected, abs=0.01), (r, layer)
            move = m["movement"][str(r)][layer]
            kept_share = move["kept_count"] / (move["kept_count"] + move["pruned_count"])
            assert kept_share == pytest.approx(d, abs=1e-6)


@pytest.mark.notebook
def test_movement_statistics_are_sane(m):
    for r in map(str, ROUNDS):
        for v in m["movement"][r].values():
            assert v["kept_median"] > 0 and v["pruned_median"] > 0
            assert v["median_ratio"] == pytest.approx(v["kept_median"] / v["pruned_median"], rel=1e-9)
            for key in ("kept_away_from_zero", "pruned_away_from_zero"):
                assert 0.0 <= v[key] <= 1.0


@pytest.mark.notebook
def test_round_one_mask_is_a_threshold_on_the_dense_trained_weights(m):
    # the round-1 mask prunes the smallest |θT| of the dense run: so θT must be the dense run's weights
    for layer, b in m["bimodality"]["1"].items():
        assert b["kept_min_abs_final"] >= b["pruned_max_abs_final"], layer
    # and kept weights grew in magnitude more often than pruned ones there
    for layer, v in m["movement"]["1"].items():
        assert v["kept_away_from_zero"] > v["pruned_away_from_zero"], layer


@pytest.mark.notebook
def test_bimodality_indicators(m):
    gaussian_near_zero = math.erf(m["near_zero"] / math.sqrt(2))
    for r in map(str, ROUNDS):
        for layer, b in m["bimodality"][r].items():
            # all initial weights are Glorot-normal: the near-zero share and Sarle's coefficient of a Gaussian
            assert b["near_zero_all"] == pytest.approx(gaussian_near_zero, abs=0.05), layer
            assert b["bimodality_all"] == pytest.approx(1 / 3, abs=0.05), layer
            assert b["dip_ratio_all"] == pytest.approx(1.63, abs=0.25), layer  # Gaussian: no dip at zero
            # (means over seeds of per-seed ratios, hence only approximately the ratio of the means)
            assert b["near_zero_ratio"] == pytest.approx(b["near_zero_kept"] / b["near_zero_all"], rel=0.05)
            # magnitude pruning keeps large weights: survivors are no smaller at θ0 than all weights
            assert b["kept_rms_ratio"] >= 0.98, layer
            assert 0.0 <= b["kept_positive"] <= 1.0
