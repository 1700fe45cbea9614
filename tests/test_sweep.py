"""Sweeps of IMP chains (lottery_core.sweep): through Ray, after a worker dies, with a failing chain, without Ray.

The Ray tests start a local Ray instance with 2 CPUs and carry the marker ``cluster``; they are skipped where
Ray (the ``cluster`` extra) is not installed. Every chain is tiny: the book preset at 80 iterations.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

import lottery_core as lc
from lottery_core.sweep import Experiment, SharedPathError, main, parse_seeds, run_chain

TINY = {"iterations": 80, "eval_every": 20}
ROUNDS = 2


def _experiments() -> list[Experiment]:
    """Two chains that differ in seeds, controls and rewinding."""
    return [
        Experiment("a", "book", rounds=ROUNDS, seeds=[0], control="reinit", overrides=TINY),
        Experiment("b", "book", rounds=1, seeds=[1, 2], rewind_iteration=20, overrides=TINY),
    ]


def _reference(experiment: Experiment) -> lc.ImpResult:
    """The same chain run by run_imp in this process, in one call, without a checkpoint."""
    config = experiment.resolve()
    return lc.run_imp(config, rounds=experiment.rounds, verbose=False, **experiment.imp_arguments(config))


@pytest.fixture
def one_thread():
    """Ray runs a 1-CPU task with one torch thread; the reference runs do the same, so that the float
    arithmetic (and so every record) is the same on any CPU."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _assert_same_records(result: lc.SweepResult, experiment: Experiment, reference: lc.ImpResult) -> None:
    pd.testing.assert_frame_equal(result.frames[experiment.name], reference.to_frame())
    pd.testing.assert_frame_equal(result.long_frames[experiment.name], reference.to_long_frame())


@pytest.fixture(scope="module")
def ray_module():
    ray = pytest.importorskip("ray")
    return ray


@pytest.fixture(scope="module")
def local_ray(ray_module):
    """A local Ray instance with 2 CPUs, shared by the tests below (the first test starts its own) and shut down
    after them."""
    ray_module.init(num_cpus=2)
    # the hooks below are defined in this test module, which the workers cannot import by name
    ray_module.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield ray_module
    ray_module.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    ray_module.shutdown()


@pytest.mark.cluster
def test_ray_sweep_gives_run_imps_records_and_a_rerun_only_loads(ray_module, tmp_path, one_thread):
    experiments = _experiments()
    result = lc.sweep(experiments, tmp_path, num_cpus=2)  # starts a local Ray instance and shuts it down
    assert not ray_module.is_initialized()
    assert result.backend == "ray" and result.failures == {}
    assert list(result.chains["status"]) == ["trained", "trained"]
    for experiment in experiments:
        _assert_same_records(result, experiment, _reference(experiment))
    assert list(result.frame["experiment"].unique()) == ["a", "b"]

    calls = tmp_path / "calls.txt"
    again = lc.sweep(experiments, tmp_path, backend="ray", on_round=_Recorder(calls))
    assert list(again.chains["status"]) == ["loaded", "loaded"]
    assert not calls.exists()  # no chain ran: nothing was retrained
    assert not ray_module.is_initialized()  # nothing to run, so Ray was not even started
    for experiment in experiments:
        pd.testing.assert_frame_equal(again.frames[experiment.name], result.frames[experiment.name])


class _Recorder:
    """on_round hook: appends ``name round pid`` to a file."""

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, name: str, round: int) -> None:
        with open(self.path, "a") as f:
            f.write(f"{name} {round} {os.getpid()}\n")


class _KillOnce(_Recorder):
    """on_round hook: after round ``at`` of chain ``name``, the first time, kill this worker process (SIGKILL,
    no clean-up) and leave a marker listing the files the chain had written, with their inode and mtime."""

    def __init__(self, path: Path, name: str, at: int, marker: Path, chain_dir: Path):
        super().__init__(path)
        self.name, self.at, self.marker, self.chain_dir = name, at, marker, chain_dir

    def __call__(self, name: str, round: int) -> None:
        super().__call__(name, round)
        if name == self.name and round == self.at and not self.marker.exists():
            files = {str(p): [p.stat().st_ino, p.stat().st_mtime_ns] for p in self.chain_dir.rglob("*") if p.is_file()}
            self.marker.write_text(json.dumps({"pid": os.getpid(), "files": files}))
            os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.cluster
def test_a_killed_worker_is_retried_and_resumes(local_ray, tmp_path, one_thread):
    experiment = Experiment("killed", "book", rounds=ROUNDS, seeds=[0, 1], control="random_prune", overrides=TINY)
    calls, marker = tmp_path / "calls.txt", tmp_path / "killed.marker"
    hook = _KillOnce(calls, "killed", 1, marker, tmp_path / "results" / "killed")
    result = lc.sweep([experiment], tmp_path / "results", on_round=hook, max_retries=2)

    assert result.failures == {} and list(result.chains["status"]) == ["trained"]
    killed = json.loads(marker.read_text())
    pids = [int(line.split()[2]) for line in calls.read_text().splitlines()]
    assert pids[:2] == [killed["pid"]] * 2  # rounds 0 and 1 in the worker that died
    assert killed["pid"] not in pids[2:] and len(pids) > 2  # the rest in a new worker
    # the retry resumed: nothing that the first worker had written (rounds 0 and 1) was written again
    assert killed["files"]
    for path, (inode, mtime) in killed["files"].items():
        assert [Path(path).stat().st_ino, Path(path).stat().st_mtime_ns] == [inode, mtime], path
    _assert_same_records(result, experiment, _reference(experiment))


@pytest.mark.cluster
def test_a_failing_chain_is_named_and_the_others_are_returned(local_ray, tmp_path, one_thread):
    good = Experiment("good", "book", rounds=1, seeds=[0], overrides=TINY)
    experiments = [
        Experiment("no-such-data", lc.ExperimentConfig(dataset="no_such_dataset", **TINY), rounds=1),
        good,
        Experiment("no-such-preset", "no_such_preset", rounds=1),
        Experiment("bad-rewind", "book", rounds=1, rewind_iteration=500, overrides=TINY),
    ]
    calls = tmp_path / "calls.txt"
    result = lc.sweep(experiments, tmp_path / "results", on_round=_Recorder(calls))

    assert set(result.failures) == {"no-such-data", "no-such-preset", "bad-rewind"}
    assert "no_such_dataset" in result.failures["no-such-data"]
    assert "no_such_preset" in result.failures["no-such-preset"]
    assert "rewind_iteration" in result.failures["bad-rewind"]
    assert list(result.chains["status"]) == ["failed", "trained", "failed", "failed"]
    assert list(result.frames) == ["good"] and set(result.frame["experiment"]) == {"good"}
    _assert_same_records(result, good, _reference(good))
    assert {line.split()[0] for line in calls.read_text().splitlines()} == {"good"}


def test_without_ray_the_chains_run_in_process_with_the_same_records(monkeypatch, tmp_path, one_thread):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    experiments = _experiments()
    with pytest.warns(RuntimeWarning, match="Ray is not installed"):
        result = lc.sweep(experiments, tmp_path)
    assert result.backend == "in-process" and result.failures == {}
    for experiment in experiments:
        _assert_same_records(result, experiment, _reference(experiment))
    with pytest.raises(ImportError, match="cluster"):
        lc.sweep([Experiment("c", "book", rounds=0, overrides=TINY)], tmp_path, address="auto")


def test_a_chain_refuses_a_results_dir_the_driver_did_not_write(tmp_path):
    (tmp_path / ".sweep-abc").write_text("abc")
    with pytest.raises(SharedPathError, match="not shared"):
        run_chain(Experiment("x", "book", rounds=0, overrides=TINY), tmp_path, token="other")
    assert list(tmp_path.iterdir()) == [tmp_path / ".sweep-abc"]  # nothing written before the check


def test_experiments_are_checked_and_split(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        lc.sweep([Experiment("x"), Experiment("x")], tmp_path)
    with pytest.raises(ValueError, match="folder name"):
        Experiment("../x")
    parts = Experiment("lenet", "book", seeds=[0, 1, 2]).split(2)
    assert [(p.name, p.seeds) for p in parts] == [("lenet-s0_1", (0, 1)), ("lenet-s2", (2,))]
    assert parse_seeds("0-2,5") == [0, 1, 2, 5]


def test_the_command_writes_the_records(tmp_path, capsys):
    argv = ["--preset", "book", "--rounds", "1", "--seeds", "0-1", "--seeds-per-chain", "1", "--in-process",
            "--set", "iterations=80", "--set", "eval_every=20", "--results-dir", str(tmp_path)]
    assert main(argv) == 0
    frame = pd.read_csv(tmp_path / "sweep.csv")
    assert sorted(set(frame["experiment"])) == ["book-s0", "book-s1"]
    assert list(frame["round"]) == [0, 1, 0, 1] and list(frame["seed"]) == [0, 0, 1, 1]
    assert main(argv) == 0  # a rerun loads both chains
    assert "2 loaded" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # checked before any work: exit status 2
        main([*argv, "--preset", "no_such_preset"])
    assert refused.value.code == 2 and "unknown preset 'no_such_preset'" in capsys.readouterr().err
