"""The chapters' plumbing: paired intervals per density, selection on validation data, the metrics and
the "what this run shows" lines of chapters 1 to 4, and the tables they display."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import lottery_core as lc
from lottery_core.book import ch01, ch02, ch03, ch04, tables

T2 = stats.t.ppf(0.975, 2)  # two-sided 95% Student-t critical value, 3 seeds


def _long(rows):
    """Tidy frame: rows of (seed, round, arm, density, test, val, iteration, final)."""
    return pd.DataFrame(rows, columns=["seed", "round", "arm", "density", "early_stop_test_acc",
                                       "early_stop_val_acc", "early_stop_iteration", "final_test_acc"])


@pytest.fixture
def frame():
    rows = []
    dense = {0: 0.70, 1: 0.72, 2: 0.74}
    for s, d in dense.items():
        rows.append((s, 0, "ticket", 1.0, d, d, 1000, d))
        # round 1: the ticket leads the dense network by 1, 2, 3 points on test; validation flat
        rows.append((s, 1, "ticket", 0.8, d + 0.01 * (s + 1), d, 900, d))
        rows.append((s, 1, "reinit", 0.8, d - 0.05, d - 0.05, 1200, d))
        # round 2: on validation this is the best ticket, on test it is worse than round 1
        rows.append((s, 2, "ticket", 0.64, d - 0.01, d + 0.03, 800, d))
    return _long(rows)


def test_paired_differences_pair_by_seed_and_use_student_t(frame):
    table = lc.paired_differences(frame, "ticket", "dense")
    row = table.set_index("round").loc[1]
    diffs = np.array([0.01, 0.02, 0.03])
    half = T2 * diffs.std(ddof=1) / math.sqrt(3)
    assert row["mean"] == pytest.approx(0.02)
    assert (row["low"], row["high"]) == pytest.approx((0.02 - half, 0.02 + half))
    assert row["n"] == 3 and row["density"] == pytest.approx(0.8)
    # round 0: every ticket is its own dense network
    assert table.set_index("round").loc[0, "mean"] == 0
    # a control trained at round 1 only: the other rounds are left out, not filled in
    assert lc.paired_differences(frame, "ticket", "reinit")["round"].tolist() == [1]


def test_paired_differences_average_repeated_draws_first():
    rows = [{"seed": s, "rate": 0.5, "arm": "random", "density": 0.5, "test_acc": 0.5 + 0.1 * d}
            for s in range(3) for d in range(2)]
    rows += [{"seed": s, "rate": 0.5, "arm": "magnitude", "density": 0.5, "test_acc": 0.7 + 0.01 * s} for s in range(3)]
    table = lc.paired_differences(pd.DataFrame(rows), "magnitude", "random", "test_acc", by="rate")
    assert table["mean"].iloc[0] == pytest.approx(0.7 + 0.01 - 0.55)


def test_best_round_is_chosen_on_validation_not_test(frame):
    assert tables.best_round(frame) == 2  # test accuracy would pick round 1
    assert tables.best_round(frame, metric="early_stop_test_acc") == 1
    assert tables.best_round(frame, baseline="reinit") == 1


def test_closest_round_and_last_within(frame):
    assert tables.closest_round(frame, 0.7) == 2
    diffs = pd.DataFrame({"rate": [0.0, 0.2, 0.4, 0.6], "mean": [0.0, -0.004, -0.02, -0.001]})
    assert ch02.last_within(diffs, 0.01, by="rate") == 0.2  # stops at the first larger loss
    assert ch02.last_within(diffs.assign(mean=[-0.5] * 4), 0.01, by="rate") is None


def test_density_schedule_matches_an_independent_count():
    from conftest import LENET_MNIST1D_LAYERS, expected_densities

    sizes = {k: n for k, (n, _) in LENET_MNIST1D_LAYERS.items()}
    rates = {k: r for k, (_, r) in LENET_MNIST1D_LAYERS.items()}
    assert ch03.density_schedule(sizes, rates, 15) == pytest.approx(expected_densities(15), abs=1e-12)


def test_mask_adjacency_counts_kept_right_neighbours():
    mask = torch.tensor([[1, 1, 0, 1], [0, 1, 1, 1]], dtype=torch.bool)
    # kept among the first three columns: (0,0), (0,1), (1,1), (1,2) -> right neighbour kept for 3 of them
    assert ch02.mask_adjacency(mask) == pytest.approx(3 / 4)
    gen = torch.Generator().manual_seed(0)
    random = torch.rand(300, 40, generator=gen) < 0.3
    assert ch02.mask_adjacency(random) == pytest.approx(0.3, abs=0.03)


def test_init_std_table_and_binomial_se():
    model = lc.build_model("lenet_300_100", (40,), 10, seed=0)
    table = ch01.init_std_table(model)
    assert table.loc["net.3.weight", ["fan_in", "fan_out", "weights"]].tolist() == [300, 100, 30000]
    assert table.loc["net.3.weight", "xavier_std"] == pytest.approx(math.sqrt(2 / 400))
    assert (table["measured / xavier"] - 1).abs().max() < 0.05
    assert lc.binomial_se(0.75, 2500) == pytest.approx(math.sqrt(0.75 * 0.25 / 2500))
    assert lc.binomial_se(0.75, 2500) < 0.01  # the book preset's test split: under one point


def test_verdicts_are_counted_with_the_interval_verdict():
    assert tables.count_verdicts([{"low": 0.1, "high": 0.2}, {"low": -0.1, "high": 0.2}, {"low": None,
                                                                                          "high": None}]) == {
        "above": 1, "below": 0, "same": 2}


def test_interval_table_formats_through_interval(frame):
    table = tables.interval_table({"gap": lc.paired_differences(frame, "ticket", "dense")})
    assert table.loc[1, "weights remaining"] == "80.0%"
    assert table.loc[1, "gap"].startswith("+2.0 [")


def _sweep():
    rows = []
    for s in range(3):
        for rate, mag_val, mag_test in [(0.0, 0.75, 0.76), (0.2, 0.745, 0.70), (0.5, 0.70, 0.74), (0.99, 0.1, 0.1)]:
            density = 1 - rate
            base = {"seed": s, "rate": rate, "density": density, "draw": 0, "w.weight": density}
            rows.append(base | {"arm": "magnitude", "val_acc": mag_val, "test_acc": mag_test + 0.001 * s,
                                "norm_removed": rate / 10})
            rows.append(base | {"arm": "global", "val_acc": mag_val, "test_acc": mag_test + 0.002 * s,
                                "norm_removed": rate / 10})
            for d in range(2):
                rows.append(base | {"arm": "random", "draw": d, "val_acc": 0.5, "test_acc": 0.5 + 0.01 * d + 0.003 * s,
                                    "norm_removed": rate})
    return pd.DataFrame(rows)


def test_pruning_metrics_choose_the_safe_rate_on_validation():
    adjacency = pd.DataFrame({"magnitude": [0.3, 0.31, 0.29], "random": [0.2, 0.19, 0.2]},
                             index=pd.Index([0, 1, 2], name="seed"))
    m = ch02.pruning_metrics(_sweep(), adjacency, show_rate=0.8, num_classes=10)
    json.dumps(m)
    # validation loses 0.5 points at rate 0.2 and 5 at 0.5: safe up to 0.2, although test loses 6 points there
    assert m["safe_rate"] == 0.2
    assert m["rates"] == [0.0, 0.2, 0.5, 0.99] and m["densities"] == pytest.approx([1.0, 0.8, 0.5, 0.01])
    gap = tables.interval_at(m["magnitude_minus_random"], 0.5, key="rate")
    assert gap["mean"] == pytest.approx(0.74 + 0.001 - (0.505 + 0.003))
    assert gap["low"] <= gap["mean"] <= gap["high"]
    assert m["dense_test_acc_per_seed"]["1"] == pytest.approx(0.761)
    assert m["adjacency"]["difference"]["mean"] == pytest.approx(0.1033333, abs=1e-6)


def test_ticket_metrics_on_a_real_run(tiny_imp):
    result, _ = tiny_imp
    long = result.to_long_frame()
    one_shot = long[(long["arm"] == "ticket") & (long["round"].isin([1, 2]))].assign(arm="one_shot")
    m = ch03.ticket_metrics(result, one_shot, target_density=0.5)
    json.dumps(m)
    assert m["round_21"] == 3  # 0.517 is the closest density to 0.5
    assert m["best_round"] == tables.best_round(long)
    for key in ("ticket_minus_dense", "ticket_minus_dense_val", "ticket_minus_dense_final",
                "ticket_minus_dense_iteration"):
        assert [iv["round"] for iv in m[key]] == [0, 1, 2, 3]
        for iv in m[key][1:]:
            assert iv["low"] <= iv["mean"] <= iv["high"] and iv["n"] == 3
    tickets = long[long["arm"] == "ticket"].set_index(["round", "seed"])["early_stop_test_acc"]
    assert tables.interval_at(m["ticket_minus_dense"], 2)["mean"] == pytest.approx((tickets[2] - tickets[0]).mean())
    assert sum(m["verdicts"].values()) == 3
    assert [s["seed"] for s in m["dense_overfitting"]] == [0, 1, 2]
    h = result.history(0, "ticket", 1)
    assert m["dense_overfitting"][1]["val_loss_rise"] == pytest.approx(h.final.val_loss / h.early_stop.val_loss - 1)
    # the one-shot arm is a copy of the ticket here: iterative − one-shot is exactly zero
    assert all(iv["mean"] == 0 for iv in m["one_shot"]["iterative_minus_one_shot"])
    assert m["per_round"][2]["reinit_acc"] is None and m["per_round"][3]["reinit_acc"] is not None
    # round 0's controls are copies of the dense network's numbers: not recorded as trained networks
    assert m["per_round"][0]["reinit_acc"] is None
    assert {(x["round"], x["arm"]) for x in m["records"] if x["round"] == 0} == {(0, "ticket")}


def test_control_metrics_only_at_rounds_with_controls(tiny_imp):
    result, _ = tiny_imp
    m = ch04.control_metrics(result, target_density=0.6)
    json.dumps(m)
    assert m["control_rounds"] == [1, 3]
    assert m["round_21"] == 3  # round 2 (0.644) is closer to 0.6 but has no controls
    for key in ch04.CONTROL_COMPARISONS:
        assert [iv["round"] for iv in m[key]] == [1, 3], key
    assert np.mean(m["seed_margins_21"]) == pytest.approx(m["ticket_minus_reinit_21"])
    assert tables.interval_at(m["ticket_minus_reinit"], 3)["mean"] == pytest.approx(m["ticket_minus_reinit_21"])
    assert m["largest_gap_round"] in (1, 3)
    table = ch04.control_table(m)
    assert table.index.tolist() == [0, 1, 3]
    assert table.loc[3, ("test accuracy (%)", "random reinit")].count("±") == 1


def test_schedule_table_reproduces_the_papers_densities(tiny_imp):
    result, _ = tiny_imp
    table = ch03.schedule_table(result)
    assert table.loc[3, "P_m, 784-input network"] == pytest.approx(ch03.PAPER_LENET_DENSITIES[3], abs=1e-3)
    assert table.loc[3, "P_m, this run"] == pytest.approx(result.mask(3).density())
    assert table["P_m, paper"].notna().sum() == 1  # only round 3 of rounds 0-3 has a paper value


def test_split_table_counts_every_example(tiny_imp):
    _, data = tiny_imp
    table = ch01.split_table(data)
    assert table["examples"].tolist() == [len(data.y_train), len(data.y_val), len(data.y_test)]
    assert table["examples"].sum() == 1000
