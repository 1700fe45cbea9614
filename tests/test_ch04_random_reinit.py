"""Chapter 4 (random reinitialisation and random pruning) at small settings: the per-density table of
ticket and controls is complete, lines up, and agrees with the per-seed records."""

from __future__ import annotations

import pytest

ROUNDS = 3
SEEDS = [0, 1]
ITERATIONS, EVAL_EVERY = 300, 50  # conftest.SMALL
ARMS = ("ticket", "reinit", "random_prune")

# LeNet-300-100 on MNIST-1D: 40 inputs -> 300 -> 100 -> 10; hidden layers lose 20%, the output 10% per round.
LAYERS = {"fc1": (40 * 300, 0.2), "fc2": (300 * 100, 0.2), "out": (100 * 10, 0.1)}


def expected_densities(rounds: int) -> list[float]:
    counts = {k: n for k, (n, _) in LAYERS.items()}
    total = sum(counts.values())
    out = []
    for _ in range(rounds + 1):
        out.append(sum(counts.values()) / total)
        counts = {k: c - round(LAYERS[k][1] * c) for k, c in counts.items()}
    return out


_RUNS: dict[str, dict] = {}


@pytest.fixture
def metrics(run_chapter):
    """The chapter runs once per test session (reusing chapter 3's IMP cache when present)."""
    if "metrics" not in _RUNS:
        _RUNS["metrics"] = run_chapter("04_random_reinit", rounds=ROUNDS, seeds=SEEDS)
    return _RUNS["metrics"]


@pytest.mark.notebook
def test_keys_present(metrics):
    for key in ("per_round", "records", "dense_acc", "round_21", "density_21", "ticket_acc_21", "reinit_acc_21",
                "random_prune_acc_21", "ticket_minus_reinit_21", "ticket_minus_random_prune_21", "seed_margins_21"):
        assert key in metrics, key
    assert metrics["seeds"] == SEEDS and metrics["rounds"] == ROUNDS
    assert len(metrics["per_round"]) == ROUNDS + 1
    for entry in metrics["per_round"]:
        for arm in ARMS:
            for stat in ("acc", "acc_sd", "iteration", "iteration_sd"):
                assert f"{arm}_{stat}" in entry, (arm, stat)
        assert "ticket_minus_reinit" in entry


@pytest.mark.notebook
def test_densities_follow_the_schedule(metrics):
    expected = expected_densities(ROUNDS)
    for entry in metrics["per_round"]:
        assert entry["density"] == pytest.approx(expected[entry["round"]], abs=1e-9)
    for rec in metrics["records"]:
        assert rec["density"] == pytest.approx(expected[rec["round"]], abs=1e-9), rec


@pytest.mark.notebook
def test_records_line_up(metrics):
    records = metrics["records"]
    keys = [(r["round"], r["seed"], r["arm"]) for r in records]
    assert len(set(keys)) == len(keys), "duplicate records"
    assert set(keys) == {(r, s, a) for r in range(ROUNDS + 1) for s in SEEDS for a in ARMS}
    by_key = {(r["round"], r["seed"], r["arm"]): r for r in records}
    for (r, s, _arm), rec in by_key.items():
        assert rec["density"] == by_key[(r, s, "ticket")]["density"]
        assert 0.1 < rec["early_stop_test_acc"] <= 1.0, rec
        assert EVAL_EVERY <= rec["early_stop_iteration"] <= ITERATIONS, rec


@pytest.mark.notebook
def test_table_agrees_with_records(metrics):
    records = metrics["records"]

    def values(r, arm, key):
        return [x[key] for x in records if x["round"] == r and x["arm"] == arm]

    def mean(v):
        return sum(v) / len(v)

    def sd(v):  # sample standard deviation, as pandas computes it
        m = mean(v)
        return (sum((x - m) ** 2 for x in v) / (len(v) - 1)) ** 0.5

    for entry in metrics["per_round"]:
        r = entry["round"]
        for arm in ARMS:
            acc = values(r, arm, "early_stop_test_acc")
            it = values(r, arm, "early_stop_iteration")
            assert len(acc) == len(SEEDS)
            assert entry[f"{arm}_acc"] == pytest.approx(mean(acc))
            assert entry[f"{arm}_acc_sd"] == pytest.approx(sd(acc), abs=1e-9)
            assert entry[f"{arm}_iteration"] == pytest.approx(mean(it))
            assert entry[f"{arm}_iteration_sd"] == pytest.approx(sd(it), abs=1e-9)
        assert entry["ticket_minus_reinit"] == pytest.approx(entry["ticket_acc"] - entry["reinit_acc"])
        if r == 0:  # every arm of round 0 is the dense network
            assert entry["reinit_acc"] == entry["ticket_acc"] == entry["random_prune_acc"]
    r21 = metrics["round_21"]
    densities = [e["density"] for e in metrics["per_round"]]
    assert r21 == min(range(len(densities)), key=lambda r: abs(densities[r] - 0.211))
    row = metrics["per_round"][r21]
    assert metrics["ticket_minus_reinit_21"] == pytest.approx(row["ticket_acc"] - row["reinit_acc"])
    assert metrics["ticket_minus_random_prune_21"] == pytest.approx(row["ticket_acc"] - row["random_prune_acc"])
    assert len(metrics["seed_margins_21"]) == len(SEEDS)
    assert mean(metrics["seed_margins_21"]) == pytest.approx(metrics["ticket_minus_reinit_21"])
    assert metrics["dense_acc"] == pytest.approx(metrics["per_round"][0]["ticket_acc"])
