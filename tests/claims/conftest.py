"""The claims tests: each sentence of a chapter that states what the book's default run shows is checked
here against the metrics that run wrote (``make book``, then ``make claims``). Every test module here
sets ``pytestmark = pytest.mark.claims``. If a change to the library
flips a finding, these fail, and the sentence is rewritten rather than silently regenerated."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def book_metrics() -> dict[str, dict]:
    """Chapter name -> the metrics JSON of the last book build (``$LOTTERY_BOOK_METRICS``, default
    ``_build/lottery/metrics``). Missing metrics fail the test: run ``make book`` first."""
    folder = Path(os.environ.get("LOTTERY_BOOK_METRICS") or ROOT / "_build" / "lottery" / "metrics")
    files = sorted(folder.glob("*.json"))
    if not files:
        pytest.fail(f"no book metrics in {folder}: run `make book` before `make claims`")
    return {f.stem: json.loads(f.read_text()) for f in files}


def at_round(intervals, r):
    """The interval record of round ``r`` in a list of interval records (a chapter's metrics)."""
    return next(iv for iv in intervals if iv["round"] == r)
