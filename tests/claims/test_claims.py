"""Every claim of the book, checked against the metrics of a book build: ``make claims`` reads the last
``make book``, ``make replicate`` a run of every chapter with another seed set. The checks are the ones
each chapter's claims table shows (``lottery_core.book``); a failure prints the sentence and the numbers."""

from __future__ import annotations

import pytest

from lottery_core.book import PAGES

pytestmark = pytest.mark.claims

CASES = [(claims, claim) for claims in PAGES.values() for claim in claims]


@pytest.mark.parametrize(("claims", "claim"), CASES, ids=[claim.id for _, claim in CASES])
def test_claim_holds(book_metrics, claims, claim):
    try:
        metrics = claims.metrics_of(book_metrics)
    except KeyError as missing:
        pytest.fail(f"no metrics of {missing} in this build: run every page first")
    check = claim.evaluate(metrics)
    assert check.holds, f"{claim.text}\n  this run: {check.evidence}"
