"""Chapter 7 (rewinding to iteration k, and the learning rate) at small settings: every (learning
rate, k) run is in the metrics, densities follow the pruning schedule, and the margins are the
differences of the stored accuracies."""

from __future__ import annotations

import math

import pytest
from conftest import CHAPTER_TEST_PARAMETERS, SMALL, expected_densities

PARAMETERS = CHAPTER_TEST_PARAMETERS["07_rewinding"]
ROUNDS, SEEDS = PARAMETERS["rounds"], PARAMETERS["seeds"]
ITERATIONS, EVAL_EVERY = SMALL["iterations"], SMALL["eval_every"]
REWIND, HIGH_LR, TARGET = PARAMETERS["rewind_iterations"], PARAMETERS["high_lr"], PARAMETERS["target_density"]


@pytest.fixture
def metrics(chapter_metrics):
    return chapter_metrics["07_rewinding"]


def runs_by_key(metrics: dict) -> dict[tuple[str, int], dict]:
    return {(r["setting"], r["rewind_iteration"]): r for r in metrics["runs"]}


@pytest.mark.notebook
def test_keys_and_settings(metrics):
    for key in ("seeds", "rounds", "rewind_iterations", "target_round", "target_density", "learning_rates", "runs",
                "lost_edge_at_high_lr", "lost_text", "restored_text"):
        assert key in metrics, key
    assert metrics["seeds"] == SEEDS and metrics["rounds"] == ROUNDS
    assert metrics["rewind_iterations"] == REWIND
    rates = metrics["learning_rates"]
    assert set(rates) == {"default", "high"}
    assert rates["default"]["lr"] == pytest.approx(1.2e-3) and rates["high"]["lr"] == pytest.approx(HIGH_LR)
    assert rates["default"]["iterations"] == rates["high"]["iterations"] == ITERATIONS
    runs = runs_by_key(metrics)
    assert len(runs) == len(metrics["runs"]), "duplicate (setting, k) runs"
    # the rewind iterations of the runs are exactly the parameters, at both learning rates
    assert set(runs) == {(s, k) for s in ("default", "high") for k in REWIND}
    for (setting, _k), run in runs.items():
        assert run["lr"] == pytest.approx(rates[setting]["lr"])
        for key in ("per_round", "dense_acc", "ticket_acc_target", "reinit_acc_target", "margin_target",
                    "margin_target_se", "seed_margins_target", "mean_margin_pruned", "verdict",
                    "dead_units_at_rewind"):
            assert key in run, key
        assert run["verdict"] in ("ahead", "behind", "level")
        assert [p["round"] for p in run["per_round"]] == list(range(ROUNDS + 1))


@pytest.mark.notebook
def test_densities_follow_the_schedule(metrics):
    expected = expected_densities(ROUNDS)
    for run in metrics["runs"]:
        for p in run["per_round"]:
            assert p["density"] == pytest.approx(expected[p["round"]], abs=1e-9), (run["setting"], p)
    target = min(range(ROUNDS + 1), key=lambda r: abs(expected[r] - TARGET))
    assert metrics["target_round"] == target
    assert metrics["target_density"] == pytest.approx(expected[target], abs=1e-9)


@pytest.mark.notebook
def test_margins_are_differences_of_stored_accuracies(metrics):
    target = metrics["target_round"]
    for run in metrics["runs"]:
        for p in run["per_round"]:
            assert p["margin"] == pytest.approx(p["ticket_acc"] - p["reinit_acc"], abs=1e-9)
        row = run["per_round"][target]
        assert run["ticket_acc_target"] == pytest.approx(row["ticket_acc"], abs=1e-9)
        assert run["reinit_acc_target"] == pytest.approx(row["reinit_acc"], abs=1e-9)
        assert run["margin_target"] == pytest.approx(run["ticket_acc_target"] - run["reinit_acc_target"], abs=1e-9)
        seeds = run["seed_margins_target"]
        assert len(seeds) == len(SEEDS)
        assert sum(seeds) / len(seeds) == pytest.approx(run["margin_target"], abs=1e-9)
        mean = sum(seeds) / len(seeds)
        se = math.sqrt(sum((m - mean) ** 2 for m in seeds) / (len(seeds) - 1) / len(seeds))
        assert run["margin_target_se"] == pytest.approx(se, abs=1e-9)
        # the verdict follows the two-standard-error rule stated in the chapter
        m = run["margin_target"]
        expected = "ahead" if m - 2 * se > 0 else "behind" if m + 2 * se < 0 else "level"
        assert run["verdict"] == expected
        pruned = [p["margin"] for p in run["per_round"] if p["round"] > 0]
        assert run["mean_margin_pruned"] == pytest.approx(sum(pruned) / len(pruned), abs=1e-9)


@pytest.mark.notebook
def test_accuracies_are_sane(metrics):
    runs = runs_by_key(metrics)
    for run in metrics["runs"]:
        dense = run["per_round"][0]
        # round 0 is the dense network itself for both arms
        assert dense["ticket_acc"] == dense["reinit_acc"] == pytest.approx(run["dense_acc"])
        for p in run["per_round"]:
            for arm in ("ticket_acc", "reinit_acc"):
                assert 0.1 < p[arm] <= 1.0, (run["setting"], run["rewind_iteration"], p)
        for frac in run["dead_units_at_rewind"].values():
            assert 0.0 <= frac <= 1.0
    # the dense network does not depend on the rewinding point, only on the learning rate
    for setting in ("default", "high"):
        assert runs[(setting, 0)]["dense_acc"] == pytest.approx(runs[(setting, REWIND[-1])]["dense_acc"], abs=1e-6)
    # at θ0 no hidden unit is switched off for every example (Glorot init, zero biases)
    assert all(v == 0.0 for v in runs[("default", 0)]["dead_units_at_rewind"].values())
