"""Figures shared by the chapters (seaborn/matplotlib). Each function draws on ``ax`` (or a new
figure) and returns the axes, so a chapter can add its own annotations."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch

from ..history import History
from ..scale import gaussian_selection_ceiling, xavier_std
from ..starts import ARM_LABELS as START_LABELS
from ..starts import arm_label as start_label
from ..stats import paired_interval

# Every named start (lottery_core.starts), and the pruning methods that chapters 2 and 3 compare.
ARM_LABELS = {**START_LABELS, "one_shot": "one-shot pruning (rewound to θ0)", "magnitude": "magnitude pruning",
              "random": "random pruning", "global": "global magnitude pruning"}


def arm_label(name: str) -> str:
    """A figure and table label for a named start or a pruning method."""
    return ARM_LABELS.get(name) or start_label(name)


def set_style() -> None:
    """The book's figure style."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind")
    plt.rcParams.update({"figure.dpi": 110, "savefig.bbox": "tight"})


def plot_against_density(frame: pd.DataFrame, metric: str, *, ax: plt.Axes | None = None, hue: str = "arm",
                         scale: float = 1.0, ylabel: str | None = None,
                         reference: Mapping[str, float] | None = None) -> plt.Axes:
    """``metric`` against percent of weights remaining (log axis, dense on the left, as the paper's
    Figures 1 and 3): the mean over seeds with its 95% Student-t interval (n − 1 degrees of freedom).

    ``frame`` is tidy data such as ``ImpResult.to_long_frame()``; ``reference`` maps a label to a
    horizontal reference value drawn as a grey line named in the legend. The x ticks are the
    run's own densities.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    data = frame.assign(percent=100 * frame["density"], value=scale * frame[metric])
    labels = data[hue].map(lambda a: ARM_LABELS.get(a, a)) if hue in data else None
    sns.lineplot(data=data.assign(**{hue: labels}) if labels is not None else data, x="percent", y="value",
                 hue=hue if hue in data else None, marker="o", errorbar=_t_interval, ax=ax)
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


def _t_interval(values: pd.Series) -> tuple[float, float]:
    interval = paired_interval(np.asarray(values, dtype=float))
    return interval["low"], interval["high"]


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


# --- Figures of chapters 1 to 4 --------------------------------------------------------------------------------

def plot_examples(data, *, per_class: int = 1) -> plt.Figure:
    """One training example of each class: a line for 1-D signals (MNIST-1D), an image otherwise."""
    x, y = data.x_train.cpu(), data.y_train.cpu()
    classes = int(y.max()) + 1
    fig, axes = plt.subplots(2, (classes + 1) // 2, figsize=(12, 4), sharex=True, sharey=True)
    for label, ax in zip(range(classes), axes.flat):
        example = x[(y == label).nonzero()[0, 0]]
        if example.ndim == 1:
            ax.plot(np.arange(len(example)), example.numpy(), lw=1.5)
        else:
            ax.imshow(example.permute(1, 2, 0).squeeze().numpy(), cmap="Greys")
            ax.grid(False)
        ax.set_title(f"class {label}", fontsize=10)
    if x.ndim == 2:
        for ax in axes[-1]:
            ax.set_xlabel("position in the signal")
        for ax in axes[:, 0]:
            ax.set_ylabel("value (a.u.)")
    fig.suptitle(f"One training example per class ({data.name})")
    fig.tight_layout()
    return fig


def plot_init_histograms(weights: Mapping[str, torch.Tensor], sigmas: Mapping[str, float]) -> plt.Figure:
    """Each layer's initial weights against the Gaussian N(0, σ²) density of Glorot's σ."""
    fig, axes = plt.subplots(1, len(weights), figsize=(4.2 * len(weights), 3.6))
    for ax, (key, w) in zip(np.atleast_1d(axes), weights.items()):
        sigma = float(sigmas[key])
        ax.hist(w.detach().cpu().flatten().numpy(), bins=60, density=True, alpha=0.75, label="initial weights")
        grid = np.linspace(-4 * sigma, 4 * sigma, 200)
        ax.plot(grid, np.exp(-0.5 * (grid / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi)), color="black",
                label=f"N(0, σ²), σ = {sigma:.3f}")
        ax.set(xlabel="initial weight value", ylabel="probability density", title=f"{key} {tuple(w.shape)}")
        ax.legend(fontsize=8)
    fig.suptitle("Initial weights of each layer against the Gaussian Glorot density")
    fig.tight_layout()
    return fig


def plot_early_stopping(history: History, *, title: str | None = None) -> Sequence[plt.Axes]:
    """Loss (training and validation) and accuracy (validation and test) of one run, the early-stopping
    point (minimum validation loss) marked and annotated."""
    curve, es = history.to_frame(), history.early_stop
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    ax_loss.plot(curve.iteration, curve.train_loss, label="training loss (mean since the previous evaluation)")
    ax_loss.plot(curve.iteration, curve.val_loss, label="validation loss")
    ax_loss.plot(es.iteration, es.val_loss, "o", color="black", label="minimum validation loss")
    ax_loss.set(xlabel="training iteration", ylabel="cross-entropy loss (nats)", title="Loss")
    ax_acc.plot(curve.iteration, 100 * curve.val_acc, label="validation accuracy")
    ax_acc.plot(curve.iteration, 100 * curve.test_acc, label="test accuracy")
    ax_acc.plot(es.iteration, 100 * es.test_acc, "o", color="black",
                label=f"test accuracy at early stopping: {es.test_acc:.1%}")
    ax_acc.set(xlabel="training iteration", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.axvline(es.iteration, color="grey", ls=":", lw=1.5)
        ax.annotate(f"early stopping: iteration {es.iteration:,}", (es.iteration, 0.97),
                    xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points", fontsize=8,
                    color="grey", va="top")
        ax.legend(fontsize=8, loc="center right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return ax_loss, ax_acc


def _log_density_axis(ax: plt.Axes, percents: Sequence[float]) -> None:
    ax.set_xscale("log")
    if not ax.xaxis_inverted():
        ax.invert_xaxis()
    ax.set_xticks(density_tick_values(percents))
    ax.get_xaxis().set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.3g}"))
    ax.minorticks_off()
    ax.set_xlabel("percent of weights remaining (log scale)")


def plot_intervals(comparisons: Mapping[str, pd.DataFrame], *, ax: plt.Axes | None = None, scale: float = 100.0,
                   ylabel: str = "difference (percentage points)", zero_label: str = "no difference") -> plt.Axes:
    """Paired differences against percent of weights remaining: for every comparison (label -> output of
    ``paired_differences``), the mean over seeds with its 95% Student-t interval as an error bar."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    percents = []
    width = 1 + 0.025 * max(len(comparisons) - 1, 0)
    for i, (label, frame) in enumerate(comparisons.items()):
        x = 100 * frame["density"].to_numpy(float) * width ** (i - (len(comparisons) - 1) / 2)  # side by side
        mean = scale * frame["mean"].to_numpy(float)
        err = np.vstack([mean - scale * frame["low"].to_numpy(float), scale * frame["high"].to_numpy(float) - mean])
        ax.errorbar(x, mean, yerr=np.nan_to_num(err), marker="o", ms=4, capsize=3, label=label)
        percents += list(100 * frame["density"])
    ax.axhline(0.0, color="0.35", ls="--", lw=1.2, label=zero_label)
    _log_density_axis(ax, percents)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return ax


def plot_accuracy_and_iteration(long: pd.DataFrame, *, title: str, dense_acc: float,
                                dense_iteration: float) -> Sequence[plt.Axes]:
    """Two panels against percent of weights remaining (the paper's Figures 1 and 4): test accuracy at
    the early-stopping iteration and the early-stopping iteration, one line per arm (mean over seeds,
    band ±1 sd), the dense network's values as reference lines."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    plot_against_density(long, "early_stop_test_acc", ax=axes[0], scale=100, ylabel="test accuracy at early stop (%)",
                         reference={"dense network": 100 * dense_acc})
    plot_against_density(long, "early_stop_iteration", ax=axes[1], ylabel="early-stopping iteration",
                         reference={"dense network": dense_iteration})
    axes[0].set_title(title)
    axes[1].set_title("Iteration of minimum validation loss")
    fig.tight_layout()
    return axes


def plot_round_curves(curves: pd.DataFrame, *, early_stop: Mapping[str, float] | None = None) -> Sequence[plt.Axes]:
    """Validation loss and test accuracy against iteration, one line per label (column ``weights``, e.g.
    "21.6% (round 7)"; mean over the rows' seeds); dotted lines at each label's mean early-stopping
    iteration."""
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    labels = list(dict.fromkeys(curves["weights"]))
    palette = dict(zip(labels, sns.color_palette("viridis", len(labels))))
    sns.lineplot(data=curves, x="iteration", y="val_loss", hue="weights", palette=palette, errorbar=None, ax=axes[0])
    sns.lineplot(data=curves.assign(test_pct=100 * curves["test_acc"]), x="iteration", y="test_pct", hue="weights",
                 palette=palette, errorbar=None, ax=axes[1])
    for label, iteration in (early_stop or {}).items():
        for ax in axes:
            ax.axvline(iteration, color=palette[label], ls=":", lw=1)
    axes[0].set(xlabel="training iteration", ylabel="validation loss (cross-entropy)",
                title="Validation loss (dotted: mean early-stopping iteration)")
    axes[1].set(xlabel="training iteration", ylabel="test accuracy (%)", title="Test accuracy")
    for ax in axes:
        ax.legend(title="weights remaining", fontsize=8)
    fig.tight_layout()
    return axes


def plot_pruning_panels(weights: torch.Tensor, masks: Mapping[str, torch.Tensor], *,
                        layer: str = "") -> plt.Figure:
    """Small multiples, one column per mask of one layer (title -> mask): on top the layer's trained
    weights with the pruned band shaded, below the mask (dark = kept)."""
    fig, axes = plt.subplots(2, len(masks), figsize=(3.4 * len(masks), 6), squeeze=False)
    w = weights.detach().float().cpu()
    for col, (title, mask) in enumerate(masks.items()):
        kept = mask.bool().cpu()
        threshold = w.abs()[kept].min().item() if kept.any() else float(w.abs().max())
        plot_weight_histogram(w, threshold=threshold if not kept.all() else None, ax=axes[0, col], bins=80,
                              title=title)
        for patch in axes[0, col].patches:
            patch.set_linewidth(0)
        plot_mask(kept, ax=axes[1, col], title=f"{layer} mask: {kept.float().mean():.1%} kept")
    fig.tight_layout()
    return fig


def density_ticks(densities: Sequence[float]) -> list[str]:
    """Percent labels for densities, e.g. ``['100%', '51.3%']``."""
    return [f"{100 * d:.3g}%" for d in np.asarray(densities, dtype=float)]


# ---- Chapters 5 to 7: movement with its selection null, initial-value shapes, scales, arms, RMS over training ----


def layer_labels(mask: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Readable layer names for a mask's keys: ``{"fc1.weight": "hidden 1 (40→300)", ...}``."""
    keys = list(mask)
    labels = {}
    for i, key in enumerate(keys):
        fan_out, fan_in = mask[key].shape[:2]
        kind = "output" if i == len(keys) - 1 else f"hidden {i + 1}"
        labels[key] = f"{kind} ({fan_in}→{fan_out})"
    return labels


def _interval_points(ax: plt.Axes, x: Sequence[float], ivs: Sequence[Mapping[str, float]], *, scale: float = 1.0,
                     horizontal: bool = False, **style) -> None:
    """Means with 95% interval bars (one per entry of ``ivs``) at positions ``x``."""
    mean = np.array([scale * iv["mean"] for iv in ivs])
    err = np.array([[scale * (iv["mean"] - iv["low"]), scale * (iv["high"] - iv["mean"])] for iv in ivs]).T
    err = np.nan_to_num(err)
    if horizontal:
        ax.errorbar(mean, x, xerr=err, fmt="o", capsize=3, **style)
    else:
        ax.errorbar(x, mean, yerr=err, fmt="o", capsize=3, **style)


def plot_paired_differences(table: pd.DataFrame, *, group: str = "arm", hue: str = "density",
                            ax: plt.Axes | None = None, scale: float = 100.0, label=None,
                            xlabel: str = "difference in test accuracy (percentage points)") -> plt.Axes:
    """Forest plot of paired differences (rows of :func:`~lottery_core.paired_differences` with several
    arms): one row per ``group`` value, one marker per ``hue`` value, mean with its 95% t interval; zero marked."""
    label = label or arm_label
    groups = list(dict.fromkeys(table[group]))
    hues = list(dict.fromkeys(table[hue])) if hue in table else [None]
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 + 0.55 * len(groups) * max(1, len(hues) / 2)))
    palette = sns.color_palette("colorblind", len(hues))
    width = 0.6 / max(len(hues), 1)
    for j, (h, colour) in enumerate(zip(hues, palette)):
        part = table if h is None else table[table[hue] == h]
        ys = [groups.index(g) + (j - (len(hues) - 1) / 2) * width for g in part[group]]
        name = None if h is None else (f"{100 * h:.1f}% of weights" if hue == "density" else str(h))
        _interval_points(ax, ys, part.to_dict("records"), scale=scale, horizontal=True, color=colour, label=name)
    ax.axvline(0, color="0.3", lw=1)
    ax.set_yticks(range(len(groups)), [label(g) for g in groups])
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, ylabel="")
    if hues != [None]:
        ax.legend(fontsize=8, title="mean and 95% t interval over seeds", title_fontsize=8, loc="best")
    return ax


def plot_movement_ratios(summary: pd.DataFrame, labels: Mapping[str, str]) -> np.ndarray:
    """Chapter 5: per ticket (panel), each layer's kept/pruned movement ratio, raw and within |θT|
    bins (selection removed), with 95% intervals over seeds; 1 means no difference."""
    rounds = list(dict.fromkeys(summary["round"]))
    fig, axes = plt.subplots(1, len(rounds), figsize=(5.2 * len(rounds), 3.8), sharey=True, squeeze=False)
    palette = sns.color_palette("colorblind", 2)
    for ax, r in zip(axes[0], rounds):
        part = summary[summary["round"] == r]
        x = np.arange(len(part))
        for dx, (col, name), colour in zip((-0.12, 0.12), (("raw_ratio", "all kept vs all pruned"),
                                                           ("matched_ratio", "same final size (|θT| bins)")), palette):
            _interval_points(ax, x + dx, part[col].tolist(), color=colour, label=name)
        ax.axhline(1, color="0.3", lw=1)
        ax.set_xticks(x, [labels.get(k, k) for k in part["layer"]], fontsize=8)
        ax.set(yscale="log", title=f"ticket of round {r}", ylabel="mean |θT − θ0|, kept over pruned (log)")
        ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    axes[0][0].legend(fontsize=8)
    return axes[0]


def plot_kept_initial_values(result, rounds: Sequence[int], labels: Mapping[str, str], *,
                             near_zero: float = 0.5) -> np.ndarray:
    """Chapter 5 (Appendix F.1): per layer, θ0 in units of the layer's Glorot σ for all weights and for
    those that survive into the tickets of ``rounds``, pooled over seeds, normalised to unit area."""
    keys = list(labels)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.6), sharey=True, squeeze=False)
    bins = np.linspace(-4, 4, 61)
    colours = sns.color_palette("colorblind", len(rounds) + 1)[1:]
    for ax, key in zip(axes[0], keys):
        w0 = torch.stack([result.initial_state(s)[key] for s in result.seeds]).float()
        z = w0 / xavier_std(*torch.nn.init._calculate_fan_in_and_fan_out(w0[0]))
        ax.hist(z.flatten().numpy(), bins=bins, density=True, color="lightgrey", label="all weights (θ0)")
        for colour, r in zip(colours, rounds):
            keep = torch.stack([result.mask(r, s)[key] for s in result.seeds]).bool()
            ax.hist(z[keep].numpy(), bins=bins, density=True, histtype="step", lw=2, color=colour,
                    label=f"kept at round {r} ({result.mask(r).density():.1%})")
        ax.axvspan(-near_zero, near_zero, color="red", alpha=0.08)
        ax.set(title=labels[key], xlabel="θ0 / Glorot σ of the layer", ylabel="density")
    axes[0][0].legend(fontsize=8, loc="upper left")
    return axes[0]


def plot_selection_ceiling(scales: pd.DataFrame, labels: Mapping[str, str]) -> np.ndarray:
    """Chapter 6: per layer, the RMS of the tickets' kept θ0 over the dense Glorot σ (mean ± sd over
    seeds) against the layer's density, beside Glorot's 1/sqrt(d) and the Gaussian selection ceiling."""
    keys = list(labels)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.9), sharey=True, squeeze=False)
    grid = np.geomspace(scales["density"].min() * 0.8, 1.0, 100)
    palette = sns.color_palette("colorblind", 3)
    for ax, key in zip(axes[0], keys):
        g = scales[scales["layer"] == key].assign(pct=lambda f: 100 * f["density"])
        ax.plot(100 * grid, 1 / np.sqrt(grid), color="black", label="Glorot for density d: 1/√d")
        ax.plot(100 * grid, [gaussian_selection_ceiling(d) for d in grid], color=palette[1], ls="--",
                label="ceiling: keep the largest |θ0|")
        sns.lineplot(data=g, x="pct", y="measured_scale", marker="o", errorbar="sd", color=palette[0],
                     label="ticket: RMS(kept θ0) / σ", ax=ax)
        ax.axhline(1, color="grey", ls=":", lw=1)
        ax.set(xscale="log", yscale="log", title=labels[key], xlabel="% of the layer's weights remaining (log)",
               ylabel="initial scale / dense Glorot σ (log)")
        ax.invert_xaxis()
        ax.set_xticks([t for t in (100, 50, 20, 10, 5, 2, 1) if 100 * grid.min() <= t <= 100])
        ax.set_yticks([t for t in (1, 1.5, 2, 3, 4, 6, 8) if t <= 1.05 / np.sqrt(grid.min())])
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(plt.NullFormatter())
        ax.legend(fontsize=7, loc="upper left")
    return axes[0]


def plot_rms_over_training(rms: pd.DataFrame, labels: Mapping[str, str], *, arms: Sequence[str] | None = None
                           ) -> np.ndarray:
    """Chapter 6 (the review's reading of Appendix F.5): per layer, the RMS of the kept weights over
    training in units of the dense Glorot σ, one line per arm (mean over seeds, band ±1 sd), with σ
    and σ/√d of the layer drawn as reference lines."""
    arms = list(dict.fromkeys(rms["arm"])) if arms is None else list(arms)
    data = rms[rms["arm"].isin(arms)].assign(scaled=lambda f: f["rms"] / f["sigma"],
                                             arm_name=lambda f: f["arm"].map(arm_label))
    keys = list(labels)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.3 * len(keys), 3.9), sharey=True, squeeze=False)
    for ax, key in zip(axes[0], keys):
        part = data[data["layer"] == key]
        sns.lineplot(data=part, x="iteration", y="scaled", hue="arm_name", hue_order=[arm_label(a) for a in arms],
                     marker="o", errorbar="sd", ax=ax, legend=ax is axes[0][0])
        ax.axhline(1, color="0.4", ls=":", lw=1.2)
        ax.axhline(1 / np.sqrt(part["density"].mean()), color="0.2", ls="--", lw=1.2)
        steps = sorted(i for i in part["iteration"].unique() if i > 0)
        ax.set_xscale("symlog", linthresh=steps[0] if steps else 1)
        ax.set(xlim=(0, None), title=f"{labels[key]}, {part['density'].mean():.1%} kept",
               xlabel="training iteration (symlog)",
               ylabel="RMS of kept weights / dense Glorot σ")
    axes[0][0].legend(fontsize=7, title="dotted: σ, dashed: σ/√d", title_fontsize=7)
    return axes[0]
