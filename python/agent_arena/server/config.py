"""ServerConfig: every server setting with its default and bounds (Hydra's ``server.*``)."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
from dataclasses import dataclass, field, fields
from typing import Any

from agent_arena.errors import ConfigError
from agent_arena.journal import JournalConfig
from agent_arena.security import AuthConfig

# setting -> smallest value allowed (the bound is part of the message a user sees)
_MINIMUM = {"max_message_bytes": 256, "default_deadline_ms": 1, "max_pending": 1,
            "heartbeat_ivl_ms": 0, "heartbeat_timeout_ms": 0, "session_ttl_s": 1,
            "shutdown_grace_ms": 0, "max_sessions": 1, "max_agents_per_session": 1,
            "max_result_bytes": 16, "max_tools_per_session": 1, "max_schema_bytes": 256,
            "max_schema_depth": 2}


@dataclass
class ServerConfig:
    bind: str = "tcp://127.0.0.1:5555"
    max_message_bytes: int = 1 << 20  # per frame; the socket drops frames over 4x this
    default_deadline_ms: int = 15000
    max_pending: int = 10000  # decisions in flight over all sessions
    # The server's own ZMTP PINGs (0: off, the default): with them on, a client that floods
    # and closes can abort the process in libzmq (docs/security.md). Dead peers are found by
    # TCP keepalive instead, probing a connection silent for heartbeat_timeout_ms.
    heartbeat_ivl_ms: int = 0
    heartbeat_timeout_ms: int = 15000
    session_ttl_s: float = 3600.0  # forget sessions idle this long
    # On stop (SIGTERM/SIGINT): decisions that finish within the grace are answered as usual,
    # the rest get status "stopping" with the fallback call; replies are flushed within it too.
    shutdown_grace_ms: int = 2000
    max_sessions: int = 1000  # idle sessions are evicted (least recently seen first)
    max_agents_per_session: int = 4096  # idle agents are evicted (least recently observed)
    max_result_bytes: int = 1024  # tool_result payload kept in an agent's memory (truncated)
    # What one registration (hello / register_tools) may hold, so it costs milliseconds of the
    # event loop, not seconds (docs/security.md): tools a session may have (its defaults
    # included), the JSON size of one tool spec, and maps/lists nested in its parameters.
    max_tools_per_session: int = 256
    max_schema_bytes: int = 65536
    max_schema_depth: int = 24
    ws_port: int | None = None  # start a WebSocket relay for web-exported games
    # Origins (e.g. "http://localhost:8060") whose pages may open the relay. Without server.auth
    # the relay needs this list: otherwise any web page the user visits could drive the agents.
    ws_allowed_origins: list[str] = field(default_factory=list)
    # asyncio | uvloop (the optional extra agent-arena[fast]; docs/benchmarks.md has what it buys)
    event_loop: str = "asyncio"
    # Python's gen0 collection threshold while the server runs (restored when the last server
    # of the process stops); null: leave it. Decisions in flight keep thousands of young objects
    # alive, so at Python's 700 the collector ran every few dozen decisions and took ~15% of the
    # server's time with 1000 agents (docs/benchmarks.md, "Bridge overhead").
    gc_threshold: int | None = 10_000
    auth: AuthConfig = field(default_factory=AuthConfig)
    # every hello, register_tools, observe, action and tool_result as msgpack records, written
    # off the event loop (docs/eval.md); off unless journal.path is set
    journal: JournalConfig = field(default_factory=JournalConfig)
    # Prometheus metrics (http://HOST:PORT/metrics) and the live dashboard (http://HOST:PORT/),
    # served on the server's event loop (docs/observability.md); null: off, 0: any free port.
    # A host other than loopback needs server.auth.mechanism=plain: HTTP Basic, same users.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    dashboard_port: int | None = None
    dashboard_host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        for f in fields(self):
            low = _MINIMUM.get(f.name)
            value = getattr(self, f.name)
            if low is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                    or value < low):
                raise ConfigError(f"server.{f.name}={value!r}: must be a number >= {low}")
        if not isinstance(self.bind, str) or "://" not in self.bind:
            raise ConfigError(f"server.bind={self.bind!r}: use a ZeroMQ endpoint such as "
                              "tcp://127.0.0.1:5555")
        gct = self.gc_threshold
        if gct is not None and (isinstance(gct, bool) or not isinstance(gct, int) or gct < 100):
            raise ConfigError(f"server.gc_threshold={self.gc_threshold!r}: a number of objects "
                              ">= 100 (Python's own is 700), or null to leave Python's setting")
        if self.event_loop not in ("asyncio", "uvloop"):
            raise ConfigError(f"server.event_loop={self.event_loop!r}; choose asyncio or uvloop")
        if self.ws_port is not None and not (isinstance(self.ws_port, int)
                                             and 0 < self.ws_port < 65536):
            raise ConfigError(f"server.ws_port={self.ws_port!r}: a TCP port 1-65535, or null")
        for view in ("metrics", "dashboard"):
            _check_http_view(self, view)
        if self.metrics_port and self.metrics_port == self.dashboard_port:
            raise ConfigError(f"server.metrics_port and server.dashboard_port are both "
                              f"{self.metrics_port}: give them different ports")


def _check_http_view(cfg: ServerConfig, view: str) -> None:
    port, host = getattr(cfg, f"{view}_port"), getattr(cfg, f"{view}_host")
    if port is None:
        return
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < 65536:
        raise ConfigError(f"server.{view}_port={port!r}: a TCP port 1-65535 (0: any free port), "
                          "or null (off)")
    if not isinstance(host, str) or not host:
        raise ConfigError(f"server.{view}_host={host!r}: an address such as 127.0.0.1")
    if not is_loopback(f"tcp://{host}:0") and cfg.auth.mechanism != "plain":
        raise ConfigError(
            f"refusing to serve the {view} on {host} without authentication: anyone on the "
            "network could read what your agents see and do. Configure server.auth.mechanism="
            "plain with '++server.auth.users={name: password}' (the page and /metrics then ask for "
            f"them with HTTP Basic; CURVE keys cannot protect HTTP), or keep server.{view}_host="
            "127.0.0.1 (see docs/security.md)")


def is_loopback(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// on 127.0.0.0/8, ::1 or localhost."""
    if endpoint.startswith(("ipc://", "inproc://")):
        return True
    if not endpoint.startswith("tcp://"):
        return False
    host = endpoint[len("tcp://"):].rsplit(":", 1)[0].strip("[]")
    if ";" in host:  # tcp://source;dest form
        host = host.split(";")[-1]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # interface names, "*", hostnames


class _GcThreshold:
    """The gen0 threshold raised while at least one server of this process runs, and put back
    when the last one stops (tests and embedding programs run several, overlapping)."""

    def __init__(self) -> None:
        self.servers = 0
        self.saved: tuple[int, ...] | None = None
        self.ours: int | None = None

    def acquire(self, threshold: int) -> None:
        if self.servers == 0:
            self.saved = gc.get_threshold()
            self.ours = max(threshold, self.saved[0])  # never lower what the host chose
            gc.set_threshold(self.ours, *self.saved[1:])
        self.servers += 1

    def release(self) -> None:
        self.servers -= 1
        if self.servers == 0 and self.saved is not None:
            if gc.get_threshold()[0] == self.ours:  # unless someone changed it since
                gc.set_threshold(*self.saved)
            self.saved = self.ours = None


GC_THRESHOLD = _GcThreshold()


def run(coro: Any, event_loop: str = "asyncio") -> Any:
    """Run ``coro`` to completion on the configured event loop."""
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError as exc:
            raise ConfigError("server.event_loop=uvloop needs uvloop: pip install "
                              "'agent-arena[fast]'") from exc
        return uvloop.run(coro)
    return asyncio.run(coro)
