"""imp.py: iterative magnitude pruning, resuming (also after SIGKILL), cache folders; train_arms after the run."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
CFG = lc.get_preset("book", iterations=60, eval_every=30)


@pytest.fixture(scope="module")
def data():
    return lc.load_dataset("mnist1d", device="cpu")


def count_trainings(monkeypatch) -> list[int]:
    """A list that gets the start iteration of every batched training run run_imp starts (one per round it trains)."""
    calls = []
    real = lc.arms.train_batched

    def counting(*args, **kwargs):
        calls.append(kwargs["start_iteration"])
        return real(*args, **kwargs)

    monkeypatch.setattr(lc.arms, "train_batched", counting)
    return calls


def assert_same_run(a: lc.ImpResult, b: lc.ImpResult) -> None:
    """Equal records, learning curves of every arm, masks and weights: what the chapters read."""
    assert a.to_frame().equals(b.to_frame())
    assert a.histories.keys() == b.histories.keys()
    for key, h in a.histories.items():
        assert h.evaluations == b.histories[key].evaluations, key
    assert a.masks.keys() == b.masks.keys() and all(a.masks[k].equal(b.masks[k]) for k in a.masks)
    for mine, theirs in [(a.trained, b.trained), (a.initial, b.initial), (a.start, b.start)]:
        assert mine.keys() == theirs.keys()
        for key, state in mine.items():
            assert all(torch.equal(v, theirs[key][name]) for name, v in state.items()), key


@pytest.fixture(scope="module")
def rewound_run(data):
    return lc.run_imp(CFG, rounds=2, rewind_iteration=20, seeds=[0, 1], control="reinit", data=data, verbose=False)


def test_rounds_prune_the_trained_weights_on_the_papers_schedule(rewound_run):
    result, frame = rewound_run, rewound_run.to_frame()
    assert list(frame["round"]) == [0, 0, 1, 1, 2, 2] and list(frame["seed"]) == [0, 1] * 3
    model = lc.build_model("lenet_300_100", (40,), 10)
    rates = lc.layer_rates_for(model, 0.2, 0.1)
    mask = lc.Mask.ones_like(model)
    for r in range(3):  # 20% of the hidden and 10% of the output weights go every round
        assert frame[frame["round"] == r]["density"].tolist() == pytest.approx([mask.density()] * 2)
        mask = lc.magnitude_prune(model, mask, 0.2, layer_rates=rates)
    for r in (1, 2):  # each round prunes the weights the previous round trained
        trained = lc.build_model("lenet_300_100", (40,), 10)
        trained.load_state_dict(result.trained_state(r - 1, seed=1))
        assert lc.magnitude_prune(trained, result.mask(r - 1, seed=1), 0.2, layer_rates=rates).equal(
            result.mask(r, seed=1))
    assert set(result.histories) == {(0, s, "ticket") for s in (0, 1)} | {
        (r, s, arm) for r in (1, 2) for s in (0, 1) for arm in ("ticket", "reinit")}


def test_pruned_rounds_restart_from_theta_k(rewound_run, data):
    models = [lc.build_model("lenet_300_100", (40,), 10, seed=s) for s in (0, 1)]
    lc.train_batched(models, data, seeds=[0, 1], iterations=20, batch_size=60, lr=CFG.lr, eval_every=30,
                     progress=False)  # the dense round's first 20 steps
    for s, model in enumerate(models):
        assert all(torch.equal(v, rewound_run.rewind_state(s)[k]) for k, v in model.state_dict().items())
        theta_k, theta_0 = rewound_run.rewind_state(s), rewound_run.initial_state(s)
        assert not torch.equal(theta_k["net.1.weight"], theta_0["net.1.weight"])
    assert [e.iteration for e in rewound_run.history(1, "reinit").evaluations] == [30, 60]  # from 20 to 60


def test_resumed_run_equals_uninterrupted_run(tmp_path, data, monkeypatch):
    """Fails if resuming changes anything a round depends on, the data order of every arm included."""
    settings = dict(seeds=[0, 1], control=["reinit", "random_prune"], rewind_iteration=20, data=data, verbose=False)
    lc.run_imp(CFG, rounds=1, checkpoint_dir=tmp_path, **settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment.json", "round_000.pt", "round_001.pt"]
    trainings = count_trainings(monkeypatch)
    resumed = lc.run_imp(CFG, rounds=3, checkpoint_dir=tmp_path, **settings)
    assert trainings == [20, 20]  # only rounds 2 and 3 trained, from θk
    assert_same_run(resumed, lc.run_imp(CFG, rounds=3, **settings))


def test_cache_dir_gives_each_setting_its_own_folder_and_trains_once(tmp_path, data, monkeypatch):
    trainings = count_trainings(monkeypatch)
    first = lc.run_imp(CFG, rounds=1, seeds=[0, 1], data=data, cache_dir=tmp_path, verbose=False)
    again = lc.run_imp(CFG, rounds=1, seeds=[0, 1], data=data, cache_dir=tmp_path, verbose=False)
    assert len(trainings) == 2  # the second call read both rounds
    assert_same_run(first, again)
    lc.run_imp(dataclasses.replace(CFG, lr=0.01), rounds=0, seeds=[0, 1], data=data, cache_dir=tmp_path,
               verbose=False)
    assert len(list(tmp_path.iterdir())) == 2


def test_a_folder_written_by_other_settings_is_refused(tmp_path, data):
    lc.run_imp(CFG, rounds=0, data=data, checkpoint_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match=r"different experiment \(config.lr: 0.0012 there, 0.01 here\)"):
        lc.run_imp(dataclasses.replace(CFG, lr=0.01), rounds=1, data=data, checkpoint_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="seeds: \\[0\\] there, \\[0, 1\\] here"):
        lc.run_imp(CFG, rounds=1, seeds=[0, 1], data=data, checkpoint_dir=tmp_path, verbose=False)
    with pytest.raises(ValueError, match="checkpoint_dir or cache_dir, not both"):
        lc.run_imp(CFG, rounds=1, data=data, checkpoint_dir=tmp_path, cache_dir=tmp_path, verbose=False)


def test_bad_settings_are_value_errors(data):
    with pytest.raises(ValueError, match="rounds must be at least 0"):
        lc.run_imp(CFG, rounds=-1, data=data, verbose=False)
    with pytest.raises(ValueError, match=r"rewind_iteration must be in \[0, 60\)"):
        lc.run_imp(CFG, rounds=1, rewind_iteration=60, data=data, verbose=False)
    with pytest.raises(ValueError, match="distinct"):
        lc.run_imp(CFG, rounds=1, seeds=[1, 1], data=data, verbose=False)
    with pytest.raises(ValueError, match="config names 'digits'"):
        lc.run_imp(dataclasses.replace(CFG, dataset="digits"), rounds=1, data=data, verbose=False)


def test_train_arms_after_the_run_retrains_the_runs_own_tickets_and_refuses_bad_names(data):
    run = lc.run_imp(CFG, rounds=2, seeds=[0, 1], data=data, verbose=False)
    again = lc.train_arms(run, [1, 2], ["ticket", "reinit", "sign_shuffle"], data=data, verbose=False)
    assert len(again.frame) == 2 * 2 * 3  # rounds x seeds x arms
    for r in (1, 2):
        for s in (0, 1):
            row = again.frame.query("round == @r and seed == @s and arm == 'ticket'").iloc[0]
            # float32 networks trained in stacks of another size: only the order of sums differs, which moves
            # weights by about 1e-7 in 60 steps here: the same early stop, at most one test example apart.
            ticket = run.history(r, seed=s)
            assert row["early_stop_iteration"] == ticket.early_stop_iteration
            assert row["early_stop_test_acc"] == pytest.approx(ticket.early_stop_test_acc, abs=1.5 / len(data.y_test))
            assert row["density"] == pytest.approx(run.mask(r, s).density())
    with pytest.raises(ValueError, match="not rounds of this run"):
        lc.train_arms(run, [3], ["reinit"], data=data, verbose=False)
    with pytest.raises(ValueError, match="unknown arm 'nope'"):
        lc.train_arms(run, [1], ["nope"], data=data, verbose=False)


KILLED_RUN = """
import sys, torch, lottery_core as lc
torch.set_num_threads(int(sys.argv[2]))
lc.run_imp(lc.get_preset("book", iterations=400, eval_every=100), rounds=3, seeds=[0, 1], control="reinit",
           rewind_iteration=100, checkpoint_dir=sys.argv[1], verbose=False)
"""


def kill_while_round_2_trains(script: str, folder: Path, last_round: int = 3) -> None:
    """Run ``script`` (argv: ``folder``, the thread count; ``tests/`` importable) in another process and
    SIGKILL it as soon as it has written round 1, while round 2 trains; round ``last_round`` is then unwritten."""
    path = os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    child = subprocess.Popen([sys.executable, "-c", script, str(folder), str(torch.get_num_threads())],
                             env=os.environ | {"PYTHONPATH": path}, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not (folder / "round_001.pt").exists():  # round 1 is written: round 2 is training
        assert child.poll() is None, child.stderr.read().decode()
        assert time.monotonic() < deadline, "round 1 never finished"
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL
    assert not (folder / f"round_{last_round:03d}.pt").exists()


def test_a_run_killed_mid_round_resumes_to_the_records_of_an_uninterrupted_run(tmp_path):
    """SIGKILL a real IMP run in another process while it trains round 2, then resume it here."""
    kill_while_round_2_trains(KILLED_RUN, tmp_path)
    config = lc.get_preset("book", iterations=400, eval_every=100)
    settings = dict(rounds=3, seeds=[0, 1], control="reinit", rewind_iteration=100, verbose=False)
    resumed = lc.run_imp(config, checkpoint_dir=tmp_path, **settings)
    assert_same_run(resumed, lc.run_imp(config, **settings))
