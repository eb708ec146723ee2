"""A child process, started, waited for and stopped in one place: the managed llama-server,
``agent-arena launch`` (vLLM, SGLang, llama-server), and the tests' and tools' servers.

``ChildProcess`` runs a command with its output in a log file (or ours), waits for a line of
that log (``wait_for_line``: "serving on", "ready: base_url"), and stops it with a signal, then
SIGKILL (the whole process group when it runs in a session of its own). It never leaves the child
behind: on Linux the child gets SIGTERM when its parent dies, and a finalizer stops one that was
forgotten. ``ServerProcess`` adds a health URL to poll (``wait_healthy``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from agent_arena.errors import BackendUnavailable

log = logging.getLogger("agent_arena.launch")

__all__ = ["ChildProcess", "ServerProcess", "free_port", "kill_group"]

SIGTERM = signal.SIGTERM  # a name the classes can use (their signal() method hides the module)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when its parent dies, so a killed test run leaves no
    orphaned server holding a port and two cores."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def kill_group(pid: int | None, sig: int = signal.SIGKILL) -> None:
    """Signal the process group led by ``pid`` (a child started in its own session), if any."""
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)


def _stop(proc: subprocess.Popen[Any], timeout: float = 10.0, sig: int = signal.SIGTERM,
          group: bool = False) -> int | None:
    """``sig`` to the child (or its group), SIGKILL after ``timeout`` s; its exit code."""
    if proc.poll() is not None:
        if group:
            kill_group(proc.pid)  # what it started may outlive it
        return proc.returncode
    with contextlib.suppress(ProcessLookupError):
        if group:
            os.killpg(proc.pid, sig)
        else:
            proc.send_signal(sig)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        return proc.wait(timeout)


class ChildProcess:
    """One child process: start, wait for a line of its output, stop.

    ``new_session`` runs it in a session of its own (Ctrl-C in our terminal does not reach it;
    ``stop`` then signals its whole group, so what it started goes too)."""

    def __init__(self, cmd: Sequence[str], *, name: str = "child",
                 log_path: str | os.PathLike[str] | None = None, inherit_output: bool = False,
                 new_session: bool = False, env: Mapping[str, str] | None = None,
                 cwd: str | os.PathLike[str] | None = None) -> None:
        self.cmd = [str(c) for c in cmd]
        self.name = name
        self.inherit_output = inherit_output
        self.new_session = new_session
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.log_path = Path(log_path) if log_path else None
        self.proc: subprocess.Popen[Any] | None = None
        self._finalizer: weakref.finalize | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def start(self) -> None:
        if self.running:
            return
        out: Any = None
        if not self.inherit_output:
            if self.log_path is None:
                fd, path = tempfile.mkstemp(prefix=f"agent-arena-{self.name}-", suffix=".log")
                os.close(fd)
                self.log_path = Path(path)
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            out = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it open
        try:
            self.proc = subprocess.Popen(
                self.cmd, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
                start_new_session=self.new_session, env=self.env, cwd=self.cwd,
            )
        except OSError as exc:
            raise BackendUnavailable(f"cannot start {self.name} ({self.cmd[0]}): {exc}") from exc
        finally:
            if out is not None:
                out.close()
        self._finalizer = weakref.finalize(self, _stop, self.proc, 10.0, SIGTERM,
                                           self.new_session)
        log.info("%s: started pid %d: %s", self.name, self.proc.pid, " ".join(self.cmd))

    def output(self) -> str:
        """Everything the child wrote so far (its log)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 15) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_line(self, text: str, timeout: float, poll_s: float = 0.2) -> str:
        """The first line of the child's output that contains ``text``, once it is written;
        BackendUnavailable (with the log's tail) if the child exits or ``timeout`` s pass."""
        deadline = time.monotonic() + timeout
        while True:
            for line in self.output().splitlines():
                if text in line:
                    return line
            if not self.running:
                raise self._exited_error(f"before it wrote {text!r}")
            if time.monotonic() > deadline:
                raise BackendUnavailable(
                    f"{self.name} did not write {text!r} within {timeout:g}s "
                    f"(log: {self.log_path}):\n{self.tail(40)}")
            time.sleep(poll_s)

    def _exited_error(self, when: str) -> BackendUnavailable:
        rc = self.proc.returncode if self.proc is not None else None
        where = f" (log: {self.log_path})" if self.log_path else ""
        return BackendUnavailable(f"{self.name} exited with code {rc} {when}{where}:\n"
                                  f"{self.tail()}")

    def signal(self, sig: int) -> None:
        if self.running:
            assert self.proc is not None
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0, sig: int = SIGTERM) -> int | None:
        """``sig`` (to the group when the child has its own session), SIGKILL after
        ``timeout`` s; the exit code."""
        if self.proc is None:
            return None
        rc = _stop(self.proc, timeout, sig, group=self.new_session)
        if self._finalizer is not None:
            self._finalizer.detach()
        log.info("%s: stopped (exit code %s)", self.name, rc)
        return rc


class ServerProcess(ChildProcess):
    """A child inference server that answers ``health_url`` once it is ready. Used by the
    managed llama-server backend and by ``agent-arena launch`` (every engine)."""

    def __init__(self, cmd: Sequence[str], health_url: str, *, name: str = "server",
                 **kwargs: Any) -> None:
        super().__init__(cmd, name=name, **kwargs)
        self.health_url = health_url

    async def wait_healthy(self, timeout: float, poll_s: float = 0.1) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2.0) as client:
            while True:
                if not self.running:
                    raise self._exited_error("before it became healthy")
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
                    raise self._exited_error("before it became healthy")
                try:
                    if client.get(self.health_url).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise self._unhealthy_error(timeout)
                time.sleep(poll_s)
