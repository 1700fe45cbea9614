"""Small helpers for the book's chapters: numbers in the text, metrics files for the tests."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def glue(name: str, value: Any, fmt: str | None = None) -> Any:
    """Make ``value`` available to the chapter's text as ``{glue:text}`name``` (myst-nb), formatted
    with ``fmt`` (e.g. ``"{:.1%}"``). Outside a book build (e.g. on Colab) it only returns ``value``."""
    shown = fmt.format(value) if fmt else value
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    _glue(name, shown, display=False)
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
