"""scale.py and stats.py: the Xavier-scale helpers, weight movement and paired intervals over seeds."""

from __future__ import annotations

import math

import pytest
import torch

import lottery_core as lc


def test_xavier_scale_helpers():
    assert lc.xavier_std(300, 100) == pytest.approx(math.sqrt(2 / 400))
    assert lc.subnetwork_scale(0.1) == pytest.approx(math.sqrt(10))
    full = torch.ones(100, 300, dtype=torch.bool)
    assert torch.allclose(lc.sparse_glorot_std(full), torch.full((100, 300), lc.xavier_std(300, 100)))
    m = torch.zeros(4, 5, dtype=torch.bool)
    m[0, :3] = True
    assert lc.effective_fan_in(m).tolist() == [3, 0, 0, 0]
    assert lc.effective_fan_out(m).tolist() == [1, 1, 1, 0, 0]
    std = lc.sparse_glorot_std(m)
    assert std[0, 0].item() == pytest.approx(math.sqrt(2 / (3 + 1))) and std[1, 0].item() == 0


def test_scale_table_measures_the_kept_initial_weights():
    mask = {"w": torch.tensor([[True, False], [True, False]])}
    initial = {"w": torch.tensor([[3.0, 0.1], [-3.0, 0.1]])}
    row = lc.scale_table(mask, initial).iloc[0]
    assert row["density"] == 0.5 and row["predicted_scale"] == pytest.approx(math.sqrt(2))
    assert row["kept_init_rms"] == pytest.approx(3.0)
    assert row["measured_scale"] == pytest.approx(3.0 / lc.xavier_std(2, 2))


def test_weight_movement_separates_kept_and_pruned_weights():
    initial = {"w": torch.tensor([1.0, -1.0, 0.5, 0.5])}
    final = {"w": torch.tensor([2.0, -1.5, 0.5, 0.25])}
    mask = {"w": torch.tensor([True, True, False, False])}
    table = lc.weight_movement(initial, final, mask).set_index("group")
    assert table.loc["kept", "mean"] == pytest.approx(0.75) and table.loc["pruned", "mean"] == pytest.approx(0.125)
    assert table.loc["kept", "away_from_zero"] == 1.0 and table.loc["pruned", "away_from_zero"] == 0.0


def test_paired_interval_is_the_student_t_interval_of_the_differences():
    a, b = [0.9, 0.8, 0.85, 0.95, 0.7], [0.8, 0.75, 0.8, 0.85, 0.7]
    out = lc.paired_interval(a, b)
    d = [x - y for x, y in zip(a, b)]
    mean = sum(d) / 5
    sd = math.sqrt(sum((x - mean) ** 2 for x in d) / 4)
    half = 2.7764451051977987 * sd / math.sqrt(5)  # t(0.975, 4 degrees of freedom), from statistical tables
    assert out["n"] == 5 and out["mean"] == pytest.approx(mean)
    assert (out["low"], out["high"]) == pytest.approx((mean - half, mean + half))
    assert math.isnan(lc.paired_interval([1.0])["low"])
    with pytest.raises(ValueError, match="confidence"):
        lc.paired_interval(a, b, confidence=1.5)
