"""What views may know of a running server: a snapshot, decision events and its settings.

Metrics, the dashboard and `serve`'s status line are views: they read a ``RunningServer``
(``ArenaServer`` is one) through this module alone and never import the server, so the server
knows nothing of them; the CLI (or a test) starts them beside it. A view registers a listener
for ``DecisionEvent``s and calls ``snapshot()`` when it needs the numbers the server keeps.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from agent_arena.errors import BackendErrorKind, Status

if TYPE_CHECKING:
    from agent_arena.server.config import ServerConfig


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One finished decision, for observers (metrics, dashboard): built only when one listens.
    ``observation`` is the decoded map itself, not a copy: read it, never change it."""

    session: str
    agent_id: str
    tick: int
    profile: str
    status: Status
    call: Mapping[str, Any] | None  # what the game got ({tool, arguments}); None: no call
    reason: str | None
    error_kind: BackendErrorKind | None  # when a backend error ended it
    thought: str | None
    latency_ms: float  # observe accepted -> decision finished, on the server
    model_ms: float | None  # inside the backend call (decide_once); None: it never returned
    prompt_tokens: int
    completion_tokens: int
    attempts: int
    strategy: str | None
    backend: str
    observation: Mapping[str, Any]
    replied: bool


Listener = Callable[[DecisionEvent], None]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The server's numbers at one moment (read at scrape or page-update time)."""

    backend: str  # the backend's registered name
    model: str
    endpoint: str | None  # None until bound
    in_flight: int  # accepted observes not answered yet
    sessions: int
    agents: int  # over all sessions
    error_counts: Mapping[str, int]  # error replies sent so far, by code
    backend_slots: int | None  # requests the backend works on at once; beyond: queued


class RunningServer(Protocol):
    """A server as views see it."""

    @property
    def config(self) -> ServerConfig: ...

    def snapshot(self) -> Snapshot: ...

    def add_listener(self, fn: Listener) -> None: ...


class Attached(Protocol):
    """Something started beside a server (the metrics and dashboard listeners); the server
    stops it last when it stops."""

    urls: dict[str, str]

    async def stop(self) -> None: ...


def backend_slots(backend: Any) -> int | None:
    """How many requests the backend works on at once (None: unknown); beyond: queued.

    llama-server decodes ``n_parallel`` slots at once (requests beyond wait in its queue) and
    the bridge sends it at most ``max_concurrency``; 0 means no limit (the engine batches all)."""
    cfg = getattr(backend, "config", None)
    limits = [n for n in (getattr(cfg, "n_parallel", None), getattr(cfg, "max_concurrency", None))
              if isinstance(n, int) and not isinstance(n, bool) and n > 0]
    if limits:
        return min(limits)
    if getattr(backend, "name", "") == "llama_cpp":
        return 1  # one generation at a time (one worker thread)
    return None
