"""Small helpers for the book's chapters: numbers in the text, metrics files for the tests."""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import ExperimentConfig
from .data import Dataset
from .imp import ImpResult, run_imp


def glue(name: str, value: Any) -> Any:
    """Make a number computed by the chapter available to its text: ``{glue:text}`name:.1%``` in a
    Markdown cell (myst-nb; the part after the colon is a format spec). Outside a book build
    (e.g. on Colab) it only returns ``value``."""
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    _glue(name, _plain(value), display=False)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | os.PathLike | None, metrics: Mapping[str, Any]) -> dict:
    """Write a chapter's key numbers as JSON to ``path`` (folders created; NaN becomes null).
    ``path=None`` writes nothing. Returns the plain-Python metrics."""
    plain = _plain(metrics)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(plain, indent=2, sort_keys=True))
    return plain


def checkpoint_path(cache_dir: str | os.PathLike | None, name: str, **settings: Any) -> Path | None:
    """A checkpoint folder under ``cache_dir`` named after ``name`` and a hash of ``settings``, so
    chapters that run the same experiment share it and different settings never collide.
    ``cache_dir=None`` gives ``None`` (no checkpoints)."""
    if cache_dir is None:
        return None
    digest = hashlib.sha1(json.dumps(_plain(settings), sort_keys=True, default=str).encode()).hexdigest()[:12]
    return Path(cache_dir) / f"{name}-{digest}"


DEFAULT_CONTROLS = ("reinit", "random_prune")


def book_imp_run(config: ExperimentConfig, *, rounds: int, seeds: Sequence[int], data: Dataset | None = None,
                 cache_dir: str | os.PathLike | None = None, control: Sequence[str] = DEFAULT_CONTROLS,
                 rewind_iteration: int = 0, verbose: bool = True) -> ImpResult:
    """The iterative-pruning run chapters 3 to 6 share: ``rounds`` rounds of IMP rewinding to θ0
    (or θk), with the random-reinitialisation and random-pruning controls at every density, for
    every seed. With ``cache_dir`` the run is checkpointed there and a later chapter (or a rerun)
    with the same settings loads it instead of training again."""
    path = checkpoint_path(cache_dir, "imp", config=config.to_dict(), seeds=list(seeds), control=list(control),
                           rewind_iteration=rewind_iteration)
    return run_imp(config, rounds=rounds, seeds=seeds, control=list(control), data=data, checkpoint_dir=path,
                   rewind_iteration=rewind_iteration, verbose=verbose)


def read_metrics(metrics_dir: str | os.PathLike, chapters: Sequence[str]) -> dict[str, dict]:
    """Read the metrics JSON that each chapter in ``chapters`` (notebook names such as
    ``"03_winning_tickets"``) wrote to ``<metrics_dir>/<chapter>.json``; returns chapter -> metrics.

    A page that summarises other chapters (the conclusion) calls this first. If any file is missing it
    raises ``FileNotFoundError`` naming exactly the missing chapters, so the reader knows which
    notebooks to run first; a file that is not valid JSON raises ``ValueError`` naming it."""
    folder = Path(metrics_dir)
    missing = [c for c in chapters if not (folder / f"{c}.json").is_file()]
    if missing:
        which = "that chapter" if len(missing) == 1 else "those chapters"
        notebooks = ", ".join(f"book/{c}.ipynb" for c in missing)
        raise FileNotFoundError(
            f"no metrics for chapter(s) {', '.join(missing)} in {folder}. Run {which} first ({notebooks}; each "
            "writes its metrics_path in its last cell), or build the whole book, which runs every chapter before "
            "this page."
        )
    metrics = {}
    for chapter in chapters:
        path = folder / f"{chapter}.json"
        try:
            metrics[chapter] = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ValueError(f"{path} (metrics of chapter {chapter}) is not valid JSON: {error}; run that chapter "
                             "again") from error
    return metrics
