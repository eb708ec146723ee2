"""WebSocket relay in front of the ZeroMQ TCP port, for web-exported games (browsers have no
raw TCP). websockify carries the ZMTP byte stream unchanged, so authentication (PLAIN/CURVE)
still happens end to end between the game and the ROUTER socket.

Browsers let any page open a WebSocket to localhost, so a relay in front of an unauthenticated
server would let every site the user visits drive the agents. The server refuses that
configuration; with ``allowed_origins`` the relay checks the handshake's Origin header
(websockify's ExpectOrigin plugin) and answers any other origin with HTTP 403.

The relay never outlives its server: websockify runs under a small guard process (this
module's ``__main__``) whose stdin is a pipe from the server. However the server ends, SIGKILL
included, the kernel closes that pipe; the guard reads end-of-file and kills its process group
(websockify and the handler processes it forks per connection). A port that is already taken
(an old relay, another program) is a ConfigError before anything starts, never a relay that
only seems to be ours.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from agent_arena.errors import ConfigError

log = logging.getLogger("agent_arena.relay")


def tcp_target(endpoint: str) -> tuple[str, int]:
    if not endpoint.startswith("tcp://"):
        raise ConfigError(f"the WebSocket relay needs a tcp:// bind, not {endpoint}")
    host, port = endpoint[len("tcp://"):].rsplit(":", 1)
    return host.strip("[]"), int(port)


def start_ws_relay(ws_port: int, endpoint: str, ws_host: str = "127.0.0.1",
                   wait_s: float = 10.0,
                   allowed_origins: Sequence[str] = ()) -> subprocess.Popen[bytes]:
    """Start websockify ws://ws_host:ws_port -> endpoint; returns once it accepts connections.

    With ``allowed_origins`` only pages from those origins may connect. The process returned
    is the guard (see the module docstring); ``stop_ws_relay`` stops it and websockify."""
    try:
        import websockify  # noqa: F401
    except ImportError as exc:
        raise ConfigError("server.ws_port needs websockify: pip install 'agent-arena[ws]'") from exc
    host, port = tcp_target(endpoint)
    check_port_free(ws_host, ws_port)
    origin_args = ["--auth-plugin", "websockify.auth_plugins.ExpectOrigin",
                   "--auth-source", " ".join(allowed_origins)] if allowed_origins else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_arena.relay", sys.executable, "-m", "websockify",
         "--heartbeat=30", *origin_args, f"{ws_host}:{ws_port}", f"{host}:{port}"],
        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)  # its own process group: stop_ws_relay ends its children too
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ConfigError(f"websockify exited with {proc.returncode}: is port {ws_port} free?")
        try:
            with socket.create_connection((ws_host, ws_port), timeout=0.2):
                log.info("relay: ws://%s:%d -> %s", ws_host, ws_port, endpoint)
                return proc
        except OSError:
            time.sleep(0.05)
    stop_ws_relay(proc)
    raise ConfigError(f"websockify did not listen on {ws_host}:{ws_port} within {wait_s}s")


def check_port_free(host: str, port: int) -> None:
    """ConfigError when something already listens on host:port (bound as websockify binds,
    with SO_REUSEADDR, so a port in TIME_WAIT still counts as free)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ConfigError(f"server.ws_port={port}: cannot bind {host}:{port}: "
                                  f"{exc.strerror}") from exc
            raise ConfigError(
                f"server.ws_port={port}: {host}:{port} is already in use (an old relay of a "
                "server that did not stop cleanly, or another program): stop it "
                f"(`ss -ltnp 'sport = :{port}'` shows which process), or choose another "
                "server.ws_port") from exc


def stop_ws_relay(proc: subprocess.Popen[bytes], wait_s: float = 5.0) -> None:
    """Stop websockify and the handler processes it forks per connection.

    websockify can swallow SIGTERM when it arrives while a handler process is being started or
    reaped (its Terminate exception is raised from a signal handler), so escalate to SIGKILL;
    the process group catches handlers that would otherwise keep the port open.
    """
    group = hasattr(os, "killpg")
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM) if group else proc.terminate()
        try:
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            log.warning("relay: websockify ignored SIGTERM; killing it")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL) if group else proc.kill()
    proc.wait()
    if proc.stdin is not None:
        proc.stdin.close()


def _die_with_parent() -> None:
    """In the child between fork and exec (Linux): SIGKILL when its parent (the guard) dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the guard's end-of-file still stops the group


def _guard(argv: list[str]) -> int:
    """Run ``argv`` (websockify) until it exits or stdin (the server's pipe) ends; on
    end-of-file kill this whole process group."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, preexec_fn=preexec)

    def watch() -> None:
        with contextlib.suppress(OSError):
            while sys.stdin.buffer.read(4096):
                pass
        with contextlib.suppress(ProcessLookupError):  # the server is gone: so is the relay
            os.killpg(os.getpgrp(), signal.SIGKILL) if hasattr(os, "killpg") else child.kill()

    threading.Thread(target=watch, daemon=True).start()
    return child.wait()


if __name__ == "__main__":
    sys.exit(_guard(sys.argv[1:]))
