"""The recorded Fashion-MNIST page: the numbers it reads from the shipped records, and its claims.

The records are a finished run (``lottery_core/records/<name>/``), so these claims check fixed data;
they are marked and checked like every other sentence of the book so that the prose cannot drift
from the records.
"""


from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..stats import Interval, paired_differences
from .claims import Check, Claims
from .tables import (
    intervals_as_records,
)

claims = Claims("recorded_fashion_mnist")
COMPARISONS = {"ticket_minus_dense": ("ticket", "dense"), "ticket_minus_reinit": ("ticket", "reinit"),
               "ticket_minus_random_prune": ("ticket", "random_prune"), "reinit_minus_dense": ("reinit", "dense"),
               "random_prune_minus_dense": ("random_prune", "dense")}


def recorded_metrics(records: pd.DataFrame) -> dict[str, Any]:
    """The page's numbers: the paired differences per round, the densities, the trainings it took and each
    arm's mean early-stopping iteration per round (round 0 is the dense network for every arm)."""
    metrics: dict[str, Any] = {key: intervals_as_records(paired_differences(records, a, b).query("round > 0"))
                               for key, (a, b) in COMPARISONS.items()}
    seeds, rounds = records["seed"].nunique(), int(records["round"].max())
    arms = records["arm"].nunique()
    iterations = records.pivot_table(index="round", columns="arm", values="early_stop_iteration")
    per_seed = records[records["arm"] == "ticket"].pivot_table(index="seed", columns="round",
                                                                values="early_stop_iteration")
    return metrics | {"seeds": seeds, "rounds": rounds, "trainings": seeds * (1 + rounds * arms),
                      "density": records.groupby("round")["density"].mean().tolist(),
                      "iterations": {arm: iterations[arm].tolist() for arm in iterations},
                      "ticket_over_dense_iteration": per_seed.div(per_seed[0], axis=0).mean().tolist()}


def _rounds(m: Mapping[str, Any], key: str) -> dict[int, Interval]:
    return {iv["round"]: Interval.of(iv) for iv in m[key]}


def _density(m: Mapping[str, Any], r: int) -> float:
    return m["density"][r]


@claims("rec-trainings", "Five seeds, sixteen rounds: 245 trainings, since round 0's dense network is every arm's "
        "starting point.")
def _trainings(m: Mapping[str, Any]) -> Check:
    return Check((m["seeds"], m["rounds"], m["trainings"]) == (5, 16, 245),
                 f"{m['seeds']} seeds, {m['rounds']} rounds, {m['trainings']} trainings")


@claims("rec-densities", "The densities the schedule reaches are the paper's: 51.3% of the weights after 3 rounds, "
        "21.1% after 7, 13.5% after 9 and 3.6% after 15.")
def _densities(m: Mapping[str, Any]) -> Check:
    paper = {3: 0.513, 7: 0.211, 9: 0.135, 15: 0.036}
    return Check(all(abs(_density(m, r) - d) < 0.0005 for r, d in paper.items()),
                 ", ".join(f"round {r}: {_density(m, r):.2%}" for r in paper))


@claims("rec-ticket-vs-dense", "Between about 21% and 9% of the weights remaining the tickets are more accurate than "
        "the dense network (95% intervals above zero, by well under one point), and down to 2.9% they are never "
        "measurably worse.")
def _ticket_vs_dense(m: Mapping[str, Any]) -> Check:
    gaps = _rounds(m, "ticket_minus_dense")
    middle = [iv for r, iv in gaps.items() if 0.085 <= _density(m, r) <= 0.22]
    holds = all(iv.above() and iv.mean < 0.01 for iv in middle) and not any(iv.below() for iv in gaps.values())
    return Check(holds, f"{len(middle)} rounds between 21% and 9%, lowest lower bound "
                 f"{min(iv.low for iv in middle) * 100:+.2f} points; none below zero at any round")


@claims("rec-earlier", "at 21.1% they reach the minimum validation loss about a third earlier than the dense "
        "network.")
def _earlier(m: Mapping[str, Any]) -> Check:
    ratio = m["ticket_over_dense_iteration"][7]
    return Check(0.55 <= ratio <= 0.75, f"ticket's early-stopping iteration {ratio:.2f} × the dense network's")


@claims("rec-controls", "From 13.5% down, the tickets beat both controls, and the margin is largest at the "
        "sparsest round.")
def _controls(m: Mapping[str, Any]) -> Check:
    texts, holds = [], True
    for key in ("ticket_minus_reinit", "ticket_minus_random_prune"):
        gaps = {r: iv for r, iv in _rounds(m, key).items() if _density(m, r) <= 0.136}
        last = gaps[max(gaps)]
        holds &= all(iv.above() for iv in gaps.values()) and last.mean == max(iv.mean for iv in gaps.values())
        texts.append(f"{key.replace('_minus_', ' − ')}: at 2.9% {last.format()}")
    return Check(holds, "; ".join(texts))


@claims("rec-not-the-paper", "Unlike the paper's reinitialised LeNets on MNIST, which lose accuracy from about 21%, "
        "the reinitialised copies here are not measurably below the dense network until the sparsest round, 2.9%")
def _not_the_paper(m: Mapping[str, Any]) -> Check:
    below = [r for r, iv in _rounds(m, "reinit_minus_dense").items() if iv.below()]
    return Check(below == [m["rounds"]], f"below the dense network at round(s) {below} "
                 f"({', '.join(f'{_density(m, r):.1%}' for r in below)})")


@claims("rec-stopping", "The controls' early-stopping iterations rise as the networks thin out, while the tickets' "
        "stay below the dense network's down to about 3.6%.")
def _stopping(m: Mapping[str, Any]) -> Check:
    its = m["iterations"]
    ticket = its["ticket"]
    sparse = [r for r in range(1, len(ticket)) if _density(m, r) >= 0.035]
    controls = {arm: its[arm] for arm in ("reinit", "random_prune")}
    rise = all(c[m["rounds"]] > 2 * c[0] for c in controls.values())
    return Check(rise and all(ticket[r] < ticket[0] for r in sparse),
                 f"dense {ticket[0]:,.0f}; controls at 2.9%: " + ", ".join(
                     f"{a} {c[m['rounds']]:,.0f}" for a, c in controls.items())
                 + f"; tickets' latest down to 3.6%: {max(ticket[r] for r in sparse):,.0f}")


RECORDS = Path(__file__).resolve().parents[1] / "records"


def load_recorded(name: str) -> tuple[pd.DataFrame, dict]:
    """A recorded run shipped with the library: its tidy records (one row per seed, round and arm) and its
    provenance (date, device, commit, command that reran it). ``name`` is a folder of ``lottery_core/records``."""
    folder = RECORDS / name
    if not (folder / "records.csv").is_file():
        known = ", ".join(sorted(p.name for p in RECORDS.iterdir() if p.is_dir()))
        raise ValueError(f"no recorded run {name!r}; recorded runs: {known}")
    return pd.read_csv(folder / "records.csv"), json.loads((folder / "provenance.json").read_text())


def recorded_difference_table(records: pd.DataFrame, rounds: Sequence[int],
                              metric: str = "early_stop_test_acc") -> pd.DataFrame:
    """The ticket against the dense network and each control at ``rounds``: mean paired difference in
    percentage points with its 95% t interval, one row per round (for a recorded IMP run's tidy records)."""
    columns = {}
    for against in ["dense", *sorted(set(records["arm"]) - {"ticket"})]:
        diff = paired_differences(records, "ticket", against, metric).set_index("round").loc[list(rounds)]
        cells = [Interval.of(r).format(unit="", digits=2) for r in diff.to_dict("records")]
        columns[f"ticket − {against} (pp)"] = cells
        columns["% of weights"] = (100 * diff["density"]).round(1).to_numpy()
    table = pd.DataFrame(columns, index=pd.Index(list(rounds), name="round"))
    return table[["% of weights", *[c for c in table.columns if c != "% of weights"]]]
