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


def paired_differences(frame: pd.DataFrame, arm: str | Sequence[str], baseline: str,
                       metric: str = "early_stop_test_acc", *, by: str | Sequence[str] = "round",
                       dense_arm: str = "ticket", confidence: float = 0.95) -> pd.DataFrame:
    """For every value of ``by`` (a round, a pruning rate, or several columns): the mean over seeds of
    ``arm − baseline``, paired by seed, with its Student-t interval (:func:`paired_interval`).

    ``frame`` is tidy data (columns seed, arm, ``by``, the metrics and usually density) such as
    ``ImpResult.to_long_frame()``; repeated rows of one seed (random draws) are averaged first. ``baseline``
    (or ``arm``) may be ``"dense"`` where no arm has that name: each seed's own ``dense_arm`` row where ``by``
    is 0 (round 0). Values
    where either arm is missing (controls trained at some rounds only) are left out. One arm: columns
    ``by, density, mean, low, high, n``; several: one row per value and arm, columns ``*by, arm, reference,
    mean, low, high, n, density`` (the compared arms' mean density)."""
    arms, keys = ([arm] if isinstance(arm, str) else list(arm)), ([by] if isinstance(by, str) else list(by))
    if "dense" in (arm, baseline) and "dense" not in set(frame["arm"]):
        dense = frame[(frame["arm"] == dense_arm) & (frame[keys[0]] == 0)].groupby("seed")[metric].mean()
        frame = pd.concat([frame, pd.DataFrame([{keys[0]: key, "seed": s, "arm": "dense", metric: v}
                                                for key in sorted(frame[keys[0]].unique()) for s, v in dense.items()])])
    wide = frame.pivot_table(index=[*keys, "seed"], columns="arm", values=metric, aggfunc="mean")
    rows = []
    for group, part in wide.groupby(level=list(range(len(keys))), sort=True):
        for a in [a for a in arms if a in part and baseline in part]:
            pair = part[[a, baseline]].dropna()
            if len(pair):
                interval = paired_interval(pair[a].to_numpy(float), pair[baseline].to_numpy(float), confidence)
                rows.append(dict(zip(keys, group if isinstance(group, tuple) else (group,)))
                            | {"arm": a, "reference": baseline} | interval)
    out = pd.DataFrame(rows, columns=[*keys, "arm", "reference", "mean", "low", "high", "n"])
    compared = frame[frame["arm"].isin([dense_arm if a == "dense" else a for a in arms])]
    if "density" in frame:  # the compared arms' density (a dense baseline does not dilute it)
        density = compared.groupby(keys)["density"].mean()
        out["density"] = [float(density.get(tuple(r) if len(keys) > 1 else r[0], math.nan))
                          for r in out[keys].to_numpy()]
    if isinstance(arm, str):
        out = out.drop(columns=["arm", "reference"]).astype({by: frame[by].dtype})
        return out[[by, *(["density"] if "density" in out else []), "mean", "low", "high", "n"]]
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
