"""The two layers: the core library (``lottery_core``) and the book's support beside it (``lottery_core/book``).

The core never imports the book's support, no module imports another in a circle, nothing is imported inside a
function except optional dependencies, ``lottery_core`` exports the core's names only, and the core stays small
enough to hold in one's head (DESIGN.md, "lottery_core layout")."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import lottery_core as lc

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lottery_core"
OUTSIDE_THE_CORE = {"sweep.py", "__main__.py"}  # optional: Ray sweeps and the command line
# The core at most 2,400 non-blank lines (code, docstrings and comments), plus up to 400 for the stability and
# pruning-at-initialisation analysis.
CORE_TARGET, LATER_ALLOWANCE = 2400, 400
LATER = {"stability.py", "saliency.py"}
# Imported inside functions on purpose: optional extras, or dependencies of one dataset or one display only.
OPTIONAL = {"ray", "papermill", "torchvision", "IPython", "ipywidgets", "tqdm", "mnist1d", "sklearn"}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def core_modules() -> list[str]:
    return [m for m, p in modules().items() if "book" not in p.relative_to(PACKAGE).parts
            and p.name not in OUTSIDE_THE_CORE]


def imports_at_module_level(name: str, path: Path) -> set[str]:
    """The package modules that ``name`` imports when it is first imported (its top-level imports)."""
    known = modules()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.module else base
            for alias in node.names:
                full = f"{target}.{alias.name}"
                out.add(full if full in known else target)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            out |= {n for n in names if n in known}
    return out - {name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import circle of ``graph`` (module -> modules it imports), each as the path that closes it."""
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt] if nxt in path else [node, nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return found


def test_no_import_circle():
    # A package imports its submodules (``lottery_core/__init__`` exports their names); submodules may import
    # from their package only what is not a submodule of it, which would close a circle through __init__.
    graph = {name: imports_at_module_level(name, path) for name, path in modules().items()}
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_every_core_module_imports_with_the_book_blocked():
    script = f"""
import importlib, importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "lottery_core.book" or name.startswith("lottery_core.book."):
            raise ImportError(f"the core imported {{name}}")
        for heavy in ("matplotlib", "seaborn", "papermill"):
            if name == heavy:
                raise ImportError(f"the core imported {{name}}")
        return None

sys.meta_path.insert(0, Block())
for name in {core_modules() + ["lottery_core.sweep", "lottery_core.__main__"]!r}:
    importlib.import_module(name)
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_nothing_is_imported_inside_a_function_but_optional_dependencies():
    found = []
    for name, path in modules().items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.Import):
                    roots = {a.name.split(".")[0] for a in node.names}
                elif isinstance(node, ast.ImportFrom):
                    roots = {"." if node.level else (node.module or "").split(".")[0]}
                else:
                    continue
                if roots - OPTIONAL:
                    found.append(f"{name}:{node.lineno} {ast.unparse(node)}")
    assert found == []


def test_the_package_exports_the_core_only():
    for name in lc.__all__:
        assert not getattr(getattr(lc, name), "__module__", "lottery_core").startswith("lottery_core.book"), name


def test_the_core_does_not_grow():
    """Non-blank lines (code, docstrings and comments) of every module of ``lottery_core`` except the book's
    support (``lottery_core/book``), ``sweep.py`` and ``__main__.py``: the core proper, and the stability and
    pruning-at-initialisation modules, each within its allowance."""
    lines = {m: sum(1 for line in modules()[m].read_text().splitlines() if line.strip()) for m in core_modules()}
    later = sum(n for m, n in lines.items() if modules()[m].name in LATER)
    core = sum(lines.values()) - later
    assert core <= CORE_TARGET, sorted(lines.items(), key=lambda kv: -kv[1])
    assert later <= LATER_ALLOWANCE, later


def test_every_module_comes_from_this_tree():
    """Importing every module loads nothing from elsewhere: an editable install of another checkout would
    otherwise quietly supply a module that this tree has moved or removed."""
    script = f"""
import importlib, sys
for name in {sorted(modules())!r}:
    importlib.import_module(name)
print("\\n".join(sorted(f"{{n}} {{m.__file__}}" for n, m in sys.modules.items()
                        if n.startswith("lottery_core") and not (m.__file__ or "").startswith({str(PACKAGE)!r}))))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == ""
