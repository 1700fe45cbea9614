"""What a chapter leaves behind: its output folder, its metrics file and its "what this run shows" block.

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


def show_findings(lines: Sequence[str], title: str = "What this run shows") -> str:
    """Render the computed findings of a chapter as a Markdown block (a heading and one bullet per
    line) in Jupyter, on Colab and in the book; print it elsewhere. Returns the Markdown text."""
    text = f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return text
    if get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))
    return text


# ---- Verdict words and intervals as text (chapters 5 to 7) ----


def interval_word(iv: Mapping[str, float], above: str = "higher", below: str = "lower",
                  level: str = "no clear difference") -> str:
    """The verdict a 95% interval supports: ``above`` when it lies above zero, ``below`` when below,
    ``level`` when it contains zero (or is undefined)."""
    low, high = iv.get("low"), iv.get("high")
    if low is not None and math.isfinite(low) and low > 0:
        return above
    if high is not None and math.isfinite(high) and high < 0:
        return below
    return level


def format_interval(iv: Mapping[str, float], *, scale: float = 100.0, unit: str = " points",
                    digits: int = 1) -> str:
    """A difference with its interval, e.g. ``+1.2 points (95% CI −0.3 to +2.7)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{scale * x:+.{digits}f}".replace("-", "−")

    return f"{number(iv['mean'])}{unit} (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def format_ratio(iv: Mapping[str, float], digits: int = 2) -> str:
    """A ratio with its interval, e.g. ``1.32× (95% CI 1.10 to 1.58)``."""
    def number(x: float | None) -> str:
        return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"

    return f"{number(iv['mean'])}× (95% CI {number(iv.get('low'))} to {number(iv.get('high'))})"


def by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float], **style) -> str:
    """``format_interval`` of each round's interval, labelled with the round's density, densest first."""
    rounds = sorted(per_round, key=lambda r: -densities[str(r)])
    return "; ".join(f"{format_interval(per_round[r], **style)} at {densities[str(r)]:.1%}" for r in rounds)


def words_by_density(per_round: Mapping[str, Mapping[str, float]], densities: Mapping[str, float],
                     **words: str) -> dict[str, list[str]]:
    """Group the rounds' densities (as "21.6%") by the verdict word of their interval."""
    out: dict[str, list[str]] = {}
    for r in sorted(per_round, key=lambda r: -densities[str(r)]):
        out.setdefault(interval_word(per_round[r], **words), []).append(f"{densities[str(r)]:.1%}")
    return out
