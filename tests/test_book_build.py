"""The book executes through jupyter-cache, but `make book` (CI, releases) empties the cache first, so every chapter
runs in every build and writes the metrics the claims tests read; `make book-cached` keeps it for authors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXECUTE = yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
CACHE = "_build/.jupyter_cache"  # where Jupyter Book 1 keeps jupyter-cache when execute.cache is not set


def recipe(target: str) -> list[str]:
    """What ``make -n target`` would run, from the book's own lines on. Run from inside another make (``make test``),
    a sub-make would also print "Entering directory" lines: the parent's make variables are left out."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=ROOT, capture_output=True, text=True,
                          check=True, env=env)
    lines = done.stdout.splitlines()
    return lines[next(i for i, line in enumerate(lines) if line.startswith(("rm -rf", "LOTTERY_CACHE="))):]


def test_the_build_uses_jupyter_cache_at_its_default_place():
    assert EXECUTE["execute_notebooks"] == "cache" and not EXECUTE.get("cache")


def test_make_book_empties_the_cache_and_the_outputs_before_building():
    first, build = recipe("book")[:2]
    assert first.startswith("rm -rf ") and CACHE in first.split() and first.split()[2].endswith("_build/lottery")
    assert "jupyter-book build" in build and "LOTTERY_CACHE=" in build


def test_make_book_cached_keeps_them():
    (build,) = recipe("book-cached")
    assert build.startswith("LOTTERY_CACHE=") and "jupyter-book build" in build
