"""What the book's chapters need and nobody else: each page's claims, checked against its metrics.

``lottery_core`` (the library) never imports this package. A chapter reads
``from lottery_core.book import ch04`` and ends with ``ch04.claims.show(metrics)``.
"""

from . import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, conclusion, recorded
from .claims import Check, Claim, Claims

CHAPTERS: dict[str, Claims] = {m.claims.page: m.claims for m in (ch01, ch02, ch03, ch04, ch05, ch06, ch07,
                                                                 ch08)}
"""Chapter (notebook name without ``.ipynb``) -> its claims, in reading order."""

PAGES: dict[str, Claims] = {**CHAPTERS, "conclusion": conclusion.claims, "recorded_fashion_mnist": recorded.claims}
"""Every page with claims: the chapters, the conclusion (whose checks read every chapter) and the recorded run."""

__all__ = ["CHAPTERS", "PAGES", "Check", "Claim", "Claims", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07",
           "ch08", "conclusion", "recorded"]
