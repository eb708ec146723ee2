"""Prometheus metrics of one ArenaServer, and the rolling window behind `serve`'s status line.

Two kinds of numbers, so the decision path pays as little as possible:

* per decision (a listener on the server, called in ``Decisions.finish``): counters and
  histograms, with their label children looked up once, not per event;
* read at scrape time (a collector): in-flight and queued decisions, sessions, agents, error
  replies by code, backend health. Nothing is counted twice and nothing runs between scrapes.

Each server gets its own ``CollectorRegistry`` (never the global one), so one process can run
many servers (tests, benches). Labels stay low-cardinality: status, backend, reason class,
error code, tool name (capped); never agent or session ids. Names: docs/observability.md.
A view: it knows the server only through server/events.py (its snapshot and decision events).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from typing import Any, Literal, get_args

from agent_arena import __version__
from agent_arena.errors import STATUSES, BackendErrorKind
from agent_arena.server.events import DecisionEvent, RunningServer, backend_slots

__all__ = ["REASON_CLASSES", "STATUSES", "ArenaMetrics", "ReasonClass", "StatusWindow",
           "backend_slots", "reason_class"]

# why the game got the fallback call instead of the model's: a backend error kind, or one of these
ReasonClass = Literal[BackendErrorKind, "invalid_call", "timeout", "stopping", "internal"]
REASON_CLASSES: tuple[ReasonClass, ...] = get_args(ReasonClass)
# backend error kinds that say the backend itself is down (not just this one request refused)
UNHEALTHY_KINDS: frozenset[BackendErrorKind] = frozenset({"unavailable", "transient", "auth"})
MAX_TOOL_LABELS = 64  # tools beyond this many distinct names count as "other"

DECISION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0, 60.0, 120.0)
BRIDGE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                  1.0)


def reason_class(ev: DecisionEvent) -> ReasonClass | None:
    """The class of a fallback (None when the game got the model's call or no call at all)."""
    if ev.status == "timeout":
        return "timeout"
    if ev.status == "stopping":
        return "stopping"
    if ev.status != "fallback":
        return None
    if ev.error_kind:
        return ev.error_kind
    return "invalid_call" if ev.attempts > 0 else "internal"


class ArenaMetrics:
    """The server's metrics: ``render()`` is the body of GET /metrics."""

    def __init__(self, server: RunningServer) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.server = server
        self.registry = CollectorRegistry(auto_describe=False)
        backend = server.snapshot().backend
        self.backend = backend
        reg = self.registry
        self.decisions = Counter("agent_arena_decisions", "Decisions answered, by status",
                                 ["status", "backend"], registry=reg)
        self.decision_seconds = Histogram(
            "agent_arena_decision_seconds", "Server-side time from an accepted observe to its "
            "action, by status", ["status"], buckets=DECISION_BUCKETS, registry=reg)
        self.model_seconds = Histogram(
            "agent_arena_model_seconds", "Time inside the backend call (decisions the model "
            "answered, including re-asks)", buckets=DECISION_BUCKETS, registry=reg)
        self.bridge_seconds = Histogram(
            "agent_arena_bridge_seconds", "Decision time outside the backend call (prompt, "
            "validation, scheduling)", buckets=BRIDGE_BUCKETS, registry=reg)
        self.prompt_tokens = Counter("agent_arena_prompt_tokens", "Prompt tokens sent to the "
                                     "model", ["backend"], registry=reg).labels(backend)
        self.completion_tokens = Counter("agent_arena_completion_tokens", "Tokens the model "
                                         "generated", ["backend"], registry=reg).labels(backend)
        self.reasks = Counter("agent_arena_reasks", "Model calls beyond the first of a "
                              "decision (re-asks after an invalid call)", registry=reg)
        self.fallbacks = Counter("agent_arena_fallbacks", "Decisions answered with the "
                                 "fallback call, by reason class", ["reason"], registry=reg)
        self.tool_calls = Counter("agent_arena_tool_calls", "Calls sent to the game, by tool "
                                  "(fallback calls included)", ["tool"], registry=reg)
        self._by_status = {s: (self.decisions.labels(s, backend),
                               self.decision_seconds.labels(s)) for s in STATUSES}
        self._by_reason = {r: self.fallbacks.labels(r) for r in REASON_CLASSES}
        self._by_tool: dict[str, Any] = {}
        self.healthy = True  # the last answer the backend gave (or no request yet)
        reg.register(_ScrapeTime(self))
        server.add_listener(self.on_decision)

    def on_decision(self, ev: DecisionEvent) -> None:
        pair = self._by_status.get(ev.status)
        if pair is None:
            pair = self._by_status[ev.status] = (self.decisions.labels(ev.status, self.backend),
                                                 self.decision_seconds.labels(ev.status))
        pair[0].inc()
        pair[1].observe(ev.latency_ms / 1000.0)
        if ev.model_ms is not None:
            self.model_seconds.observe(ev.model_ms / 1000.0)
            self.bridge_seconds.observe(max(ev.latency_ms - ev.model_ms, 0.0) / 1000.0)
            self.healthy = ev.error_kind not in UNHEALTHY_KINDS
        if ev.prompt_tokens:
            self.prompt_tokens.inc(ev.prompt_tokens)
        if ev.completion_tokens:
            self.completion_tokens.inc(ev.completion_tokens)
        if ev.attempts > 1:
            self.reasks.inc(ev.attempts - 1)
        why = reason_class(ev)
        if why is not None:
            child = self._by_reason.get(why)
            if child is None:
                child = self._by_reason[why] = self.fallbacks.labels(why)
            child.inc()
        if ev.call is not None:
            tool = ev.call["tool"]
            child = self._by_tool.get(tool)
            if child is None:
                if len(self._by_tool) >= MAX_TOOL_LABELS:
                    tool = "other"
                child = self._by_tool.get(tool) or self.tool_calls.labels(tool)
                self._by_tool[tool] = child
            child.inc()

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _ScrapeTime:
    """Gauges and counters the server already keeps, read when Prometheus asks."""

    def __init__(self, metrics: ArenaMetrics) -> None:
        self.m = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

        now = self.m.server.snapshot()
        in_flight = now.in_flight
        yield GaugeMetricFamily("agent_arena_in_flight_decisions",
                                "Accepted observes not answered yet", value=in_flight)
        slots = now.backend_slots
        if slots is not None:
            yield GaugeMetricFamily("agent_arena_queued_decisions", "In-flight decisions beyond "
                                    "what the backend works on at once (waiting for it)",
                                    value=max(0, in_flight - slots))
        yield GaugeMetricFamily("agent_arena_sessions", "Connected game sessions",
                                value=now.sessions)
        yield GaugeMetricFamily("agent_arena_agents", "Agents known over all sessions",
                                value=now.agents)
        errors = CounterMetricFamily("agent_arena_errors", "Error replies sent, by code",
                                     labels=["code"])
        for code, n in sorted(now.error_counts.items()):
            errors.add_metric([code], n)
        yield errors
        up = GaugeMetricFamily("agent_arena_backend_up", "1 unless the backend's last answer "
                               "was an unavailable/transient/auth error", labels=["backend"])
        up.add_metric([self.m.backend], 1.0 if self.m.healthy else 0.0)
        yield up
        yield InfoMetricFamily("agent_arena_server", "Version, backend and model",
                               value={"version": __version__, "backend": self.m.backend,
                                      "model": now.model})


class StatusWindow:
    """Decisions of the last few seconds, for `serve`'s status line (a server listener)."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self.started = time.monotonic()
        self._recent: collections.deque[tuple[float, float]] = collections.deque()
        self.totals: collections.Counter[str] = collections.Counter()

    def __call__(self, ev: DecisionEvent) -> None:
        self.totals[ev.status] += 1
        if ev.status != "superseded" and ev.status != "abandoned":
            self._recent.append((time.monotonic(), ev.latency_ms))

    def line(self, in_flight: int = 0, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        while self._recent and self._recent[0][0] < now - self.window_s:
            self._recent.popleft()
        span = min(self.window_s, max(now - self.started, 1e-9))
        lat = sorted(x for _, x in self._recent)
        p50 = f"{lat[len(lat) // 2]:.0f} ms" if lat else "-"
        t = self.totals
        return (f"agent-arena: {len(lat) / span:.1f} decisions/s, p50 {p50} "
                f"(last {span:.0f} s); total {sum(t.values())}: ok {t['ok']}, "
                f"fallback {t['fallback']}, timeout {t['timeout']}, superseded "
                f"{t['superseded']}; in flight {in_flight}")
