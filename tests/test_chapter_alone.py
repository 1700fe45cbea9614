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


def _last_table_rows(notebook: dict) -> list[str]:
    """The body rows of the table the last cell displays, as HTML (the claims table)."""
    html = "".join(notebook["cells"][-1]["outputs"][-1]["data"]["text/html"])
    return html.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]


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
    rows = _last_table_rows(json.loads((folder / "executed.ipynb").read_text()))
    claims = PAGES[name]
    assert [re.search(r"<th>([^<]+)</th>", row).group(1) for row in rows] == [claim.id for claim in claims]
    for row in rows:  # each claim with this run's numbers and a verdict, whether it holds or not
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert re.search(r"\d", cells[1]) or cells[1].startswith("not checkable on these metrics"), row
        assert cells[2] in ("holds", "does not hold"), row
    if name == "03_winning_tickets":
        assert list((folder / "lottery_output" / "runs").glob("imp-*/round_002.pt")), "the IMP run is cached there"
    assert sorted(p.name for p in folder.iterdir()) == [f"{name}.ipynb", "executed.ipynb", "lottery_output"]
