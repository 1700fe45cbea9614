"""The conclusion page: every chapter's claims table from the metrics the chapters wrote, and the claims of
the page's own answer to the seed question, which rest on chapters 5 to 9."""


from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..starts import arm_label
from ..stats import Interval
from . import ch05, ch06, ch07, ch08, ch09
from .claims import Check, Claims
from .paths import metrics_path, read_available_metrics

BOOK_CHAPTERS = {
    "01_dense_baseline": "Chapter 1: the dense baseline",
    "02_pruning_and_masks": "Chapter 2: pruning and masks",
    "03_winning_tickets": "Chapter 3: winning tickets",
    "04_random_reinit": "Chapter 4: is it the initialisation?",
    "05_weight_movement": "Chapter 5: inside a winning ticket",
    "06_sqrt10_magnitude": "Chapter 6: the √10 argument",
    "07_rewinding": "Chapter 7: rewinding and the learning rate",
    "08_stability": "Chapter 8: stability",
    "09_what_makes_a_ticket": "Chapter 9: what makes a ticket",
}
"""Every chapter (notebook name) -> its title, in reading order: the pages the conclusion gathers."""


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
MOVEMENT, SQRT10, REWINDING, STABILITY = "05_weight_movement", "06_sqrt10_magnitude", "07_rewinding", "08_stability"
TICKET = "09_what_makes_a_ticket"


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


@claims("conclusion-objections", "The answer survives the obvious objections (chapter 6): with Adam's rate "
        "compensated layer by layer for the larger start, the scaled ticket is again within a point of the ticket; "
        "with SGD at rates chosen on validation the two differ by less than a point on average; and He's ReLU-correct "
        "sparse scale is worse than the ticket, not better.")
def _objections(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return _all_of(ch06.claims, book[SQRT10], "ch06-objection-adam-rate", "ch06-objection-sgd", "ch06-objection-he")


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


@claims("conclusion-high-rate", "trained with SGD at a high learning rate at which the dense network trains about as "
        "well as with Adam, the ticket rewound to θ0 was not measurably ahead of its reinitialised copy, and "
        "rewinding to θ100 or θ500 instead did not change that.")
def _high_rate(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return _all_of(ch07.claims, book[REWINDING], "ch07-sgd-dense", "ch07-sgd-no-edge", "ch07-sgd-rewinding")


def run_chapters(chapters: Sequence[str], notebooks_dir: str | os.PathLike, metrics_dir: str | os.PathLike,
                 parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Execute the notebooks ``<notebooks_dir>/<chapter>.ipynb`` one after the other with papermill, each
    writing its metrics to ``<metrics_dir>/<chapter>.json``; the executed copies go to
    ``<metrics_dir>/../executed``. A chapter that fails is reported in one line and skipped. Returns the
    chapters that ran to the end. Needs papermill (the ``lab`` extra)."""
    try:
        import papermill
    except ImportError:
        raise ImportError("running the chapters needs papermill: pip install 'lottery_core[lab]'") from None

    notebooks, metrics = Path(notebooks_dir).resolve(), Path(metrics_dir).resolve()
    executed = metrics.parent / "executed"
    executed.mkdir(parents=True, exist_ok=True)
    done = []
    for chapter in chapters:
        print(f"running {chapter}.ipynb ...", flush=True)
        try:
            papermill.execute_notebook(
                str(notebooks / f"{chapter}.ipynb"), str(executed / f"{chapter}.ipynb"),
                parameters={"metrics_path": str(metrics / f"{chapter}.json"), **(parameters or {})},
                cwd=str(notebooks), progress_bar=False)
        except Exception as error:  # a failed chapter is named, not raised: the page goes on with the rest
            reason = getattr(error, "ename", type(error).__name__)
            detail = getattr(error, "evalue", str(error)).strip().splitlines()
            print(f"{chapter} stopped with {reason}: {detail[-1] if detail else ''}", flush=True)
        else:
            done.append(chapter)
    return done


def gather_metrics(chapters: Sequence[str], *, metrics_dir: str | os.PathLike | None = None,
                   notebooks_dir: str | os.PathLike | None = None, run_missing: bool = True,
                   parameters: Mapping[str, Any] | None = None) -> tuple[dict[str, dict], list[str]]:
    """Every chapter's metrics for a summary page, and the chapters still missing.

    Reads ``<metrics_dir>/<chapter>.json`` (default: the folder of :func:`metrics_path`). When some are
    missing, ``run_missing`` is set and their notebooks sit in ``notebooks_dir``, runs them first
    (:func:`run_chapters`). Whatever is still missing is named in a short message, never a traceback.
    """
    folder = Path(metrics_dir) if metrics_dir is not None else metrics_path("any").parent
    found = read_available_metrics(folder, chapters)
    missing = [c for c in chapters if c not in found]
    here = Path(notebooks_dir) if notebooks_dir is not None else None
    runnable = [c for c in missing if here is not None and (here / f"{c}.ipynb").is_file()]
    if missing and run_missing and runnable:
        print(f"{len(runnable)} chapter(s) have no metrics in {folder} yet; running them first.", flush=True)
        run_chapters(runnable, here, folder, parameters)
        found |= read_available_metrics(folder, runnable)
        missing = [c for c in chapters if c not in found]
    if missing:
        print(missing_message(missing, folder), flush=True)
    return found, missing


def missing_message(missing: Sequence[str], folder: str | os.PathLike) -> str:
    """Which chapters to run before a summary page can show their results."""
    names = ", ".join(f"{BOOK_CHAPTERS.get(c, c).split(':')[0]} ({c}.ipynb)" for c in missing)
    return (f"No results yet from {names} in {folder}. Run those notebooks first (each writes its metrics in its "
            "last cell); a chapter notebook in the folder of this page is run by the page itself. The sections "
            "below show what is there.")


def seed_question_table(m6: Mapping[str, Any] | None) -> Any:
    """The conclusion's table of chapter 6's experiment from its metrics: a row per comparison (each arm
    against the ticket, the rescaled reinitialisations against plain reinit), a column per tested density,
    mean and 95% interval in percentage points. Without chapter 6's metrics, a note saying so."""
    if not m6:
        print("Chapter 6 has not been run, so there is no experiment to show here.")
        return None
    d = m6["density"]
    rows = {}
    for key, reference in (("vs_ticket", "ticket"), ("vs_reinit", "reinit")):
        for arm in [a for a in m6["arms"] if a in m6[key]]:
            per_round = m6[key][arm]
            densest_first = sorted(per_round.items(), key=lambda x: -d[x[0]])
            rows[f"{arm_label(arm)} − {arm_label(reference)}"] = {
                f"{d[r]:.1%} of weights": Interval.of(iv).format(unit="") for r, iv in densest_first}
    return pd.DataFrame(rows).T.rename_axis("chapter 6, test accuracy difference (points) [95% interval]")


def seed_question_metrics(m6: Mapping[str, Any] | None) -> dict | None:
    """What the conclusion records of chapter 6: the verdict of each arm against the ticket per density."""
    if not m6:
        return None
    words = {"above": "higher", "below": "lower", "level": "no clear difference"}
    return {arm: words_by_density(per_round, m6["density"], above=words["above"], below=words["below"],
                                  level=words["level"]) for arm, per_round in m6["vs_ticket"].items()}


def words_by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float],
                     **words: str) -> dict[str, list[str]]:
    """Group the rounds' densities (as "21.6%") by the verdict word of their interval."""
    out: dict[str, list[str]] = {}
    for r in sorted(per_round, key=lambda r: -densities[str(r)]):
        out.setdefault(Interval.of(per_round[r]).verdict(**words), []).append(f"{densities[str(r)]:.1%}")
    return out


@claims("conclusion-stability", "Chapter 8 shows the mechanism behind rewinding: trained with SGD at a large rate, the "
        "dense network is unstable at initialisation and becomes stable after a few hundred iterations, while its "
        "tickets, rewound to θ0, are stable from the start.")
def _stability(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return _all_of(ch08.claims, book[STABILITY], "ch08-dense-unstable", "ch08-dense-stabilises", "ch08-tickets-stable")


@claims("conclusion-rewound-imp", "IMP that rewinds to θ1000 instead finds tickets that beat the dense network too, "
        "and none clearly better than rewinding to θ0 finds.")
def _rewound_imp(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return _all_of(ch08.claims, book[STABILITY], "ch08-rewound-imp", "ch08-rewinding-no-gain")


@claims("conclusion-what-makes", "Chapter 9 puts IMP's masks beside masks chosen at initialisation: IMP's ticket "
        "loses more under a shuffle of its kept positions within each layer than any pruning-at-initialisation mask, "
        "and beats every one of them when trained from θ0.")
def _what_makes(book: Mapping[str, Mapping[str, Any]]) -> Check:
    return _all_of(ch09.claims, book[TICKET], "ch09-shuffle-gap", "ch09-ticket-beats-pai")


def _all_of(chapter: Claims, metrics: Mapping[str, Any], *claim_ids: str) -> Check:
    """A summary sentence that holds when each of the chapter's claims it restates holds."""
    checks = [chapter[c].evaluate(metrics) for c in claim_ids]
    return Check(all(c.holds for c in checks), "; ".join(c.evidence for c in checks))
