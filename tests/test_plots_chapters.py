"""The figures of chapters 1 to 4 draw what they are given: intervals where the numbers say, one panel
per mask, the early-stopping point where the history has it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import lottery_core as lc  # noqa: E402
from lottery_core.book import plots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_intervals_draws_each_mean_with_its_interval():
    frame = pd.DataFrame({"round": [1, 2], "density": [0.8, 0.2], "mean": [0.01, -0.02], "low": [0.0, -0.05],
                          "high": [0.03, 0.0], "n": [5, 5]})
    ax = plots.plot_intervals({"ticket − dense": frame})
    container = ax.containers[0]
    x, y = container.lines[0].get_data()
    assert list(x) == pytest.approx([80.0, 20.0]) and list(y) == pytest.approx([1.0, -2.0])
    segments = container.lines[2][0].get_segments()
    assert [tuple(s[:, 1]) for s in segments] == [pytest.approx((0.0, 3.0)), pytest.approx((-5.0, 0.0))]
    assert ax.xaxis_inverted() and ax.get_xscale() == "log"
    assert "no difference" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_accuracy_and_iteration_names_the_dense_reference():
    frame = pd.DataFrame({"seed": [0, 1, 0, 1], "round": [0, 0, 1, 1], "density": [1.0, 1.0, 0.8, 0.8],
                          "arm": "ticket", "early_stop_test_acc": [0.7, 0.72, 0.73, 0.75],
                          "early_stop_iteration": [900, 1100, 800, 1000]})
    axes = plots.plot_accuracy_and_iteration(frame, title="t", dense_acc=0.71, dense_iteration=1000)
    for ax, value in zip(axes, (71.0, 1000.0)):
        dense = [line for line in ax.get_lines() if line.get_label() == "dense network"]
        assert dense and dense[0].get_ydata()[0] == pytest.approx(value)


def test_plot_pruning_panels_one_column_per_mask():
    weights = torch.linspace(-1, 1, 40 * 10).reshape(10, 40)
    masks = {"a": weights.abs() > 0.5, "b": weights.abs() > 0.9}
    fig = plots.plot_pruning_panels(weights, masks, layer="fc1")
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title() == "a"
    assert "50.0% kept" in fig.axes[2].get_title() or "50.0% kept" in fig.axes[1].get_title()


def test_plot_early_stopping_marks_the_minimum_validation_loss():
    evals = [lc.Evaluation(i, 1.0 / i, v, 0.5, 0.6) for i, v in [(100, 0.9), (200, 0.7), (300, 0.8)]]
    ax_loss, ax_acc = plots.plot_early_stopping(lc.History(evals), title="x")
    marked = [line for line in ax_loss.get_lines() if line.get_label() == "minimum validation loss"][0]
    assert marked.get_xdata()[0] == 200 and marked.get_ydata()[0] == pytest.approx(0.7)


def test_plot_examples_and_init_histograms(tiny_imp):
    _, data = tiny_imp
    fig = plots.plot_examples(data)
    assert sum(1 for ax in fig.axes if ax.get_title().startswith("class ")) == data.num_classes
    model = lc.build_model("lenet_300_100", data.input_shape, data.num_classes)
    weights = lc.prunable_parameters(model)
    sigmas = {k: lc.xavier_std(w.shape[1], w.shape[0]) for k, w in weights.items()}
    fig = plots.plot_init_histograms(weights, sigmas)
    assert len(fig.axes) == len(weights)
    curve = fig.axes[0].get_lines()[0]
    sigma = sigmas[next(iter(weights))]
    assert curve.get_ydata().max() == pytest.approx(1 / (sigma * np.sqrt(2 * np.pi)), rel=1e-3)


def test_plot_round_curves_one_line_per_label():
    curves = pd.DataFrame({"iteration": [100, 200] * 4, "val_loss": np.linspace(1, 2, 8),
                           "test_acc": np.linspace(0.5, 0.6, 8), "seed": [0, 0, 1, 1] * 2,
                           "weights": ["100% (round 0)"] * 4 + ["50% (round 3)"] * 4})
    axes = plots.plot_round_curves(curves, early_stop={"100% (round 0)": 150.0})
    labels = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert labels == ["100% (round 0)", "50% (round 3)"]
    assert any(list(line.get_xdata()) == [150.0, 150.0] for line in axes[0].get_lines())
