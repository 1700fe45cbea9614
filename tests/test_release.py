"""Versions that mean something: the CHANGELOG describes the library as it is, ``make release`` writes a version
everywhere it is named, and constraints.txt pins what requirements.txt asks for.

How "the library changed without a CHANGELOG entry" is detected: a fresh clone (as in CI) may have no tags, and
the git history may be shallow, so the check uses neither. Each release heading in CHANGELOG.md records the
sha256 of the library's files (``lottery_core/``: modules and shipped records) at that release. When the files
no longer have that hash, the "Unreleased" section must say what changed. The check needs only the working tree.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("release", ROOT / "scripts" / "release.py")
release = importlib.util.module_from_spec(spec)
spec.loader.exec_module(release)


def test_the_changelog_describes_the_library_as_it_is():
    assert release.changelog_problems(ROOT) == []
    assert release.last_release((ROOT / "CHANGELOG.md").read_text())[0] == lc.__version__


@pytest.fixture
def tree(tmp_path) -> Path:
    """A copy of the files a release touches."""
    for part in ("lottery_core", "book"):
        shutil.copytree(ROOT / part, tmp_path / part, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("CHANGELOG.md", "CITATION.cff"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_a_library_change_without_an_entry_is_caught(tree):
    changelog = tree / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## Unreleased\n", "## Unreleased\n\n- a change\n", 1))
    release.bump(tree, "99.0.0", "2030-01-02")
    assert release.changelog_problems(tree) == []  # just released: the recorded hash is the library's
    (tree / "lottery_core" / "models.py").write_text((tree / "lottery_core" / "models.py").read_text() + "\n# x\n")
    (problem,) = release.changelog_problems(tree)
    assert "lottery_core/ changed since 99.0.0" in problem and "'## Unreleased' section is empty" in problem
    changelog.write_text(changelog.read_text().replace("## Unreleased\n", "## Unreleased\n\n- models: x\n", 1))
    assert release.changelog_problems(tree) == []


def test_release_writes_the_version_everywhere(tree):
    text = (tree / "CHANGELOG.md").read_text()
    (tree / "CHANGELOG.md").write_text(text.replace("## Unreleased\n", "## Unreleased\n\n- a change\n", 1))
    changed = release.bump(tree, "99.0.0", "2030-01-02")
    assert {p.name for p in changed} >= {"__init__.py", "CHANGELOG.md", "CITATION.cff", "01_dense_baseline.ipynb"}
    assert release.current_version(tree) == "99.0.0"
    text = (tree / "CHANGELOG.md").read_text()
    assert release.unreleased_entries(text) == []
    version, digest = release.last_release(text)
    assert (version, digest) == ("99.0.0", release.library_digest(tree))
    assert text.index("## Unreleased") < text.index("## 99.0.0 - 2030-01-02") < text.index("- a change")
    assert 'version: "99.0.0"' in (tree / "CITATION.cff").read_text()
    for notebook in sorted((tree / "book").glob("*.ipynb")):
        source = json.loads(notebook.read_text())
        pins = re.findall(r"git\+\S+@(v[\d.]+)\"", "".join("".join(c["source"]) for c in source["cells"]))
        assert pins == ["v99.0.0"], notebook.name


def test_release_refuses_what_it_cannot_do(tree):
    with pytest.raises(SystemExit, match="look like 1.2.3"):
        release.bump(tree, "1.0", "2030-01-02")
    with pytest.raises(SystemExit, match="not above the current version"):
        release.bump(tree, lc.__version__, "2030-01-02")
    text = (tree / "CHANGELOG.md").read_text()
    head, _, rest = text.partition("## Unreleased\n")
    (tree / "CHANGELOG.md").write_text(head + "## Unreleased\n\n" + rest[rest.index("\n## "):].lstrip("\n"))
    with pytest.raises(SystemExit, match="Unreleased' section is empty"):
        release.bump(tree, "99.0.0", "2030-01-02")


def test_make_release_runs_the_script_with_the_version():
    done = subprocess.run(["make", "-n", "release", "VERSION=9.9.9"], cwd=ROOT, capture_output=True, text=True)
    assert "scripts/release.py 9.9.9" in done.stdout
    done = subprocess.run(["make", "release"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "usage: make release VERSION=x.y.z" in done.stdout


def pins() -> dict[str, Version]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    found = (re.fullmatch(r"([A-Za-z0-9._-]+)==(\S+)", line.strip()) for line in lines)
    return {m.group(1).lower().replace("_", "-"): Version(m.group(2)) for m in found if m}


def test_constraints_pin_every_requirement_within_its_range():
    pinned = pins()
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    for requirement in map(Requirement, filter(None, lines)):
        name = requirement.name.lower().replace("_", "-")
        assert name in pinned, f"{name} is not in constraints.txt: make lock"
        assert requirement.specifier.contains(pinned[name], prereleases=True), f"{name}=={pinned[name]}: make lock"
    assert str(pinned["torch"]) == "2.14.1"


@pytest.mark.parametrize("package", ["torch", "numpy", "mnist1d", "scipy"])
def test_the_packages_that_make_the_numbers_are_the_pinned_ones(package):
    installed = Version(importlib.metadata.version(package))
    assert installed.public == str(pins()[package]), f"{package} {installed}: make test installs the lock"
