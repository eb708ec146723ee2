"""ServerConfig: every server setting with its default and bounds (Hydra's ``server.*``)."""

from __future__ import annotations

import asyncio
import gc
import ipaddress
from dataclasses import dataclass
from typing import Any

from agent_arena.config.fields import check_bounds, setting
from agent_arena.errors import ConfigError
from agent_arena.journal import JournalConfig
from agent_arena.security import AuthConfig


@dataclass
class ServerConfig:
    bind: str = setting("tcp://127.0.0.1:5555", "the ZeroMQ endpoint the ROUTER socket binds "
                        "(loopback by default; anything else needs server.auth)")
    max_message_bytes: int = setting(1 << 20, "per frame; the socket drops frames over 4x this",
                                     ge=256)
    default_deadline_ms: int = setting(15000, "a decision's deadline when observe names none",
                                       ge=1)
    max_pending: int = setting(10000, "decisions in flight over all sessions", ge=1)
    # With the server's own ZMTP PINGs on, a client that floods and closes can abort the
    # process in libzmq (docs/security.md); dead peers are found by TCP keepalive instead.
    heartbeat_ivl_ms: int = setting(0, "the server's own ZMTP PINGs (0: off, the default; TCP "
                                       "keepalive finds dead peers)", ge=0)
    heartbeat_timeout_ms: int = setting(15000, "keepalive probes a connection silent this long",
                                        ge=0)
    session_ttl_s: float = setting(3600.0, "forget sessions idle this long", ge=1)
    shutdown_grace_ms: int = setting(2000, "on stop: decisions that finish within it are "
                                           "answered as usual, the rest get status stopping",
                                     ge=0)
    max_sessions: int = setting(1000, "idle sessions are evicted (least recently seen first)",
                                ge=1)
    max_agents_per_session: int = setting(4096, "idle agents are evicted (least recently "
                                                "observed)", ge=1)
    max_result_bytes: int = setting(1024, "tool_result payload kept in an agent's memory "
                                          "(truncated)", ge=16)
    # What one registration (hello / register_tools) may hold, so it costs milliseconds of the
    # event loop, not seconds (docs/security.md).
    max_tools_per_session: int = setting(256, "tools a session may have (its defaults "
                                              "included)", ge=1)
    max_schema_bytes: int = setting(65536, "the JSON size of one tool spec", ge=256)
    max_schema_depth: int = setting(24, "maps and lists nested in a tool's parameters", ge=2)
    ws_port: int | None = setting(None, "start a WebSocket relay for web-exported games on this "
                                        "port; null: off", ge=1, le=65535)
    ws_allowed_origins: list[str] = setting(
        factory=list, help="origins (e.g. http://localhost:8060) whose pages may open the "
        "relay; without server.auth the relay needs this list, or any web page could drive "
        "the agents")
    event_loop: str = setting("asyncio", "uvloop needs the extra agent-arena[fast] "
                                         "(docs/benchmarks.md has what it buys)",
                              choices=("asyncio", "uvloop"))
    # At Python's 700 the collector ran every few dozen decisions and took ~15% of the server's
    # time with 1000 agents (docs/benchmarks.md, "Bridge overhead").
    gc_threshold: int | None = setting(10_000, "Python's gen0 collection threshold while the "
                                               "server runs (Python's own is 700); null: leave "
                                               "it", ge=100)
    auth: AuthConfig = setting(factory=AuthConfig, help="who may connect (docs/security.md)")
    journal: JournalConfig = setting(factory=JournalConfig,
                                     help="every message as msgpack records, written off the "
                                          "event loop (docs/eval.md); off unless journal.path "
                                          "is set")
    # A host other than loopback needs server.auth.mechanism=plain: HTTP Basic, same users.
    metrics_port: int | None = setting(None, "Prometheus /metrics (docs/observability.md); "
                                             "null: off, 0: any free port", ge=0, le=65535)
    metrics_host: str = setting("127.0.0.1", "anything but loopback needs "
                                             "server.auth.mechanism=plain")
    dashboard_port: int | None = setting(None, "the live dashboard; null: off, 0: any free port",
                                         ge=0, le=65535)
    dashboard_host: str = setting("127.0.0.1", "anything but loopback needs "
                                               "server.auth.mechanism=plain")

    def __post_init__(self) -> None:
        check_bounds(self, "server")
        if not isinstance(self.bind, str) or "://" not in self.bind:
            raise ConfigError(f"server.bind={self.bind!r}: use a ZeroMQ endpoint such as "
                              "tcp://127.0.0.1:5555")
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
