"""Claims: the book's sentences about what a run shows, each tied to a check of that run's metrics.

A Markdown cell marks a claim with an HTML comment that no reader's view renders (Jupyter, Colab and
the HTML book all hide it)::

    <!-- claim: ch04-initial-values --> Most of the ticket's lead over random pruning comes from ...

The chapter's module registers the same id with the quoted text and a check function of the
chapter's metrics (the JSON its last cell writes). The check returns whether the sentence holds for
that run and the numbers it rests on. The same checks fill the claims table that ends every chapter
and run in the claims tests (``make claims``, ``make replicate``), and a hygiene test fails when a
marker has no check, a check has no marker, or the text after a marker no longer starts with the
quoted text, word for word.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

MARKER = re.compile(r"<!--\s*claim:\s*([A-Za-z0-9_.-]+)\s*-->")


@dataclass(frozen=True)
class Check:
    """Whether a claim holds for one run, and the numbers of that run it rests on."""

    holds: bool
    evidence: str


@dataclass(frozen=True)
class Claim:
    """One marked sentence: its id, the text that follows its marker, and its check."""

    id: str
    text: str
    check: Callable[[Mapping[str, Any]], Check]

    def evaluate(self, metrics: Mapping[str, Any]) -> Check:
        """The check on ``metrics``; metrics that lack what it needs make the claim fail, with the reason."""
        try:
            return self.check(metrics)
        except (KeyError, IndexError, TypeError, ValueError, StopIteration) as error:
            return Check(False, f"not checkable on these metrics ({type(error).__name__}: {error})")


class Claims:
    """The claims of one page, in the order the page makes them. Their checks read the page's own metrics,
    or with ``whole_book=True`` (a summary page) every page's metrics by page name."""

    def __init__(self, page: str, *, whole_book: bool = False) -> None:
        self.page = page
        self.whole_book = whole_book
        self._claims: dict[str, Claim] = {}

    def metrics_of(self, book: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any]:
        """What the checks read, from every page's metrics by page name (a missing page is a KeyError)."""
        return book if self.whole_book else book[self.page]

    def __call__(self, claim_id: str, text: str) -> Callable[[Callable], Callable]:
        """Decorator: register ``check`` as the check of the claim ``claim_id`` whose text is ``text``."""
        def register(check: Callable[[Mapping[str, Any]], Check]) -> Callable:
            if claim_id in self._claims:
                raise ValueError(f"claim {claim_id!r} is registered twice on {self.page}")
            self._claims[claim_id] = Claim(claim_id, normalize(text), check)
            return check
        return register

    def __iter__(self) -> Iterator[Claim]:
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def __getitem__(self, claim_id: str) -> Claim:
        return self._claims[claim_id]

    def table(self, metrics: Mapping[str, Any], width: int = 90) -> pd.DataFrame:
        """One row per claim: the sentence (shortened), this run's numbers, and whether it holds."""
        rows = []
        for claim in self:
            check = claim.evaluate(metrics)
            rows.append({"claim": claim.id, "sentence": shorten(claim.text, width), "this run": check.evidence,
                         "holds": "holds" if check.holds else "does not hold"})
        return pd.DataFrame(rows, columns=["claim", "sentence", "this run", "holds"]).set_index("claim")

    def show(self, metrics: Mapping[str, Any], title: str | None = None) -> pd.DataFrame:
        """Display :meth:`table` in full (no cell cut short) under a heading naming how many claims hold:
        the last output of every chapter. Prints it where no notebook front end is attached."""
        table = self.table(metrics)
        holding = int((table["holds"] == "holds").sum())
        heading = f"{title or 'Claims of this page'}: {holding} of {len(table)} hold for this run"
        with pd.option_context("display.max_colwidth", None, "display.width", 250):
            if not _display(heading, table):
                print(heading, table.to_string(), sep="\n")
        return table


def _display(heading: str, table: pd.DataFrame) -> bool:
    """Show ``heading`` and ``table`` as rich output in a notebook; False where there is no notebook."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        return False
    if get_ipython() is None:
        return False
    display(Markdown(f"**{heading}**"), table)
    return True


def normalize(text: str) -> str:
    """Whitespace collapsed to single spaces: line breaks in a Markdown cell do not change a sentence."""
    return " ".join(text.split())


def points(value: float, digits: int = 1) -> str:
    """An accuracy difference in percentage points, signed: ``"−0.4 points"``."""
    return f"{100 * value:+.{digits}f}".replace("-", "−") + " points"


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1].rsplit(" ", 1)[0] + " …"


def marked_text(markdown: Sequence[str]) -> dict[str, str]:
    """Claim id -> the normalised text after its marker, up to the next marker or the end of the paragraph."""
    found: dict[str, str] = {}
    for cell in markdown:
        parts = MARKER.split(cell)  # text, id, text, id, text ...
        for claim_id, after in zip(parts[1::2], parts[2::2]):
            if claim_id in found:
                raise ValueError(f"claim marker {claim_id!r} appears twice")
            found[claim_id] = normalize(re.split(r"\n\s*\n", after.lstrip(), maxsplit=1)[0])
    return found


def notebook_markdown(path: str | Path) -> list[str]:
    """The Markdown cells of a notebook (``.ipynb``) or the text of a Markdown page, as strings."""
    path = Path(path)
    if path.suffix != ".ipynb":
        return [path.read_text()]
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def mismatches(claims: Claims, markdown: Sequence[str]) -> list[str]:
    """Why the page's markers and the registered claims disagree (empty when every marker has its check,
    every check its marker, and every marked text starts with its claim's text word for word)."""
    marked = marked_text(markdown)
    problems = [f"marker {i!r} has no check" for i in marked if i not in {c.id for c in claims}]
    for claim in claims:
        if claim.id not in marked:
            problems.append(f"claim {claim.id!r} has no marker in the page")
        elif not marked[claim.id].startswith(claim.text):
            problems.append(f"claim {claim.id!r}: the page says {shorten(marked[claim.id], 160)!r}, "
                            f"the check quotes {shorten(claim.text, 160)!r}")
    return problems
