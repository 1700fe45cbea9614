"""Chapter 4, random reinitialisation and random pruning: the claims its prose makes about the default run."""


from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from ..stats import Interval, paired_differences
from .claims import Check, Claims, points
from .paths import plain
from .tables import (
    RECORD_COLUMNS,
    best_round,
    closest_round,
    count_verdicts,
    first_of_last_run,
    interval_at,
    intervals_as_records,
    per_round_means,
    trained_rows,
)

claims = Claims("04_random_reinit")


def _by_density(m: Mapping[str, Any], key: str) -> list[tuple[float, Interval]]:
    return [(iv["density"], Interval.of(iv)) for iv in m[key]]


def _at_round(m: Mapping[str, Any], key: str, r: int) -> Interval:
    return Interval.of(next(iv for iv in m[key] if iv["round"] == r))


def _from_a_third(m: Mapping[str, Any], key: str) -> list[tuple[float, Interval]]:
    return [(d, iv) for d, iv in _by_density(m, key) if d <= 0.34]


@claims("ch04-beats-reinit", "The ticket beats its randomly reinitialised copy at every density from a third of "
        "the weights down, with intervals well above zero, and the gap widens as the networks get sparser, from "
        "about five points at a third of the weights to more than ten at a seventh.")
def _beats_reinit(m: Mapping[str, Any]) -> Check:
    gaps = _from_a_third(m, "ticket_minus_reinit")
    third = min(gaps, key=lambda t: abs(t[0] - 1 / 3))[1]
    seventh = min(gaps, key=lambda t: abs(t[0] - 1 / 7))[1]
    to_seventh = [iv.mean for d, iv in gaps if d >= 0.13]
    holds = (all(iv.low > 0.01 for _, iv in gaps) and 0.03 <= third.mean <= 0.08 and seventh.mean > 0.10
             and to_seventh == sorted(to_seventh))
    return Check(holds, f"{third.format()} at a third, {seventh.format()} at a seventh; lowest lower bound "
                 f"{points(min(iv.low for _, iv in gaps))}")


@claims("ch04-reinit-below-dense", "At a fifth of the weights the reinitialised copy is five to ten points less "
        "accurate than the dense network, while the ticket matches or beats it (chapter 3).")
def _reinit_below_dense(m: Mapping[str, Any]) -> Check:
    reinit = _at_round(m, "reinit_minus_dense", m["round_21"])
    ticket = m["ticket_acc_21"] - m["dense_acc"]
    return Check(reinit.below() and -0.10 <= reinit.mean <= -0.05 and ticket > -0.005,
                 f"at {m['density_21']:.1%}: reinit − dense {reinit.format()}; ticket − dense {points(ticket)}")


@claims("ch04-80-percent", "With 80% of the weights left the three networks are within about two points of each "
        "other.")
def _eighty(m: Mapping[str, Any]) -> Check:
    first = min(m["control_rounds"])
    keys = ("ticket_minus_reinit", "ticket_minus_random_prune", "reinit_minus_random_prune")
    gaps = {k: _at_round(m, k, first) for k in keys}
    return Check(all(abs(iv.mean) <= 0.02 for iv in gaps.values()),
                 "; ".join(f"{k.replace('_minus_', ' − ')} {iv.format()}" for k, iv in gaps.items()))


@claims("ch04-controls-lose", "The randomly reinitialised and the randomly pruned networks lose accuracy against "
        "the dense network as the weights are pruned: from a third of the weights on they are clearly below it, by "
        "more than three points, and the gap grows with every round.")
def _controls_lose(m: Mapping[str, Any]) -> Check:
    texts, holds = [], True
    for arm in ("reinit", "random_prune"):
        gaps = _from_a_third(m, f"{arm}_minus_dense")
        means = [iv.mean for _, iv in gaps]
        holds &= all(iv.below() and iv.mean < -0.03 for _, iv in gaps) and means == sorted(means, reverse=True)
        texts.append(f"{arm} − dense from {gaps[0][1].format()} to {gaps[-1][1].format()}")
    return Check(holds, "; ".join(texts))


@claims("ch04-initial-values", "Most of the ticket's lead over random pruning comes from its initial values, not "
        "from its wiring: at every density from a third of the weights down, ticket minus reinit is the larger "
        "part of ticket minus random pruning.")
def _initial_values(m: Mapping[str, Any]) -> Check:
    values = dict(_from_a_third(m, "ticket_minus_reinit"))
    wiring = dict(_from_a_third(m, "reinit_minus_random_prune"))
    shares = {d: values[d].mean / (values[d].mean + wiring[d].mean) for d in values}
    d, least = min(shares.items(), key=lambda t: t[1])
    return Check(least > 0.5, f"initial values' share of the lead at least {least:.0%} (at {d:.1%})")


@claims("ch04-wiring", "The magnitude-pruned wiring is worth something on its own, too: with random weights it "
        "beats a random mask by a few points at most down to 7% of the weights, and clearly at the sparsest "
        "round.")
def _wiring(m: Mapping[str, Any]) -> Check:
    gaps = _by_density(m, "reinit_minus_random_prune")
    moderate = [iv for d, iv in gaps if d >= 0.07]
    last = gaps[-1][1]
    return Check(all(iv.mean <= 0.05 for iv in moderate) and last.above(),
                 f"largest mean down to 7% {points(max(iv.mean for iv in moderate))}; at {gaps[-1][0]:.1%} "
                 f"{last.format()}")


@claims("ch04-slower", "The ticket also learns faster than its reinitialised copy: at about a fifth of the weights "
        "the reinitialised network reaches its minimum validation loss several hundred iterations later")
def _slower(m: Mapping[str, Any]) -> Check:
    later = _at_round(m, "reinit_minus_ticket_iteration", m["round_21"])
    return Check(later.above() and later.mean >= 200,
                 "reinit − ticket " + later.format(scale=1, unit=" iterations", digits=0))


@claims("ch04-budget", "the copy's minimum comes at or near the last evaluation, so the training budget cuts this "
        "comparison short")
def _budget(m: Mapping[str, Any]) -> Check:
    entry = next(e for e in m["per_round"] if e["round"] == m["round_21"])
    return Check(entry["reinit_iteration"] >= 0.9 * m["iterations"],
                 f"reinitialised copies' mean early-stopping iteration {entry['reinit_iteration']:,.0f} of "
                 f"{m['iterations']:,}")


@claims("ch04-end-of-training", "measured at the end of training instead of at early stopping, the ticket's lead "
        "over its reinitialised copy at a fifth of the weights stays within two points of its value at early "
        "stopping")
def _end_of_training(m: Mapping[str, Any]) -> Check:
    final, early = m["ticket_minus_reinit_final_21"], m["ticket_minus_reinit_21"]
    return Check(abs(final - early) <= 0.02, f"{points(final)} at the end, {points(early)} at early stopping")


CONTROL_COMPARISONS = {  # metrics key -> (arm, baseline, metric) for chapter 4
    "ticket_minus_reinit": ("ticket", "reinit", "early_stop_test_acc"),
    "ticket_minus_random_prune": ("ticket", "random_prune", "early_stop_test_acc"),
    "reinit_minus_random_prune": ("reinit", "random_prune", "early_stop_test_acc"),
    "reinit_minus_dense": ("reinit", "dense", "early_stop_test_acc"),
    "random_prune_minus_dense": ("random_prune", "dense", "early_stop_test_acc"),
    "ticket_minus_reinit_val": ("ticket", "reinit", "early_stop_val_acc"),
    "ticket_minus_reinit_final": ("ticket", "reinit", "final_test_acc"),
    "reinit_minus_ticket_iteration": ("reinit", "ticket", "early_stop_iteration"),
}


def control_metrics(result: Any, *, target_density: float = 0.211) -> dict:
    """The numbers chapter 4 records: the ticket against its random-reinitialisation and random-pruning
    controls at every round where they trained, each difference paired by seed with its 95% t interval;
    the round of the largest ticket − reinit gap is chosen on validation accuracy."""
    long = trained_rows(result)
    with_controls = long[long["round"].isin(long.loc[long["arm"] == "reinit", "round"]) | (long["round"] == 0)]
    stats = long.groupby(["round", "arm"])[["early_stop_test_acc", "early_stop_iteration"]].agg(["mean", "std"])
    per_round = per_round_means(long, ["ticket", "reinit", "random_prune"])
    for entry in per_round:
        for arm in ("ticket", "reinit", "random_prune"):
            have = (entry["round"], arm) in stats.index
            row = stats.loc[(entry["round"], arm)] if have else None
            entry[f"{arm}_acc_sd"] = float(row[("early_stop_test_acc", "std")]) if have else None
            entry[f"{arm}_iteration_sd"] = float(row[("early_stop_iteration", "std")]) if have else None
    m: dict[str, Any] = {
        "seeds": list(result.seeds), "rounds": result.num_rounds - 1,
        "control_rounds": sorted(int(r) for r in with_controls["round"].unique() if r > 0),
        "iterations": result.config.iterations, "per_round": per_round,
        "records": long.reindex(columns=RECORD_COLUMNS).to_dict("records"),
        "dense_acc": float(long[(long["arm"] == "ticket") & (long["round"] == 0)]["early_stop_test_acc"].mean()),
    }
    for key, (arm, baseline, metric) in CONTROL_COMPARISONS.items():
        m[key] = [iv for iv in intervals_as_records(paired_differences(with_controls, arm, baseline, metric))
                  if iv["round"] > 0]
    r21 = closest_round(with_controls[with_controls["round"] > 0], target_density)
    at21 = with_controls[with_controls["round"] == r21].pivot_table(index="seed", columns="arm",
                                                                    values="early_stop_test_acc")
    gap = best_round(with_controls, "ticket", baseline="reinit", metric="early_stop_val_acc")
    m |= {
        "round_21": r21, "density_21": float(long.loc[long["round"] == r21, "density"].mean()),
        **{f"{arm}_acc_21": float(at21[arm].mean()) for arm in ("ticket", "reinit", "random_prune")},
        "ticket_minus_reinit_21": float((at21["ticket"] - at21["reinit"]).mean()),
        "ticket_minus_random_prune_21": float((at21["ticket"] - at21["random_prune"]).mean()),
        "seed_margins_21": (at21["ticket"] - at21["reinit"]).tolist(),
        "ticket_minus_reinit_final_21": interval_at(m["ticket_minus_reinit_final"], r21)["mean"],
        "largest_gap_round": gap, "largest_gap": interval_at(m["ticket_minus_reinit"], gap),
        "verdicts": {k: count_verdicts(m[k]) for k in ("ticket_minus_reinit", "ticket_minus_random_prune",
                                                        "reinit_minus_random_prune")},
        "reinit_below_dense_from": first_of_last_run(m["reinit_minus_dense"], "below"),
        "random_prune_below_dense_from": first_of_last_run(m["random_prune_minus_dense"], "below"),
    }
    return plain(m)


def control_table(m: Mapping[str, Any]) -> Any:
    """Chapter 4's per-density table from its metrics: test accuracy at early stopping (%) and the
    early-stopping iteration of the ticket and both controls, mean ± sd over seeds, at the rounds
    where the controls trained (and round 0, the dense network)."""
    names = {"ticket": "ticket", "reinit": "random reinit", "random_prune": "random pruning"}

    def pm(mean: float | None, sd: float | None, scale: float, fmt: str) -> str:
        return f"{scale * mean:{fmt}} ± {scale * sd:{fmt}}" if sd is not None and math.isfinite(sd) else ""

    rows = []
    for e in m["per_round"]:
        if e["round"] and e["round"] not in m["control_rounds"]:
            continue
        row = {("", "round"): e["round"], ("", "weights remaining"): f"{e['density']:.1%}"}
        row |= {("test accuracy (%)", name): pm(e[f"{arm}_acc"], e[f"{arm}_acc_sd"], 100, ".1f")
                for arm, name in names.items()}
        row |= {("early-stopping iteration", name): pm(e[f"{arm}_iteration"], e[f"{arm}_iteration_sd"], 1, ",.0f")
                for arm, name in names.items()}
        rows.append(row)
    table = pd.DataFrame(rows)
    table.columns = pd.MultiIndex.from_tuples(table.columns)
    return table.set_index(("", "round")).rename_axis("round")
