"""Release a version of lottery_core: ``make release VERSION=x.y.z`` (or ``python scripts/release.py x.y.z``).

The version is written in one place, ``lottery_core/__init__.py`` (pyproject.toml reads it). A release:

1. writes the new version there;
2. moves the entries of CHANGELOG.md's "Unreleased" section under a heading ``## x.y.z - date``, with the
   sha256 of the library's sources (``lottery_core/``) as they are in that release;
3. pins every chapter's install cell and CITATION.cff to it;
4. commits these files and tags the commit ``vx.y.z`` (``--no-git``: only the files).

``python scripts/release.py --check`` says whether the library changed since the last release without a
CHANGELOG entry (the test suite runs the same check). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSION_LINE = re.compile(r'^__version__ = "([^"]+)"$', re.M)
PIN = re.compile(r"(lottery_core @ git\+\S+?@v)(\d+\.\d+\.\d+)")
HEADING = re.compile(r"^## (\d+\.\d+\.\d+) - \d{4}-\d{2}-\d{2}$", re.M)
DIGEST = re.compile(r"^<!-- lottery_core sources sha256: ([0-9a-f]{64}) -->$", re.M)
UNRELEASED = "## Unreleased"


def library_files(root: Path) -> list[Path]:
    """The files that make the library: its modules and the records shipped as package data."""
    package = root / "lottery_core"
    files = [*package.rglob("*.py"), *package.glob("records/*/*.csv"), *package.glob("records/*/*.json")]
    return sorted(f for f in files if "__pycache__" not in f.parts)


def library_digest(root: Path) -> str:
    """sha256 over the library's files (path and content, line endings made ``\\n``): the same in any clone."""
    digest = hashlib.sha256()
    for path in library_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes().replace(b"\r\n", b"\n") + b"\0")
    return digest.hexdigest()


def current_version(root: Path) -> str:
    return VERSION_LINE.search((root / "lottery_core" / "__init__.py").read_text()).group(1)


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading line, body) of each ``## `` section of the changelog, in order."""
    parts = re.split(r"^(## .*)$", text, flags=re.M)
    return list(zip(parts[1::2], parts[2::2]))


def unreleased_entries(text: str) -> list[str]:
    """The lines written under "## Unreleased" (blank lines and HTML comments aside)."""
    body = next((b for h, b in _sections(text) if h.strip() == UNRELEASED), "")
    return [line for line in body.splitlines() if line.strip() and not line.lstrip().startswith("<!--")]


def last_release(text: str) -> tuple[str | None, str | None]:
    """(version, recorded source digest) of the newest ``## x.y.z - date`` heading."""
    for heading, body in _sections(text):
        match = HEADING.match(heading)
        if match:
            digest = DIGEST.search(body)
            return match.group(1), digest.group(1) if digest else None
    return None, None


def changelog_problems(root: Path) -> list[str]:
    """Why CHANGELOG.md does not describe the library as it is (empty when it does)."""
    text = (root / "CHANGELOG.md").read_text()
    version, recorded = last_release(text)
    current = current_version(root)
    if version != current:
        return [f"CHANGELOG.md's newest release is {version}, but lottery_core.__version__ is {current}: "
                f"make release VERSION=x.y.z writes both"]
    if recorded != library_digest(root) and not unreleased_entries(text):
        return [f"lottery_core/ changed since {version} (its sources no longer have the sha256 recorded under "
                f"'## {version}'), and CHANGELOG.md's '{UNRELEASED}' section is empty: say there what changed"]
    return []


def _version_tuple(version: str) -> tuple[int, ...]:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise SystemExit(f"release: VERSION must look like 1.2.3, not {version!r}")
    return tuple(int(part) for part in version.split("."))


def _replace_once(path: Path, pattern: re.Pattern, replacement: str) -> None:
    text, count = pattern.subn(replacement, path.read_text())
    if count == 0:
        raise SystemExit(f"release: nothing to change in {path}")
    path.write_text(text)


def bump(root: Path, version: str, date: str) -> list[Path]:
    """Write ``version`` everywhere it is named and move the Unreleased entries under it; returns the files."""
    current = current_version(root)
    if _version_tuple(version) <= _version_tuple(current):
        raise SystemExit(f"release: {version} is not above the current version {current}")
    changelog = root / "CHANGELOG.md"
    if not unreleased_entries(changelog.read_text()):
        raise SystemExit(f"release: CHANGELOG.md's '{UNRELEASED}' section is empty: say what {version} changes")
    init = root / "lottery_core" / "__init__.py"
    _replace_once(init, VERSION_LINE, f'__version__ = "{version}"')
    heading = f"{UNRELEASED}\n\n## {version} - {date}\n\n<!-- lottery_core sources sha256: {library_digest(root)} -->\n"
    changelog.write_text(changelog.read_text().replace(f"{UNRELEASED}\n", heading, 1))
    citation = root / "CITATION.cff"
    _replace_once(citation, re.compile(r'^version: ".*"$', re.M), f'version: "{version}"')
    _replace_once(citation, re.compile(r'^date-released: ".*"$', re.M), f'date-released: "{date}"')
    notebooks = sorted((root / "book").glob("*.ipynb"))
    for notebook in notebooks:
        _replace_once(notebook, PIN, rf"\g<1>{version}")
    return [init, changelog, citation, *notebooks]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def release(version: str, date: str, *, git: bool) -> None:
    """Bump the files; with ``git``, on a clean tree only, commit them and tag ``v<version>``."""
    if git:
        if _git("status", "--porcelain", "--untracked-files=no").strip():
            raise SystemExit("release: commit or stash your changes first (the release commit holds only the release)")
        if _git("tag", "--list", f"v{version}").strip():
            raise SystemExit(f"release: the tag v{version} exists already")
    files = bump(ROOT, version, date)
    if git:
        _git("add", *(str(f.relative_to(ROOT)) for f in files))
        _git("commit", "-q", "-m", f"Release {version}")
        _git("tag", "-a", f"v{version}", "-m", f"lottery_core {version}")
        print(f"Tagged v{version}. Publish it (the chapters install it): git push origin HEAD v{version}")
    else:
        print(f"Wrote version {version} into {len(files)} files (no commit, no tag).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", nargs="?", help="the new version, x.y.z")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="release date (default: today)")
    parser.add_argument("--no-git", action="store_true", help="change the files only: no commit, no tag")
    parser.add_argument("--check", action="store_true", help="only check that CHANGELOG.md describes the library")
    args = parser.parse_args(argv)
    if args.check:
        problems = changelog_problems(ROOT)
        print("\n".join(problems) or "CHANGELOG.md describes the library.")
        return 1 if problems else 0
    if args.version is None:
        parser.error("give the new version (x.y.z), or --check")
    release(args.version, args.date, git=not args.no_git)
    return 0


if __name__ == "__main__":
    sys.exit(main())
