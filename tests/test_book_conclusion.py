"""The conclusion's plumbing (lottery_core.book.conclusion): reading the chapters' metrics, running the
chapters that are missing with papermill when their notebooks are at hand, and saying which to run when they
are not. No traceback in any case."""

from __future__ import annotations

import json

import nbformat
import pytest

from lottery_core.book import conclusion


def fake_chapter(folder, name, *, fail=False):
    """A notebook with a parameters cell and a last cell that writes its metrics (or raises)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("metrics_path = None")
    params.metadata["tags"] = ["parameters"]
    body = ("raise RuntimeError('no data here')" if fail else
            "import json, pathlib\n"
            f"pathlib.Path(metrics_path).write_text(json.dumps({{'findings': ['{name} ran']}}))")
    nb.cells = [params, nbformat.v4.new_code_cell(body)]
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_present_metrics_are_read_and_broken_files_count_as_missing(tmp_path, capsys):
    (tmp_path / "a.json").write_text(json.dumps({"findings": ["x"]}))
    (tmp_path / "b.json").write_text("{not json")
    found, missing = conclusion.gather_metrics(["a", "b", "c"], metrics_dir=tmp_path, run_missing=False)
    assert found == {"a": {"findings": ["x"]}} and missing == ["b", "c"]
    message = capsys.readouterr().out
    assert "b.ipynb" in message and "c.ipynb" in message and "a.ipynb" not in message


@pytest.mark.notebook
def test_missing_chapters_beside_the_page_are_run_then_read(tmp_path, capsys):
    notebooks, metrics = tmp_path / "book", tmp_path / "out" / "metrics"
    notebooks.mkdir()
    metrics.mkdir(parents=True)
    (metrics / "first.json").write_text(json.dumps({"findings": ["first was there"]}))
    fake_chapter(notebooks, "second")
    fake_chapter(notebooks, "third", fail=True)
    found, missing = conclusion.gather_metrics(["first", "second", "third", "fourth"], metrics_dir=metrics,
                                           notebooks_dir=notebooks)
    assert found["second"] == {"findings": ["second ran"]} and found["first"]["findings"] == ["first was there"]
    assert missing == ["third", "fourth"]  # third failed, fourth has no notebook
    out = capsys.readouterr().out
    assert "third stopped with RuntimeError: no data here" in out
    assert "Traceback" not in out
    assert (tmp_path / "out" / "executed" / "second.ipynb").is_file()
    # with run_missing=False nothing is executed
    (metrics / "second.json").unlink()
    _, missing = conclusion.gather_metrics(["second"], metrics_dir=metrics, notebooks_dir=notebooks, run_missing=False)
    assert missing == ["second"] and not (metrics / "second.json").exists()


def test_words_by_density_group_the_densities_by_verdict():
    below = {"mean": -0.02, "low": -0.03, "high": -0.01, "n": 5}
    level = {"mean": 0.01, "low": -0.01, "high": 0.03, "n": 5}
    words = {"above": "higher", "below": "lower", "level": "no clear difference"}
    assert conclusion.words_by_density({"7": below, "3": level}, {"3": 0.5, "7": 0.2}, **words) == {
        "no clear difference": ["50.0%"], "lower": ["20.0%"]}
