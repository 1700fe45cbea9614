"""stats.py: the one Interval type: its formatting (every interval the book prints) and its verdict."""

from __future__ import annotations

import math

import pytest

import lottery_core as lc
from lottery_core.stats import Interval

ABOVE = {"mean": 0.02, "low": 0.01, "high": 0.03, "n": 5}
BELOW = {"mean": -0.02, "low": -0.03, "high": -0.01, "n": 5}
LEVEL = {"mean": 0.01, "low": -0.01, "high": 0.03, "n": 5}


def test_verdict_follows_the_interval():
    assert [Interval.of(iv).verdict() for iv in (ABOVE, BELOW, LEVEL)] == ["above", "below", "includes zero"]
    words = {"above": "higher", "below": "lower", "level": "no clear difference"}
    assert Interval.of(BELOW).verdict(**words) == "lower"
    assert Interval.of({"mean": 0.1, "low": math.nan, "high": math.nan, "n": 1}).verdict(**words) == words["level"]
    assert Interval.of({"mean": 0.1, "low": None, "high": None}).verdict(level="?") == "?"  # NaN stored as null


def test_format_is_the_one_interval_text():
    assert Interval.of(BELOW).format() == "−2.0 [−3.0, −1.0] points"
    assert Interval.of({"mean": 0.012, "low": 0.004, "high": 0.0201}).format(unit=" pp") == "+1.2 [+0.4, +2.0] pp"
    assert Interval.of({"mean": 140, "low": -27, "high": 307}).format(1, "", 0) == "+140 [−27, +307]"
    assert Interval.of({"mean": 0.01, "low": math.nan, "high": math.nan}).format() == "+1.0 points"
    assert Interval.of({"mean": math.nan, "low": math.nan, "high": math.nan}).format() == "n/a"
    ratio = Interval.of({"mean": 1.234, "low": 1.1, "high": 1.4})
    assert ratio.format(1.0, "×", 2, signed=False) == "1.23 [1.10, 1.40]×"


def test_paired_interval_is_an_interval_record():
    iv = Interval.of(lc.paired_interval([2.1, 1.9, 2.0], [0.0, 0.0, 0.0]))
    assert iv.mean == pytest.approx(2.0) and iv.n == 3 and iv.above()
