"""Every sentence the book checks is tied to its text: each claim marker in a page has a check in
``lottery_core.book``, each check has a marker, and the text after the marker starts with the check's
quoted text word for word (line breaks aside). The checks themselves run in ``tests/claims`` against a
built book's metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from lottery_core.book import PAGES, Check, Claims
from lottery_core.book.claims import marked_text, mismatches, notebook_markdown

BOOK = Path(__file__).resolve().parents[1] / "book"
PAGE_FILES = sorted(p for p in BOOK.iterdir() if p.suffix in {".ipynb", ".md"})


@pytest.mark.parametrize("path", PAGE_FILES, ids=lambda p: p.name)
def test_markers_and_checks_agree(path):
    markdown = notebook_markdown(path)
    if path.stem not in PAGES:
        assert marked_text(markdown) == {}, f"{path.name} marks claims but lottery_core.book has no checks for it"
        return
    assert mismatches(PAGES[path.stem], markdown) == []


def test_every_page_with_checks_exists():
    assert set(PAGES) <= {p.stem for p in PAGE_FILES}


def _page() -> Claims:
    claims = Claims("example")
    claims("ex-one", "The ticket beats the dense network.")(lambda m: Check(m["gap"] > 0, f"gap {m['gap']}"))
    return claims


def test_a_changed_word_is_a_mismatch():
    claims = _page()
    assert mismatches(claims, ["Intro. <!-- claim: ex-one --> The ticket beats\nthe dense network. More."]) == []
    problems = mismatches(claims, ["<!-- claim: ex-one --> The ticket matches the dense network."])
    assert len(problems) == 1 and "ex-one" in problems[0] and "matches" in problems[0]


def test_missing_markers_and_unchecked_markers_are_named():
    problems = mismatches(_page(), ["<!-- claim: ex-two --> Something else."])
    assert problems == ["marker 'ex-two' has no check", "claim 'ex-one' has no marker in the page"]


def test_marked_text_stops_at_the_paragraph_and_at_the_next_marker():
    marked = marked_text(["<!-- claim: a --> First  sentence.\n<!-- claim: b -->Second.\n\nNext paragraph."])
    assert marked == {"a": "First sentence.", "b": "Second."}
    with pytest.raises(ValueError, match="twice"):
        marked_text(["<!-- claim: a --> x", "<!-- claim: a --> y"])


def test_the_table_reports_each_claim_and_a_missing_metric_as_not_holding():
    table = _page().table({"gap": 0.5})
    assert table.loc["ex-one", "holds"] == "holds" and table.loc["ex-one", "this run"] == "gap 0.5"
    assert _page().table({"gap": -1}).loc["ex-one", "holds"] == "does not hold"
    missing = _page().table({})
    assert missing.loc["ex-one", "holds"] == "does not hold" and "KeyError" in missing.loc["ex-one", "this run"]
