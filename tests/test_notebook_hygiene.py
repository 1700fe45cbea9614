"""Every chapter is committed clean and reads the same in Jupyter, on Colab and in the book: no outputs,
no MyST syntax in its Markdown (Jupyter would show it raw), exactly one ``parameters`` cell, short code
cells, and a setup cell that installs the library version the chapter was written for."""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
import subprocess
from pathlib import Path

import pytest
import yaml

import lottery_core

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
TOC = (ROOT / "_toc.yml").read_text()
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
# The version is written once, in lottery_core/__init__.py; pyproject.toml reads it from there.
VERSION = re.search(r'^__version__ = "([^"]+)"', (ROOT / "lottery_core" / "__init__.py").read_text(), re.M).group(1)
PINNED = f"lottery_core @ git+{REPOSITORY}@v{VERSION}"
# Pages that train nothing have no device knob: the conclusion reads the chapters' metrics (and says where they
# are), the recorded page reads a run shipped with the library.
KNOBS = {"conclusion": ("metrics_path", "metrics_dir"), "recorded_fashion_mnist": ("metrics_path", "record")}

# Code-cell size limits (lines that are not blank), the parameters cell aside.
MEDIAN_LINES, MAX_LINES, TOTAL_LINES = 8, 25, 1100

MYST = {
    "role (e.g. {glue:text}`x`, {cite:t}`x`, {ref}`x`)": re.compile(r"\{[A-Za-z][\w:+-]*\}`"),
    "directive (```{...})": re.compile(r"^\s*(```+|~~~+)\s*\{", re.M),
    "colon fence (:::)": re.compile(r"^\s*:::", re.M),
    "label target ((label)=)": re.compile(r"^\s*\([\w.:-]+\)=\s*$", re.M),
}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def code_lines(cell: dict) -> int:
    """Lines of a code cell that are not blank."""
    return sum(1 for line in _source(cell).splitlines() if line.strip())


def sized_cells(path: Path) -> list[int]:
    """Line counts of a notebook's code cells, the parameters cell aside."""
    return [code_lines(c) for c in _cells(path) if c["cell_type"] == "code" and "parameters" not in _tags(c)]


def install_cell(path: Path) -> dict:
    cells = [c for c in _cells(path) if c["cell_type"] == "code" and "lottery_core @ git+" in _source(c)]
    assert len(cells) == 1, f"{path.name}: expected one setup cell that pip-installs lottery_core, found {len(cells)}"
    return cells[0]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_outputs_committed(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} has committed outputs; strip them"
            assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_markdown_has_no_myst_syntax(path):
    for i, cell in enumerate(_cells(path)):
        if cell["cell_type"] != "markdown":
            continue
        for what, pattern in MYST.items():
            match = pattern.search(_source(cell))
            assert match is None, f"{path.name}, cell {i}: MyST {what} {match.group(0)!r} shows raw in Jupyter/Colab"


def test_the_myst_patterns_catch_what_they_should():
    bad = ["{glue:text}`acc:.1%`", "{cite:t}`frankle2019lottery`", "{doc}`chapter <x>`", "```{note}\nx\n```",
           ":::{admonition}", "(sec-one)="]
    good = ["$\\sqrt{2}$ and `code`", "[Frankle & Carbin (2019)](references.md)", "```python\nx = {1: 2}\n```",
            "$$\n\\frac{2}{n}\n$$", "a (label) = b"]
    assert all(any(p.search(text) for p in MYST.values()) for text in bad)
    assert not any(p.search(text) for text in good for p in MYST.values())


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell(path):
    tagged = [c for c in _cells(path) if "parameters" in _tags(c)]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    source = _source(tagged[0])
    knobs = KNOBS.get(path.stem, ("metrics_path", "device"))
    for knob in knobs:
        assert re.search(rf"^{knob}\s*=", source, re.M), f"{path.name}: parameters cell lacks {knob}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_cells_are_short(path):
    sizes = sized_cells(path)
    assert statistics.median(sizes) <= MEDIAN_LINES, f"{path.name}: median code cell {statistics.median(sizes)} lines"
    longest = max(sizes)
    assert longest <= MAX_LINES, f"{path.name}: a code cell has {longest} lines (limit {MAX_LINES})"


def test_all_chapters_together_hold_at_most_1100_lines_of_code():
    total = sum(sum(sized_cells(p)) for p in NOTEBOOKS)
    assert total <= TOTAL_LINES, f"{total} lines of code in the notebooks (limit {TOTAL_LINES})"


def test_library_version_is_the_pinned_one():
    assert lottery_core.__version__ == VERSION
    assert 'version = { attr = "lottery_core.__version__" }' in (ROOT / "pyproject.toml").read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_is_in_toc_and_installs_the_pinned_version(path):
    assert f"book/{path.stem}" in TOC, f"{path.name} is not in _toc.yml"
    source = _source(install_cell(path))
    assert PINNED in source, f"{path.name}: the setup cell must install {PINNED!r}"
    assert "hide-input" in _tags(install_cell(path)), f"{path.name}: tag the setup cell hide-input"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_install_cell_stops_with_a_message_when_pip_fails(path, monkeypatch):
    source = _source(install_cell(path))
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        return subprocess.CompletedProcess(args, 1, stdout="", stderr="ERROR: network is unreachable")

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(SystemExit) as stopped:
        exec(compile(source, path.name, "exec"), {})
    assert calls and PINNED in calls[0]
    message = str(stopped.value)
    assert "Could not install" in message and "network is unreachable" in message
    # installed already: the cell does nothing
    calls.clear()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    exec(compile(source, path.name, "exec"), {})
    assert calls == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_last_cell_writes_metrics(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "write_metrics(" in _source(code[-1]), f"{path.name}: last code cell must write metrics"
