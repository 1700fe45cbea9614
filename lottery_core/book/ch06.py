"""Chapter 6, the √10 argument: the differences pooled over the tested densities, and the claims its prose
makes about the selection ceiling, the review's experiment and the weights' growth in the default run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..analysis import arm_differences
from ..arms import arm_label
from ..stats import Interval
from .claims import Check, Claims

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
    table = arm_differences(averaged, arms, reference, metric=metric, by=("tested",))
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
