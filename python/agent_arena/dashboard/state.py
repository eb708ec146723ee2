"""What the dashboard shows, kept by a server listener; no HTTP here.

The listener only stores references: the latest decision per agent (a bounded ordered dict) and
one point per decision (a ring buffer). Rendering (compact observations, call text) happens
when a page asks for an update, off the decision path, and only for what changed since then.
It knows the server only through server/events.py (its snapshot and decision events).
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Mapping
from typing import Any

from agent_arena import __version__
from agent_arena.server.events import DecisionEvent, RunningServer

MAX_AGENTS = 256  # rows kept (the most recently decided agents)
MAX_POINTS = 4000  # latency points kept (a few minutes of a busy server)
RATE_WINDOW_S = 10.0
TEXT_CHARS = 160


class DashboardState:
    def __init__(self, server: RunningServer, *, max_agents: int = MAX_AGENTS,
                 max_points: int = MAX_POINTS) -> None:
        self.server = server
        self.max_agents = max_agents
        self.seq = 0  # bumped per decision; a page asks for "everything after seq N"
        self.latest: collections.OrderedDict[tuple[str, str], tuple[int, float, DecisionEvent]] \
            = collections.OrderedDict()
        self.points: collections.deque[tuple[int, float, float, str]] = collections.deque(
            maxlen=max_points)
        self.totals: collections.Counter[str] = collections.Counter()
        self.started = time.time()
        server.add_listener(self.on_decision)

    def on_decision(self, ev: DecisionEvent) -> None:
        self.seq += 1
        now = time.time()
        key = (ev.session, ev.agent_id)
        latest = self.latest
        latest[key] = (self.seq, now, ev)
        latest.move_to_end(key)
        if len(latest) > self.max_agents:
            latest.popitem(last=False)
        self.points.append((self.seq, now, ev.latency_ms, ev.status))
        self.totals[ev.status] += 1

    def update(self, since: int = 0) -> dict[str, Any]:
        """Everything that changed after ``since`` (0: all), as JSON-ready data."""
        snap = self.server.snapshot()
        now = time.time()
        recent = 0
        for _, t, _, st in reversed(self.points):
            if t < now - RATE_WINDOW_S:
                break
            recent += st != "superseded"
        span = min(RATE_WINDOW_S, max(now - self.started, 1e-3))
        return {
            "seq": self.seq, "full": since == 0, "now": now,
            "server": {"backend": snap.backend, "model": snap.model,
                       "version": __version__, "endpoint": snap.endpoint,
                       "started": self.started},
            "totals": dict(self.totals), "rate": round(recent / span, 2),
            "in_flight": snap.in_flight, "sessions": snap.sessions, "agents": snap.agents,
            "errors": sum(snap.error_counts.values()),
            "rows": [row(seq, t, ev) for seq, t, ev in self.latest.values() if seq > since],
            "points": [[round(t, 3), round(ms, 2), st] for seq, t, ms, st in self.points
                       if seq > since],
        }


def row(seq: int, t: float, ev: DecisionEvent) -> dict[str, Any]:
    return {"seq": seq, "t": round(t, 3), "session": ev.session, "agent": ev.agent_id,
            "tick": ev.tick, "profile": ev.profile, "observation": compact(ev.observation),
            "call": call_text(ev.call), "tool": ev.call["tool"] if ev.call else None,
            "status": ev.status, "reason": _cut(ev.reason), "thought": _cut(ev.thought),
            "latency_ms": round(ev.latency_ms, 1),
            "model_ms": None if ev.model_ms is None else round(ev.model_ms, 1),
            "tokens": ev.prompt_tokens + ev.completion_tokens, "attempts": ev.attempts}


def call_text(call: Mapping[str, Any] | None) -> str:
    """``move_to(target=[4, 0, 2])``; "-" for no call."""
    if not call:
        return "-"
    args = ", ".join(f"{k}={_json(v)}" for k, v in (call.get("arguments") or {}).items())
    return _cut(f"{call['tool']}({args})") or "-"


def compact(obs: Mapping[str, Any], limit: int = TEXT_CHARS) -> str:
    """One line: ``health=80 position=[1,0,2] nearby=[{...}]``, cut at ``limit`` characters."""
    parts = []
    for k, v in obs.items():
        parts.append(f"{k}={_json(v)}")
        if sum(map(len, parts)) > limit:
            break
    return _cut(" ".join(parts), limit) or ""


def _json(v: Any) -> str:
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v, separators=(",", ":"), default=str)
    except (TypeError, ValueError):
        return repr(v)


def _cut(text: str | None, limit: int = TEXT_CHARS) -> str | None:
    if text is None:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"
