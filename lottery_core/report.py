"""What a chapter leaves behind: its output folder, its metrics file and its "what this run shows" block.

A chapter runs alone in any folder (Jupyter, Colab, papermill, the book build): caches and metrics go
under ``$LOTTERY_CACHE`` when it is set, otherwise under ``lottery_output/`` in the working folder.
The book build sets ``$LOTTERY_CACHE`` so that every chapter shares one IMP cache and the claims
tests read one set of metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = "lottery_output"


def output_dir() -> Path:
    """``$LOTTERY_CACHE`` when set, otherwise ``./lottery_output`` (absolute)."""
    return Path(os.environ.get("LOTTERY_CACHE") or DEFAULT_OUTPUT).resolve()


def cache_dir() -> Path:
    """Where IMP runs are checkpointed (``run_imp(..., cache_dir=lc.cache_dir())``)."""
    return output_dir() / "runs"


def metrics_path(chapter: str) -> Path:
    """Where chapter ``chapter`` (a notebook name such as ``"03_winning_tickets"``) writes its metrics."""
    return output_dir() / "metrics" / f"{chapter}.json"


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: tensors and numpy scalars become numbers, NaN becomes ``None``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):
        value = value.tolist()
        if isinstance(value, list):
            return plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | os.PathLike | None, metrics: Mapping[str, Any]) -> dict:
    """Write a chapter's key numbers as JSON to ``path`` (folders created; NaN becomes null) and
    return them as plain Python. ``path=None`` writes nothing."""
    values = plain(metrics)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(values, indent=2, sort_keys=True))
        tmp.replace(path)
    return values


def show_findings(lines: Sequence[str], title: str = "What this run shows") -> str:
    """Render the computed findings of a chapter as a Markdown block (a heading and one bullet per
    line) in Jupyter, on Colab and in the book; print it elsewhere. Returns the Markdown text."""
    text = f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return text
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))
    return text


# ---- Verdict words and intervals as text (chapters 5 to 7) ----


def interval_word(iv: Mapping[str, float], above: str = "higher", below: str = "lower",
                  level: str = "no clear difference") -> str:
    """The verdict a 95% interval supports: ``above`` when it lies above zero, ``below`` when below,
    ``level`` when it contains zero (or is undefined)."""
    low, high = iv.get("low"), iv.get("high")
    if low is not None and math.isfinite(low) and low > 0:
        return above
    if high is not None and math.isfinite(high) and high < 0:
        return below
    return level


def interval_text(iv: Mapping[str, float], *, scale: float = 100.0, unit: str = " points",
                    digits: int = 1) -> str:
    """A difference with its interval, e.g. ``+1.2 points (95% CI −0.3 to +2.7)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{scale * x:+.{digits}f}".replace("-", "−")

    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    return f"{number(iv['mean'])}{unit} (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def format_ratio(iv: Mapping[str, float], digits: int = 2) -> str:
    """A ratio with its interval, e.g. ``1.32× (95% CI 1.10 to 1.58)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"

    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    return f"{number(iv['mean'])}× (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float], **style) -> str:
    """``interval_text`` of each round's interval, labelled with the round's density, densest first."""
    rounds = sorted(per_round, key=lambda r: -densities[str(r)])
    return "; ".join(f"{interval_text(per_round[r], **style)} at {densities[str(r)]:.1%}" for r in rounds)


def words_by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float],
                     **words: str) -> dict[str, list[str]]:
    """Group the rounds' densities (as "21.6%") by the verdict word of their interval."""
    out: dict[str, list[str]] = {}
    for r in sorted(per_round, key=lambda r: -densities[str(r)]):
        out.setdefault(interval_word(per_round[r], **words), []).append(f"{densities[str(r)]:.1%}")
    return out


def nested_intervals(table: Any, *, key: str = "arm", by: str = "round") -> dict[str, dict[str, dict]]:
    """Rows of an interval table (``key``, ``by``, mean, low, high, n) as ``{key: {str(by): interval}}``
    for a metrics file."""
    out: dict[str, dict[str, dict]] = {}
    for row in table.to_dict("records"):
        out.setdefault(str(row[key]), {})[str(row[by])] = plain({k: row[k] for k in ("mean", "low", "high", "n")})
    return out


SCALE_COLUMNS = {
    "fan_in": "dense fan-in", "fan_out": "dense fan-out", "density": "layer density d", "dense_std": "Glorot σ",
    "subnetwork_std": "σ/√d", "neuron_std_mean": "per-neuron std (mean)", "neuron_std_p10": "per-neuron std p10",
    "neuron_std_p90": "per-neuron std p90", "fan_in_min": "kept fan-in min", "fan_in_median": "kept fan-in median",
    "fan_in_max": "kept fan-in max", "measured_scale": "RMS(kept θ0) / σ", "ceiling_scale": "ceiling / σ",
}


def scale_summary(scales: Any, round: int, labels: Mapping[str, str] | None = None) -> Any:
    """Chapter 6's layer-by-layer table of one round of :func:`~lottery_core.ticket_scales`: means over
    seeds, fan-in extremes over all seeds, columns named for the reader."""
    part = scales[scales["round"] == round]
    agg = {c: "mean" for c in SCALE_COLUMNS} | {"fan_in_min": "min", "fan_in_max": "max"}
    table = part.groupby("layer", sort=False).agg(agg).rename(columns=SCALE_COLUMNS)
    return table.rename(index=dict(labels or {})).rename_axis(f"round {round}")


# ---- Chapter 6: tables, metrics and findings of the √10 experiment ----


def _bracket(iv: Mapping[str, float], scale: float = 100.0, digits: int = 1, sign: str = "+") -> str:
    """``"+1.2 [+0.4, +2.0]"``: a mean and its interval; ``"n/a"`` when undefined."""
    if iv.get("mean") is None or not math.isfinite(iv["mean"]):
        return "n/a"
    if iv.get("low") is None or not math.isfinite(iv["low"]):
        return f"{scale * iv['mean']:{sign}.{digits}f}"
    return (f"{scale * iv['mean']:{sign}.{digits}f} [{scale * iv['low']:{sign}.{digits}f}, "
            f"{scale * iv['high']:{sign}.{digits}f}]")


def interval_rows(*tables: Any, scale: float = 100.0) -> Any:
    """Tables of :func:`~lottery_core.arm_differences` as one text table: a row per comparison
    ("arm − reference"), a column per tested density, cells ``"−3.1 [−4.0, −2.2]"`` (mean and 95% interval,
    in percentage points for accuracies)."""
    import pandas as pd

    from .arms import arm_label

    rows = [{"comparison": f"{arm_label(r['arm'])} − {arm_label(r['reference'])}",
             "density": r["density"], "where": f"{r['density']:.1%} (round {r['round']})", "cell": _bracket(r, scale)}
            for table in tables for r in table.to_dict("records")]
    frame = pd.DataFrame(rows)
    order = list(dict.fromkeys(frame["comparison"]))
    columns = list(dict.fromkeys(frame.sort_values("density", ascending=False)["where"]))
    table = frame.pivot(index="comparison", columns="where", values="cell").loc[order, columns]
    return table.rename_axis(index="mean [95% interval]", columns="weights remaining")


def gap_table(closed: Mapping[str, Mapping[str, float]]) -> Any:
    """Shares of the ticket's lead over reinit that arms close (:func:`~lottery_core.gap_closed`), as text."""
    import pandas as pd

    from .arms import arm_label

    return pd.DataFrame({
        "share of the ticket's lead closed": [f"{v['mean']:.0%}" for v in closed.values()],
        "95% interval (paired bootstrap over seeds)": [f"{v['low']:.0%} to {v['high']:.0%}" for v in closed.values()],
    }, index=[arm_label(a) for a in closed]).rename_axis("arm")


def rms_columns(table: Any, labels: Mapping[str, str]) -> Any:
    """Rows of :func:`~lottery_core.rms_summary` for one round as text: per arm and layer, the kept
    weights' RMS at the start and at the end of training in units of the dense σ, and their movement
    RMS(θT − θ0) over the ticket's (geometric mean over seeds, 95% interval)."""
    import pandas as pd

    from .arms import arm_label

    rows: dict = {}
    for r in table.to_dict("records"):
        layer = f"{labels.get(r['layer'], r['layer'])}, σ/√d = {r['sigma_d']:.2f} σ"
        row = rows.setdefault(arm_label(r["arm"]), {})
        row[(layer, "RMS / σ, start → end")] = f"{r['initial']:.2f} → {r['final']:.2f}"
        row[(layer, "movement / ticket's")] = format_ratio(r["moved_vs_reference"])
    out = pd.DataFrame(rows).T
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out.rename_axis("arm")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _accuracy(frame: Any) -> dict:
    stats = frame.groupby(["arm", "round"])[["early_stop_test_acc", "early_stop_iteration"]].agg(["mean", "std"])
    out: dict = {}
    for (arm, r), row in stats.iterrows():
        out.setdefault(arm, {})[str(r)] = {"mean": row[("early_stop_test_acc", "mean")],
                                           "sd": row[("early_stop_test_acc", "std")],
                                           "early_stop_iteration": row[("early_stop_iteration", "mean")],
                                           "n": int((frame["arm"].eq(arm) & frame["round"].eq(r)).sum())}
    return out


def _rms_metrics(rms_table: Any, labels: Mapping[str, str]) -> dict:
    out: dict = {}
    for r in rms_table.to_dict("records"):
        entry = {k: r[k] for k in ("density", "initial", "final", "sigma_d", "moved", "growth")}
        entry["moved_vs_ticket"] = r["moved_vs_reference"]
        out.setdefault(str(r["round"]), {}).setdefault(r["arm"], {})[labels.get(r["layer"], r["layer"])] = entry
    return out


def sqrt10_metrics(*, config: Any, seeds: Sequence[int], scales: Any, target_round: int, tested: Sequence[int],
                   run: Any, vs_ticket: Any, vs_reinit: Any, closed: Mapping[str, Mapping], rms_table: Any,
                   rms_round: int, labels: Mapping[str, str], selection: Any) -> dict:
    """Chapter 6's metrics file: the tested densities and the validation leads that chose them, every
    arm's accuracy, the paired intervals against the ticket and against reinit, the shares of the gap
    closed, the scale table of the target round, the scale of every ticket, and the kept-weight RMS."""
    from .analysis import gaussian_selection_ceiling

    pruned = selection[selection["round"] > 0]
    means = pruned.groupby(["round", "arm"])["early_stop_val_acc"].mean().unstack("arm")
    target = scales[scales["round"] == target_round].groupby("layer", sort=False).mean(numeric_only=True)
    columns = ["fan_in", "fan_out", "density", "dense_std", "subnetwork_std", "predicted_scale", "kept_init_rms",
               "all_init_rms", "measured_scale", "ceiling_scale", "share_of_predicted_log"]
    shared = pruned[pruned["arm"] == "ticket"].groupby("round")["early_stop_test_acc"].mean()
    return plain({
        "config": config.to_dict(), "seeds": list(seeds), "tested_rounds": list(tested),
        "density": {str(r): d for r, d in run.frame.groupby("round")["density"].mean().items()},
        "validation_lead": {str(r): v for r, v in (means["ticket"] - means["reinit"]).items()},
        "shared_ticket_acc": {str(r): shared[r] for r in tested},
        "arms": list(dict.fromkeys(run.frame["arm"])), "accuracy": _accuracy(run.frame),
        "vs_ticket": nested_intervals(vs_ticket), "vs_reinit": nested_intervals(vs_reinit), "gap_closed": closed,
        "target_round": target_round, "layers": [labels[k] for k in target.index],
        "scale_table": {labels[k]: {c: target.loc[k, c] for c in columns} for k in target.index},
        "scale_by_round": scales.assign(layer=scales["layer"].map(labels))[
            ["round", "seed", "layer", "density", "overall_density", "predicted_scale", "measured_scale",
             "ceiling_scale", "sample_scale", "share_of_predicted_log"]].to_dict("records"),
        "ceiling_at_10pct": gaussian_selection_ceiling(0.1), "rms_round": rms_round,
        "rms": _rms_metrics(rms_table, labels),
    })


def sqrt10_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 6 from its metrics."""
    from .arms import arm_label, scaled_arm

    d, tested = m["density"], m["tested_rounds"]
    lines = [f"Densities tested: {', '.join(f'{d[str(r)]:.1%}' for r in sorted(tested))} of the weights (rounds "
             f"{', '.join(map(str, sorted(tested)))}), chosen on validation accuracy."]
    full = scaled_arm(1)
    if full in m["vs_ticket"]:
        words = words_by_density(m["vs_ticket"][full], d, above="more accurate than the ticket",
                                 below="less accurate than the ticket", level="not distinguishable from the ticket")
        lines.append("The review's proposal, the ticket's θ0 × 1/√d per layer: "
                     + "; ".join(f"{w} at {', '.join(ds)}" for w, ds in words.items()) + " (95% intervals).")
    for title, key in (("the ticket", "vs_ticket"), ("random reinitialisation", "vs_reinit")):
        lines += [f"{_capital(arm_label(arm))} − {title}: {by_density(m[key][arm], d)}."
                  for arm in m["arms"] if arm in m[key]]
    lines.append("Share of the ticket's lead over random reinitialisation recovered, pooled over the tested densities "
                 "(95% paired bootstrap): " + "; ".join(f"{arm_label(a)} {v['mean']:.0%} ({v['low']:.0%} to "
                                                       f"{v['high']:.0%})" for a, v in m["gap_closed"].items()) + ".")
    t = m["scale_table"]
    lines.append(f"Kept θ0 at round {m['target_round']}: RMS / σ = "
                 + ", ".join(f"{t[k]['measured_scale']:.2f}" for k in m["layers"]) + " where Glorot asks for "
                 + ", ".join(f"{t[k]['predicted_scale']:.2f}" for k in m["layers"])
                 + f" ({', '.join(m['layers'])}); no mask can exceed {m['ceiling_at_10pct']:.2f} at 10% density.")
    rms = m["rms"][str(m["rms_round"])]
    for arm in [a for a in ("ticket", full) if a in rms]:
        layers = "; ".join(f"{k.split(' (')[0]} {v['initial']:.2f} → {v['final']:.2f} (σ/√d {v['sigma_d']:.2f})"
                           for k, v in rms[arm].items())
        lines.append(f"{_capital(arm_label(arm))} at {d[str(m['rms_round'])]:.1%}, kept-weight RMS / σ from start "
                     f"to end of training: {layers}.")
    if full in rms:
        lines.append("Movement RMS(θT − θ0) of the kept weights, ticket × 1/√d over the ticket: "
                     + "; ".join(f"{k.split(' (')[0]} {format_ratio(v['moved_vs_ticket'])}"
                                 for k, v in rms[full].items()) + ".")
    return lines


# ---- Chapter 5: metrics and findings of weight movement and the kept initial values ----


def movement_metrics(*, config: Any, seeds: Sequence[int], result: Any, rounds: Sequence[int], summary: Any,
                     movement: Any, shape: Any, labels: Mapping[str, str], bins: int, near_zero: float) -> dict:
    """Chapter 5's metrics file: per examined ticket and layer, the movement ratios raw and matched
    (intervals over seeds), the away-from-zero differences, the coverage of the matching, the group
    sizes, and the shape of the kept initial weights (means over seeds)."""
    fields = ("raw_ratio", "matched_ratio", "share_left", "coverage", "away_raw", "away_matched")
    sizes = movement.groupby(["round", "layer"])[["kept", "pruned"]].mean()
    shapes = shape.groupby(["round", "layer"]).mean(numeric_only=True).drop(columns="seed")
    out: dict = {"config": config.to_dict(), "seeds": list(seeds), "movement_rounds": list(rounds), "bins": bins,
                 "near_zero": near_zero, "layers": list(labels.values()), "movement": {}, "init_shape": {},
                 "density": {str(r): sum(result.mask(r, s).density() for s in seeds) / len(seeds) for r in rounds}}
    for row in summary.to_dict("records"):
        r, layer = row["round"], row["layer"]
        entry = {k: row[k] for k in fields} | sizes.loc[(r, layer)].to_dict()
        out["movement"].setdefault(str(r), {})[labels[layer]] = entry
        out["init_shape"].setdefault(str(r), {})[labels[layer]] = shapes.loc[(r, layer)].to_dict()
    return plain(out)


def movement_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 5 from its metrics."""
    lines = []
    for r in map(str, m["movement_rounds"]):
        move, shape = m["movement"][r], m["init_shape"][r]
        short = {k: k.split(" (")[0] for k in move}
        lines.append(f"Ticket of round {r} ({m['density'][r]:.1%} of the weights), mean |θT − θ0| in the dense run, "
                     "kept over pruned: " + "; ".join(f"{short[k]} {format_ratio(v['raw_ratio'])}"
                                                       for k, v in move.items()) + ".")
        lines.append(f"Round {r}, the same within bins of |θT| (selection by final size removed): "
                     + "; ".join(f"{short[k]} {format_ratio(v['matched_ratio'])}, {v['coverage']:.0%} of the kept "
                                 "weights matched" for k, v in move.items()) + ".")
        lines.append(f"Round {r}, share of kept minus share of pruned weights that moved away from zero, raw and "
                     "within |θT| bins: " + "; ".join(f"{short[k]} {interval_text(v['away_raw'])} and "
                                                      f"{interval_text(v['away_matched'])}" for k, v in move.items())
                     + ".")
        lines.append(f"Round {r}, kept initial weights: near-zero ratio (|θ0| < {m['near_zero']} σ, 1 = no "
                     "selection) " + ", ".join(f"{v['near_zero_ratio']:.2f}" for v in shape.values())
                     + "; dip ratio (Gaussian 1.63, below 1 = two peaks) "
                     + ", ".join(f"{v['dip_ratio']:.2f}" for v in shape.values())
                     + "; RMS over all initial weights " + ", ".join(f"{v['rms_ratio']:.2f}" for v in shape.values())
                     + f" ({', '.join(short.values())}).")
    return lines


def movement_table(summary: Any, labels: Mapping[str, str]) -> Any:
    """Chapter 5's table: per ticket and layer, the kept/pruned movement ratio over all weights and
    within |θT| bins (geometric means), the share of kept weights matched, and the away-from-zero
    differences (kept − pruned, percentage points), each with its 95% interval over seeds."""
    import pandas as pd

    rows = [{"round": r["round"], "layer": labels.get(r["layer"], r["layer"]),
             "kept / pruned, all": _bracket(r["raw_ratio"], 1.0, 2, ""),
             "kept / pruned, same |θT|": _bracket(r["matched_ratio"], 1.0, 2, ""),
             "kept weights matched": f"{r['coverage']:.0%}",
             "away from zero, raw": _bracket(r["away_raw"]), "away from zero, same |θT|": _bracket(r["away_matched"])}
            for r in summary.to_dict("records")]
    return pd.DataFrame(rows).set_index(["round", "layer"])


# ---- Chapter 7: metrics and findings of rewinding and the learning rate ----


def rewinding_metrics(*, configs: Mapping[str, Any], seeds: Sequence[int], rounds: int, rewind_iteration: int,
                      frame: Any, margins: Any, vs_dense: Any, dead: Any) -> dict:
    """Chapter 7's metrics file: the two learning rates and their (equal) budgets, k and its share of
    training, and per (setting, k) run: the dense, ticket and reinit accuracies (means over seeds), the
    paired intervals ticket − reinit, ticket − dense and reinit − dense, and the dead units at θk."""
    means = frame.groupby(["setting", "k", "arm"])["early_stop_test_acc"].mean()
    runs = []
    for (setting, k), part in margins.groupby(["setting", "k"], sort=False):
        row = part.iloc[0]
        diffs = vs_dense[(vs_dense["setting"] == setting) & (vs_dense["k"] == k)].set_index("arm")
        runs.append({
            "setting": setting, "k": int(k), "lr": configs[setting].lr, "iterations": configs[setting].iterations,
            "density": row["density"], "dense_acc": means[(setting, k, "dense")],
            "ticket_acc": means[(setting, k, "ticket")], "reinit_acc": means[(setting, k, "reinit")],
            "margin": {c: row[c] for c in ("mean", "low", "high", "n")},
            "ticket_vs_dense": {c: diffs.loc["ticket", c] for c in ("mean", "low", "high", "n")},
            "reinit_vs_dense": {c: diffs.loc["reinit", c] for c in ("mean", "low", "high", "n")},
            "dead_units_at_rewind": dead.loc[(setting, k)].to_dict(),
        })
    return plain({"seeds": list(seeds), "rounds": rounds, "rewind_iteration": rewind_iteration,
                  "learning_rates": {n: {"optimizer": c.optimizer, "lr": c.lr, "iterations": c.iterations}
                                     for n, c in configs.items()},
                  "config": configs["default"].to_dict(), "runs": runs})


def rewinding_findings(m: Mapping[str, Any]) -> list[str]:
    """The "what this run shows" lines of chapter 7 from its metrics."""
    rates, k = m["learning_rates"], m["rewind_iteration"]
    budget = {c["iterations"] for c in rates.values()}
    names = ", ".join(f"{n} {c['optimizer']} {c['lr']:g}" for n, c in rates.items())
    lines = [f"Learning rates: {names}, each for "
             f"{' and '.join(f'{b:,}' for b in sorted(budget))} iterations; k = {k} is "
             f"{k / min(budget):.1%} of training."]
    for run in m["runs"]:
        word = interval_word(run["margin"], above="ahead of", below="behind", level="not distinguishable from")
        lines.append(f"{run['setting'].capitalize()} rate, rewound to θ{run['k']}, at {run['density']:.1%} of the "
                     f"weights: ticket {run['ticket_acc']:.1%}, reinit {run['reinit_acc']:.1%}, dense "
                     f"{run['dense_acc']:.1%}; ticket − reinit {interval_text(run['margin'])}: the ticket is "
                     f"{word} its reinitialised copy; ticket − dense {interval_text(run['ticket_vs_dense'])}.")
    dead = {(r["setting"], r["k"]): r["dead_units_at_rewind"] for r in m["runs"]}
    for (setting, kk), d in dead.items():
        if kk > 0:
            lines.append(f"Hidden units off for every training example at θ{kk} of the {setting} rate: "
                         + ", ".join(f"{layer} {v:.0%}" for layer, v in d.items()) + ".")
    return lines


def rewinding_table(frame: Any, margins: Any, vs_dense: Any) -> Any:
    """Chapter 7's table: per run, the mean test accuracies of the dense network, the ticket and its
    reinitialised copy, and the paired differences with their 95% intervals (percentage points)."""
    import pandas as pd

    from .arms import rewinding_label

    means = frame.groupby(["setting", "k", "arm"])["early_stop_test_acc"].mean()
    rows = []
    for m in margins.to_dict("records"):
        s, k = m["setting"], m["k"]
        d = vs_dense[(vs_dense["setting"] == s) & (vs_dense["k"] == k)].set_index("arm")
        rows.append({"run": rewinding_label(s, k), "dense (%)": f"{100 * means[(s, k, 'dense')]:.1f}",
                     f"ticket at {m['density']:.1%} (%)": f"{100 * means[(s, k, 'ticket')]:.1f}",
                     "reinit (%)": f"{100 * means[(s, k, 'reinit')]:.1f}", "ticket − reinit": _bracket(m),
                     "ticket − dense": _bracket(d.loc["ticket"]), "reinit − dense": _bracket(d.loc["reinit"])})
    return pd.DataFrame(rows).set_index("run")


# ---- The conclusion: every chapter's metrics, running the chapters that are missing ----

BOOK_CHAPTERS = {
    "01_dense_baseline": "Chapter 1: the dense baseline",
    "02_pruning_and_masks": "Chapter 2: pruning and masks",
    "03_winning_tickets": "Chapter 3: winning tickets",
    "04_random_reinit": "Chapter 4: is it the initialisation?",
    "05_weight_movement": "Chapter 5: inside a winning ticket",
    "06_sqrt10_magnitude": "Chapter 6: the √10 argument",
    "07_rewinding": "Chapter 7: rewinding and the learning rate",
}


def read_available_metrics(folder: str | os.PathLike, chapters: Sequence[str]) -> dict[str, dict]:
    """The metrics of those ``chapters`` that wrote ``<folder>/<chapter>.json``; unreadable files count as
    missing."""
    found = {}
    for chapter in chapters:
        path = Path(folder) / f"{chapter}.json"
        try:
            found[chapter] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return found


def run_chapters(chapters: Sequence[str], notebooks_dir: str | os.PathLike, metrics_dir: str | os.PathLike,
                 parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Execute the notebooks ``<notebooks_dir>/<chapter>.ipynb`` one after the other with papermill, each
    writing its metrics to ``<metrics_dir>/<chapter>.json``; the executed copies go to
    ``<metrics_dir>/../executed``. A chapter that fails is reported in one line and skipped. Returns the
    chapters that ran to the end."""
    import papermill

    notebooks, metrics = Path(notebooks_dir).resolve(), Path(metrics_dir).resolve()
    executed = metrics.parent / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    done = []
    for chapter in chapters:
        print(f"running {chapter}.ipynb ...", flush=True)
        try:
            papermill.execute_notebook(
                str(notebooks / f"{chapter}.ipynb"), str(executed / f"{chapter}.ipynb"),
                parameters={"metrics_path": str(metrics / f"{chapter}.json"), **(parameters or {})},
                cwd=str(notebooks), progress_bar=False)
        except Exception as error:  # a failed chapter is named, not raised: the page goes on with the rest
            reason = getattr(error, "ename", type(error).__name__)
            detail = getattr(error, "evalue", str(error)).strip().splitlines()
            print(f"{chapter} stopped with {reason}: {detail[-1] if detail else ''}", flush=True)
        else:
            done.append(chapter)
    return done


def gather_metrics(chapters: Sequence[str], *, metrics_dir: str | os.PathLike | None = None,
                   notebooks_dir: str | os.PathLike | None = None, run_missing: bool = True,
                   parameters: Mapping[str, Any] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Every chapter's metrics for a summary page, and the chapters still missing.

    Reads ``<metrics_dir>/<chapter>.json`` (default: the folder of :func:`metrics_path`). When some are
    missing, ``run_missing`` is set and their notebooks sit in ``notebooks_dir``, runs them first
    (:func:`run_chapters`). Whatever is still missing is named in a short message, never a traceback.
    """
    folder = Path(metrics_dir) if metrics_dir is not None else metrics_path("any").parent
    found = read_available_metrics(folder, chapters)
    missing = [c for c in chapters if c not in found]
    here = Path(notebooks_dir) if notebooks_dir is not None else None
    runnable = [c for c in missing if here is not None and (here / f"{c}.ipynb").is_file()]
    if missing and run_missing and runnable:
        print(f"{len(runnable)} chapter(s) have no metrics in {folder} yet; running them first.", flush=True)
        run_chapters(runnable, here, folder, parameters)
        found |= read_available_metrics(folder, runnable)
        missing = [c for c in chapters if c not in found]
    if missing:
        print(missing_message(missing, folder), flush=True)
    return found, missing


def missing_message(missing: Sequence[str], folder: str | os.PathLike) -> str:
    """Which chapters to run before a summary page can show their results."""
    names = ", ".join(f"{BOOK_CHAPTERS.get(c, c).split(':')[0]} ({c}.ipynb)" for c in missing)
    return (f"No results yet from {names} in {folder}. Run those notebooks first (each writes its metrics in its "
            "last cell); a chapter notebook in the folder of this page is run by the page itself. The sections "
            "below show what is there.")


def show_chapter_findings(metrics: Mapping[str, Mapping], chapters: Mapping[str, str] = BOOK_CHAPTERS) -> str:
    """One "what this run shows" block per chapter, from the ``findings`` its metrics carry; a chapter
    without metrics or without findings says so. Returns the Markdown shown."""
    texts = []
    for chapter, title in chapters.items():
        if chapter not in metrics:
            lines = ["Not run yet: no metrics from this chapter."]
        else:
            lines = list(metrics[chapter].get("findings") or ["Its metrics carry no findings block."])
        texts.append(show_findings(lines, title=title))
    return "\n\n".join(texts)


def seed_question_table(m6: Mapping[str, Any] | None) -> Any:
    """The conclusion's table of chapter 6's experiment from its metrics: a row per comparison (each arm
    against the ticket, the rescaled reinitialisations against plain reinit), a column per tested density,
    mean and 95% interval in percentage points. Without chapter 6's metrics, a note saying so."""
    import pandas as pd

    from .arms import arm_label

    if not m6:
        print("Chapter 6 has not been run, so there is no experiment to show here.")
        return None
    d = m6["density"]
    rows = {}
    for key, reference in (("vs_ticket", "ticket"), ("vs_reinit", "reinit")):
        for arm in [a for a in m6["arms"] if a in m6[key]]:
            per_round = m6[key][arm]
            rows[f"{arm_label(arm)} − {arm_label(reference)}"] = {
                f"{d[r]:.1%} of weights": _bracket(iv) for r, iv in sorted(per_round.items(), key=lambda x: -d[x[0]])}
    return pd.DataFrame(rows).T.rename_axis("chapter 6, test accuracy difference (points) [95% interval]")


def seed_question_metrics(m6: Mapping[str, Any] | None) -> dict | None:
    """What the conclusion records of chapter 6: the verdict of each arm against the ticket per density."""
    if not m6:
        return None
    words = {"above": "higher", "below": "lower", "level": "no clear difference"}
    return {arm: words_by_density(per_round, m6["density"], above=words["above"], below=words["below"],
                                  level=words["level"]) for arm, per_round in m6["vs_ticket"].items()}
