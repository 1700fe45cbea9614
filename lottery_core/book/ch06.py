"""Chapter 6, the √10 argument: the differences pooled over the tested densities, and the claims its prose
makes about the selection ceiling, the review's experiment, the weights' growth and the three objections
(Adam's rate, SGD, He's scale) in the default run."""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from ..arms import arm_seed
from ..data import Dataset
from ..results import ImpResult, metrics
from ..scale import gaussian_selection_ceiling, scale_table, selection_ceiling_scale
from ..starts import arm_init, arm_label, check_arms
from ..stats import EQUIVALENCE_MARGIN, Interval, paired_differences, ratio_interval
from ..training import make_optimizer, train_batched
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


@dataclass(frozen=True)
class Setting:
    """How one arm of the confounds section trains: the named start ``start`` (:mod:`lottery_core.starts`)
    under the ticket's mask, with ``optimizer`` at ``lr``, its step on every masked layer multiplied by
    (1/sqrt(d))**``rate_power``, d the layer's density (biases keep ``lr``)."""

    start: str
    optimizer: str
    lr: float
    rate_power: float = 0.0

    def factors(self, densities: Mapping[str, float], base_lr: float) -> dict[str, float]:
        """Each masked layer's learning rate over ``base_lr``."""
        return {k: self.lr / base_lr * d ** (-self.rate_power / 2) for k, d in densities.items()}


class StepScaled:
    """An optimiser whose step on each parameter of each stacked network is multiplied by that network's
    factor (``factors[i]``: one per network for the i-th parameter, or ``None`` for 1). For Adam, and for SGD
    with momentum as PyTorch writes it (the momentum buffer does not hold the rate), that is exactly a
    learning rate per network and layer, so networks with different rates train in one batched call."""

    def __init__(self, inner: torch.optim.Optimizer, factors: Sequence[torch.Tensor | None]):
        self.inner, self.factors, self.state = inner, list(factors), inner.state
        self.params = [p for group in inner.param_groups for p in group["params"]]

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        before = [None if f is None else p.clone() for p, f in zip(self.params, self.factors)]
        self.inner.step()
        for p, old, f in zip(self.params, before, self.factors):
            if f is not None:
                if p.dim() == 0 or p.shape[0] != len(f):
                    raise ValueError("StepScaled needs the networks stacked, one factor per network")
                p.copy_(torch.lerp(old, p, f.to(p).view(-1, *[1] * (p.dim() - 1))))


def _step_scaled(optimizer: str, lr: float, factors: Sequence[torch.Tensor]):
    """The ``optimizer_fn`` of :func:`train_settings`: ``optimizer`` at ``lr``, its steps scaled by ``factors``."""
    return lambda params: StepScaled(make_optimizer(optimizer, params, lr), factors)


def train_settings(result: ImpResult, rounds: Sequence[int], settings: Mapping[str, Setting], *, data: Dataset,
                   progress: bool | str = False) -> pd.DataFrame:
    """Train every setting (label -> :class:`Setting`) at every round in ``rounds`` for every seed of the IMP
    run ``result``, under the ticket's mask, with the seed's data order and the run's iterations: one batched
    call per optimiser, the rates set per network and layer by :class:`StepScaled`. One row per (round, seed,
    arm) with the density and the evaluation metrics, ``arm`` the setting's label."""
    check_arms([s.start for s in settings.values()])
    config, frames = result.config, []
    for optimizer in dict.fromkeys(s.optimizer for s in settings.values()):
        group = {label: s for label, s in settings.items() if s.optimizer == optimizer}
        base = max(s.lr for s in group.values())
        jobs, models, masks, seeds, factors = [], [], [], [], []
        for r in rounds:
            for seed in result.seeds:
                for label, setting in group.items():
                    state, mask = arm_init(setting.start, result.network(data, seed), result.rewind_state(seed),
                                           result.mask(r, seed), seed=arm_seed(setting.start, seed, r),
                                           init=result.recipe.reinit_draw())
                    jobs.append((r, seed, label, mask.density()))
                    models.append(result.network(data, seed, state))
                    masks.append(mask)
                    seeds.append(seed)
                    factors.append((setting.factors(mask.layer_densities(), base), setting.lr / base))
        names = [n for n, _ in models[0].named_parameters()]
        steps = [torch.tensor([layers.get(n, other) for layers, other in factors]) for n in names]
        histories = train_batched(models, data, masks=masks, seeds=seeds, iterations=config.iterations,
                                  batch_size=config.batch_size, lr=base, optimizer=optimizer,
                                  eval_every=config.eval_every, progress=progress,
                                  optimizer_fn=_step_scaled(optimizer, base, steps))
        frames.append(pd.DataFrame([{"round": r, "seed": seed, "arm": label, "density": d, **metrics(h)}
                                    for (r, seed, label, d), h in zip(jobs, histories)]))
    return pd.concat(frames, ignore_index=True)


RATE_UP, RATE_DOWN, HE = "ticket_scaled_1, rate × 1/√d", "ticket, rate × √d", "ticket_he_sparse"
COLUMNS = ["round", "seed", "arm", "density", "early_stop_val_acc", "early_stop_test_acc"]


def sgd_arm(start: str, lr: float) -> str:
    """The name of ``start`` trained with SGD with momentum at ``lr``, e.g. ``ticket@0.1``."""
    return f"{start}@{lr:g}"


def train_objections(result: ImpResult, sgd_result: ImpResult, rounds: Sequence[int], sgd_rates: Sequence[float],
                     *, data: Dataset, adam_frame: pd.DataFrame) -> pd.DataFrame:
    """The three objections to the review's experiment, at ``rounds``, one row per (round, seed, arm):

    - Adam, rate compensated: the scaled ticket with every layer's rate times 1/sqrt(d) (its steps as large,
      relative to its weights, as the ticket's) and the ticket with every layer's rate times sqrt(d) (the
      scaled ticket's relative steps without its scale); ``ticket`` and ``ticket_scaled_1`` come from
      ``adam_frame`` (the chapter's :func:`~lottery_core.train_arms` run);
    - SGD with momentum: the ticket and the scaled ticket of ``sgd_result`` (IMP with SGD) at each rate of
      ``sgd_rates`` (:func:`sgd_arm` names); the run's own rounds are the ticket at the run's rate;
    - He's scale: ``ticket_he_sparse`` with Adam (:mod:`lottery_core.starts`)."""
    lr, own = result.config.lr, sgd_result.config.lr
    adam = {RATE_UP: Setting(SCALED, "adam", lr, 1.0), RATE_DOWN: Setting("ticket", "adam", lr, -1.0),
            HE: Setting(HE, "adam", lr)}
    sgd = {sgd_arm(start, r): Setting(start, "sgd_momentum", r) for start in ("ticket", SCALED) for r in sgd_rates
           if (start, r) != ("ticket", own)}
    frames = [adam_frame[adam_frame["arm"].isin(["ticket", SCALED]) & adam_frame["round"].isin(rounds)][COLUMNS],
              train_settings(result, rounds, adam, data=data)[COLUMNS],
              train_settings(sgd_result, rounds, sgd, data=data)[COLUMNS]]
    if own in sgd_rates:
        runs = sgd_result.to_frame()
        frames.append(runs[runs["round"].isin(rounds)].assign(arm=sgd_arm("ticket", own))[COLUMNS])
    return pd.concat(frames, ignore_index=True)


def chosen_rates(frame: pd.DataFrame) -> dict[str, str]:
    """For the ticket and the scaled ticket, the SGD arm (:func:`sgd_arm`) with the best validation accuracy at
    early stopping, averaged over seeds and rounds: each arm's rate is chosen on validation data only."""
    val = frame.groupby("arm")["early_stop_val_acc"].mean()
    return {start: str(val[[a for a in val.index if a.rsplit("@", 1)[0] == start and "@" in a]].idxmax())
            for start in ("ticket", SCALED)}


def objection_intervals(frame: pd.DataFrame, chosen: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Each comparison of the objections (arm − reference, test accuracy averaged over the rounds seed by seed,
    with its paired 95% t interval, as :func:`pooled`): the experiment as run, the two rate-compensated arms,
    SGD at the chosen rates and He's scale."""
    low = min(float(a.rsplit("@", 1)[1]) for a in frame["arm"].unique() if "@" in a)
    pairs = {"adam": (SCALED, "ticket"), "adam_rate_up": (RATE_UP, "ticket"), "adam_rate_down": (RATE_DOWN, "ticket"),
             "sgd": (chosen[SCALED], chosen["ticket"]), "sgd_low_rate": (sgd_arm(SCALED, low), sgd_arm("ticket", low)),
             "he": (HE, "ticket")}
    out = {}
    for key, (arm, reference) in pairs.items():
        part = frame[frame["arm"].isin([arm, reference])]
        out[key] = {"arm": arm, "reference": reference, **pooled(part, [arm], reference)[arm]}
    return out


OBJECTION_LABELS = {
    "adam": "Adam (the experiment above): ticket × 1/√d − ticket",
    "adam_rate_up": "Adam, the scaled ticket's rate × 1/√d per layer − ticket",
    "adam_rate_down": "Adam, the ticket's rate × √d per layer − ticket",
    "sgd": "SGD with momentum, each at its rate chosen on validation: ticket × 1/√d − ticket",
    "sgd_low_rate": "SGD with momentum, both at the smallest rate tried: ticket × 1/√d − ticket",
    "he": "Adam, the ticket at He's sparse scale − ticket",
}


def objection_table(intervals: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """The objections' pooled differences: mean with its 95% and 90% t intervals, and whether the 90% interval
    lies inside the ±1-point equivalence margin (two one-sided tests at 5%)."""
    rows = []
    for key, record in intervals.items():
        iv = Interval.of(record)
        rows.append({"comparison": OBJECTION_LABELS[key], "arms": f"{record['arm']} − {record['reference']}",
                     "mean [95% t interval]": iv.format(), "90% t interval": iv.at(0.90).format(),
                     "within ±1 point": "yes" if iv.equivalent() else "no"})
    return pd.DataFrame(rows).set_index("comparison")


def objection_figure(intervals: Mapping[str, Mapping[str, Any]]) -> plt.Axes:
    """The objections' differences as a forest plot: each mean with its 95% t interval (bar) and 90% t interval
    (thick bar), and the ±1-point equivalence margin shaded."""
    _, ax = plt.subplots(figsize=(9, 3.6))
    keys = list(intervals)[::-1]
    for y, key in enumerate(keys):
        iv = Interval.of(intervals[key])
        ax.plot([100 * iv.low, 100 * iv.high], [y, y], color="tab:blue", linewidth=1.5)
        inner = iv.at(0.90)
        ax.plot([100 * inner.low, 100 * inner.high], [y, y], color="tab:blue", linewidth=5, alpha=0.6)
        ax.plot(100 * iv.mean, y, "o", color="black")
    ax.axvspan(-100 * EQUIVALENCE_MARGIN, 100 * EQUIVALENCE_MARGIN, color="tab:green", alpha=0.15,
               label="±1 point: the equivalence margin")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(range(len(keys)), [OBJECTION_LABELS[k] for k in keys])
    ax.set(xlabel="difference in test accuracy (percentage points; thin 95%, thick 90% t interval over seeds)")
    ax.legend(loc="upper left", fontsize="small")
    return ax


def objection_metrics(frame: pd.DataFrame, chosen: Mapping[str, str], intervals: Mapping[str, Mapping[str, Any]],
                      rounds: Sequence[int], sgd_rates: Sequence[float]) -> dict:
    """The objections' numbers for the claims: rounds, rates, the chosen SGD arms with every SGD arm's mean
    validation accuracy, and the pooled intervals."""
    sgd = frame[frame["arm"].str.contains("@", regex=False)]
    return {"objection_rounds": [int(r) for r in rounds], "sgd_rates": [float(r) for r in sgd_rates],
            "sgd_chosen": dict(chosen), "sgd_validation": sgd.groupby("arm")["early_stop_val_acc"].mean().to_dict(),
            "objections": {k: dict(v) for k, v in intervals.items()}}


def _objection(m: Mapping[str, Any], key: str) -> Interval:
    return Interval.of(m["objections"][key])


@claims("ch06-objection-adam-rate", "Giving the scaled ticket back the ticket's relative step does not change the "
        "verdict: with each layer's Adam rate multiplied by 1/√d, the scaled ticket is equivalent to the ticket "
        "within the ±1-point margin (the 90% interval of the difference, averaged over the two densities, lies "
        "inside ±1 point).")
def _objection_adam_rate(m: Mapping[str, Any]) -> Check:
    iv = _objection(m, "adam_rate_up")
    return Check(iv.equivalent() and len(m["objection_rounds"]) == 2, f"{iv.format()} (90%: {iv.at(0.9).format()})")


@claims("ch06-objection-small-steps", "And a larger start is not simply a smaller learning rate: the ticket trained "
        "with the scaled ticket's relative steps (its rate × √d) loses several points, three to eight on average "
        "(interval below zero), where the scaled ticket loses none.")
def _objection_small_steps(m: Mapping[str, Any]) -> Check:
    down, up = _objection(m, "adam_rate_down"), _objection(m, "adam_rate_up")
    return Check(down.below() and -0.08 <= down.mean <= -0.03 and up.equivalent(),
                 f"ticket, rate × √d: {down.format()}; scaled ticket, rate × 1/√d: {up.format()}")


@claims("ch06-objection-sgd", "With SGD the verdict holds too, if less tightly: each at its rate chosen on validation, "
        "the scaled ticket and the ticket differ by less than a point on average, and the 95% interval of the "
        "difference lies within two points of zero.")
def _objection_sgd(m: Mapping[str, Any]) -> Check:
    iv = _objection(m, "sgd")
    holds = abs(iv.mean) < 0.01 and -0.02 < iv.low and iv.high < 0.02
    return Check(holds, f"{m['objections']['sgd']['arm']} − {m['objections']['sgd']['reference']}: {iv.format()}")


@claims("ch06-objection-sgd-rate", "At a common smaller rate, though, the scaled ticket is ahead (interval above zero "
        "at the smallest rate tried): with SGD a larger start acts like a larger step, and once each arm trains at "
        "its own best rate the advantage is gone.")
def _objection_sgd_rate(m: Mapping[str, Any]) -> Check:
    low, chosen = _objection(m, "sgd_low_rate"), _objection(m, "sgd")
    return Check(low.above() and not chosen.above(),
                 f"at {min(m['sgd_rates']):g}: {low.format()}; at the chosen rates: {chosen.format()}")


@claims("ch06-objection-he", "He's ReLU-correct sparse scale, larger still in every layer and most in the first, "
        "is worse than the ticket, by two to six points on average (interval below zero).")
def _objection_he(m: Mapping[str, Any]) -> Check:
    iv = _objection(m, "he")
    return Check(iv.below() and -0.06 <= iv.mean <= -0.02, iv.format())
