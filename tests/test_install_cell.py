"""Every chapter's install cell tells why pip failed: a tag missing from the repository (naming both), a repository
that is not there, or no network. The pip messages below are what pip printed for each case."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
import yaml

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
REPOSITORY = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
TAG = f"v{lc.__version__}"

# pip 26, `pip install -q "lottery_core @ git+<repository>@<tag>"`: the tag missing (a local repository), then no
# network (a machine without a route to github.com).
TAG_MISSING = f"""  error: subprocess-exited-with-error

  × git checkout -q {TAG} did not run successfully.
  │ exit code: 1
  ╰─> [1 lines of output]
      error: pathspec '{TAG}' did not match any file(s) known to git
      [end of output]
ERROR: Failed to build 'lottery_core' when git checkout -q {TAG}
"""
NO_NETWORK = f"""  × git clone --filter=blob:none --quiet {REPOSITORY} /tmp/pip-x did not run successfully.
  │ exit code: 128
  ╰─> [1 lines of output]
      fatal: unable to access '{REPOSITORY}/': Could not resolve host: github.com
      [end of output]
"""
NO_REPOSITORY = f"""      remote: Repository not found.
      fatal: repository '{REPOSITORY}/' not found
"""
REASONS = {
    "tag missing": (TAG_MISSING, f"the tag {TAG} does not exist in {REPOSITORY} (its tags are listed at "
                                 f"{REPOSITORY}/tags)"),
    "no network": (NO_NETWORK, "there is no network connection: connect, then run this cell again"),
    "no repository": (NO_REPOSITORY, f"the repository {REPOSITORY} was not found"),
    "other": ("ERROR: No space left on device", "see what pip said below"),
}


def install_source(path: Path) -> str:
    cells = [c for c in json.loads(path.read_text())["cells"] if "PACKAGE = " in "".join(c["source"])]
    assert len(cells) == 1, path.name
    return "".join(cells[0]["source"])


def test_every_install_cell_is_the_same():
    assert len({install_source(p) for p in NOTEBOOKS}) == 1


@pytest.mark.parametrize("stderr, reason", REASONS.values(), ids=REASONS.keys())
def test_the_message_says_why_pip_failed(stderr, reason, monkeypatch):
    def fake_run(args, **kwargs):
        return subprocess.CompletedProcess(args, 1, stdout="", stderr=stderr)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    monkeypatch.setattr(subprocess, "run", fake_run)
    with pytest.raises(SystemExit) as stopped:
        exec(compile(install_source(NOTEBOOKS[0]), "install cell", "exec"), {})
    message = str(stopped.value)
    assert message.startswith(f"Could not install lottery_core @ git+{REPOSITORY}@{TAG}: {reason}")
    assert stderr.strip()[-200:] in message
    others = [other for _, other in REASONS.values() if other != reason]
    assert not any(other in message for other in others)


def test_the_cell_names_the_colab_cache():
    assert "LOTTERY_CACHE" in install_source(NOTEBOOKS[0])
    readme = (ROOT / "README.md").read_text()
    assert 'drive.mount("/content/drive")' in readme and 'os.environ["LOTTERY_CACHE"]' in readme
