"""Pytest fixtures for the tests that run GDScript in the Godot 4.6 web runtime.

tests/conftest.py loads it as a plugin (the ``godot_runtime`` fixture); tests/integration/
test_godot_*.py import its helpers. The runtime, chromium and playwright-core are installed by
tools/godot_web/setup.sh into ~/.cache/agent-arena (never into the repository); the
``godot_runtime`` fixture runs it when something is missing. The Godot projects it runs stay in
tests/godot/ (tools/godot_web lints and benches them there).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools" / "godot_web"))

import godot_web

from agent_arena.launch.process import ChildProcess, free_port

SETUP = REPO / "tools" / "godot_web" / "setup.sh"
DEMO = REPO / "godot_plugin" / "demo"
PROBE = REPO / "tests" / "godot" / "demo_probe"


def runtime_ready() -> bool:
    runtime = all((godot_web.RUNTIME / name).exists() for name in godot_web.RUNTIME_FILES)
    playwright = godot_web.WEB_CACHE / "node" / "node_modules" / "playwright-core"
    return runtime and playwright.exists() and Path("/usr/bin/chromium").exists()


@pytest.fixture(scope="session")
def godot_runtime() -> Path:
    """The cached web runtime, set up on first use (apt-get chromium, npm packages)."""
    if not runtime_ready():
        if shutil.which("npm") is None or shutil.which("node") is None:
            pytest.fail("node and npm are required for the Godot web runtime tests")
        proc = subprocess.run(
            ["bash", str(SETUP)], check=False, capture_output=True, text=True, timeout=900
        )
        if proc.returncode != 0 or not runtime_ready():
            pytest.fail(f"tools/godot_web/setup.sh failed:\n{proc.stdout}\n{proc.stderr}")
    return godot_web.RUNTIME


def demo_probe_files() -> dict[str, bytes]:
    """The files that make the demo project a test run: the probe (tests/godot/demo_probe) at
    res://probe/ and the demo's project.godot with the probe's scene as the main scene (it holds
    the demo's own main.tscn). Pass them as ``extra`` to godot_web.collect_project (through
    run_project or DemoWeb); the demo itself knows no test switch."""
    project = (DEMO / "project.godot").read_text()
    main_scene = 'run/main_scene="res://main.tscn"'
    assert main_scene in project, "the demo's main scene moved: update the probe"
    probe_scene = 'run/main_scene="res://probe/probe.tscn"'
    files = {"res://project.godot": project.replace(main_scene, probe_scene).encode()}
    for path in sorted(PROBE.iterdir()):
        if path.suffix in {".gd", ".tscn"}:
            files[f"res://probe/{path.name}"] = path.read_bytes()
    return files


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


@pytest.fixture
def websockify_relay() -> Iterator[callable]:
    """Start websockify relays (ws port -> tcp port); all are stopped after the test."""
    procs: list[ChildProcess] = []
    exe = Path(sys.executable).with_name("websockify")

    def start(target_port: int) -> int:
        port = free_port()
        cmd = [
            str(exe) if exe.exists() else "websockify",
            f"127.0.0.1:{port}",
            f"127.0.0.1:{target_port}",
        ]
        proc = ChildProcess(cmd, name="websockify",
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        proc.start()
        procs.append(proc)
        wait_for_port(port)
        return port

    try:
        yield start
    finally:
        for proc in procs:
            proc.stop(timeout=5)
