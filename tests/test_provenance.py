"""Provenance that pins the code: the shipped records match the sha256 in their provenance.json, and the recording
script takes the commit from git itself (with a hash of any uncommitted diff), the software versions and the data's
hashes."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
RECORDS = sorted((ROOT / "lottery_core" / "records").glob("*/records.csv"))
spec = importlib.util.spec_from_file_location("record_paper_protocol", ROOT / "scripts" / "record_paper_protocol.py")
recorder = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recorder)


@pytest.mark.parametrize("records", RECORDS, ids=lambda p: p.parent.name)
def test_shipped_records_match_their_hash(records):
    provenance = json.loads((records.parent / "provenance.json").read_text())
    assert hashlib.sha256(records.read_bytes()).hexdigest() == provenance["records_sha256"]
    if "commit" in provenance and "software" not in provenance:  # recorded before the script recorded hashes
        assert "run not re-recorded" in provenance["records_sha256_note"]


def test_there_are_shipped_records():
    assert [p.parent.name for p in RECORDS] == ["fashion_mnist_lenet"]


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_code_state_takes_the_commit_from_git_and_hashes_a_dirty_tree(tmp_path):
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "release.py", tmp_path / "scripts" / "release.py")
    (tmp_path / "lottery_core").mkdir()
    module = tmp_path / "lottery_core" / "models.py"
    module.write_text("x = 1\n")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-q", "-m", "one")
    clean = recorder.code_state(tmp_path)
    assert clean["commit"] == _git(tmp_path, "rev-parse", "HEAD") and clean["dirty"] is False
    assert "diff_sha256" not in clean
    module.write_text("x = 2\n")
    dirty = recorder.code_state(tmp_path)
    assert dirty["dirty"] is True and dirty["commit"] == clean["commit"]
    assert dirty["library_sha256"] != clean["library_sha256"]
    module.write_text("x = 3\n")
    assert recorder.code_state(tmp_path)["diff_sha256"] != dirty["diff_sha256"]


def test_software_and_data_hashes(tmp_path):
    versions = recorder.software()
    assert versions["numpy"] and versions["torch"] and versions["lottery_core"] == lc.__version__
    assert set(versions) >= {"python", "cuda", "cudnn", "driver"}
    data = lc.load_dataset("digits")
    hashes = recorder.data_hashes("digits", tmp_path, data)
    assert hashes["data_files"] == {} and len(hashes["data_tensors_sha256"]) == 64
    assert recorder.data_hashes("digits", tmp_path, lc.load_dataset("digits")) == hashes
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(b"abc")
    files = recorder.data_hashes("fashion_mnist", tmp_path, data)["data_files"]
    assert files[str(raw / "train-images-idx3-ubyte")] == hashlib.sha256(b"abc").hexdigest()
