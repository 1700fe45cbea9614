"""Figures shared by the chapters (seaborn/matplotlib). Each function draws on ``ax`` (or a new
figure) and returns the axes, so a chapter can add its own annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
import torch

ARM_LABELS = {
    "ticket": "winning ticket (rewound to θ0)",
    "reinit": "random reinitialisation",
    "random_prune": "random pruning",
    "reinit_layer_scaled": "reinit × 1/√d per layer",
    "reinit_neuron_scaled": "reinit, per-neuron sparse Glorot",
    "sign_constant": "ticket signs, constant magnitude",
    "sign_shuffle": "ticket signs, shuffled magnitudes",
}


def set_style() -> None:
    """The book's figure style."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight"})


def plot_against_density(frame: pd.DataFrame, metric: str, *, ax: plt.Axes | None = None, hue: str = "arm",
                         scale: float = 1.0, ylabel: str | None = None,
                         reference: Mapping[str, float] | None = None) -> plt.Axes:
    """``metric`` against percent of weights remaining (log axis, dense on the left, as the paper's
    Figures 1 and 3): the mean over seeds with a band of ±1 standard deviation.

    ``frame`` is tidy data such as ``ImpResult.to_long_frame()``; ``reference`` maps a label to a
    horizontal reference value drawn as a grey line named in the legend. The x ticks are the
    run's own densities.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    data = frame.assign(percent=100 * frame["density"], value=scale * frame[metric])
    labels = data[hue].map(lambda a: ARM_LABELS.get(a, a)) if hue in data else None
    sns.lineplot(data=data.assign(**{hue: labels}) if labels is not None else data, x="percent", y="value",
                 hue=hue if hue in data else None, marker="o", errorbar="sd", ax=ax)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xticks(density_tick_values(data["percent"].unique()))
    ax.get_xaxis().set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.minorticks_off()
    styles = ["--", ":", "-."]
    for i, (label, value) in enumerate((reference or {}).items()):
        # in the legend rather than beside the line, so close reference values never overprint
        ax.axhline(value, color="0.35", ls=styles[i % len(styles)], lw=1.2, label=label)
    ax.set(xlabel="percent of weights remaining (log scale)", ylabel=ylabel or metric)
    if ax.get_legend() is not None or reference:
        ax.legend(title=None, fontsize=8)
    return ax


def plot_weight_histogram(weights: torch.Tensor, *, threshold: float | None = None, ax: plt.Axes | None = None,
                          bins: int = 100, title: str | None = None) -> plt.Axes:
    """Histogram of a layer's weights with the pruning threshold ±t shaded."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.8))
    w = weights.detach().float().cpu().flatten().numpy()
    ax.hist(w, bins=bins, color=sns.color_palette("colorblind")[0])
    if threshold is not None:
        ax.axvspan(-threshold, threshold, color="red", alpha=0.15, label=f"pruned: |w| < {threshold:.3g}")
        ax.legend(fontsize=8)
    ax.set(xlabel="weight value", ylabel="number of weights", title=title)
    return ax


def plot_mask(mask: torch.Tensor, *, ax: plt.Axes | None = None, title: str | None = None,
              max_rows: int = 300) -> plt.Axes:
    """A layer's mask as an image: rows are output neurons, columns input neurons; dark = kept."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    m = mask.detach().cpu().flatten(1)[:max_rows].float().numpy()
    ax.imshow(m, aspect="auto", cmap="Greys", interpolation="nearest", vmin=0, vmax=1)
    ax.set(xlabel="input neuron", ylabel="output neuron",
           title=title or f"mask: {m.mean():.1%} of weights kept (dark)")
    ax.grid(False)
    return ax


def density_tick_values(percents: Sequence[float], min_ratio: float = 1.5) -> list[float]:
    """The run's own densities (in percent) to label on a log axis: the largest and the smallest,
    and between them the largest ones at least ``min_ratio`` apart, so labels never overlap."""
    values = sorted({float(p) for p in percents}, reverse=True)
    if len(values) <= 2:
        return values
    chosen = [values[0]]
    for v in values[1:-1]:
        if chosen[-1] / v >= min_ratio and v / values[-1] >= min_ratio:
            chosen.append(v)
    return [*chosen, values[-1]]
