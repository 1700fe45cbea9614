"""Intervals over seeds: the one type every verdict of the book carries.

A chapter's difference between two arms (ticket minus dense, ticket minus its reinitialised copy) is
paired by seed, and its mean comes with a two-sided Student-t interval on n − 1 degrees of freedom
(:func:`lottery_core.paired_interval`). Each interval is for *one* comparison: a chapter that makes
many comparisons will see some intervals miss by chance, which is why the book's sentences rest on
intervals with margin to spare, never on one that only just excludes a value.

"No difference" is an equivalence statement: the two one-sided tests at the 5% level (Schuirmann
1987) accept it when the 90% interval lies inside ``±EQUIVALENCE_MARGIN``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as _scipy_stats

EQUIVALENCE_MARGIN = 0.01
"""The book's declared margin for "no measurable difference" in accuracy: one percentage point."""


@dataclass(frozen=True)
class Interval:
    """A mean over ``n`` seeds with its two-sided Student-t interval at ``confidence``."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = 0.95

    @classmethod
    def of(cls, record: Mapping[str, float] | Interval) -> Interval:
        """From a metrics record ``{"mean", "low", "high", "n"}`` (95%, as the chapters store them)."""
        if isinstance(record, Interval):
            return record
        def number(key: str) -> float:  # a metrics file stores NaN as null
            value = record.get(key)
            return math.nan if value is None else float(value)

        return cls(number("mean"), number("low"), number("high"), int(record.get("n") or 0),
                   float(record.get("confidence") or 0.95))

    @property
    def defined(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    def at(self, confidence: float) -> Interval:
        """The same mean and spread at another confidence: the half-width scales with the t quantile."""
        if not self.defined or self.n < 2:
            return Interval(self.mean, math.nan, math.nan, self.n, confidence)
        ratio = _t(confidence, self.n) / _t(self.confidence, self.n)
        half = (self.high - self.low) / 2 * ratio
        return Interval(self.mean, self.mean - half, self.mean + half, self.n, confidence)

    def above(self, value: float = 0.0) -> bool:
        """The whole interval lies above ``value``."""
        return self.defined and self.low > value

    def below(self, value: float = 0.0) -> bool:
        """The whole interval lies below ``value``."""
        return self.defined and self.high < value

    def includes(self, value: float = 0.0) -> bool:
        return self.defined and self.low <= value <= self.high

    def equivalent(self, margin: float = EQUIVALENCE_MARGIN) -> bool:
        """Two one-sided tests at 5%: the 90% interval lies inside ``(−margin, +margin)``."""
        inner = self.at(0.90)
        return inner.defined and -margin < inner.low and inner.high < margin

    def verdict(self, above: str = "above", below: str = "below", level: str = "includes zero") -> str:
        """The word this interval allows about zero."""
        return above if self.above() else below if self.below() else level

    def format(self, scale: float = 100.0, unit: str = " points", digits: int = 1, *, signed: bool = True) -> str:
        """``"+1.2 [+0.4, +2.0] points"``: the mean and the interval (left out when undefined), signed, in
        ``unit``; ``"n/a"`` without a mean. Ratios: ``format(1.0, "×", 2, signed=False)`` gives
        ``"1.32 [1.10, 1.58]×"``. Every interval the book prints goes through here."""
        if not math.isfinite(self.mean):
            return "n/a"

        def number(v: float) -> str:
            return f"{scale * v:{'+' if signed else ''}.{digits}f}".replace("-", "−")

        bounds = f" [{number(self.low)}, {number(self.high)}]" if self.defined else ""
        return f"{number(self.mean)}{bounds}{unit}"


def _t(confidence: float, n: int) -> float:
    return float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))


def paired_interval(a: Sequence[float], b: Sequence[float] | None = None, confidence: float = 0.95) -> dict[str, float]:
    """Mean of the paired differences ``a - b`` over seeds (of ``a`` alone when ``b`` is None) with its
    two-sided Student-t interval on n − 1 degrees of freedom: ``{"mean", "low", "high", "n"}``.

    This is the interval every verdict in the book carries: pair the arms by seed (same θ0, same data
    order), so the seed-to-seed spread that both arms share cancels. With one seed the bounds are NaN.
    """
    x = np.asarray(a, dtype=float) - (0.0 if b is None else np.asarray(b, dtype=float))
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"need a non-empty 1-D sequence of paired values, got shape {x.shape}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    n, mean = len(x), float(x.mean())
    if n < 2:
        return {"mean": mean, "low": math.nan, "high": math.nan, "n": n}
    half = float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return {"mean": mean, "low": mean - half, "high": mean + half, "n": n}


def binomial_se(accuracy: float, n: int) -> float:
    """Standard error of an accuracy measured on ``n`` independent examples: sqrt(p(1 − p) / n)."""
    if n < 1 or not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"need n >= 1 and an accuracy in [0, 1], got n={n}, accuracy={accuracy}")
    return math.sqrt(accuracy * (1.0 - accuracy) / n)


def _per_seed(frame: pd.DataFrame, arm: str, metric: str, by: str, dense_arm: str) -> pd.DataFrame:
    """``metric`` of ``arm`` as a (``by`` x seed) table, averaged over repeated rows (e.g. random draws).
    ``arm="dense"`` repeats, at every value of ``by``, the seed's ``dense_arm`` row where ``by`` is 0."""
    if arm == "dense":
        dense = frame[(frame["arm"] == dense_arm) & (frame[by] == 0)].groupby("seed")[metric].mean()
        keys = sorted(frame[by].unique())
        return pd.DataFrame({s: [v] * len(keys) for s, v in dense.items()}, index=keys).rename_axis(by)
    return frame[frame["arm"] == arm].pivot_table(index=by, columns="seed", values=metric, aggfunc="mean")


def paired_differences(frame: pd.DataFrame, arm: str, baseline: str, metric: str = "early_stop_test_acc", *,
                       by: str = "round", dense_arm: str = "ticket", confidence: float = 0.95) -> pd.DataFrame:
    """For every value of ``by`` (a round, a pruning rate): the mean over seeds of ``arm − baseline``,
    paired by seed, with its Student-t interval (:func:`paired_interval`).

    ``frame`` is tidy data (columns seed, arm, ``by``, density and the metrics) such as
    ``ImpResult.to_long_frame()``; repeated rows of one seed (random draws) are averaged first.
    ``baseline`` is an arm, or ``"dense"``: each seed's own ``dense_arm`` row at ``by == 0`` (round 0).
    Values where either arm is missing (controls trained at some rounds only) are left out.
    Columns: ``by, density, mean, low, high, n``.
    """
    a = _per_seed(frame, arm, metric, by, dense_arm)
    b = _per_seed(frame, baseline, metric, by, dense_arm)
    density = frame[frame["arm"] == (arm if arm != "dense" else dense_arm)].groupby(by)["density"].mean()
    rows = []
    for key in sorted(set(a.index) & set(b.index)):
        seeds = [s for s in a.columns if s in b.columns and pd.notna(a.loc[key, s]) and pd.notna(b.loc[key, s])]
        if seeds:
            interval = paired_interval(a.loc[key, seeds].to_numpy(float), b.loc[key, seeds].to_numpy(float),
                                       confidence)
            rows.append({by: key, "density": float(density.get(key, math.nan)), **interval})
    out = pd.DataFrame(rows, columns=[by, "density", "mean", "low", "high", "n"])
    return out.astype({by: frame[by].dtype})


def arm_differences(frame: pd.DataFrame, arms: Sequence[str], reference: str, *,
                       metric: str = "early_stop_test_acc", by: Sequence[str] = ("round",),
                       confidence: float = 0.95) -> pd.DataFrame:
    """For tidy ``frame`` (columns ``seed``, ``arm``, ``metric`` and ``by``): per group and arm, the
    paired difference ``arm − reference`` over seeds with its Student-t interval
    (:func:`paired_interval`), the group's mean density when there is a ``density`` column."""
    wide = frame.pivot_table(index=[*by, "seed"], columns="arm", values=metric, aggfunc="first")
    rows = []
    for group, part in wide.groupby(level=list(range(len(by))), sort=True):
        group = group if isinstance(group, tuple) else (group,)
        for arm in arms:
            pair = part[[arm, reference]].dropna()
            iv = paired_interval(pair[arm].to_numpy(), pair[reference].to_numpy(), confidence)
            rows.append(dict(zip(by, group)) | {"arm": arm, "reference": reference} | iv)
    out = pd.DataFrame(rows)
    if "density" in frame:  # the compared arms' density (a dense reference does not dilute it)
        density = frame[frame["arm"].isin(arms)].groupby(list(by))["density"].mean()
        out["density"] = [density.loc[tuple(r) if len(by) > 1 else r[0]] for r in out[list(by)].to_numpy()]
    return out


def gap_closed(frame: pd.DataFrame, control: str, *, ticket: str = "ticket", reference: str = "reinit",
               metric: str = "early_stop_test_acc", n_boot: int = 4000, seed: int = 0,
               confidence: float = 0.95) -> dict[str, float]:
    """Share of the ticket's lead over ``reference`` that ``control`` closes, pooled over the rounds of
    tidy ``frame``: Σ(control − reference) / Σ(ticket − reference) of the means over seeds, with a
    paired bootstrap over seeds (percentile interval; each draw resamples whole seeds, all rounds and
    arms together). 0: no better than ``reference``; 1: as good as the ticket."""
    wide = frame.pivot_table(index="seed", columns=["arm", "round"], values=metric, aggfunc="first")
    num = (wide[control] - wide[reference]).to_numpy()
    den = (wide[ticket] - wide[reference]).to_numpy()
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(num), size=(n_boot, len(num)))
    boot = num[draws].sum(axis=(1, 2)) / den[draws].sum(axis=(1, 2))
    tail = (1 - confidence) / 2
    low, high = np.quantile(boot[np.isfinite(boot)], [tail, 1 - tail])
    return {"mean": float(num.sum() / den.sum()), "low": float(low), "high": float(high), "n": len(num),
            "lead": float(den.mean(axis=0).mean())}


def ratio_interval(a: Sequence[float], b: Sequence[float] | None = None, confidence: float = 0.95) -> dict[str, float]:
    """Geometric mean of the paired ratios ``a / b`` over seeds (of ``a`` when ``b`` is None) with the
    Student-t interval of their logarithms, transformed back: ``{"mean", "low", "high", "n"}``."""
    logs = np.log(np.asarray(a, dtype=float))
    if b is not None:
        logs = logs - np.log(np.asarray(b, dtype=float))
    iv = paired_interval(logs, confidence=confidence)
    return {k: (math.exp(v) if k != "n" and math.isfinite(v) else v) for k, v in iv.items()}
