"""Every chapter is committed clean: no outputs, exactly one ``parameters`` cell, the Colab setup
cell pointing at the repository named in ``_config.yml``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
TOC = (ROOT / "_toc.yml").read_text()
# Pages that train nothing and only read the chapters' metrics: no device knob, but they must say where the metrics are.
READS_METRICS_ONLY = {"conclusion"}


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_there_are_chapters():
    assert len(NOTEBOOKS) >= 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_outputs_committed(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name} has committed outputs; strip them"
            assert cell.get("execution_count") is None, f"{path.name} has execution counts"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_exactly_one_parameters_cell(path):
    tagged = [c for c in _cells(path) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged 'parameters'"
    source = "".join(tagged[0]["source"])
    knobs = ("metrics_path", "metrics_dir") if path.stem in READS_METRICS_ONLY else ("metrics_path", "device")
    for knob in knobs:
        assert re.search(rf"^{knob}\s*=", source, re.M), f"{path.name}: parameters cell lacks {knob}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_is_in_toc_and_installs_from_the_configured_repository(path):
    assert f"book/{path.stem}" in TOC, f"{path.name} is not in _toc.yml"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    setup = "".join("".join(c["source"]) for c in _cells(path)[:4] if c["cell_type"] == "code")
    assert "import lottery_core" in setup and url in setup, f"{path.name}: setup cell must pip-install {url}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_last_cell_writes_metrics(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code"]
    assert "write_metrics(" in "".join(code[-1]["source"]), f"{path.name}: last code cell must write metrics"
