"""Where a chapter leaves what it computed: its output folder, the IMP cache and its metrics file.

A chapter runs alone in any folder (Jupyter, Colab, papermill, the book build): caches and metrics go
under ``$LOTTERY_CACHE`` when it is set, otherwise under ``lottery_output/`` in the working folder.
The book build sets ``$LOTTERY_CACHE`` so that every chapter shares one IMP cache and the claims
tests read one set of metrics.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_OUTPUT = "lottery_output"


def output_dir() -> Path:
    """``$LOTTERY_CACHE`` when set, otherwise ``./lottery_output`` (absolute)."""
    return Path(os.environ.get("LOTTERY_CACHE") or DEFAULT_OUTPUT).resolve()


def cache_dir() -> Path:
    """Where IMP runs are checkpointed (``run_imp(..., cache_dir=lc.cache_dir())``)."""
    return output_dir() / "runs"


def metrics_path(chapter: str) -> Path:
    """Where chapter ``chapter`` (a notebook name such as ``"03_winning_tickets"``) writes its metrics."""
    return output_dir() / "metrics" / f"{chapter}.json"


def plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: tensors and numpy scalars become numbers, NaN becomes ``None``."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "tolist") and callable(value.tolist):
        value = value.tolist()
        if isinstance(value, list):
            return plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_metrics(path: str | os.PathLike | None, metrics: Mapping[str, Any]) -> dict:
    """Write a chapter's key numbers as JSON to ``path`` (folders created; NaN becomes null) and
    return them as plain Python. ``path=None`` writes nothing."""
    values = plain(metrics)
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(values, indent=2, sort_keys=True))
        tmp.replace(path)
    return values


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


def read_available_metrics(folder: str | os.PathLike, chapters: Sequence[str]) -> dict[str, dict]:
    """The metrics of those ``chapters`` that wrote ``<folder>/<chapter>.json``; unreadable files count as
    missing."""
    found = {}
    for chapter in chapters:
        path = Path(folder) / f"{chapter}.json"
        try:
            found[chapter] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return found
