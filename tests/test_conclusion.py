"""The conclusion page (book/conclusion.ipynb) trains nothing: it reads the metrics the chapters wrote, shows each
chapter's claims table, and answers the seed question from chapter 6. Run on real small chapter runs it must show
them all; with nothing to read it must say which chapters to run, without a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lottery_core import book
from lottery_core.book import conclusion

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = list(conclusion.BOOK_CHAPTERS)


def run_conclusion(out: Path, **parameters) -> tuple[dict, dict]:
    """Execute the conclusion with ``parameters``; return its metrics and the executed notebook."""
    import papermill

    metrics, executed = out / "conclusion.json", out / "conclusion.out.ipynb"
    papermill.execute_notebook(str(BOOK / "conclusion.ipynb"), str(executed),
                               parameters={"metrics_path": str(metrics), **parameters}, cwd=str(BOOK),
                               kernel_name="python3", progress_bar=False)
    return json.loads(metrics.read_text()), json.loads(executed.read_text())


def outputs(notebook: dict) -> str:
    texts = []
    for cell in notebook["cells"]:
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            texts.append("".join(o.get("text", "")) + "".join(data.get("text/markdown", ""))
                         + "".join(data.get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.notebook
def test_the_page_shows_every_chapters_claims(chapter_metrics_dir, chapter_metrics, tmp_path):
    metrics, notebook = run_conclusion(tmp_path, metrics_dir=str(chapter_metrics_dir), run_missing=False)
    assert metrics["chapters_read"] == sorted(CHAPTERS) and metrics["missing"] == []
    shown = outputs(notebook)
    every = dict(chapter_metrics)
    for name, claims in [*book.CHAPTERS.items(), ("conclusion", book.PAGES["conclusion"])]:
        holding = sum(claim.evaluate(claims.metrics_of(every)).holds for claim in claims)
        assert f"{holding} of {len(claims)} hold for this run" in shown, name
        assert all(claim.id in shown for claim in claims), name
    m6 = chapter_metrics["06_sqrt10_magnitude"]
    assert metrics["seed_question"] == conclusion.seed_question_metrics(m6)


@pytest.mark.notebook
def test_without_metrics_the_page_names_the_chapters_to_run(tmp_path):
    empty = tmp_path / "metrics"
    empty.mkdir()
    metrics, notebook = run_conclusion(tmp_path, metrics_dir=str(empty), notebooks_dir=str(tmp_path))
    assert metrics["chapters_read"] == [] and metrics["missing"] == CHAPTERS
    shown = outputs(notebook)
    assert "No results yet from Chapter 1 (01_dense_baseline.ipynb)" in shown and "07_rewinding.ipynb" in shown
    assert "Traceback" not in shown and not any(o["output_type"] == "error" for c in notebook["cells"]
                                                for o in c.get("outputs", []))
