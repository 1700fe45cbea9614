"""The library's shape rules: no function over 50 lines, no block of six code lines written twice."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "lottery_core"
MAX_FUNCTION_LINES = 50
MIN_REPEAT = 6


def library() -> dict[str, str]:
    """Every module of the package, the book's support (``lottery_core/book``) included."""
    return {str(p.relative_to(LIBRARY)): p.read_text() for p in sorted(LIBRARY.rglob("*.py"))}


def long_functions(files: dict[str, str]) -> list[str]:
    """``file:line name (n lines)`` of every function over MAX_FUNCTION_LINES (decorators, docstring included)."""
    out = []
    for name, text in files.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - min([node.lineno, *(d.lineno for d in node.decorator_list)]) + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    return out


def code_lines(text: str) -> list[tuple[int, str]]:
    """(line number, text with white space folded) of the lines that carry code: blank lines, comments,
    imports and lone brackets are passed over, as they repeat without repeating logic."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        folded = " ".join(line.split())
        if folded and not folded.startswith(("#", "import ", "from ")) and folded not in {")", "]", "}", "),", "],"}:
            out.append((number, folded))
    return out


def repeated_blocks(files: dict[str, str]) -> list[list[str]]:
    """The places (``file:line``) of every run of MIN_REPEAT code lines that stands in more than one place."""
    seen = defaultdict(list)
    for name, text in files.items():
        lines = code_lines(text)
        for i in range(len(lines) - MIN_REPEAT + 1):
            seen[tuple(line for _, line in lines[i : i + MIN_REPEAT])].append(f"{name}:{lines[i][0]}")
    return [places for places in seen.values() if len(places) > 1]


def test_no_function_is_longer_than_50_lines():
    assert long_functions(library()) == []


def test_no_block_of_six_code_lines_repeats():
    assert repeated_blocks(library()) == []


def test_the_checks_find_what_they_look_for():
    block = "\n".join(f"    x{i} = {i}  # step {i}" for i in range(MIN_REPEAT))
    assert repeated_blocks({"a.py": f"def f():\n{block}\n", "b.py": f"def g():\n\n{block}\n"}) == [["a.py:2", "b.py:3"]]
    shorter = "\n".join(block.splitlines()[1:])
    assert repeated_blocks({"a.py": f"def f():\n{shorter}\n", "b.py": f"def g():\n{shorter}\n"}) == []
    long = "@decorated\ndef f():\n" + "\n".join(f"    y = {i}" for i in range(MAX_FUNCTION_LINES - 1))
    assert long_functions({"c.py": long}) == [f"c.py:2 f ({MAX_FUNCTION_LINES + 1} lines)"]
    assert long_functions({"c.py": long.replace("@decorated\n", "")}) == []
