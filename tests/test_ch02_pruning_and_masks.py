"""Chapter 2 (pruning and masks) at small settings: one-shot magnitude, random and global pruning of the trained
networks without retraining, compared by seed with intervals."""

from __future__ import annotations

import json

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, execute_chapter, t_interval

PARAMETERS = CHAPTER_TEST_PARAMETERS["02_pruning_and_masks"]
RATES, SEEDS = PARAMETERS["rates"], PARAMETERS["seeds"]


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["02_pruning_and_masks"]



@pytest.mark.notebook
def test_records_line_up(metrics):
    assert metrics["rates"] == RATES and metrics["seeds"] == SEEDS
    for key in ("magnitude", "random", "global"):
        assert len(metrics["one_shot_test_acc"][key]) == len(RATES)
        assert set(metrics["one_shot_test_acc_per_seed"][key]) == {str(s) for s in SEEDS}
        assert len(metrics["layer_densities"][key]) == len(RATES)
    assert len(metrics["densities"]) == len(RATES)


@pytest.mark.notebook
def test_densities_follow_the_requested_rates(metrics):
    sizes, output = metrics["layer_sizes"], metrics["output_layer"]
    total = sum(sizes.values())
    for i, rate in enumerate(RATES):
        magnitude = metrics["layer_densities"]["magnitude"][i]
        for layer, n in sizes.items():
            wanted = 1 - (rate / 2 if layer == output else rate)  # the output layer at half rate
            assert abs(magnitude[layer] - wanted) <= 1 / n + 1e-9, (rate, layer)
        # the random control keeps exactly as many weights per layer
        assert metrics["layer_densities"]["random"][i] == pytest.approx(magnitude, abs=1e-12)
        overall = sum(magnitude[k] * n for k, n in sizes.items()) / total
        assert metrics["densities"][i] == pytest.approx(overall)
        # global pruning keeps as many weights overall (to the weight), distributed by magnitude alone
        kept = sum(metrics["layer_densities"]["global"][i][k] * n for k, n in sizes.items())
        assert abs(kept - overall * total) <= 1 + 1e-6


@pytest.mark.notebook
def test_rate_zero_is_the_dense_network(metrics):
    for s in SEEDS:
        dense = metrics["dense_test_acc_per_seed"][str(s)]
        for key in ("magnitude", "random", "global"):
            assert metrics["one_shot_test_acc_per_seed"][key][str(s)][0] == pytest.approx(dense, abs=1e-6)


@pytest.mark.notebook
def test_magnitude_pruning_removes_the_least_weight_norm(metrics):
    removed = metrics["norm_removed"]
    assert removed["magnitude"][0] == pytest.approx(0) and removed["random"][0] == pytest.approx(0)
    for i in range(1, len(RATES)):
        assert removed["magnitude"][i] < removed["random"][i]
        assert removed["magnitude"][i] > removed["magnitude"][i - 1]


@pytest.mark.notebook
def test_intervals_are_paired_by_seed(metrics):
    per_seed = metrics["one_shot_test_acc_per_seed"]
    for i, rate in enumerate(RATES):
        iv = metrics["magnitude_minus_random"][i]
        assert iv["rate"] == rate and iv["n"] == len(SEEDS)
        diffs = [per_seed["magnitude"][str(s)][i] - per_seed["random"][str(s)][i] for s in SEEDS]
        if i:
            assert (iv["mean"], iv["low"], iv["high"]) == pytest.approx(t_interval(diffs), abs=1e-9)
    adjacency = metrics["adjacency"]
    diffs = [row["magnitude"] - row["random"] for row in adjacency["per_seed"]]
    assert [adjacency["difference"][k] for k in ("mean", "low", "high")] == pytest.approx(t_interval(diffs))


@pytest.mark.notebook
def test_the_safe_rate_is_chosen_on_validation_accuracy(metrics):
    safe = None
    for iv in metrics["magnitude_minus_dense_val"]:
        if iv["mean"] < -0.01:
            break
        safe = iv["rate"]
    assert metrics["safe_rate"] == safe


@pytest.mark.notebook
def test_magnitude_pruning_beats_random_as_it_did(metrics):
    # Regression band. Source: this test's settings (3 seeds, 300 iterations) gave magnitude − random = +35.6
    # points at rate 0.5 on 2026-11-26 (the book's default run: +49.7); +25 leaves room for another CPU.
    at_half = metrics["magnitude_minus_random"][RATES.index(0.5)]
    assert at_half["mean"] >= 0.25 and at_half["low"] > 0
    # first-layer magnitude masks keep neighbouring inputs together more often than random masks (measured:
    # +1.3 points here at rate 0.8 after 300 iterations, +10 points in the default run)
    assert metrics["adjacency"]["magnitude"] > metrics["adjacency"]["random"]


@pytest.mark.notebook
def test_the_slider_cell_draws_a_widget_in_a_live_kernel(tmp_path, shared_cache):
    # The book build skips this cell (tag skip-execution); run it here as Jupyter or Colab would.
    live = {"skip_cells_with_tag": "run-all-cells", "execution_timeout": 300}
    execute_chapter("02_pruning_and_masks", tmp_path, shared_cache, seeds=[0, 1], rates=[0.0, 0.5], random_draws=1,
                    panel_rates=[0.5], show_widgets=True, engine_options=live)
    cells = json.loads((tmp_path / "02_pruning_and_masks.out.ipynb").read_text())["cells"]
    slider = next(c for c in cells if "skip-execution" in c["metadata"].get("tags", []))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in slider["outputs"])
