"""results.py: records and the run folder; a damaged folder is named and nothing else is lost."""

from __future__ import annotations

import json
import shutil

import pytest
from test_imp import CFG, assert_same_run, count_trainings

import lottery_core as lc
from lottery_core.results import FORMAT

SETTINGS = dict(rounds=3, seeds=[0, 1], control="reinit", verbose=False)


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")


@pytest.fixture(scope="module")
def straight(data):
    return lc.run_imp(CFG, data=data, **SETTINGS)


@pytest.fixture
def folder(tmp_path, data):
    lc.run_imp(CFG, data=data, checkpoint_dir=tmp_path, **SETTINGS)
    return tmp_path


def test_records_hold_every_arm_and_round_zero_controls_are_the_dense_run(straight):
    frame = straight.to_frame()
    assert list(frame.columns[:7]) == ["round", "density", "final_test_acc", "early_stop_iteration",
                                       "early_stop_test_acc", "early_stop_val_acc", "seed"]
    later = frame[frame["round"] > 0]
    assert (later["control_early_stop_test_acc"] == later["reinit_early_stop_test_acc"]).all()
    long = straight.to_long_frame()
    assert sorted(long["arm"].unique()) == ["reinit", "ticket"] and len(long) == 2 * len(frame)
    h = straight.history(2, "reinit", seed=1)
    row = frame[(frame["round"] == 2) & (frame["seed"] == 1)].iloc[0]
    assert row["reinit_early_stop_iteration"] == h.early_stop_iteration
    assert row["reinit_final_test_acc"] == h.final_test_acc


def test_a_truncated_round_file_is_named_and_earlier_rounds_stay_usable(folder, data, straight, monkeypatch):
    damaged = folder / "round_002.pt"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    with pytest.raises(ValueError, match="round_002.pt is damaged.*Delete it and the round files after it to "
                                         "train again from round 2; the rounds before it are kept"):
        lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS)
    for name in ("round_002.pt", "round_003.pt"):  # what the message says to do
        (folder / name).unlink()
    trainings = count_trainings(monkeypatch)
    assert_same_run(lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS), straight)
    assert len(trainings) == 2  # rounds 0 and 1 were read, not trained


def test_a_malformed_experiment_json_is_named_and_the_rounds_stay_usable(folder, data, straight, monkeypatch):
    (folder / "experiment.json").write_text('{"format": 2, "config": {"data')
    with pytest.raises(ValueError, match="experiment.json cannot be read.*delete it and run again"):
        lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS)
    (folder / "experiment.json").unlink()
    trainings = count_trainings(monkeypatch)
    assert_same_run(lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS), straight)
    assert trainings == []


def test_a_round_file_of_another_run_is_refused(folder, tmp_path_factory, data):
    other = tmp_path_factory.mktemp("other")
    lc.run_imp(lc.get_preset("book", iterations=60, eval_every=30, lr=0.01), rounds=1, seeds=[0, 1],
               control="reinit", data=data, checkpoint_dir=other, verbose=False)
    shutil.copy(other / "round_001.pt", folder / "round_001.pt")
    with pytest.raises(ValueError, match="round_001.pt is damaged \\(it belongs to another run\\)"):
        lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS)


def test_a_folder_of_another_format_is_refused(folder, data):
    meta = folder / "experiment.json"
    meta.write_text(json.dumps(json.loads(meta.read_text()) | {"format": FORMAT - 1}))
    with pytest.raises(ValueError, match=f"different experiment \\(format: {FORMAT - 1} there, {FORMAT} here\\)"):
        lc.run_imp(CFG, data=data, checkpoint_dir=folder, **SETTINGS)
