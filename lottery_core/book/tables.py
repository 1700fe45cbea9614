"""What chapters 2 to 4 share: paired differences as text tables and as metrics records, rounds chosen by
density or on validation data, and the runs of verdicts along the densities."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..stats import Interval, paired_differences
from .paths import plain

RECORD_COLUMNS = ["round", "seed", "arm", "density", "early_stop_test_acc", "early_stop_val_acc",
                  "early_stop_iteration", "final_test_acc"]


def interval_table(columns: Mapping[str, Any], *, by: str = "round", scale: float = 100.0, digits: int = 1):
    """One row per ``by`` value (with its percent of weights remaining) and one column per comparison:
    ``"+1.2 [+0.4, +2.0]"`` (mean and 95% interval over seeds). ``columns`` maps a column title to the
    output of :func:`~lottery_core.paired_differences`."""
    out = None
    for title, frame in columns.items():
        text = [Interval.of(r).format(scale, unit="", digits=digits) for r in frame.to_dict("records")]
        part = pd.DataFrame({by: frame[by].to_numpy(), "weights remaining": frame["density"].map(lambda d: f"{d:.1%}"),
                             title: text})
        out = part if out is None else out.merge(part, on=[by, "weights remaining"], how="outer")
    return out.sort_values(by).set_index(by)


def intervals_as_records(frame: Any, by: str = "round") -> list[dict]:
    """A :func:`~lottery_core.paired_differences` table as JSON-ready records for a metrics file."""
    return [plain({by: row[by], "density": row["density"], "mean": row["mean"], "low": row["low"],
                   "high": row["high"], "n": int(row["n"])}) for row in frame.to_dict("records")]


def count_verdicts(intervals: Sequence[Mapping[str, float]]) -> dict[str, int]:
    """How many intervals lie above zero, below zero, or include it: ``{"above", "below", "same"}``."""
    words = [Interval.of(iv).verdict("above", "below", "same") for iv in intervals]
    return {w: words.count(w) for w in ("above", "below", "same")}


def first_of_last_run(intervals: Sequence[Mapping[str, Any]], word: str, key: str = "round") -> Any:
    """The first ``key`` of the final run of intervals whose verdict is ``word`` ("above"/"below")."""
    first = None
    for iv in reversed(list(intervals)):
        if Interval.of(iv).verdict("above", "below", "same") != word:
            break
        first = iv[key]
    return first


def per_round_means(long: Any, arms: Sequence[str]) -> list[dict]:
    means = long.groupby(["round", "arm"])[["density", "early_stop_test_acc", "early_stop_iteration"]].mean()
    out = []
    for r in sorted(long["round"].unique()):
        entry = {"round": int(r), "density": float(means.loc[(r, "ticket"), "density"])}
        for arm in arms:
            have = (r, arm) in means.index
            entry[f"{arm}_acc"] = float(means.loc[(r, arm), "early_stop_test_acc"]) if have else None
            entry[f"{arm}_iteration"] = float(means.loc[(r, arm), "early_stop_iteration"]) if have else None
        out.append(entry)
    return out


def trained_rows(result: Any) -> Any:
    """``result.to_long_frame()`` without round 0's control rows (copies of the dense network's numbers)."""
    long = result.to_long_frame()
    return long[(long["arm"] == "ticket") | (long["round"] > 0)].reset_index(drop=True)


def interval_at(intervals: Sequence[Mapping[str, Any]], value: Any, key: str = "round") -> Mapping[str, Any]:
    """The interval record whose ``key`` is ``value``."""
    return next(iv for iv in intervals if iv[key] == value)


def best_round(frame: pd.DataFrame, arm: str = "ticket", *, baseline: str | None = None,
               metric: str = "early_stop_val_acc", by: str = "round") -> int:
    """The pruned round (``by`` > 0) where ``arm``'s mean ``metric`` is highest, or, with ``baseline``,
    where its mean paired lead over ``baseline`` is largest. The default metric is validation accuracy,
    so the test accuracy reported at the chosen round is not selected on the test set."""
    if baseline is None:
        means = frame[frame["arm"] == arm].groupby([by, "seed"])[metric].mean().groupby(level=0).mean()
    else:
        means = paired_differences(frame, arm, baseline, metric, by=by).set_index(by)["mean"]
    means = means[means.index > 0].dropna()
    if means.empty:
        raise ValueError(f"no pruned {by} with {arm!r} to choose from")
    return means.idxmax().item() if hasattr(means.idxmax(), "item") else means.idxmax()


def closest_round(long: pd.DataFrame, density: float) -> int:
    """The round whose (mean) density is closest to ``density``."""
    densities = long.groupby("round")["density"].mean()
    return int((densities - density).abs().idxmin())
