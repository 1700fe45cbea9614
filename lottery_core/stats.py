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
from collections.abc import Mapping
from dataclasses import dataclass

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
        return cls(float(record["mean"]), float(record["low"]), float(record["high"]), int(record.get("n", 0)),
                   float(record.get("confidence", 0.95)))

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

    def format(self, scale: float = 100.0, unit: str = " points", digits: int = 1) -> str:
        """``"+1.2 [+0.4, +2.0] points"``: the mean and the interval, signed, in ``unit``."""
        def number(v: float) -> str:
            return f"{scale * v:+.{digits}f}".replace("-", "−")

        bounds = f" [{number(self.low)}, {number(self.high)}]" if self.defined else ""
        return f"{number(self.mean)}{bounds}{unit}"


def _t(confidence: float, n: int) -> float:
    return float(_scipy_stats.t.ppf(0.5 + confidence / 2, n - 1))
