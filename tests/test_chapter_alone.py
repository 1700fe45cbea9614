"""A chapter copied alone into an empty folder runs top to bottom with the installed lottery_core: no paths into
the repository, caches and metrics under ./lottery_output, and the claims table with this run's numbers."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import BOOK, SMALL

from lottery_core.book import PAGES

ALONE = {
    "01_dense_baseline": {},
    "03_winning_tickets": {"rounds": 2, "seeds": [0, 1], "control_rounds": [2], "one_shot_rounds": [2]},
}


def _last_output(notebook: dict) -> str:
    return "".join(notebook["cells"][-1]["outputs"][-1]["data"]["text/plain"])


@pytest.mark.notebook
@pytest.mark.parametrize("name", ALONE)
def test_a_chapter_runs_alone_in_an_empty_folder(name, tmp_path, monkeypatch):
    import papermill

    monkeypatch.delenv("LOTTERY_CACHE", raising=False)
    folder = tmp_path / "alone"
    folder.mkdir()
    shutil.copy(BOOK / f"{name}.ipynb", folder)
    papermill.execute_notebook(str(folder / f"{name}.ipynb"), str(folder / "executed.ipynb"),
                               parameters={**SMALL, **ALONE[name]}, cwd=str(folder), kernel_name="python3",
                               progress_bar=False)

    metrics = folder / "lottery_output" / "metrics" / f"{name}.json"
    assert metrics.is_file(), "the metrics belong under ./lottery_output when $LOTTERY_CACHE is unset"
    assert json.loads(metrics.read_text())["iterations"] == SMALL["iterations"]
    table = _last_output(json.loads((folder / "executed.ipynb").read_text()))
    claims = PAGES[name]
    assert all(claim.id in table for claim in claims), table  # one row per claim, whether it holds or not
    assert table.count("holds") == len(claims) and len(re.findall(r"\d+\.\d", table)) >= len(claims), table
    if name == "03_winning_tickets":
        assert list((folder / "lottery_output" / "runs").glob("imp-*/round_002.pt")), "the IMP run is cached there"
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.ipynb", "executed.ipynb", "lottery_output"]
