"""Chapter 2 (pruning and masks) at small settings: one-shot magnitude vs random pruning of the trained network."""

from __future__ import annotations

import json

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, execute_chapter

PARAMETERS = CHAPTER_TEST_PARAMETERS["02_pruning_and_masks"]
RATES, SEEDS = PARAMETERS["rates"], PARAMETERS["seeds"]


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["02_pruning_and_masks"]


@pytest.mark.notebook
def test_records_line_up(metrics):
    assert metrics["rates"] == RATES
    for key in ("magnitude", "random"):
        assert len(metrics["one_shot_test_acc"][key]) == len(RATES)
        assert set(metrics["one_shot_test_acc_per_seed"][key]) == {str(s) for s in SEEDS}
        assert len(metrics["layer_densities"][key]) == len(RATES)
    assert len(metrics["densities"]) == len(RATES)


@pytest.mark.notebook
def test_densities_follow_the_requested_rates(metrics):
    sizes, output = metrics["layer_sizes"], metrics["output_layer"]
    for i, rate in enumerate(RATES):
        magnitude = metrics["layer_densities"]["magnitude"][i]
        for layer, n in sizes.items():
            wanted = 1 - (rate / 2 if layer == output else rate)  # the output layer at half rate
            assert abs(magnitude[layer] - wanted) <= 1 / n + 1e-9, (rate, layer)
        # the random control keeps exactly as many weights per layer
        assert metrics["layer_densities"]["random"][i] == pytest.approx(magnitude, abs=1e-12)
        overall = sum(magnitude[k] * n for k, n in sizes.items()) / sum(sizes.values())
        assert metrics["densities"][i] == pytest.approx(overall)


@pytest.mark.notebook
def test_rate_zero_is_the_dense_network(metrics):
    for s in SEEDS:
        dense = metrics["dense_test_acc_per_seed"][str(s)]
        assert 0.3 < dense <= 1.0
        for key in ("magnitude", "random"):
            assert metrics["one_shot_test_acc_per_seed"][key][str(s)][0] == pytest.approx(dense, abs=1e-6)


@pytest.mark.notebook
def test_magnitude_pruning_removes_the_least_weight_norm(metrics):
    removed = metrics["norm_removed"]
    assert removed["magnitude"][0] == pytest.approx(0) and removed["random"][0] == pytest.approx(0)
    for i in range(1, len(RATES)):
        assert removed["magnitude"][i] < removed["random"][i]
        assert removed["magnitude"][i] > removed["magnitude"][i - 1]


@pytest.mark.notebook
def test_magnitude_pruning_keeps_accuracy_and_beats_random(metrics):
    acc, dense = metrics["one_shot_test_acc"], metrics["dense_test_acc"]
    assert acc["magnitude"][RATES.index(0.2)] >= dense - 0.02
    assert acc["magnitude"][RATES.index(0.5)] > acc["random"][RATES.index(0.5)] + 0.05
    assert acc["magnitude"][RATES.index(0.2)] > acc["random"][RATES.index(0.2)]


@pytest.mark.notebook
def test_the_slider_cell_draws_a_widget_in_a_live_kernel(tmp_path, shared_cache):
    # The book build skips this cell (tag skip-execution); run it here as Jupyter or Colab would.
    live = {"skip_cells_with_tag": "run-all-cells", "execution_timeout": 300}
    execute_chapter("02_pruning_and_masks", tmp_path, shared_cache, seeds=[0], rates=[0.0, 0.5], random_draws=1,
                    show_widgets=True, engine_options=live)
    cells = json.loads((tmp_path / "02_pruning_and_masks.out.ipynb").read_text())["cells"]
    slider = next(c for c in cells if "skip-execution" in c["metadata"].get("tags", []))
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in slider["outputs"])
