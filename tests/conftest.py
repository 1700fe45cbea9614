"""Shared fixtures: running a chapter through papermill and reading its metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

# Small settings every chapter accepts; a chapter's own test adds or overrides parameters.
SMALL = {"iterations": 300, "eval_every": 50, "device": "cpu", "show_widgets": False}


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One IMP checkpoint cache for the whole test session, as in a book build."""
    return tmp_path_factory.mktemp("lottery_cache")


@pytest.fixture
def run_chapter(tmp_path, shared_cache):
    """Execute ``book/<name>.ipynb`` with papermill and return its metrics JSON as a dict."""
    import papermill

    def run(name: str, **parameters) -> dict:
        metrics = tmp_path / f"{name}.json"
        params = {**SMALL, "cache_dir": str(shared_cache), "metrics_path": str(metrics), **parameters}
        papermill.execute_notebook(
            str(BOOK / f"{name}.ipynb"),
            str(tmp_path / f"{name}.out.ipynb"),
            parameters=params,
            cwd=str(BOOK),
            kernel_name="python3",
            progress_bar=False,
        )
        return json.loads(metrics.read_text())

    return run
