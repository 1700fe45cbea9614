"""checkpoint.py: the one atomic writer and the one code-free loader."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

import lottery_core as lc


class Hostile:
    """Unpickling this would create a folder: a file that runs code when loaded."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return (os.mkdir, (self.target,))


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "round_000.pt"
    lc.atomic_save({"round": 0, "w": torch.ones(3)}, path)

    def broken_save(obj, handle):
        handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        lc.atomic_save({"round": 0, "w": torch.zeros(3)}, path)
    monkeypatch.undo()
    assert torch.equal(lc.safe_load(path)["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["round_000.pt"]


def test_json_files_go_through_the_same_writer_and_loader(tmp_path):
    path = tmp_path / "sub" / "experiment.json"
    lc.atomic_save({"seeds": [0, 1], "config": {"lr": 0.0012}}, path)
    assert lc.safe_load(path) == {"seeds": [0, 1], "config": {"lr": 0.0012}}
    assert [p.name for p in path.parent.iterdir()] == ["experiment.json"]


def test_a_file_that_would_run_code_is_refused_and_never_run(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump(Hostile(tmp_path / "pwned"), f, protocol=2)  # the protocol torch.save writes
    with pytest.raises(ValueError, match="evil.pt cannot be read"):
        lc.safe_load(path)
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(("name", "content"), [("round_001.pt", None), ("experiment.json", b'{"seeds": [0,')])
def test_a_damaged_file_is_a_value_error_naming_it(tmp_path, name, content):
    path = tmp_path / name
    if content is None:  # a torch file cut short, as a full disk or a copy that stopped leaves it
        lc.atomic_save({"w": torch.ones(1000)}, path)
        path.write_bytes(path.read_bytes()[:300])
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"{name} cannot be read"):
        lc.safe_load(path)


def test_a_missing_file_stays_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        lc.safe_load(tmp_path / "nothing.pt")
