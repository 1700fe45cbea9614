"""The recorded Fashion-MNIST run (book/recorded_fashion_mnist.ipynb): the data and provenance ship with the
library, and every sentence the page states about the run is checked here against those records."""

from __future__ import annotations

import pytest

import lottery_core as lc
from lottery_core.book import recorded

RECORD = "fashion_mnist_lenet"


@pytest.fixture(scope="module")
def records():
    frame, provenance = recorded.load_recorded(RECORD)
    return frame, provenance


def test_provenance_names_date_device_commit_and_command(records):
    _, provenance = records
    assert provenance["device"] and len(provenance["commit"]) == 40
    assert provenance["command"].startswith("python scripts/record_paper_protocol.py")
    assert provenance["config"]["iterations"] == 50_000 and provenance["config"]["batch_size"] == 60
    assert provenance["rounds_finished"] == 16 and provenance["seeds"] == [0, 1, 2, 3, 4]


def test_records_cover_every_seed_round_and_arm(records):
    frame, _ = records
    assert len(frame) == 5 * 17 * 3
    assert set(frame["arm"]) == {"ticket", "reinit", "random_prune"}
    assert frame.groupby(["round", "arm"]).size().eq(5).all()


def test_densities_follow_the_papers_lenet_schedule(records):
    # Frankle & Carbin (2019): P_m = 51.3% after 3 rounds, 21.1% after 7, 13.5% after 9, 3.6% after 15.
    density = records[0].groupby("round")["density"].mean()
    for r, paper in {3: 0.513, 7: 0.211, 9: 0.135, 15: 0.036}.items():
        assert density[r] == pytest.approx(paper, abs=0.0006)


def _diff(records, against):
    return lc.paired_differences(records[0], "ticket", against).set_index("round")


def test_claim_tickets_beat_dense_between_21_and_9_percent(records):
    diff = _diff(records, "dense")
    assert (diff.loc[7:11, "low"] > 0).all()  # 21.1% ... 8.7%: interval above zero
    assert (diff.loc[1:, "mean"] < 0.01).all()  # "by well under one point"
    assert (diff.loc[1:, "high"] > 0).all()  # "never measurably worse" down to 2.9%


def test_claim_tickets_beat_both_controls_from_13_5_percent_down_and_margin_widens(records):
    for against in ("reinit", "random_prune"):
        diff = _diff(records, against)
        assert (diff.loc[9:, "low"] > 0).all()
        assert diff.loc[16, "mean"] > diff.loc[9, "mean"]


def test_claim_tickets_stop_earlier(records):
    frame = records[0]
    it = frame.pivot_table(index=["round", "seed"], columns="arm", values="early_stop_iteration")
    dense = it.xs(0, level="round")["ticket"]
    ratio = (it.xs(7, level="round")["ticket"] / dense).mean()
    assert 0.55 < ratio < 0.75  # "about a third earlier" at 21.1%
    assert all(it.xs(r, level="round")["ticket"].mean() < dense.mean() for r in range(1, 16))  # down to 3.6%
    for arm in ("reinit", "random_prune"):
        assert it.xs(16, level="round")[arm].mean() > it.xs(1, level="round")[arm].mean()


def test_the_pages_metrics_are_the_records_paired_differences(records):
    frame = records[0]
    m = recorded.recorded_metrics(frame)
    assert (m["seeds"], m["rounds"], m["trainings"]) == (5, 16, 245)  # round 0's controls are the dense run
    gaps = lc.paired_differences(frame, "ticket", "reinit").set_index("round")
    for iv in m["ticket_minus_reinit"]:
        assert iv["mean"] == pytest.approx(gaps.loc[iv["round"], "mean"]) and iv["round"] > 0
    assert m["density"][7] == pytest.approx(0.211, abs=5e-4)
    assert m["ticket_over_dense_iteration"][0] == pytest.approx(1.0)


def test_unknown_record_is_named():
    with pytest.raises(ValueError, match="fashion_mnist_lenet"):
        recorded.load_recorded("nope")
