"""The `agent-arena` command line, run as a user runs it (subprocesses for serve and demo)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from agent_arena import cli
from agent_arena.client import ArenaClient
from agent_arena.launch.process import free_port

ROOT = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).with_name("agent-arena")
CMD = [str(EXE)] if EXE.exists() else [sys.executable, "-m", "agent_arena.cli"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "COLUMNS": "200"}


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CMD, *args], capture_output=True, text=True, timeout=timeout,
                          check=False, env=ENV, cwd=ROOT)


def accepts_tcp(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_config_prints_composed_config(capsys):
    assert cli.main(["config", "backend=scripted", "server.default_deadline_ms=777"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["backend"]["type"] == "scripted"
    assert cfg["server"]["default_deadline_ms"] == 777
    assert cfg["server"]["bind"] == "tcp://127.0.0.1:5555"
    assert cfg["server"]["auth"]["mechanism"] == "none"
    assert {"move_to", "pick_up", "say", "idle"} <= set(cfg["tools"])
    assert "default" in cfg["agents"]
    assert cfg["calling"]["fallback_tool"] == "idle"


@pytest.mark.parametrize("override,words", [
    ("nosuchkey=1", ["nosuchkey"]),
    ("backend=nope", ["backend/nope", "scripted"]),  # lists the available choices
    ("server.bind", ["server.bind"]),  # no "=value"
])
def test_bad_override_is_a_clear_error(capsys, override, words):
    assert cli.main(["config", override]) == 2
    err = capsys.readouterr().err
    assert err.startswith("agent-arena: error:")
    assert "Traceback" not in err
    for w in words:
        assert w in err


def test_mistyped_override_is_refused():
    from agent_arena import settings
    from agent_arena.errors import ConfigError

    with pytest.raises(ConfigError, match="max_pending"):
        settings.server_config(settings.compose(["server.max_pending=lots"]))


def test_bad_override_exit_code_in_a_real_process():
    p = run("serve", "backend=scripted", "server.nosuch=1")
    assert p.returncode == 2
    assert "agent-arena: error:" in p.stderr and "nosuch" in p.stderr
    assert "Traceback" not in p.stderr


def test_unknown_command_and_usage(capsys):
    assert cli.main(["fly"]) == 2
    assert "unknown command 'fly'" in capsys.readouterr().err
    assert cli.main(["--help"]) == 0
    assert "agent-arena serve" in capsys.readouterr().out


def test_serve_refuses_public_bind_without_auth():
    p = run("serve", "server.bind=tcp://0.0.0.0:0")
    assert p.returncode != 0
    assert "refusing to bind tcp://0.0.0.0:0 without authentication" in p.stderr
    assert "server.auth.mechanism=plain" in p.stderr
    assert "Traceback" not in p.stderr
    assert "loaded" not in p.stderr  # refused before the model was loaded


def test_demo_with_scripted_backend():
    p = run("demo", "backend=scripted", "demo.ticks=2", "demo.agents=3")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    decisions = [ln for ln in lines if ln.startswith("tick ")]
    assert len(decisions) == 6  # 3 agents x 2 ticks, one line each
    summary = next(ln for ln in lines if ln.startswith("summary"))
    assert "decisions=6" in summary
    assert "schema_valid=100.0%" in summary
    assert "fallback=0" in summary and "timeout=0" in summary
    # the demo prints its own lines: an INFO log line written under the live table tears it
    assert " INFO " not in p.stderr, p.stderr


def test_serve_with_ws_relay_and_sigint():
    port, ws_port = free_port(), free_port()
    while ws_port == port:
        ws_port = free_port()
    proc = subprocess.Popen(
        [*CMD, "serve", "backend=scripted", f"server.bind=tcp://127.0.0.1:{port}",
         f"server.ws_port={ws_port}", "server.ws_allowed_origins=[http://localhost:8060]"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    try:
        line = proc.stdout.readline()  # printed once the server and the relay both listen
        assert f"serving on tcp://127.0.0.1:{port}" in line, (line, proc.stderr.read()
                                                              if proc.poll() is not None else "")
        assert f"ws://127.0.0.1:{ws_port}" in line
        assert "backend=scripted" in line

        async def talk() -> tuple[dict, dict]:
            async with ArenaClient(f"tcp://127.0.0.1:{port}", timeout_s=20) as client:
                pong = await client.ping()
                action = await client.observe("cli-agent", 1, {"hp": 5})
                return pong, action

        pong, action = asyncio.run(talk())
        assert pong["type"] == "pong"
        assert action["status"] == "ok" and action["call"] == {"tool": "idle", "arguments": {}}
        assert accepts_tcp(ws_port)

        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err
        assert "server: stopped" in err  # the shutdown path ran, not a KeyboardInterrupt
        deadline = time.monotonic() + 10  # the relay child was stopped with it
        while accepts_tcp(ws_port) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not accepts_tcp(ws_port)
        assert not accepts_tcp(port)
    finally:
        if proc.poll() is None:  # a failed assertion above: still stop the relay it started
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_serve_refuses_a_relay_open_to_every_web_page():
    p = run("serve", "backend=scripted", "server.ws_port=5999")
    assert p.returncode == 2
    assert "any web page" in p.stderr and "server.ws_allowed_origins" in p.stderr
    assert "server.auth.mechanism=plain" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("override,words", [
    ("calling.strategy=constraind", ["constraind", "auto, constrained, prompt, native"]),
    ("calling.max_attempts=0", ["calling.max_attempts=0", ">= 1"]),
    ("server.shutdown_grace_ms=-5", ["server.shutdown_grace_ms=-5", ">= 0"]),
    ("calling.fallback_tool=teleport", ["teleport", "fallback"]),
])
def test_mistyped_settings_fail_at_startup(override, words):
    """Before: `calling.strategy=constraind` started, then every decision was an internal
    error; `max_attempts=0` silently meant "always fall back"."""
    p = run("serve", "backend=scripted", "server.bind=tcp://127.0.0.1:0", override)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("agent-arena: error:") and "Traceback" not in p.stderr
    for w in words:
        assert w in p.stderr, p.stderr
    assert "serving on" not in p.stdout
