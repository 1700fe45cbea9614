"""The shared figures label what the run measured."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lottery_core.book import plots  # noqa: E402


def test_density_ticks_are_the_runs_own_and_never_crowd():
    percents = [100 * 0.8**r for r in range(16)]
    ticks = plots.density_tick_values(percents)
    assert ticks[0] == 100 and ticks[-1] == pytest.approx(percents[-1])
    assert set(ticks) <= set(percents)
    assert all(a / b >= 1.5 for a, b in zip(ticks, ticks[1:]))
    assert len(ticks) >= 5


def test_plot_against_density_draws_mean_per_density_and_names_references():
    frame = pd.DataFrame({
        "density": [1.0, 1.0, 0.5, 0.5, 0.2, 0.2] * 2,
        "arm": ["ticket"] * 6 + ["reinit"] * 6,
        "acc": [0.9, 0.8, 0.92, 0.88, 0.85, 0.83, 0.9, 0.8, 0.8, 0.78, 0.6, 0.64],
    })
    ax = plots.plot_against_density(frame, "acc", scale=100, reference={"dense": 85.0, "paper": 86.0})
    try:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["100", "50", "20"]
        assert ax.xaxis_inverted() and ax.get_xscale() == "log"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert {"dense", "paper", plots.ARM_LABELS["ticket"], plots.ARM_LABELS["reinit"]} <= set(labels)
        # one line per arm through the mean over seeds at each density
        at_20 = sorted(float(y[i]) for x, y in (line.get_data() for line in ax.get_lines())
                       for i in range(len(x)) if abs(x[i] - 20) < 1e-9)
        assert at_20 == pytest.approx([62.0, 84.0])
    finally:
        plt.close(ax.figure)
