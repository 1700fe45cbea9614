"""Chapter 6, the √10 argument: the differences pooled over the tested densities, and the claims its prose
makes about the selection ceiling, the review's experiment and the weights' growth in the default run."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..scale import gaussian_selection_ceiling, scale_table, selection_ceiling_scale
from ..starts import arm_label
from ..stats import Interval, paired_differences, ratio_interval
from .claims import Check, Claims
from .paths import plain

claims = Claims("06_sqrt10_magnitude")
SCALED = "ticket_scaled_1"
HALF_SCALED = "ticket_scaled_0.5"
DAMAGED = ("ticket_random_signs", "ticket_shuffled")
RESCALED = ("reinit_layer_scaled", "reinit_neuron_scaled")


def pooled(frame: pd.DataFrame, arms: Sequence[str], reference: str,
           metric: str = "early_stop_test_acc") -> dict[str, dict[str, float]]:
    """Each arm minus ``reference``, averaged over the tested densities seed by seed, with its paired 95% t
    interval over seeds: steadier than any one density's interval."""
    averaged = frame.groupby(["seed", "arm"], as_index=False)[metric].mean().assign(tested="all")
    table = paired_differences(averaged, list(arms), reference, metric, by=("tested",))
    return {row["arm"]: {k: float(row[k]) for k in ("mean", "low", "high", "n")} for _, row in table.iterrows()}


def pooled_table(pooled_intervals: Mapping[str, Mapping[str, float]]) -> pd.DataFrame:
    """The pooled differences as a table: mean with its 95% and 90% t intervals, and whether the 90% interval
    lies inside the book's equivalence margin of ±1 point (two one-sided tests at the 5% level)."""
    rows = []
    for arm, record in pooled_intervals.items():
        iv = Interval.of(record)
        reference = "ticket" if arm.startswith("ticket") else "reinit"
        rows.append({"arm": arm_label(arm), "minus": arm_label(reference), "mean [95% t interval]": iv.format(),
                     "90% t interval": iv.at(0.90).format(), "within ±1 point": "yes" if iv.equivalent() else "no"})
    return pd.DataFrame(rows).set_index(["arm", "minus"])


def _per_density(m: Mapping[str, Any], key: str, arm: str) -> list[tuple[float, Interval]]:
    """(density, interval) of ``arm`` in ``m[key]``, densest first."""
    rows = [(m["density"][r], Interval.of(iv)) for r, iv in m[key][arm].items()]
    return sorted(rows, key=lambda t: -t[0])


def _five_then_ten(rows: list[tuple[float, Interval]], sign: int) -> bool:
    """About five points (three to eight) at a third of the weights, more than eight at a seventh and below."""
    return all(0.03 <= sign * iv.mean <= 0.08 if d > 0.3 else sign * iv.mean > 0.08
               for d, iv in rows if d > 0.3 or d < 0.15)


def _listing(rows: list[tuple[float, Interval]]) -> str:
    return "; ".join(f"{d:.1%}: {iv.format()}" for d, iv in rows)


@claims("ch06-selection", "At the round closest to 10% of the weights their RMS is about one and a half times σ in "
        "every layer, where the formula asks for about 3.4 in the hidden layers (the output layer is pruned more "
        "slowly and asks for about 1.8): in the hidden layers, selection supplies about a third of the factor in log "
        "terms. Even the ceiling, about 2.2 in the hidden layers here, would not reach it.")
def _selection(m: Mapping[str, Any]) -> Check:
    table, hidden = m["scale_table"], m["layers"][:-1]
    holds = (all(1.3 <= row["measured_scale"] <= 1.7 and row["measured_scale"] < row["ceiling_scale"]
                 < row["predicted_scale"] for row in table.values())
             and all(3.2 <= table[k]["predicted_scale"] <= 3.6 and 2.05 <= table[k]["ceiling_scale"] <= 2.3
                     and 0.25 <= table[k]["share_of_predicted_log"] <= 0.45 for k in hidden)
             and 1.7 <= table[m["layers"][-1]]["predicted_scale"] <= 1.9)
    return Check(holds, "; ".join(f"{k}: measured {r['measured_scale']:.2f}, ceiling {r['ceiling_scale']:.2f}, "
                                  f"asked {r['predicted_scale']:.2f}, share {r['share_of_predicted_log']:.0%}"
                                  for k, r in table.items()))


@claims("ch06-larger-when-sparser", "In this run the tickets' surviving initial weights are indeed larger than σ, "
        "more so the sparser the ticket")
def _larger_when_sparser(m: Mapping[str, Any]) -> Check:
    holds, texts = True, []
    for layer in m["layers"]:
        rows = pd.DataFrame([r for r in m["scale_by_round"] if r["layer"] == layer])
        mean = rows.groupby("round")["measured_scale"].mean()
        holds &= bool(mean.iloc[-1] > mean.iloc[0] and (mean[mean.index > 1] > 1).all())
        texts.append(f"{layer}: {mean.iloc[0]:.2f} to {mean.iloc[-1]:.2f}")
    return Check(holds, "; ".join(texts))


@claims("ch06-scaled-ticket", "Scaling the ticket's own θ0 by $1/\\sqrt d$ does not make it better. Averaged over the "
        "tested densities the scaled ticket is within a point of the ticket (the 90% interval of the difference lies "
        "inside ±1 point, the book's equivalence margin), and at no tested density is it measurably more accurate; "
        "scaling it half as much, in log terms, likewise stays within a point.")
def _scaled_ticket(m: Mapping[str, Any]) -> Check:
    full, half = Interval.of(m["pooled"][SCALED]), Interval.of(m["pooled"][HALF_SCALED])
    per_density = _per_density(m, "vs_ticket", SCALED)
    holds = full.equivalent() and half.equivalent() and not any(iv.above() for _, iv in per_density)
    return Check(holds, f"averaged: {full.format()} (90%: {full.at(0.9).format()}); half: {half.format()} "
                 f"(90%: {half.at(0.9).format()}); per density: {_listing(per_density)}")


@claims("ch06-signs-and-positions", "the ticket's magnitudes with random signs, or its own values at shuffled "
        "positions, lose several points at every tested density: about five at a third of the weights, and about "
        "ten or more at a seventh and below.")
def _signs_and_positions(m: Mapping[str, Any]) -> Check:
    holds, texts = True, []
    for arm in DAMAGED:
        rows = _per_density(m, "vs_ticket", arm)
        holds &= all(iv.below() for _, iv in rows) and _five_then_ten(rows, -1)
        texts.append(f"{arm}: {_listing(rows)}")
    return Check(holds, " | ".join(texts))


@claims("ch06-sparse-scale", "Random reinitialisations do gain from the sparse scale, by a few points at most "
        "(averaged over the tested densities, the per-layer gain's interval lies above zero), but the ticket's lead "
        "over a plain random reinitialisation is larger still: about five points at a third of the weights, and "
        "about ten or more at a seventh and below.")
def _sparse_scale(m: Mapping[str, Any]) -> Check:
    gains = [iv for arm in RESCALED for _, iv in _per_density(m, "vs_reinit", arm)]
    layer = Interval.of(m["pooled"][RESCALED[0]])
    ticket = _per_density(m, "vs_reinit", "ticket")
    holds = layer.above() and all(iv.mean <= 0.05 for iv in gains) and _five_then_ten(ticket, 1)
    return Check(holds, f"per-layer gain averaged {layer.format()}; largest gain "
                 f"{max(iv.mean for iv in gains) * 100:+.1f} points; ticket − reinit: {_listing(ticket)}")


@claims("ch06-shares", "Rescaled per layer or per neuron, a random reinitialisation recovers only a minority of the "
        "ticket's lead: some of it, but well under half. Both scaled tickets keep all of it, within about a tenth. "
        "The ticket's magnitudes without their signs, and its values without their positions, keep less than a "
        "fifth.")
def _shares(m: Mapping[str, Any]) -> Check:
    closed = {arm: Interval.of(iv) for arm, iv in m["gap_closed"].items()}
    holds = (all(closed[a].low > 0 and closed[a].high < 0.4 for a in RESCALED)
             and all(abs(closed[a].mean - 1) <= 0.1 for a in (SCALED, HALF_SCALED))
             and all(closed[a].mean < 0.2 for a in DAMAGED))
    return Check(holds, "; ".join(f"{a}: {iv.format(unit='%', digits=0)}" for a, iv in closed.items()))


def _rms(m: Mapping[str, Any]) -> Mapping[str, Any]:
    return m["rms"][str(m["rms_round"])]


@claims("ch06-growth", "The ticket's kept weights do grow during training, and by a lot: from about one and a half σ "
        "to about six σ in the hidden layers, well past σ/√d, which is about 4σ at this density. But the arms end "
        "much closer together than they started: in the hidden layers the starts differ more than fivefold (σ for a "
        "fresh draw, about six σ for the ticket scaled up), the ends by less than a factor of two.")
def _growth(m: Mapping[str, Any]) -> Check:
    rms, holds, texts = _rms(m), True, []
    for layer in m["layers"][:-1]:
        ticket = rms["ticket"][layer]
        starts = [rms[a][layer]["initial"] for a in rms]
        ends = [rms[a][layer]["final"] for a in rms]
        holds &= (Interval.of(ticket["growth"]).above(1) and 1.3 <= ticket["initial"] <= 1.8
                  and 5.0 <= ticket["final"] <= 6.5 and 3.5 <= ticket["sigma_d"] <= 4.2
                  and ticket["final"] > 1.3 * ticket["sigma_d"] and 5.3 <= rms[SCALED][layer]["initial"] <= 7.0
                  and max(starts) / min(starts) > 5 and max(ends) / min(ends) < 2)
        texts.append(f"{layer}: ticket {ticket['initial']:.1f}σ to {ticket['final']:.1f}σ (σ/√d "
                     f"{ticket['sigma_d']:.1f}σ); starts {max(starts) / min(starts):.1f}×, ends "
                     f"{max(ends) / min(ends):.1f}× apart")
    return Check(holds, "; ".join(texts))


@claims("ch06-scaled-moves-less", "And the scaled ticket does move less: its kept weights travel about half to two "
        "thirds as far as the ticket's and, in the hidden layers, end somewhat larger, yet it reaches the same "
        "accuracy within the margin above.")
def _scaled_moves_less(m: Mapping[str, Any]) -> Check:
    rms = _rms(m)
    moved = {layer: Interval.of(v["moved_vs_ticket"]) for layer, v in rms[SCALED].items()}
    larger = all(rms[SCALED][k]["final"] > rms["ticket"][k]["final"] for k in m["layers"][:-1])
    holds = all(iv.below(1) and 0.4 <= iv.mean <= 0.75 for iv in moved.values()) and larger
    return Check(holds, "; ".join(f"{k}: moved {iv.mean:.2f}× the ticket's, ends at {rms[SCALED][k]['final']:.1f}σ "
                                  f"against {rms['ticket'][k]['final']:.1f}σ" for k, iv in moved.items()))


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


def interval_rows(*tables: Any, scale: float = 100.0) -> Any:
    """Tables of :func:`~lottery_core.paired_differences` as one text table: a row per comparison
    ("arm − reference"), a column per tested density, cells ``"−3.1 [−4.0, −2.2]"`` (mean and 95% interval,
    in percentage points for accuracies)."""
    rows = [{"comparison": f"{arm_label(r['arm'])} − {arm_label(r['reference'])}",
             "density": r["density"], "where": f"{r['density']:.1%} (round {r['round']})",
             "cell": Interval.of(r).format(scale, unit="")}
            for table in tables for r in table.to_dict("records")]
    frame = pd.DataFrame(rows)
    order = list(dict.fromkeys(frame["comparison"]))
    columns = list(dict.fromkeys(frame.sort_values("density", ascending=False)["where"]))
    table = frame.pivot(index="comparison", columns="where", values="cell").loc[order, columns]
    return table.rename_axis(index="mean [95% interval]", columns="weights remaining")


def gap_table(closed: Mapping[str, Mapping[str, float]]) -> Any:
    """Shares of the ticket's lead over reinit that arms close (:func:`~lottery_core.gap_closed`), as text."""
    return pd.DataFrame({
        "share of the ticket's lead closed": [f"{v['mean']:.0%}" for v in closed.values()],
        "95% interval (paired bootstrap over seeds)": [f"{v['low']:.0%} to {v['high']:.0%}" for v in closed.values()],
    }, index=[arm_label(a) for a in closed]).rename_axis("arm")


def rms_columns(table: Any, labels: Mapping[str, str]) -> Any:
    """Rows of :func:`~lottery_core.rms_summary` for one round as text: per arm and layer, the kept
    weights' RMS at the start and at the end of training in units of the dense σ, and their movement
    RMS(θT − θ0) over the ticket's (geometric mean over seeds, 95% interval)."""
    rows: dict = {}
    for r in table.to_dict("records"):
        layer = f"{labels.get(r['layer'], r['layer'])}, σ/√d = {r['sigma_d']:.2f} σ"
        row = rows.setdefault(arm_label(r["arm"]), {})
        row[(layer, "RMS / σ, start → end")] = f"{r['initial']:.2f} → {r['final']:.2f}"
        row[(layer, "movement / ticket's")] = Interval.of(r["moved_vs_reference"]).format(1.0, "×", 2, signed=False)
    out = pd.DataFrame(rows).T
    out.columns = pd.MultiIndex.from_tuples(out.columns)
    return out.rename_axis("arm")


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


def run_metrics(config: Any, seeds: Sequence[int], result: Any, run: Any, tested: Sequence[int]) -> dict:
    """What chapter 6 trained: the config and seeds, the tested rounds with their densities and the
    validation leads (ticket − reinit) that chose them, and every arm's accuracy in ``run`` (an ``ArmRun``)."""
    selection = result.to_long_frame()
    pruned = selection[selection["round"] > 0]
    means = pruned.groupby(["round", "arm"])["early_stop_val_acc"].mean().unstack("arm")
    shared = pruned[pruned["arm"] == "ticket"].groupby("round")["early_stop_test_acc"].mean()
    return {
        "config": config.to_dict(), "seeds": list(seeds), "tested_rounds": list(tested),
        "density": {str(r): d for r, d in run.frame.groupby("round")["density"].mean().items()},
        "validation_lead": {str(r): v for r, v in (means["ticket"] - means["reinit"]).items()},
        "shared_ticket_acc": {str(r): shared[r] for r in tested},
        "arms": list(dict.fromkeys(run.frame["arm"])), "accuracy": _accuracy(run.frame),
    }


def scale_metrics(scales: Any, target_round: int, labels: Mapping[str, str]) -> dict:
    """The measured scales (:func:`ticket_scales`): the layer table of ``target_round`` (means over seeds),
    every ticket's scale per layer, and the selection ceiling at 10% of the weights."""
    target = scales[scales["round"] == target_round].groupby("layer", sort=False).mean(numeric_only=True)
    columns = ["fan_in", "fan_out", "density", "dense_std", "subnetwork_std", "predicted_scale", "kept_init_rms",
               "all_init_rms", "measured_scale", "ceiling_scale", "share_of_predicted_log"]
    by_round = ["round", "seed", "layer", "density", "overall_density", "predicted_scale", "measured_scale",
                "ceiling_scale", "sample_scale", "share_of_predicted_log"]
    return {
        "target_round": target_round, "layers": [labels[k] for k in target.index],
        "scale_table": {labels[k]: {c: target.loc[k, c] for c in columns} for k in target.index},
        "scale_by_round": scales.assign(layer=scales["layer"].map(labels))[by_round].to_dict("records"),
        "ceiling_at_10pct": gaussian_selection_ceiling(0.1),
    }


def difference_metrics(vs_ticket: Any, vs_reinit: Any, closed: Mapping[str, Mapping], pooled: Mapping) -> dict:
    """The paired intervals per tested density against the ticket and against reinit
    (:func:`~lottery_core.paired_differences`), the shares of the ticket's lead closed, and the pooled intervals."""
    return {"vs_ticket": nested_intervals(vs_ticket), "vs_reinit": nested_intervals(vs_reinit), "gap_closed": closed,
            "pooled": pooled}


def rms_metrics(rms_table: Any, rms_round: int, labels: Mapping[str, str]) -> dict:
    """The kept weights' RMS at the start and the end of training, per round, arm and layer (:func:`rms_summary`)."""
    return {"rms_round": rms_round, "rms": _rms_metrics(rms_table, labels)}


def select_rounds_on_validation(frame: pd.DataFrame, n: int, *, arm: str = "ticket", reference: str = "reinit",
                                metric: str = "early_stop_val_acc") -> list[int]:
    """``n`` rounds at which to test further arms, chosen on validation accuracy only: the pruned
    rounds of tidy ``frame`` (an IMP run's ``to_long_frame()``) are split into ``n`` consecutive groups
    along the pruning path, and each group gives the round where ``arm`` leads ``reference`` most
    (mean over seeds of ``metric``). Rounds at which ``reference`` did not train are left out."""
    pruned = frame[frame["round"] > 0]
    means = pruned.groupby(["round", "arm"])[metric].mean().unstack("arm")
    lead = (means[arm] - means[reference]).dropna().sort_index()  # rounds where the reference trained
    if not 1 <= n <= len(lead):
        raise ValueError(f"n must be between 1 and the {len(lead)} pruned rounds, got {n}")
    groups = np.array_split(lead.index.to_numpy(), n)
    return [int(lead.loc[g].idxmax()) for g in groups]


def ticket_scales(result, rounds: Sequence[int] | None = None) -> pd.DataFrame:
    """:func:`scale_table` of every ticket of ``result`` (default: all pruned rounds), one row per round,
    seed and layer, with ``ceiling_scale`` (:func:`selection_ceiling_scale`: the largest RMS any mask of
    the layer's size could select from this θ0, over the dense σ) and the ticket's overall density."""
    rounds = range(1, result.num_rounds) if rounds is None else rounds
    frames = []
    for r in rounds:
        for s in result.seeds:
            mask, theta0 = result.mask(r, s), result.initial_state(s)
            t = scale_table(mask, theta0)
            t["ceiling_scale"] = [selection_ceiling_scale(theta0[k], mask[k], d)
                                  for k, d in zip(t["layer"], t["dense_std"])]
            t["sample_scale"] = t["all_init_rms"] / t["dense_std"]
            frames.append(t.assign(round=r, seed=s, overall_density=mask.density()))
    return pd.concat(frames, ignore_index=True)


def rms_summary(rms: pd.DataFrame, *, reference: str = "ticket", confidence: float = 0.95) -> pd.DataFrame:
    """Per round, arm and layer of :func:`rms_trajectory` rows (with ``round``, ``seed`` and ``arm``):
    the kept weights' RMS at the first and last snapshot in units of the dense σ (means over seeds),
    σ/sqrt(d) in the same units, the growth RMS_T / RMS_0 and the movement RMS(θT − θ0) relative to
    ``reference`` arm's, each as a geometric mean over seeds with its t interval (:func:`ratio_interval`)."""
    first, last = rms["iteration"].min(), rms["iteration"].max()
    ends = rms[rms["iteration"].isin([first, last])].pivot_table(
        index=["round", "arm", "layer", "seed"], columns="iteration", values=["rms", "moved"], aggfunc="first")
    meta = rms.groupby(["round", "layer"])[["density", "sigma", "sigma_d"]].mean()
    rows = []
    for (r, arm, layer), g in ends.groupby(level=["round", "arm", "layer"], sort=False):
        sigma = meta.loc[(r, layer), "sigma"]
        ref = ends.loc[(r, reference, layer)]
        seeds = g.index.get_level_values("seed")
        rows.append({
            "round": r, "arm": arm, "layer": layer, "density": meta.loc[(r, layer), "density"],
            "initial": g[("rms", first)].mean() / sigma, "final": g[("rms", last)].mean() / sigma,
            "sigma_d": meta.loc[(r, layer), "sigma_d"] / sigma, "moved": g[("moved", last)].mean() / sigma,
            "growth": ratio_interval(g[("rms", last)].to_numpy(), g[("rms", first)].to_numpy(), confidence),
            "moved_vs_reference": ratio_interval(g[("moved", last)].to_numpy(),
                                                 ref.loc[seeds, ("moved", last)].to_numpy(), confidence),
        })
    return pd.DataFrame(rows)
