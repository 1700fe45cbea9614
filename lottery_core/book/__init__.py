"""What the book's chapters need and nobody else: each page's claims, checked against its metrics.

``lottery_core`` (the library) never imports this package. A chapter reads
``from lottery_core.book import ch04`` and ends with ``ch04.claims.table(metrics)``.
"""

from . import ch01, ch02, ch03, ch04, ch05, ch06, recorded
from .claims import Check, Claim, Claims

CHAPTERS = (ch01, ch02, ch03, ch04, ch05, ch06)
PAGES: dict[str, Claims] = {module.claims.page: module.claims for module in (*CHAPTERS, recorded)}
"""Page (notebook name without ``.ipynb``) -> its claims, in reading order."""

__all__ = ["PAGES", "Check", "Claim", "Claims", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "recorded"]
