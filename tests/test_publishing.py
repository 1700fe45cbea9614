"""What a published repository needs: GitHub workflows that lint clean, the Pages link in the README, the MIT
licence declared the same way everywhere, a CITATION.cff valid under its schema, and declared dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

import lottery_core as lc

tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11")
ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
BIN = Path(sys.executable).parent


def tool(name: str, *args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """Run a linter installed beside this Python (requirements.txt installs them)."""
    return subprocess.run([str(BIN / name), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def uses(data: dict) -> dict[str, dict]:
    """Action name (without its version) -> the step that uses it, over every job."""
    steps = [step for job in data["jobs"].values() for step in job.get("steps", [])]
    return {step["uses"].split("@")[0]: step for step in steps if "uses" in step}


def pages_url() -> str:
    """The GitHub Pages address of the repository that _config.yml names."""
    owner, repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/").split("/")
    return f"https://{owner}.github.io/{repo}/"


def test_workflows_pass_both_linters():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [f.name for f in files] == ["book.yml", "tests.yml"]
    done = tool("zizmor", "--offline", WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    done = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_linters_catch_broken_workflows(tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "zizmor.yml").write_text((ROOT / ".github" / "zizmor.yml").read_text())
    bad_key = tmp_path / ".github" / "workflows" / "typo.yml"
    bad_key.write_text("on: push\njobs:\n  t:\n    runs-on: ubuntu-24.04\n    step:\n      - run: make test\n")
    assert tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", bad_key).returncode != 0
    injection = tmp_path / ".github" / "workflows" / "inject.yml"
    injection.write_text("on: pull_request_target\npermissions: {}\njobs:\n  t:\n    runs-on: ubuntu-24.04\n"
                         "    steps:\n      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    bad_key.unlink()
    assert tool("zizmor", "--offline", tmp_path / ".github" / "workflows", cwd=tmp_path).returncode != 0


def test_tests_run_make_test_on_push_and_pull_request_with_pip_caching():
    data = workflow("tests.yml")
    assert {"push", "pull_request"} <= set(data["on"])
    steps = uses(data)
    assert steps["actions/setup-python"]["with"]["cache"] == "pip"
    assert "constraints.txt" in steps["actions/setup-python"]["with"]["cache-dependency-path"]
    runs = [s.get("run", "") for job in data["jobs"].values() for s in job["steps"]]
    assert any(r.startswith("make test") for r in runs)


def test_book_is_built_checked_and_deployed_to_pages():
    data = workflow("book.yml")
    steps = uses(data)
    assert {"actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages"} <= set(steps)
    assert steps["actions/upload-pages-artifact"]["with"]["path"] == "_build/html"
    build = [s.get("run", "") for s in data["jobs"]["build"]["steps"]]
    assert build.index("make book PYTHON_SYS=python") < build.index("make claims")
    deploy = data["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert data["permissions"] == {"contents": "read"}


def test_readme_links_the_published_book():
    assert pages_url() == "https://lottery-tickets-hands-on.github.io/lottery-tickets-hands-on/"
    assert f"]({pages_url()})" in (ROOT / "README.md").read_text()


def test_mit_licence_everywhere():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n\nCopyright (c) ")
    project = PYPROJECT["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    # setuptools reads an SPDX string and license-files from version 77 on
    assert PYPROJECT["build-system"]["requires"] == ["setuptools>=77"]


def test_citation_is_valid_and_current(tmp_path):
    cff = ROOT / "CITATION.cff"
    done = tool("check-jsonschema", "--builtin-schema", "vendor.citation-file-format", cff)
    assert done.returncode == 0, done.stdout + done.stderr
    data = yaml.safe_load(cff.read_text())
    assert data["version"] == lc.__version__ and data["license"] == "MIT"
    assert data["repository-code"] == CONFIG["repository"]["url"] and data["url"] == pages_url()
    broken = tmp_path / "CITATION.cff"
    broken.write_text(yaml.safe_dump({k: v for k, v in data.items() if k != "authors"}))
    assert tool("check-jsonschema", "--builtin-schema", "vendor.citation-file-format", broken).returncode != 0


def test_every_import_is_declared():
    dependencies = " ".join(PYPROJECT["project"]["dependencies"])
    assert "scipy>=" in dependencies  # lottery_core.analysis imports scipy.stats
    assert any(r.startswith("papermill") for r in PYPROJECT["project"]["optional-dependencies"]["lab"])


def test_without_papermill_the_conclusion_names_the_lab_extra(monkeypatch, tmp_path):
    from lottery_core.book.conclusion import run_chapters

    monkeypatch.setitem(sys.modules, "papermill", None)
    with pytest.raises(ImportError, match=r"pip install 'lottery_core\[lab\]'"):
        run_chapters(["01_dense_baseline"], tmp_path, tmp_path / "metrics")


@pytest.mark.parametrize("path", ["book/lottery_output/runs/x.pt", "lottery_output/metrics/x.json", "build/lib/x.py"])
def test_run_outputs_are_ignored_by_git(path):
    done = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT)
    assert done.returncode == 0, f"{path} is not in .gitignore"
