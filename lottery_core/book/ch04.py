"""Chapter 4, random reinitialisation and random pruning: the claims its prose makes about the default run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..stats import Interval
from .claims import Check, Claims, points

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
