"""The README is the reader's landing page: one Colab badge per chapter, each opening that chapter's notebook in
the repository that _config.yml names (the same link as the book's launch button)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC_FILES = re.findall(r"file:\s*(\S+)", (ROOT / "_toc.yml").read_text())
NOTEBOOKS = [f for f in TOC_FILES if (ROOT / f"{f}.ipynb").exists()]  # pages that open on Colab
CHAPTERS = [f for f in NOTEBOOKS if re.fullmatch(r"book/\d\d_\w+", f)]  # the numbered chapters
BADGE = re.compile(r"\[!\[Open In Colab\]\(https://colab\.research\.google\.com/assets/colab-badge\.svg\)\]\(([^)]+)\)")


def colab_url(notebook: str) -> str:
    repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    branch = CONFIG["repository"].get("branch", "main")
    return f"https://colab.research.google.com/github/{repo}/blob/{branch}/{notebook}"


def test_every_badge_opens_a_notebook_of_the_book_in_the_configured_repository():
    links = BADGE.findall(README)
    expected = {colab_url(f"{notebook}.ipynb") for notebook in NOTEBOOKS}
    assert [link for link in links if link not in expected] == []
    assert len(links) == len(set(links))


def test_every_chapter_has_a_badge_in_reading_order():
    links = BADGE.findall(README)
    assert len(CHAPTERS) >= 7
    chapter_links = [link for link in links if re.search(r"/book/\d\d_", link)]
    assert chapter_links == [colab_url(f"{chapter}.ipynb") for chapter in CHAPTERS]


def test_no_other_colab_link_points_elsewhere():
    every_link = re.findall(r"https://colab\.research\.google\.com/github/[^)\s]+", README)
    assert set(every_link) == set(BADGE.findall(README))


def test_readme_links_to_files_that_exist():
    targets = re.findall(r"\]\(((?!https?://)[^)#]+)\)", README)
    assert targets, "the README links to no file of the repository"
    assert [t for t in targets if not (ROOT / t).exists()] == []


def test_readme_opens_with_the_reader_and_names_the_system_packages():
    assert README.index("## Chapters") < README.index("## Read or run one chapter") < README.index("## For maintainers")
    for package in ("python3-venv", "chromium", "dataset-fashion-mnist"):
        assert f" {package}" in README
    assert "benchmarks/README.md" in README and "| ratio" not in README  # the speed tables live there
