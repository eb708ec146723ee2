"""The house rules a newcomer relies on (issue 27), checked so they stay true.

- No import cycle between modules of agent_arena, counting imports inside functions and under
  ``if TYPE_CHECKING`` (a cycle there is still two modules that must be read together).
- No module over MAX_LINES unless its docstring says why, on a line starting "Long because:".
- Every ``agent-arena`` subcommand answers ``--help`` with exit 0 and lists its options.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "agent_arena"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imported(node: ast.AST, name: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """Modules of agent_arena that one import statement in module ``name`` imports."""

    def nearest(dotted: str) -> str | None:  # a.b.C (a class) -> a.b (its module)
        while dotted and dotted not in known:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    if isinstance(node, ast.Import):
        for alias in node.names:
            if (hit := nearest(alias.name)) is not None:
                yield hit
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            # `from pkg import mod` imports the module pkg.mod, not only pkg
            if (hit := nearest(f"{source}.{alias.name}")) is not None:
                yield hit


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        graph[name] = {dep for node in ast.walk(tree)
                       for dep in _imported(node, name, is_package, known) if dep != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_import_resolution_counts_submodules_and_relative_imports():
    known = {"agent_arena", "agent_arena.server", "agent_arena.server.app", "agent_arena.tools"}
    stmt = ast.parse("from agent_arena.server import app").body[0]
    assert list(_imported(stmt, "agent_arena.x", False, known)) == ["agent_arena.server.app"]
    stmt = ast.parse("from ..tools import ToolSpec").body[0]
    assert list(_imported(stmt, "agent_arena.server.app", False, known)) == ["agent_arena.tools"]
    stmt = ast.parse("from . import app").body[0]
    assert list(_imported(stmt, "agent_arena.server", True, known)) == ["agent_arena.server.app"]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles (imports inside functions count):\n" + "\n".join(
        " <-> ".join(c) for c in found)


def test_long_modules_say_why():
    long = []
    for name, path in modules().items():
        text = path.read_text(encoding="utf-8")
        if len(text.splitlines()) <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        if not any(line.strip().startswith("Long because:") for line in doc.splitlines()):
            long.append(f"{name} ({len(text.splitlines())} lines)")
    assert not long, (f"over {MAX_LINES} lines with no 'Long because:' line in the docstring: "
                      + ", ".join(long))


# subcommand -> a word its --help must show (one of its options)
SUBCOMMANDS = {
    "serve": "server.bind", "demo": "demo.agents", "config": "key=value", "keys": "DIR",
    "eval": "eval.runs", "replay": "replay.seed", "export": "--format", "gen": "--seed",
    "env": "env.agents", "train": "--steps", "launch": "--dry-run",
}
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120",
       "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every `agent-arena SUB --help` at once (each is a fresh interpreter)."""
    procs = {sub: subprocess.Popen([sys.executable, "-m", "agent_arena.cli", *sub.split(), "--help"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=ENV, cwd=ROOT)
             for sub in [*SUBCOMMANDS, ""]}
    out = {}
    for sub, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[sub] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("sub", sorted(SUBCOMMANDS))
def test_every_subcommand_answers_help(helps, sub):
    p = helps[sub]
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"usage: agent-arena {sub}"), p.stdout + p.stderr
    assert "-h, --help" in p.stdout and SUBCOMMANDS[sub] in p.stdout, p.stdout


def test_top_level_help_lists_every_subcommand(helps):
    p = helps[""]
    assert p.returncode == 0, p.stderr
    for sub in SUBCOMMANDS:
        assert f"    {sub}" in p.stdout, (sub, p.stdout)
