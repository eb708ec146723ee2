"""The house rules a newcomer relies on (issue 27), checked so they stay true.

- No import cycle between modules of agent_arena, counting imports inside functions and under
  ``if TYPE_CHECKING`` (a cycle there is still two modules that must be read together).
- No module over MAX_LINES unless its docstring says why, on a line starting "Long because:".
- The test tree: no test module at the top of tests/, tests/unit needs no model, engine or child
  process, fixtures come through tests/conftest.py's ``pytest_plugins`` (never ``import # noqa``).

Every ``agent-arena`` subcommand answering ``--help`` runs child processes:
tests/integration/test_cli_help.py.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
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


# ---- the test tree (tests/unit, tests/integration, tests/support) ------------------------------

TESTS = ROOT / "tests"
HEAVY_MARKS = {"llama", "llama_server", "vllm", "sglang", "godot"}


def _fixture_noqa_imports(path: Path) -> list[str]:
    """Imports silenced with ``# noqa`` for an unused name (F401) or a shadowed one (F811), or
    with a bare ``# noqa``: how a fixture is pulled in by import. E402 (an import after
    ``pytest.importorskip``) is about position, not fixtures, and is allowed."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    found = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        for line in lines[node.lineno - 1:node.end_lineno]:
            noqa = line.partition("# noqa")[2] if "# noqa" in line else None
            if noqa is not None and (not noqa.startswith(":") or "F401" in noqa or "F811" in noqa):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {line.strip()}")
    return found


def _marks_and_imports(path: Path) -> tuple[set[str], set[str]]:
    """The ``pytest.mark.NAME`` names a module uses and the top-level modules it imports."""
    marks, imports = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
                and node.value.attr == "mark"):
            marks.add(node.attr)
        elif isinstance(node, ast.Import):
            imports |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imports.add(node.module.split(".")[0])
    return marks, imports


def test_no_test_module_at_the_top_of_tests():
    flat = sorted(p.name for p in TESTS.glob("test_*.py"))
    assert not flat, f"tests/ holds test modules; put them in tests/unit or tests/integration: {flat}"


def test_no_test_module_imports_a_fixture_with_noqa():
    found = [f for p in sorted(TESTS.rglob("*.py")) for f in _fixture_noqa_imports(p)]
    assert not found, ("fixtures come from tests/conftest.py's pytest_plugins, not imports "
                       "silenced with noqa:\n" + "\n".join(found))


def test_the_noqa_finder_finds_fixture_imports(tmp_path: Path):
    global ROOT
    code = ("from a import b  # noqa: F401\nfrom c import (  # noqa: F401\n    d)\n"
            "import e  # noqa: E402\nimport f  # noqa\n")
    (tmp_path / "m.py").write_text(code)
    root, ROOT = ROOT, tmp_path
    try:
        assert [f.split(": ", 1)[0] for f in _fixture_noqa_imports(tmp_path / "m.py")] == \
            ["m.py:1", "m.py:2", "m.py:5"]
    finally:
        ROOT = root


def test_unit_tests_need_no_model_engine_or_child_process():
    """tests/unit runs in seconds anywhere: no heavy marker, no subprocess."""
    found = []
    for path in sorted((TESTS / "unit").glob("test_*.py")):
        marks, imports = _marks_and_imports(path)
        if marks & HEAVY_MARKS or "subprocess" in imports:
            found.append(f"{path.name}: {sorted(marks & HEAVY_MARKS)} "
                         f"{'subprocess' if 'subprocess' in imports else ''}")
    assert (TESTS / "unit").is_dir() and not found, found


def test_every_fixture_module_of_support_is_a_plugin():
    """A helper module that defines fixtures is named in tests/conftest.py's pytest_plugins (and
    all such modules live in tests/support/)."""
    tree = ast.parse((TESTS / "conftest.py").read_text(encoding="utf-8"))
    plugins = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                    and any(getattr(t, "id", "") == "pytest_plugins" for t in n.targets)), [])
    defining = sorted(
        p.relative_to(TESTS).with_suffix("").as_posix().replace("/", ".")
        for p in TESTS.rglob("*.py")
        if not p.name.startswith("test_") and p.name != "conftest.py"
        and "@pytest.fixture" in p.read_text(encoding="utf-8"))
    assert defining and all(d.startswith("support.") for d in defining), defining
    assert sorted(set(defining) - set(plugins)) == [], (defining, plugins)


def test_no_test_module_rebinds_a_fixture():
    """``godot_runtime = harness.godot_runtime`` is a fixture import by another name."""
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if (isinstance(node, ast.Assign) and isinstance(node.value, ast.Attribute)
                    and [getattr(t, "id", None) for t in node.targets] == [node.value.attr]):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, found
