"""The backend lifecycle (issue 27): every backend is started and closed the same way.

``Backend.start()`` loads, connects or checks health; ``Backend.close()`` frees what start
took; both are coroutines and ``async with backend:`` runs them. Nothing probes a backend for a
``load`` or ``start`` method any more (an ast scan), and child processes are started in one
place, agent_arena.launch.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
from pathlib import Path

import pytest

from agent_arena.backends import ScriptedBackend, backend_classes, list_backends
from agent_arena.backends.base import Backend

ROOT = Path(__file__).resolve().parents[2]
# the backends with something to load, connect or free: each implements start and close
LOADS = {"xllamacpp", "llama_cpp", "llama_server", "vllm_engine"}
HTTP = {"vllm", "sglang", "openai", "llama_server"}  # an HTTP client to close
PROBED = {"load", "start", "aclose", "unload"}


@pytest.mark.parametrize("name", list_backends())
def test_every_backend_has_the_lifecycle(name: str) -> None:
    cls, _ = backend_classes(name)
    for method in ("start", "close", "__aenter__", "__aexit__"):
        assert inspect.iscoroutinefunction(getattr(cls, method)), (name, method)
    if name in LOADS:
        assert cls.start is not Backend.start, f"{name} loads something: it implements start"
    if name in LOADS | HTTP:
        assert cls.close is not Backend.close, f"{name} holds something: it implements close"


class Counting(ScriptedBackend):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    @property
    def starting(self) -> str | None:
        return "loading the model"

    async def start(self) -> None:
        self.calls.append("start")

    async def close(self) -> None:
        self.calls.append("close")


def test_async_with_starts_and_closes() -> None:
    backend = Counting()

    async def go() -> None:
        async with backend as b:
            assert b is backend and backend.calls == ["start"]

    asyncio.run(go())
    assert backend.calls == ["start", "close"]


def test_the_defaults_do_nothing() -> None:
    async def go() -> None:
        async with ScriptedBackend() as b:
            assert await b.check()

    asyncio.run(go())


def test_serve_prepares_a_backend_by_starting_it() -> None:
    from agent_arena.cli.serve import prepare

    backend = Counting()
    said: list[str] = []
    asyncio.run(prepare(backend, said.append))
    assert backend.calls == ["start"]
    assert said[0].startswith("loading the model (backend=scripted") and "took" in said[-1]
    quiet = ScriptedBackend()  # nothing worth waiting for: no lines
    said.clear()
    asyncio.run(prepare(quiet, said.append))
    assert said == []


def test_eval_starts_its_backend_and_closes_it(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    """A command that owns a backend starts it before the first decision and closes it."""
    import agent_arena.backends as backends
    from agent_arena.cli import main

    made: list[Counting] = []

    def create(settings: object) -> Counting:
        made.append(Counting())
        return made[-1]

    monkeypatch.setattr(backends, "create_backend", create)
    main(["eval", str(ROOT / "tests/data/eval_small.yaml"), f"eval.out={tmp_path}"])
    assert [b.calls for b in made] == [["start", "close"]]


def _probes(path: Path) -> list[str]:
    """``getattr(x, "load")``, ``hasattr(x, "start")``... and ``x.aclose()`` on a backend."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2:
            arg = node.args[1]
            if isinstance(arg, ast.Constant) and arg.value in PROBED:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} "
                             f"{node.func.id}(..., {arg.value!r})")
        if isinstance(node, ast.Attribute) and node.attr == "aclose" \
                and "backend" in ast.unparse(node.value):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {ast.unparse(node)}")
    return found


def _sources() -> list[Path]:
    dirs = [ROOT / "python" / "agent_arena", ROOT / "bench", ROOT / "tools", ROOT / "tests"]
    return sorted([p for d in dirs for p in d.rglob("*.py")] + [ROOT / "run_vllm_server.py"])


def test_nothing_probes_a_backend_for_its_lifecycle() -> None:
    found = [hit for p in _sources() if p.name != "test_lifecycle.py" for hit in _probes(p)]
    assert not found, "call backend.start() / await backend.close():\n" + "\n".join(found)


def test_the_probe_finder_finds_probes(tmp_path: Path) -> None:
    global ROOT
    src = tmp_path / "x.py"
    src.write_text("load = getattr(backend, 'load', None)\nhasattr(b, 'start')\n"
                   "async def f(backend):\n    await backend.aclose()\n")
    root, ROOT = ROOT, tmp_path
    try:
        assert len(_probes(src)) == 3
    finally:
        ROOT = root


def test_child_processes_start_in_one_place() -> None:
    """agent_arena.launch.process starts, waits for and stops every child; nothing else in the
    package or the test helpers calls subprocess.Popen for a server."""
    from agent_arena.launch import process

    assert hasattr(process, "ServerProcess") and hasattr(process, "ChildProcess")
    assert not (ROOT / "python" / "agent_arena" / "backends" / "process.py").exists()
    popen = []
    for path in [ROOT / "tests" / "support" / "vllm_fixture.py",
                 ROOT / "tests" / "support" / "llama_server_fixture.py",
                 ROOT / "tests" / "integration" / "test_godot_e2e.py",
                 ROOT / "tools" / "godot_web" / "demo_web.py",
                 ROOT / "run_vllm_server.py"]:
        if "Popen(" in path.read_text(encoding="utf-8") or "killpg" in path.read_text():
            popen.append(str(path.relative_to(ROOT)))
    assert not popen, f"start children through agent_arena.launch.process: {popen}"


def test_launch_is_a_thin_shim_target() -> None:
    """run_vllm_server.py stays (the seed's helper script) and only calls launch."""
    text = (ROOT / "run_vllm_server.py").read_text(encoding="utf-8")
    assert "agent_arena.launch" in text and len(text.splitlines()) < 60
