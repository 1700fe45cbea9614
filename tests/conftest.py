"""Shared fixtures: running a chapter through papermill and reading its metrics."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

# Small settings every chapter accepts; a chapter's own test adds or overrides parameters.
SMALL = {"iterations": 300, "eval_every": 50, "device": "cpu"}


@pytest.fixture(scope="session")
def tiny_imp():
    """A tiny real IMP run (MNIST-1D, 1,000 signals, 40 iterations, 3 rounds, 3 seeds; the two controls at
    rounds 1 and 3 only) and its data, for the unit tests of the chapter helpers."""
    import lottery_core as lc

    config = lc.get_preset("book", num_samples=1000, iterations=40, eval_every=10)
    data = lc.load_dataset(config.dataset, seed=config.data_seed, num_samples=config.num_samples)
    result = lc.run_imp(config, rounds=3, seeds=[0, 1, 2], control=["reinit", "random_prune"], control_rounds=[1, 3],
                        data=data, verbose=False)
    return result, data


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One IMP checkpoint cache for the whole test session, as in a book build."""
    return tmp_path_factory.mktemp("lottery_cache")


# The parameters every chapter runs with in the tests (with SMALL). Each chapter runs at most once per test session;
# its own test (tests/test_ch0*.py) and the conclusion's test read the metrics of that one run. Chapters 3 to 6 share
# one IMP run (same preset, seeds, rounds and control rounds): chapter 3 trains it, the others load it.
SHARED_RUN = {"rounds": 3, "seeds": [0, 1, 2], "control_rounds": [1, 3]}
CHAPTER_TEST_PARAMETERS = {
    "01_dense_baseline": {},
    "02_pruning_and_masks": {"seeds": [0, 1, 2], "rates": [0.0, 0.2, 0.5, 0.8, 0.95], "random_draws": 2,
                             "panel_rates": [0.5, 0.95], "show_widgets": False},
    "03_winning_tickets": {**SHARED_RUN, "one_shot_rounds": [2, 3]},
    "04_random_reinit": {**SHARED_RUN},
    "05_weight_movement": {**SHARED_RUN, "movement_rounds": [2, 3]},
    "06_sqrt10_magnitude": {**SHARED_RUN, "n_densities": 2},
    "07_rewinding": {"rounds": 3, "shared_rounds": 3, "seeds": SHARED_RUN["seeds"],
                     "control_rounds": SHARED_RUN["control_rounds"], "rewind_iterations": [20, 50], "high_lr": 0.1,
                     "scratch_round": 2},
    "08_stability": {"seeds": SHARED_RUN["seeds"], "rewind_iterations": [0, 20, 100], "ticket_rounds": [1, 3],
                     "imp_rewind_iterations": [20],
                     "contrast_iterations": [0, 100], "points": 5},
    "09_what_makes_a_ticket": {**SHARED_RUN, "supermask_rounds": [1, 2, 3], "ticket_round": 3, "score_examples": 60},
}
# Chapters that load a run another chapter trains: run that one first.
NEEDS = {name: "03_winning_tickets" for name in ("04_random_reinit", "05_weight_movement", "06_sqrt10_magnitude",
                                                 "07_rewinding", "09_what_makes_a_ticket")}


class ChapterRuns(Mapping):
    """Chapter name -> the metrics of its one test-session run, executed the first time it is asked for
    (papermill at ``SMALL`` settings plus ``CHAPTER_TEST_PARAMETERS``), after the chapter it loads its run from."""

    def __init__(self, folder: Path, cache: Path):
        self.folder, self.cache = folder, cache
        self.locks = {name: threading.Lock() for name in CHAPTER_TEST_PARAMETERS}

    def __getitem__(self, name: str) -> dict:
        if name in NEEDS:
            self[NEEDS[name]]
        with self.locks[name]:
            path = self.folder / f"{name}.json"
            if not path.exists():
                execute_chapter(name, self.folder, self.cache, **CHAPTER_TEST_PARAMETERS[name])
            return json.loads(path.read_text())

    def __iter__(self):
        return iter(CHAPTER_TEST_PARAMETERS)

    def __len__(self) -> int:
        return len(CHAPTER_TEST_PARAMETERS)

    def run_all(self) -> None:
        """Every chapter, two at a time where the machine has the cores: chapter 3 (which trains the shared
        IMP run) beside chapter 1, then the chapters that read the shared run."""
        import os
        from concurrent.futures import ThreadPoolExecutor

        first = ["01_dense_baseline", "03_winning_tickets"]
        rest = [name for name in CHAPTER_TEST_PARAMETERS if name not in first]
        with ThreadPoolExecutor(max_workers=2 if (os.cpu_count() or 1) >= 2 else 1) as pool:
            for stage in (first, rest):
                list(pool.map(self.__getitem__, stage))  # re-raises the first failure


@pytest.fixture(scope="session")
def chapter_metrics(tmp_path_factory, shared_cache) -> ChapterRuns:
    """Chapter name -> the metrics JSON its one test-session run wrote (run on first use)."""
    return ChapterRuns(tmp_path_factory.mktemp("chapter_metrics"), shared_cache)


@pytest.fixture(scope="session")
def chapter_metrics_dir(chapter_metrics) -> Path:
    """A folder holding ``<chapter>.json`` for chapters 1 to 7, each written by really running the chapter once
    through papermill at small settings: what the conclusion reads."""
    chapter_metrics.run_all()
    return chapter_metrics.folder


def execute_chapter(name: str, folder: Path, cache_dir: Path, engine_options: dict | None = None, **parameters) -> dict:
    """Execute ``book/<name>.ipynb`` with papermill at ``SMALL`` settings plus ``parameters``, writing
    ``<folder>/<name>.json`` (its metrics, returned) and the executed notebook beside it.
    ``engine_options`` go to papermill's notebook client (e.g. ``execution_timeout``)."""
    import papermill

    metrics = folder / f"{name}.json"
    params = {**SMALL, "cache_dir": str(cache_dir), "metrics_path": str(metrics), **parameters}
    if "cache_dir" not in papermill.inspect_notebook(str(BOOK / f"{name}.ipynb")):
        params.pop("cache_dir")  # a chapter that caches nothing
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


@pytest.fixture(scope="module")
def ticket():
    """θ0 of a LeNet-300-100 on MNIST-1D and a layerwise magnitude mask at about 10% density (pruned from another
    random network's weights, which stand in for θ_T): (model, θ0, mask)."""
    import lottery_core as lc

    model = lc.build_model("lenet_300_100", (40,), 10, seed=3)
    theta0 = lc.snapshot(model)
    trained = lc.build_model("lenet_300_100", (40,), 10, seed=4)
    mask = lc.Mask.ones_like(model)
    for _ in range(10):
        mask = lc.magnitude_prune(trained, mask, 0.2)
    return model, theta0, mask


def t_interval(differences):
    """Mean of paired differences with its 95% Student-t interval (n - 1 degrees of freedom), computed here
    independently of lottery_core: (mean, low, high)."""
    from scipy import stats

    n = len(differences)
    mean = sum(differences) / n
    sd = (sum((d - mean) ** 2 for d in differences) / (n - 1)) ** 0.5
    half = stats.t.ppf(0.975, n - 1) * sd / n**0.5
    return mean, mean - half, mean + half
