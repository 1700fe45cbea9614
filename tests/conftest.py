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


# The parameters every chapter runs with in the tests (with SMALL). Each chapter runs once per test session; its own
# test (tests/test_ch0*.py) and the conclusion's test read the metrics of that one run.
CHAPTER_TEST_PARAMETERS = {
    "01_dense_baseline": {"seeds": [0]},
    "02_pruning_and_masks": {"seeds": [0, 1], "rates": [0.0, 0.2, 0.5, 0.8, 0.95], "random_draws": 2},
    "03_winning_tickets": {"rounds": 3, "seeds": [0, 1]},
    "04_random_reinit": {"rounds": 3, "seeds": [0, 1]},
    "05_weight_movement": {"rounds": 3, "seeds": [0, 1], "movement_rounds": [2, 3]},
    "06_sqrt10_magnitude": {"rounds": 3, "seeds": [0, 1], "n_densities": 2},
    "07_rewinding": {"rounds": 3, "shared_rounds": 3, "seeds": [0, 1], "rewind_iteration": 20, "high_lr": 3e-2,
                     "rewind_at_default_rate": True},
}


@pytest.fixture(scope="session")
def chapter_metrics_dir(tmp_path_factory, shared_cache) -> Path:
    """A folder holding ``<chapter>.json`` for chapters 1 to 7, each written by really running the chapter once
    through papermill at small settings (``SMALL`` and ``CHAPTER_TEST_PARAMETERS``): what the conclusion reads.

    Two notebooks run at a time where the machine has the cores: chapter 3 (which trains the shared IMP run when
    the cache is cold) beside chapter 1, then the chapters that read the shared run."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    folder = tmp_path_factory.mktemp("chapter_metrics")

    def run(name: str) -> None:
        execute_chapter(name, folder, shared_cache, **CHAPTER_TEST_PARAMETERS[name])

    first = ["01_dense_baseline", "03_winning_tickets"]
    rest = [name for name in CHAPTER_TEST_PARAMETERS if name not in first]
    with ThreadPoolExecutor(max_workers=2 if (os.cpu_count() or 1) >= 2 else 1) as pool:
        for stage in (first, rest):
            list(pool.map(run, stage))  # re-raises the first failure
    return folder


@pytest.fixture(scope="session")
def chapter_metrics(chapter_metrics_dir) -> dict[str, dict]:
    """Chapter name -> the metrics JSON its one test-session run wrote."""
    return {name: json.loads((chapter_metrics_dir / f"{name}.json").read_text()) for name in CHAPTER_TEST_PARAMETERS}


def execute_chapter(name: str, folder: Path, cache_dir: Path, engine_options: dict | None = None, **parameters) -> dict:
    """Execute ``book/<name>.ipynb`` with papermill at ``SMALL`` settings plus ``parameters``, writing
    ``<folder>/<name>.json`` (its metrics, returned) and the executed notebook beside it.
    ``engine_options`` go to papermill's notebook client (e.g. ``execution_timeout``)."""
    import papermill

    metrics = folder / f"{name}.json"
    params = {**SMALL, "cache_dir": str(cache_dir), "metrics_path": str(metrics), **parameters}
    papermill.execute_notebook(
        str(BOOK / f"{name}.ipynb"),
        str(folder / f"{name}.out.ipynb"),
        parameters=params,
        cwd=str(BOOK),
        kernel_name="python3",
        progress_bar=False,
        **(engine_options or {}),
    )
    return json.loads(metrics.read_text())


# LeNet-300-100 on MNIST-1D: 40 inputs -> 300 -> 100 -> 10; hidden layers lose 20%, the output 10% per round.
LENET_MNIST1D_LAYERS = {"fc1": (40 * 300, 0.2), "fc2": (300 * 100, 0.2), "out": (100 * 10, 0.1)}


def expected_densities(rounds: int, layers: dict = LENET_MNIST1D_LAYERS) -> list[float]:
    """Overall density after 0..rounds rounds, computed independently of lottery_core: each round removes
    round(rate x survivors) weights of every layer ({layer: (weights, rate)})."""
    counts = {k: n for k, (n, _) in layers.items()}
    total = sum(counts.values())
    out = []
    for _ in range(rounds + 1):
        out.append(sum(counts.values()) / total)
        counts = {k: c - round(layers[k][1] * c) for k, c in counts.items()}
    return out
