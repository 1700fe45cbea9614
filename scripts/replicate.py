"""Run every chapter of the book with another seed set, for the claims tests (``make replicate``).

A sentence of the book about what a run shows must hold for any run of the default settings, not
for one realisation: another CPU's kernels make a run diverge like another seed. This script runs
each chapter through papermill with ``seeds`` (and chapter 1's single ``seed``, the first of them)
replaced, every other parameter at its default, into a folder of its own:

    python scripts/replicate.py --seeds 5,6,7,8,9 --out _build/replicate-5-9

leaves ``<out>/metrics/<chapter>.json`` (what ``make claims`` reads through
``$LOTTERY_BOOK_METRICS``), the executed notebooks in ``<out>/executed`` and the IMP caches in
``<out>/cache``. ``make replicate SEEDS=5,6,7,8,9`` runs this and then the claims tests on it.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = ["01_dense_baseline", "02_pruning_and_masks", "03_winning_tickets", "04_random_reinit",
            "05_weight_movement", "06_sqrt10_magnitude", "07_rewinding",
            "08_stability", "09_what_makes_a_ticket"]


def seed_list(text: str) -> list[int]:
    """'5,6,7,8,9' or '5-9' -> [5, 6, 7, 8, 9]; an empty or reversed range is an error."""
    try:
        if "-" in text:
            first, last = (int(t) for t in text.split("-"))
            seeds = list(range(first, last + 1))
        else:
            seeds = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a seed list: {text!r} (write 5,6,7,8,9 or 5-9)") from None
    if len(seeds) < 2:
        raise argparse.ArgumentTypeError(f"{text!r} gives {len(seeds)} seed(s); the intervals need at least 2")
    return seeds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=seed_list, required=True, help="e.g. 5,6,7,8,9 (disjoint from 0-4)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the metrics, notebooks and caches")
    parser.add_argument("--chapters", nargs="*", default=CHAPTERS + ["conclusion", "recorded_fashion_mnist"])
    args = parser.parse_args(argv)
    out = args.out.resolve()
    os.environ["LOTTERY_CACHE"] = str(out / "cache")  # every chapter's IMP checkpoints and outputs go here
    from lottery_core.book import conclusion  # after LOTTERY_CACHE is set

    parameters = {"seeds": args.seeds, "seed": args.seeds[0], "metrics_dir": str(out / "metrics")}
    done = conclusion.run_chapters(args.chapters, ROOT / "book", out / "metrics", parameters)
    failed = [c for c in args.chapters if c not in done]
    if failed:
        print(f"{len(failed)} chapter(s) failed with seeds {args.seeds}: {', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"all {len(done)} chapters ran with seeds {args.seeds}; metrics in {out / 'metrics'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
