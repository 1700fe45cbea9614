"""Analysis behind chapters 5 and 6: the selection null for weight movement, the kept-weight RMS over training,
the Gaussian selection ceiling, the shape of the kept initial weights and the paired intervals over seeds."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

from lottery_core.book.ch06 import select_rounds_on_validation
from lottery_core.scale import (
    gaussian_selection_ceiling,
    kept_init_shape,
    kept_rms,
    movement_null,
    rms_trajectory,
    selection_ceiling_scale,
    xavier_std,
)
from lottery_core.stats import gap_closed, paired_differences


def test_gaussian_ceiling_matches_sampling_and_stays_below_glorot():
    assert gaussian_selection_ceiling(1.0) == 1.0
    assert gaussian_selection_ceiling(0.1) == pytest.approx(2.10, abs=0.005)
    for d in (0.5, 0.2, 0.1, 0.036, 0.01):
        assert 1 < gaussian_selection_ceiling(d) < 1 / math.sqrt(d)
    w = torch.randn(2_000_000, generator=torch.Generator().manual_seed(0))
    keep = torch.zeros_like(w, dtype=torch.bool)
    keep[:200_000] = True  # only the count matters to the ceiling
    # sampling: 200,000 kept values, the RMS is within a fraction of a percent of the formula
    assert selection_ceiling_scale(w, keep, 1.0) == pytest.approx(gaussian_selection_ceiling(0.1), rel=0.01)
    with pytest.raises(ValueError):
        gaussian_selection_ceiling(0.0)


def test_kept_rms_and_its_trajectory():
    mask = {"w": torch.tensor([[True, False], [True, True]])}
    w0 = torch.tensor([[3.0, 100.0], [-4.0, 0.0]])
    assert kept_rms({"w": w0}, mask)["w"] == pytest.approx(math.sqrt(25 / 3))
    frame = rms_trajectory({0: {"w": w0}, 10: {"w": 2 * w0}}, mask)
    assert frame["iteration"].tolist() == [0, 10]
    assert frame["rms"].tolist() == pytest.approx([math.sqrt(25 / 3), 2 * math.sqrt(25 / 3)])
    assert frame["moved"].tolist() == pytest.approx([0.0, math.sqrt(25 / 3)])
    sigma = xavier_std(2, 2)
    assert frame["sigma"].tolist() == pytest.approx([sigma] * 2)
    assert frame["sigma_d"].tolist() == pytest.approx([sigma / math.sqrt(0.75)] * 2)


def _weights(n=40_000, seed=0):
    gen = torch.Generator().manual_seed(seed)
    w0 = torch.randn(200, n // 200, generator=gen)
    noise = torch.randn(w0.shape, generator=gen)
    return gen, w0, noise


def test_movement_null_removes_pure_selection():
    # movement depends on the final size alone; the mask keeps large |θT| more often (but not as a threshold)
    gen, w0, noise = _weights()
    wt = w0 + noise
    p = (wt.abs() / wt.abs().max()).sqrt()
    mask = {"w": torch.rand(wt.shape, generator=gen) < p}
    row = movement_null({"w": w0}, {"w": wt}, mask, bins=40).iloc[0]
    assert row["raw_ratio"] > 1.15  # kept weights moved further ...
    assert row["matched_ratio"] == pytest.approx(1.0, abs=0.03)  # ... only because they ended larger
    assert row["coverage"] == pytest.approx(1.0)
    assert row["away_matched"] == pytest.approx(row["away_kept_covered"], abs=0.02)


def test_movement_null_keeps_a_real_effect():
    gen, w0, noise = _weights(seed=1)
    mask = {"w": torch.rand(w0.shape, generator=gen) < 0.3}
    # kept weights really move twice as far, in random directions
    wt = w0 + noise * torch.where(mask["w"], 2.0, 1.0)
    row = movement_null({"w": w0}, {"w": wt}, mask).iloc[0]
    assert row["matched_ratio"] > 1.4
    assert row["kept"] + row["pruned"] == w0.numel()


def test_movement_null_of_a_threshold_mask_has_nothing_to_match():
    _, w0, noise = _weights(seed=2)
    wt = w0 + noise
    mask = {"w": wt.abs() > wt.abs().quantile(0.2)}  # the round-1 mask: a threshold on |θT|
    row = movement_null({"w": w0}, {"w": wt}, mask, bins=20).iloc[0]
    assert row["raw_ratio"] > 1
    assert row["coverage"] < 0.06  # only the one bin that straddles the threshold holds both groups


def test_kept_init_shape_of_all_and_of_large_weights():
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(1000, 400, generator=gen) * xavier_std(400, 1000)
    everything = kept_init_shape({"w": w}, {"w": torch.ones_like(w, dtype=torch.bool)}).iloc[0]
    assert everything["near_zero_ratio"] == pytest.approx(1.0)
    assert everything["rms_ratio"] == pytest.approx(1.0)
    assert everything["bimodality"] == pytest.approx(1 / 3, abs=0.01)
    gauss_dip = (2 * stats.norm.cdf(0.25) - 1) / 0.5 / (2 * (stats.norm.cdf(1.25) - stats.norm.cdf(0.75)))
    assert everything["dip_ratio"] == pytest.approx(gauss_dip, rel=0.03)
    assert everything["positive"] == pytest.approx(0.5, abs=0.01)
    z = w / xavier_std(400, 1000)
    large = kept_init_shape({"w": w}, {"w": z.abs() > 1}).iloc[0]
    assert large["near_zero_ratio"] == 0 and large["dip_ratio"] == 0
    assert large["bimodality"] > 5 / 9 and large["rms_ratio"] > 1.5


def _tidy(values: dict[tuple[int, str], list[float]]) -> pd.DataFrame:
    return pd.DataFrame([{"round": r, "arm": arm, "seed": s, "acc": v, "density": 0.8**r}
                         for (r, arm), vals in values.items() for s, v in enumerate(vals)])


def test_paired_differences_are_student_t_intervals_per_round():
    frame = _tidy({(1, "ref"): [0.5, 0.6, 0.7], (1, "arm"): [0.51, 0.62, 0.73],
                   (2, "ref"): [0.4, 0.4, 0.4], (2, "arm"): [0.3, 0.3, 0.3]})
    table = paired_differences(frame, ["arm"], "ref", metric="acc").set_index("round")
    half = stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3)
    assert table.loc[1, "mean"] == pytest.approx(0.02)
    assert table.loc[1, "low"] == pytest.approx(0.02 - half) and table.loc[1, "high"] == pytest.approx(0.02 + half)
    assert table.loc[2, "mean"] == pytest.approx(-0.1) and table.loc[2, "high"] == pytest.approx(-0.1)
    assert table.loc[2, "density"] == pytest.approx(0.64) and table.loc[1, "n"] == 3


def test_rounds_are_selected_on_validation_within_each_stretch_of_the_path():
    leads = {1: 0.01, 2: 0.03, 3: 0.02, 4: 0.00, 5: 0.05, 6: 0.04}
    rows = [{"round": 0, "arm": a, "seed": 0, "early_stop_val_acc": 0.7} for a in ("ticket", "reinit")]
    for r, lead in leads.items():
        rows += [{"round": r, "arm": "ticket", "seed": 0, "early_stop_val_acc": 0.7 + lead},
                 {"round": r, "arm": "reinit", "seed": 0, "early_stop_val_acc": 0.7}]
    frame = pd.DataFrame(rows)
    assert select_rounds_on_validation(frame, 3) == [2, 3, 5]
    assert select_rounds_on_validation(frame, 1) == [5]
    with pytest.raises(ValueError):
        select_rounds_on_validation(frame, 7)


def test_gap_closed_pools_rounds_and_bootstraps_seeds():
    ticket = {1: [0.8, 0.82, 0.79, 0.81], 2: [0.7, 0.72, 0.69, 0.71]}
    values = {}
    for r, acc in ticket.items():
        ref = [a - 0.1 for a in acc]
        values |= {(r, "ticket"): acc, (r, "reinit"): ref, (r, "half"): [x + 0.05 for x in ref]}
    out = gap_closed(_tidy(values), "half", metric="acc")
    assert out["mean"] == pytest.approx(0.5) and out["low"] == pytest.approx(0.5) and out["high"] == pytest.approx(0.5)
    assert out["lead"] == pytest.approx(0.1) and out["n"] == 4
    noisy = {k: list(np.add(v, [0, 0.02, -0.01, 0.01]) if k[1] == "half" else v) for k, v in values.items()}
    spread = gap_closed(_tidy(noisy), "half", metric="acc")
    assert spread["low"] < spread["mean"] < spread["high"]
