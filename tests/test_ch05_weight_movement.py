"""Chapter 5 (weight movement, Appendix F.5, with a selection null; initial values, Appendix F.1) at small
settings: the metrics exist, follow the pruning schedule and are consistent with each other."""

from __future__ import annotations

import math

import pytest
from conftest import CHAPTER_TEST_PARAMETERS

PARAMETERS = CHAPTER_TEST_PARAMETERS["05_weight_movement"]
ROUNDS, SEEDS = PARAMETERS["movement_rounds"], PARAMETERS["seeds"]


@pytest.fixture
def m(chapter_metrics):
    return chapter_metrics["05_weight_movement"]


def contains_mean(iv) -> bool:
    return iv["low"] <= iv["mean"] <= iv["high"]


@pytest.mark.notebook
def test_keys_and_layers(m):
    for key in ("movement", "init_shape", "density", "layers", "bins", "near_zero"):
        assert key in m, key
    assert m["movement_rounds"] == ROUNDS and m["seeds"] == SEEDS
    assert len(m["layers"]) == 3
    for r in map(str, ROUNDS):
        assert list(m["movement"][r]) == m["layers"] and list(m["init_shape"][r]) == m["layers"]


@pytest.mark.notebook
def test_masks_follow_the_pruning_schedule(m):
    output = m["layers"][-1]
    for r in ROUNDS:
        for layer, v in m["movement"][str(r)].items():
            kept_share = v["kept"] / (v["kept"] + v["pruned"])
            assert kept_share == pytest.approx(0.9**r if layer == output else 0.8**r, abs=0.01), (r, layer)


@pytest.mark.notebook
def test_intervals_contain_their_means_and_coverage_is_a_share(m):
    for r in map(str, ROUNDS):
        for layer, v in m["movement"][r].items():
            assert v["raw_ratio"]["n"] == len(SEEDS)
            assert contains_mean(v["raw_ratio"]) and contains_mean(v["away_raw"]), (r, layer)
            assert 0.0 <= v["coverage"] <= 1.0
            if v["coverage"] > 0:  # some kept weights share a |θT| bin with pruned ones: the matched numbers exist
                assert contains_mean(v["matched_ratio"]) and contains_mean(v["away_matched"]), (r, layer)
                share = math.log(v["matched_ratio"]["mean"]) / math.log(v["raw_ratio"]["mean"])
                assert v["share_left"] == pytest.approx(share, rel=1e-9)


@pytest.mark.notebook
def test_kept_weights_are_the_larger_ones(m):
    # regression band, source: magnitude pruning keeps weights that are large at the end of training and, through
    # the rewind to θ0, large at the start; in every run so far the kept weights moved further (ratio > 1) in the
    # dense training, over all weights (the raw comparison, which includes this selection), and started larger
    for r in map(str, ROUNDS):
        for layer, v in m["movement"][r].items():
            assert v["raw_ratio"]["mean"] > 1.0, (r, layer)
            shape = m["init_shape"][r][layer]
            assert shape["rms_ratio"] > 1.0 and shape["near_zero_ratio"] < 1.0, (r, layer)
            assert 0.0 <= shape["positive"] <= 1.0
