"""The conclusion page: every chapter's claims table from the metrics the chapters wrote, and the claims of
the page's own answer to the seed question, which rest on chapters 5 to 7."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..report import BOOK_CHAPTERS
from ..stats import Interval
from . import ch05, ch06, ch07
from .claims import Check, Claims


def show_claims(metrics: Mapping[str, Mapping[str, Any]], pages: Mapping[str, Claims]) -> dict[str, int]:
    """Show each chapter's claims table (the one that ends the chapter) from ``metrics`` by page name; a
    chapter without metrics is named. Returns, per chapter shown, how many of its claims hold."""
    holding = {}
    for page, claims in pages.items():
        title = BOOK_CHAPTERS.get(page, page)
        if page not in metrics:
            print(f"{title}: not run yet, so its claims cannot be checked here.")
            continue
        table = claims.show(claims.metrics_of(metrics), title=title)
        holding[page] = int((table["holds"] == "holds").sum())
    return holding


claims = Claims("conclusion", whole_book=True)
MOVEMENT, SQRT10, REWINDING = "05_weight_movement", "06_sqrt10_magnitude", "07_rewinding"


@claims("conclusion-larger", "magnitude pruning keeps weights that started large; at about 10% of the weights their "
        "RMS is about one and a half times the dense Glorot σ.")
def _larger(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return ch06.claims["ch06-selection"].evaluate(book[SQRT10])


@claims("conclusion-not-as-large", "in the hidden layers selection supplies about a third of the $1/\\sqrt d$ factor "
        "in log terms")
def _not_as_large(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return ch06.claims["ch06-selection"].evaluate(book[SQRT10])


@claims("conclusion-movement", "The difference in movement is the selection by final magnitude: among weights of "
        "the same final size the kept ones moved less (chapter 5). And during training all weights grow, the "
        "ticket's well past σ/√d, whatever their initial scale (chapter 6).")
def _movement(book: Mapping[str, Mapping[str, Any]]) -> Check:
    matched = ch05.claims["ch05-matched"].evaluate(book[MOVEMENT])
    m = book[SQRT10]
    rms = m["rms"][str(m["rms_round"])]
    grow = all(Interval.of(v["growth"]).above(1) for per_layer in rms.values() for v in per_layer.values())
    past = all(v["final"] > v["sigma_d"] for v in rms["ticket"].values())
    return Check(matched.holds and grow and past, f"chapter 5: {matched.evidence}; chapter 6: every arm's kept "
                 f"weights grow in every layer: {grow}; the ticket's end past σ/√d in every layer: {past}")


@claims("conclusion-scaled", "the ticket's own initial weights made $1/\\sqrt d$ larger train to the ticket's "
        "accuracy within the book's margin of a point, averaged over the tested densities, and are better at none "
        "of them (chapter 6). Random reinitialisations gain a little from the larger scale: a minority of the "
        "ticket's lead.")
def _scaled(book: Mapping[str, Mapping[str, Any]]) -> Check:
    m = book[SQRT10]
    scaled = ch06.claims["ch06-scaled-ticket"].evaluate(m)
    closed = [Interval.of(m["gap_closed"][a]) for a in ch06.RESCALED]
    minority = all(iv.low > 0 and iv.high < 0.4 for iv in closed)
    return Check(scaled.holds and minority, f"{scaled.evidence}; rescaled reinitialisations recover "
                 + ", ".join(iv.format(unit="%", digits=0) for iv in closed) + " of the lead")


@claims("conclusion-which-value", "giving its weights random signs, or shuffling its values among its connections, "
        "loses most of its lead, while multiplying all of a layer's weights by one factor changes nothing measurable.")
def _which_value(book: Mapping[str, Mapping[str, Any]]) -> Check:
    m = book[SQRT10]
    kept = {a: Interval.of(m["gap_closed"][a]) for a in ch06.DAMAGED}
    scaled = Interval.of(m["pooled"][ch06.SCALED])
    holds = all(iv.high < 0.5 for iv in kept.values()) and scaled.equivalent()
    return Check(holds, ", ".join(f"{a} keeps {iv.format(unit='%', digits=0)}" for a, iv in kept.items())
                 + f"; scaled − ticket averaged {scaled.format()}")


@claims("conclusion-literature", "the ticket's own values put at random positions, close to the Appendix F.3 "
        "experiment, keep less than a fifth of its lead, and random weights at the sparse scale recover well under "
        "half of it. On the third, the ticket's magnitudes with random signs lose most of its lead")
def _literature(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return ch06.claims["ch06-shares"].evaluate(book[SQRT10])


@claims("conclusion-high-rate", "at a high learning rate, where the dense network itself trains badly, the ticket "
        "rewound to θ0 lost its measurable edge over its reinitialised copy, and rewinding to an early iteration did "
        "not bring it back.")
def _high_rate(book: Mapping[str, Mapping[str, Any]]) -> Check:
    checks = [ch07.claims[c].evaluate(book[REWINDING])
              for c in ("ch07-dense-collapses", "ch07-edge-gone", "ch07-rewinding-no-help")]
    return Check(all(c.holds for c in checks), "; ".join(c.evidence for c in checks))
