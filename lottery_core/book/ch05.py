"""Chapter 5, inside a winning ticket: the claims its prose makes about weight movement and the surviving
initial values (Frankle & Carbin 2019, Appendix F.5 and F.1) in the default run."""


from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pandas as pd

from ..scale import kept_init_shape, movement_null
from ..stats import Interval, paired_interval, ratio_interval
from .claims import Check, Claims
from .paths import plain

claims = Claims("05_weight_movement")


def _layers(m: Mapping[str, Any], key: str) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    for r, per_layer in m[key].items():
        for layer, v in per_layer.items():
            yield r, layer, v


def _span(values: list[float], fmt: str = ".2f") -> str:
    return f"{min(values):{fmt}} to {max(values):{fmt}}"


@claims("ch05-moved-further", "during the dense training the weights that survive into a ticket moved on average "
        "about one and a half to two and a half times as far as the pruned ones, and about a fifth to a quarter "
        "more of them ended further from zero than they started.")
def _moved_further(m: Mapping[str, Any]) -> Check:
    rows = list(_layers(m, "movement"))
    ratios = [Interval.of(v["raw_ratio"]) for _, _, v in rows]
    away = [Interval.of(v["away_raw"]) for _, _, v in rows]
    holds = (all(iv.above(1) and 1.4 <= iv.mean <= 2.6 for iv in ratios)
             and all(iv.above() and 0.15 <= iv.mean <= 0.30 for iv in away))
    return Check(holds, f"ratios {_span([iv.mean for iv in ratios])} over {len(rows)} layers and rounds; "
                 f"{_span([iv.mean for iv in away], '.0%')} more moved away from zero")


@claims("ch05-matched", "Among weights that ended training the same size, the kept ones moved *less* than the "
        "pruned ones, by roughly 10 to 30%, and were no more likely to have grown (in the hidden layers, slightly "
        "less likely).")
def _matched(m: Mapping[str, Any]) -> Check:
    rows = list(_layers(m, "movement"))
    output = m["layers"][-1]
    ratios = [Interval.of(v["matched_ratio"]) for _, _, v in rows]
    away = [(layer, Interval.of(v["away_matched"])) for _, layer, v in rows]
    holds = (all(v["coverage"] > 0.9 for _, _, v in rows) and all(iv.below(1) and 0.65 <= iv.mean <= 0.95
                                                                   for iv in ratios)
             and all(iv.mean <= 0.01 for _, iv in away)
             and all(iv.below() for layer, iv in away if layer != output))
    return Check(holds, f"matched ratios {_span([iv.mean for iv in ratios])}; grew away from zero "
                 f"{_span([iv.mean for _, iv in away], '+.1%')} (kept − pruned)")


@claims("ch05-started-large", "At round 15 in every layer less than half as many of them started near zero as "
        "among all initial weights, and in every layer and at both rounds their distribution has a valley at zero "
        "between two peaks (dip ratio below 1). Their RMS at round 15 is about one and a half to one and four fifths "
        "times that of all initial weights")
def _started_large(m: Mapping[str, Any]) -> Check:
    last = str(max(m["movement_rounds"]))
    first = str(min(m["movement_rounds"]))
    shape = m["init_shape"]
    dips = [v["dip_ratio"] for _, _, v in _layers(m, "init_shape")]
    at_last = shape[last].values()
    holds = (all(d < 1 for d in dips) and all(v["near_zero_ratio"] < 0.5 and 1.4 <= v["rms_ratio"] <= 1.9
                                              for v in at_last)
             and all(shape[last][k]["rms_ratio"] > shape[first][k]["rms_ratio"] for k in shape[last]))
    return Check(holds, f"near-zero ratio at round {last} {_span([v['near_zero_ratio'] for v in at_last])}; dip "
                 f"ratios {_span(dips)}; RMS ratio at round {last} {_span([v['rms_ratio'] for v in at_last])}")


@claims("ch05-lopsided", "at round 15 about two thirds of the second hidden layer's survivors started positive, and "
        "about two thirds of the output layer's started negative.")
def _lopsided(m: Mapping[str, Any]) -> Check:
    _, second, output = m["layers"]
    last = m["init_shape"][str(max(m["movement_rounds"]))]
    holds = 0.6 <= last[second]["positive"] <= 0.75 and 0.25 <= last[output]["positive"] <= 0.4
    return Check(holds, f"positive: {last[second]['positive']:.0%} (second hidden), {last[output]['positive']:.0%} "
                 "(output)")


@claims("ch05-first-layer", "at round 15, with about 4% of the weights left, the first layer's survivors are the "
        "*most* strongly selected by their initial magnitude (the lowest near-zero ratio of the three layers).")
def _first_layer(m: Mapping[str, Any]) -> Check:
    last = m["init_shape"][str(max(m["movement_rounds"]))]
    ratios = {layer: v["near_zero_ratio"] for layer, v in last.items()}
    return Check(min(ratios, key=ratios.get) == m["layers"][0],
                 "near-zero ratios " + ", ".join(f"{v:.2f}" for v in ratios.values()))


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


def movement_table(summary: Any, labels: Mapping[str, str]) -> Any:
    """Chapter 5's table: per ticket and layer, the kept/pruned movement ratio over all weights and
    within |θT| bins (geometric means), the share of kept weights matched, and the away-from-zero
    differences (kept − pruned, percentage points), each with its 95% interval over seeds."""
    rows = [{"round": r["round"], "layer": labels.get(r["layer"], r["layer"]),
             "kept / pruned, all": Interval.of(r["raw_ratio"]).format(1.0, "", 2, signed=False),
             "kept / pruned, same |θT|": Interval.of(r["matched_ratio"]).format(1.0, "", 2, signed=False),
             "kept weights matched": f"{r['coverage']:.0%}",
             "away from zero, raw": Interval.of(r["away_raw"]).format(unit=""),
             "away from zero, same |θT|": Interval.of(r["away_matched"]).format(unit="")}
            for r in summary.to_dict("records")]
    return pd.DataFrame(rows).set_index(["round", "layer"])


def movement_by_seed(result, rounds: Sequence[int], *, bins: int = 20) -> pd.DataFrame:
    """:func:`movement_null` of the dense run (θ0 → θT of round 0) against the ticket masks of ``rounds``,
    one row per round, seed and layer. ``result`` is an :class:`~lottery_core.ImpResult`."""
    frames = [
        movement_null(result.initial_state(s), result.trained_state(0, s), result.mask(r, s), bins=bins)
        .assign(round=r, seed=s)
        for r in rounds for s in result.seeds
    ]
    return pd.concat(frames, ignore_index=True)


def movement_summary(frame: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Per round and layer of :func:`movement_by_seed`'s rows: the kept/pruned movement ratio raw and
    within |θT| bins (geometric means over seeds, t intervals of the logs), the share of the raw effect
    left after matching (in log terms), and the away-from-zero shares of kept minus pruned weights, raw
    and matched (paired t intervals). Each interval is a dict ``{"mean", "low", "high", "n"}``."""
    rows = []
    for (r, layer), g in frame.groupby(["round", "layer"], sort=False):
        raw, matched = ratio_interval(g["raw_ratio"], confidence=confidence), \
            ratio_interval(g["matched_ratio"], confidence=confidence)
        rows.append({
            "round": r, "layer": layer, "raw_ratio": raw, "matched_ratio": matched,
            "share_left": math.log(matched["mean"]) / math.log(raw["mean"]) if raw["mean"] != 1 else float("nan"),
            "coverage": float(g["coverage"].mean()),
            "away_raw": paired_interval(g["away_kept"], g["away_pruned"], confidence),
            "away_matched": paired_interval(g["away_kept_covered"], g["away_matched"], confidence),
        })
    return pd.DataFrame(rows)


def kept_init_shape_by_seed(result, rounds: Sequence[int], *, near_zero: float = 0.5) -> pd.DataFrame:
    """:func:`kept_init_shape` of θ0 under the ticket masks of ``rounds``, one row per round, seed and layer."""
    frames = [kept_init_shape(result.initial_state(s), result.mask(r, s), near_zero=near_zero).assign(round=r, seed=s)
              for r in rounds for s in result.seeds]
    return pd.concat(frames, ignore_index=True)
