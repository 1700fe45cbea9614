"""What the book's chapters need and nobody else, beside the library.

- ``paths``: output folder, IMP cache and metrics files; ``plots``: the figures; ``progress``: the
  progress display of long runs; ``oneshot``: one-shot pruning of trained networks (chapters 2 and 3);
- ``ch01`` ... ``ch09``: each chapter's metrics, tables and claim checks; ``tables``: what chapters 2 to 4
  share; ``conclusion``: the gathering of every chapter's metrics; ``recorded``: the recorded run's page;
  ``claims``: the claims framework.

``lottery_core`` (the library) never imports this package. A chapter reads ``import lottery_core as lc``
and ``from lottery_core.book import ch04, plots``, and ends with ``ch04.claims.show(metrics)``.
"""

from . import ch01, ch02, ch03, ch04, ch05, ch06, ch07, ch08, ch09, conclusion, recorded
from .claims import Check, Claim, Claims

CHAPTERS: dict[str, Claims] = {m.claims.page: m.claims for m in (ch01, ch02, ch03, ch04, ch05, ch06, ch07,
                                                                 ch08, ch09)}
"""Chapter (notebook name without ``.ipynb``) -> its claims, in reading order."""

PAGES: dict[str, Claims] = {**CHAPTERS, "conclusion": conclusion.claims, "recorded_fashion_mnist": recorded.claims}
"""Every page with claims: the chapters, the conclusion (whose checks read every chapter) and the recorded run."""

__all__ = ["CHAPTERS", "PAGES", "Check", "Claim", "Claims", "ch01", "ch02", "ch03", "ch04", "ch05", "ch06", "ch07",
           "ch08", "ch09", "conclusion", "recorded"]
