"""Chapter 7, rewinding and the learning rate: the claims its prose makes about the default run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..stats import Interval
from .claims import Check, Claims, points

claims = Claims("07_rewinding")


def _runs(m: Mapping[str, Any]) -> dict[tuple[str, int], Mapping[str, Any]]:
    return {(r["setting"], r["k"]): r for r in m["runs"]}


@claims("ch07-default-rate", "At the default rate the ticket rewound to θ0 is clearly ahead of its reinitialised copy "
        "at about 21% of the weights, by six to twelve points, and about as accurate as the dense network or a "
        "little better.")
def _default_rate(m: Mapping[str, Any]) -> Check:
    run = _runs(m)[("default", 0)]
    margin, vs_dense = Interval.of(run["margin"]), Interval.of(run["ticket_vs_dense"])
    holds = (0.2 <= run["density"] <= 0.23 and margin.above() and 0.06 <= margin.mean <= 0.12
             and -0.005 < vs_dense.mean < 0.04)
    return Check(holds, f"at {run['density']:.1%}: ticket − reinit {margin.format()}; ticket − dense "
                 f"{vs_dense.format()}")


@claims("ch07-dense-collapses", "The dense network trains badly, 10 to 20 points below its accuracy at the default "
        "rate, and both of its pruned versions do far better than it")
def _dense_collapses(m: Mapping[str, Any]) -> Check:
    runs = _runs(m)
    high, default = runs[("high", 0)], runs[("default", 0)]
    drop = default["dense_acc"] - high["dense_acc"]
    pruned = {k: Interval.of(high[k]) for k in ("ticket_vs_dense", "reinit_vs_dense")}
    holds = 0.10 <= drop <= 0.20 and all(iv.above() and iv.mean > 0.08 for iv in pruned.values())
    return Check(holds, f"dense {points(-drop)} against the default rate; ticket − dense "
                 f"{pruned['ticket_vs_dense'].format()}, reinit − dense {pruned['reinit_vs_dense'].format()}")


@claims("ch07-edge-gone", "but the ticket rewound to θ0 is no longer measurably better than its reinitialised copy "
        "(the interval reaches below zero).")
def _edge_gone(m: Mapping[str, Any]) -> Check:
    margin = Interval.of(_runs(m)[("high", 0)]["margin"])
    return Check(not margin.above(), f"ticket − reinit at the high rate {margin.format()}")


@claims("ch07-rewinding-no-help", "Rewinding to θ100 did not give it back: that ticket is, if anything, behind its "
        "reinitialised copy, by several points on average.")
def _rewinding_no_help(m: Mapping[str, Any]) -> Check:
    k = m["rewind_iteration"]
    margin = Interval.of(_runs(m)[("high", k)]["margin"])
    return Check(k == 100 and not margin.above() and margin.mean < -0.02,
                 f"ticket rewound to θ{k} − reinit {margin.format()}")


@claims("ch07-dead-units", "At θ0 no hidden unit is off. After 100 iterations at the high rate, about nine in ten "
        "units of the second hidden layer are off for every training example, and almost none of the first "
        "layer's.")
def _dead_units(m: Mapping[str, Any]) -> Check:
    runs = _runs(m)
    at_start = all(v == 0 for key in (("default", 0), ("high", 0)) for v in runs[key]["dead_units_at_rewind"].values())
    first, second = runs[("high", m["rewind_iteration"])]["dead_units_at_rewind"].values()
    return Check(at_start and 0.8 <= second <= 1.0 and first < 0.05,
                 f"off at θ{m['rewind_iteration']}, high rate: {first:.0%} (first layer), {second:.0%} (second)")
