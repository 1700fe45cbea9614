"""The command line (``python -m lottery_core``): every bad argument is refused before any data is loaded or any
file is written, in one line that names the argument and the remedy, with exit status 2 and no traceback.

The bad inputs run in a subprocess in which every ``load_dataset`` of the package is replaced by a function that
leaves a marker file and exits 99: the marker's absence shows that no data was loaded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import lottery_core as lc
from lottery_core.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
PRELUDE = """
import sys
import lottery_core

def refuse(*args, **kwargs):
    open(sys.argv.pop(1), "w").write("data was loaded")
    raise SystemExit(99)

for name, module in list(sys.modules.items()):
    if name.startswith("lottery_core") and hasattr(module, "load_dataset"):
        module.load_dataset = refuse
marker = sys.argv[1]
from lottery_core.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


def cli(args: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    """``python -m lottery_core *args`` with data loading replaced by a marker (``tmp_path / "loaded"``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", PRELUDE, str(tmp_path / "loaded"), *args], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path, env=env)


BAD = {
    "negative rounds": (["sweep", "--rounds", "-1"], "argument --rounds: '-1' is not a valid number of pruning "
                                                     "rounds: give a whole number of at least 0"),
    "empty seed range": (["sweep", "--rounds", "1", "--seeds", "4-0"], "argument --seeds: 4-0 is an empty range: "
                                                                       "write the lower seed first, e.g. 0-4"),
    "seeds not numbers": (["run", "--seeds", "a-b"], "argument --seeds: 'a-b' is not a seed or a range"),
    "unknown preset": (["sweep", "--rounds", "1", "--preset", "nosuch"],
                       "argument --preset: unknown preset 'nosuch': choose one of book, lenet_mnist_paper"),
    "rounds per preset": (["sweep", "--rounds", "1", "2", "3", "--preset", "book", "book"],
                          "argument --rounds: give one value or one per preset (2), not 3"),
    "unknown control": (["run", "--control", "nosuch"], "argument --control: unknown control 'nosuch': choose one of"),
    "unknown field": (["run", "--set", "nosuch=1"], "argument --set: unknown config field(s) nosuch; valid fields:"),
    "rewind past training": (["run", "--rewind-iteration", "99999"],
                             "argument --rewind-iteration: 99999 is not below the 3000 training iterations of book"),
    "zero seeds per chain": (["sweep", "--rounds", "1", "--seeds-per-chain", "0"],
                             "argument --seeds-per-chain: '0' is not a valid number of seeds per chain"),
}


@pytest.mark.parametrize("args, message", BAD.values(), ids=BAD.keys())
def test_a_bad_argument_is_one_line_and_status_2_before_any_work(args, message, tmp_path):
    results = tmp_path / "results"
    done = cli([*args, "--results-dir", str(results)], tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr and done.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results folder, no data-loaded marker


def test_a_results_dir_under_a_regular_file_is_refused(tmp_path):
    file = tmp_path / "notes.txt"
    file.write_text("a file")
    done = cli(["run", "--results-dir", str(file / "results")], tmp_path)
    assert done.returncode == 2
    assert f"argument --results-dir: {file / 'results'} lies under {file}, which is a file, not a folder" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and file.read_text() == "a file"


def test_help_and_version_exit_0(tmp_path):
    for args in (["--help"], ["sweep", "--help"], ["run", "--help"]):
        done = cli(args, tmp_path)
        assert done.returncode == 0 and "usage: python -m lottery_core" in done.stdout, args
    assert "{sweep,run}" in cli(["--help"], tmp_path).stdout
    version = cli(["--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.strip() == f"lottery_core {lc.__version__}"
    assert not (tmp_path / "loaded").exists()


def test_run_defaults_are_chapter_3s():
    from lottery_core.__main__ import parser

    args = parser().parse_args(["run"])
    assert (args.preset, args.rounds, args.seeds, args.control) == ("book", 15, [0, 1, 2, 3, 4], [])


def test_run_trains_one_chain_and_writes_its_records(tmp_path, capsys):
    argv = ["run", "--rounds", "1", "--seeds", "0-1", "--set", "iterations=40", "--set", "eval_every=20",
            "--set", "num_samples=1000", "--results-dir", str(tmp_path)]
    assert main(argv) == 0
    frame = pd.read_csv(tmp_path / "book.csv")
    assert sorted(set(zip(frame["seed"], frame["round"]))) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert "round 1/1" in capsys.readouterr().out
    assert main([*argv[:4], "0-2", *argv[5:]]) == 1  # other seeds in the same folder: refused in one line
    assert "different experiment" in capsys.readouterr().err
