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

import pandas as pd

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


def findings_markdown(lines: Sequence[str], title: str = "What this run shows") -> str:
    """The computed findings of a chapter as Markdown: a bold heading and one bullet per line."""
    return f"**{title}**\n\n" + "\n".join(f"- {line}" for line in lines)


def show_findings(lines: Sequence[str], title: str = "What this run shows") -> None:
    """Render the computed findings of a chapter (:func:`findings_markdown`) as Markdown output in Jupyter,
    on Colab and in the book; print them where no notebook front end is attached (a script)."""
    text = findings_markdown(lines, title)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(text)
    else:
        display(Markdown(text))


RECORDS = Path(__file__).resolve().parent / "records"


def load_recorded(name: str) -> tuple[pd.DataFrame, dict]:
    """A recorded run shipped with the library: its tidy records (one row per seed, round and arm) and its
    provenance (date, device, commit, command that reran it). ``name`` is a folder of ``lottery_core/records``."""
    folder = RECORDS / name
    if not (folder / "records.csv").is_file():
        known = ", ".join(sorted(p.name for p in RECORDS.iterdir() if p.is_dir()))
        raise ValueError(f"no recorded run {name!r}; recorded runs: {known}")
    return pd.read_csv(folder / "records.csv"), json.loads((folder / "provenance.json").read_text())


def recorded_difference_table(records: pd.DataFrame, rounds: Sequence[int],
                              metric: str = "early_stop_test_acc") -> pd.DataFrame:
    """The ticket against the dense network and each control at ``rounds``: mean paired difference in
    percentage points with its 95% t interval, one row per round (for a recorded IMP run's tidy records)."""
    from .analysis import arm_differences

    columns = {}
    for against in ["dense", *sorted(set(records["arm"]) - {"ticket"})]:
        diff = arm_differences(records, metric, against).set_index("round").loc[list(rounds)]
        columns[f"ticket − {against} (pp)"] = [f"{100 * m:+.2f} [{100 * lo:+.2f}, {100 * hi:+.2f}]"
                                              for m, lo, hi in zip(diff["mean"], diff["low"], diff["high"])]
        columns["% of weights"] = (100 * diff["density"]).round(1).to_numpy()
    table = pd.DataFrame(columns, index=pd.Index(list(rounds), name="round"))
    return table[["% of weights", *[c for c in table.columns if c != "% of weights"]]]


def recorded_findings(records: pd.DataFrame) -> list[str]:
    """The "what this run shows" lines of a recorded IMP run with controls: where the ticket beats the dense
    network and the controls (95% paired t intervals above zero), and how much earlier it stops at ~21%."""
    from .analysis import arm_differences

    lines = []
    for against in ["dense", *sorted(set(records["arm"]) - {"ticket"})]:
        diff = arm_differences(records, "early_stop_test_acc", against).query("round > 0")
        above = diff[diff["low"] > 0]
        where = (f"at {len(above)} of {len(diff)} densities, from {100 * above['density'].max():.1f}% down to "
                 f"{100 * above['density'].min():.1f}% (largest mean margin {100 * above['mean'].max():+.2f} pp)"
                 if len(above) else "at no density")
        lines.append(f"Ticket more accurate than {against} (95% paired t interval above zero) {where}.")
    iterations = records.pivot_table(index=["round", "seed"], columns="arm", values="early_stop_iteration")
    r = int((records.groupby("round")["density"].mean() - 0.211).abs().idxmin())
    ratio = iterations.xs(r, level="round")["ticket"] / iterations.xs(0, level="round")["ticket"]
    lines.append(f"At {100 * records.query('round == @r')['density'].mean():.1f}% of the weights the ticket's "
                 f"early-stopping iteration is {ratio.mean():.2f}× the dense network's (mean over seeds).")
    return lines
