"""Prometheus metrics over real HTTP after real demo runs: the counts equal what the client got.

The scripted run mixes every outcome a game can see (ok, re-asked, invalid -> fallback, backend
error -> fallback, timeout, superseded, error replies); the embedded model's run and `serve` in
a real process are tests/integration/test_metrics_real.py.
Nothing here asserts on durations: replies are awaited, gates are opened by the test.
"""

from __future__ import annotations

import asyncio
import collections
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.errors import BackendError, ConfigError
from agent_arena.metrics import REASON_CLASSES, StatusWindow, backend_slots, reason_class
from agent_arena.security import AuthConfig
from agent_arena.server import ServerConfig
from agent_arena.server.decisions import DecisionEvent
from agent_arena.world import run_demo
from support.arena_sockets import TOOLS, GatedBackend
from support.prometheus import by_label, scrape

MOVE = '{"tool": "move_to", "arguments": {"target": [4, 0, 2]}}'
GRAFANA = Path(__file__).resolve().parents[2] / "docs" / "grafana-agent-arena.json"


class MixedBackend(GatedBackend):
    """Every 4th answer is not a call (re-ask; two in a row: fallback), every 7th request a
    backend error; gates and ``boom`` as in GatedBackend."""

    def __init__(self) -> None:
        super().__init__(answer=MOVE)
        self.n = 0

    async def chat(self, request: ChatRequest) -> ChatResponse:
        text = str(request.messages[-1]["content"])
        if "gate:" in text:
            return await super().chat(request)
        self.n += 1
        if self.n % 7 == 0:
            raise BackendError("simulated overload", kind="transient")
        if self.n % 4 == 0 or any("never valid" in str(m["content"]) for m in request.messages):
            return ChatResponse(text="I would rather not say.", prompt_tokens=5,
                                completion_tokens=3)
        return await super().chat(request)


def client_reason_class(reply: dict[str, Any]) -> str | None:
    """What the client can tell of a fallback's class from the reply alone."""
    if reply["status"] in ("timeout", "stopping"):
        return reply["status"]
    if reply["status"] != "fallback":
        return None
    m = re.match(r"backend error \((\w+)\)", reply.get("reason") or "")
    return m.group(1) if m else "invalid_call"


async def test_scrape_after_demo_equals_what_the_client_received(arena, connect, peers):
    backend = MixedBackend()
    server = await arena(backend, metrics_port=0)
    url = server.views.urls["metrics"]
    assert url.startswith("http://127.0.0.1:")
    summary = await run_demo(server.endpoint, TOOLS, agents=3, ticks=4, deadline_ms=60000)
    replies = [{"status": d.status, "reason": d.reason, "usage": d.usage, "tool": d.tool}
               for d in summary.decisions]

    client = await connect(server.endpoint)
    await client.hello()
    replies.append(await client.observe("slow", 1, {"gate": "never"}, deadline_ms=50))
    first = asyncio.ensure_future(client.observe("twice", 1, {"gate": "late"}))
    await backend.started["late"].wait()
    replies.append(await client.observe("twice", 2, {"hp": 3}))
    replies.append(await first)
    replies.append(await client.observe("stubborn", 1, {"note": "never valid"}))
    peer = peers(server.endpoint)
    await peer.send_msg(type="observe", id="bad")  # no agent_id: an error reply
    error = await peer.expect("bad")

    statuses = collections.Counter(r["status"] for r in replies)
    assert {"ok", "fallback", "timeout", "superseded"} <= set(statuses), statuses
    m = await asyncio.to_thread(scrape, url)
    assert by_label(m["agent_arena_decisions_total"], "status") == statuses
    assert {dict(k)["backend"] for k in m["agent_arena_decisions_total"]} == {"scripted"}
    hist = by_label(m["agent_arena_decision_seconds_count"], "status")
    assert hist == statuses
    # model time for every decision the backend answered (ok and fallback), bridge time too
    answered = statuses["ok"] + statuses["fallback"]
    assert m["agent_arena_model_seconds_count"][()] == answered
    assert m["agent_arena_bridge_seconds_count"][()] == answered
    usage = [r["usage"] for r in replies if r["usage"]]
    assert m["agent_arena_prompt_tokens_total"][(("backend", "scripted"),)] == \
        sum(u["prompt_tokens"] for u in usage) > 0
    assert m["agent_arena_completion_tokens_total"][(("backend", "scripted"),)] == \
        sum(u["completion_tokens"] for u in usage) > 0
    reasks = sum(u["attempts"] - 1 for u in usage if u["attempts"] > 1)
    assert reasks > 0 and m["agent_arena_reasks_total"][()] == reasks
    classes = collections.Counter(c for r in replies if (c := client_reason_class(r)))
    assert {"invalid_call", "transient", "timeout"} <= set(classes), classes
    assert by_label(m["agent_arena_fallbacks_total"], "reason") == classes
    assert set(by_label(m["agent_arena_fallbacks_total"], "reason")) <= set(REASON_CLASSES)
    tools = collections.Counter(r["call"]["tool"] if "call" in r else r["tool"]
                                for r in replies if (r.get("call") or r.get("tool")))
    assert by_label(m["agent_arena_tool_calls_total"], "tool") == tools
    assert m["agent_arena_errors_total"] == {(("code", error["code"]),): 1.0}
    # scrape-time gauges: the demo's session is gone, the test client's is still connected
    assert m["agent_arena_in_flight_decisions"][()] == 0
    assert m["agent_arena_queued_decisions"] == {} or m["agent_arena_queued_decisions"][()] == 0
    assert m["agent_arena_sessions"][()] >= 1
    assert m["agent_arena_agents"][()] >= 3  # slow, twice, stubborn
    assert m["agent_arena_backend_up"][(("backend", "scripted"),)] in (0.0, 1.0)
    info = next(iter(m["agent_arena_server_info"]))
    assert dict(info)["backend"] == "scripted"
    # no agent or session ids among the label values (low cardinality)
    labels = {v for fam in m.values() for key in fam for _, v in key}
    assert not labels & {"ana", "bo", "cy", "slow", "twice", "stubborn"}


async def test_in_flight_and_queued_are_read_at_scrape_time(arena, connect, monkeypatch):
    backend = GatedBackend()
    # a backend that works on one request at a time, as llama.cpp does: the rest are queued
    monkeypatch.setattr("agent_arena.server.app.backend_slots", lambda b: 1)
    server = await arena(backend, metrics_port=0)
    client = await connect(server.endpoint)
    await client.hello()
    futs = [asyncio.ensure_future(client.observe(f"a{i}", 1, {"gate": "g"})) for i in range(3)]
    await backend.started["g"].wait()
    while server.in_flight < 3:  # the three observes are accepted one by one
        await asyncio.sleep(0.01)
    m = await asyncio.to_thread(scrape, server.views.urls["metrics"])
    assert m["agent_arena_in_flight_decisions"][()] == 3
    assert m["agent_arena_queued_decisions"][()] == 2
    assert m["agent_arena_agents"][()] == 3
    backend.open_all()
    assert {r["status"] for r in await asyncio.gather(*futs)} == {"ok"}
    m = await asyncio.to_thread(scrape, server.views.urls["metrics"])
    assert m["agent_arena_in_flight_decisions"][()] == 0
    assert m["agent_arena_queued_decisions"][()] == 0
    assert by_label(m["agent_arena_decisions_total"], "status") == {"ok": 3}


def test_backend_slots():
    def backend(name: str = "x", **cfg: Any) -> Any:
        return SimpleNamespace(name=name, config=SimpleNamespace(**cfg))

    assert backend_slots(backend("llama_cpp")) == 1
    assert backend_slots(backend("llama_server", n_parallel=4, max_concurrency=64)) == 4
    assert backend_slots(backend("llama_server", n_parallel=8, max_concurrency=2)) == 2
    assert backend_slots(backend("openai", max_concurrency=16)) == 16
    assert backend_slots(backend("engine", max_concurrency=0)) is None  # 0: no limit
    assert backend_slots(backend("scripted")) is None


def grafana_targets() -> list[tuple[str, str]]:
    """(expr, legend) of every query in docs/grafana-agent-arena.json, variables included."""
    dash = json.loads(GRAFANA.read_text())
    panels = [p for top in dash["panels"] for p in [top, *top.get("panels", [])]]
    out = [(t["expr"], t.get("legendFormat", "")) for p in panels for t in p.get("targets", [])]
    out += [(v["query"]["query"], "") for v in dash["templating"]["list"]
            if isinstance(v.get("query"), dict)]
    return out


def family(sample: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total", "_created", "_info"):
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample


async def test_grafana_dashboard_queries_only_what_a_server_exports(arena, peers, monkeypatch):
    """Every metric docs/grafana-agent-arena.json queries is in a real scrape, every label it
    groups by or shows is on that metric (le, and instance/job that Prometheus adds, aside),
    and every metric family the server exports is on the dashboard."""
    monkeypatch.setattr("agent_arena.server.app.backend_slots", lambda b: 1)  # queued is exported
    server = await arena(MixedBackend(), metrics_port=0)
    summary = await run_demo(server.endpoint, TOOLS, agents=2, ticks=4, deadline_ms=60000,
                             masks=False)
    assert "ok" in {d.status for d in summary.decisions}
    peer = peers(server.endpoint)
    await peer.send_msg(type="observe", id="bad")  # an error reply: errors_total has a sample
    await peer.expect("bad")
    m = await asyncio.to_thread(scrape, server.views.urls["metrics"])
    targets = grafana_targets()
    assert len(targets) > 20
    used: set[str] = set()
    for expr, legend in targets:
        names = set(re.findall(r"\bagent_arena_\w+", expr))
        assert names, expr
        used |= names
        missing = names - set(m)
        assert not missing, f"{expr}: {sorted(missing)} not in the scrape"
        labels = {lbl for name in names for key in m[name] for lbl, _ in key}
        labels |= {"le", "instance", "job"}
        for group in re.findall(r"by \(([^)]*)\)", expr):
            for lbl in (x.strip() for x in group.split(",")):
                assert lbl in labels, f"{expr}: no label {lbl!r} on {sorted(names)}"
        for lbl in re.findall(r"\{\{\s*(\w+)\s*\}\}", legend):
            assert lbl in labels, f"legend {legend!r} of {expr}: no label {lbl!r}"
    exported = {family(n) for n in m}
    assert exported - {family(n) for n in used} == set()


# ---- configuration and access --------------------------------------------------------------


@pytest.mark.parametrize("view", ["metrics", "dashboard"])
def test_public_host_without_auth_is_refused(view):
    with pytest.raises(ConfigError, match=f"refusing to serve the {view} on 0.0.0.0 without "
                                          "authentication") as exc:
        ServerConfig(**{f"{view}_port": 9464, f"{view}_host": "0.0.0.0"})
    assert "server.auth.mechanism=plain" in exc.value.message
    with pytest.raises(ConfigError, match="CURVE keys cannot protect HTTP"):
        ServerConfig(**{f"{view}_port": 9464, f"{view}_host": "10.1.2.3"},
                     auth=AuthConfig(mechanism="curve", server_secret_key_file="k"))
    ServerConfig(**{f"{view}_port": 9464, f"{view}_host": "0.0.0.0"},
                 auth=AuthConfig(mechanism="plain", users={"u": "p"}))  # allowed
    ServerConfig(**{f"{view}_port": 9464, f"{view}_host": "localhost"})  # loopback: allowed


@pytest.mark.parametrize("override,words", [
    ("server.metrics_port=70000", ["server.metrics_port=70000", "<= 65535"]),
    ("server.dashboard_port=lots", ["server.dashboard_port", "lots"]),
    ("server.metrics_port=9000 server.dashboard_port=9000", ["different ports"]),
])
def test_bad_ports_are_refused(override, words):
    from agent_arena import settings

    with pytest.raises(ConfigError) as exc:
        settings.server_config(settings.compose(override.split()))
    for w in words:
        assert w in exc.value.message


async def test_plain_auth_protects_metrics_with_http_basic(arena):
    auth = AuthConfig(mechanism="plain", users={"game": "s3cret"})
    server = await arena(GatedBackend(), metrics_port=0, auth=auth)
    url = server.views.urls["metrics"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 401
        assert (await http.get(url, auth=("game", "wrong"))).status_code == 401
        ok = await http.get(url, auth=("game", "s3cret"))
        assert ok.status_code == 200 and "agent_arena_decisions_total" in ok.text


async def test_loopback_listener_refuses_foreign_host_headers_and_writes(arena):
    server = await arena(GatedBackend(), metrics_port=0)
    url = server.views.urls["metrics"]
    async with httpx.AsyncClient() as http:
        # a page on a domain rebound to 127.0.0.1 sends its own name as Host
        assert (await http.get(url, headers={"Host": "attacker.example"})).status_code == 403
        assert (await http.get(url, headers={"Host": "localhost"})).status_code == 200
        assert (await http.post(url)).status_code == 405


async def test_a_taken_port_is_a_config_error(arena):
    server = await arena(GatedBackend(), metrics_port=0)
    port = int(server.views.urls["metrics"].rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(ConfigError, match=f"server.metrics_port={port}: cannot listen"):
        await arena(GatedBackend(), metrics_port=port)


# ---- pure parts ----------------------------------------------------------------------------


def event(**kw: Any) -> DecisionEvent:
    base = dict(session="s", agent_id="a", tick=1, profile="default", status="ok",
                call={"tool": "idle", "arguments": {}}, reason=None, error_kind=None,
                thought=None, latency_ms=10.0, model_ms=8.0, prompt_tokens=1,
                completion_tokens=1, attempts=1, strategy="constrained", backend="scripted",
                observation={}, replied=True)
    return DecisionEvent(**{**base, **kw})


@pytest.mark.parametrize("kw,expected", [
    ({}, None),
    ({"status": "superseded", "call": None}, None),
    ({"status": "timeout"}, "timeout"),
    ({"status": "stopping"}, "stopping"),
    ({"status": "fallback", "attempts": 2}, "invalid_call"),
    ({"status": "fallback", "error_kind": "context_length"}, "context_length"),
    ({"status": "fallback", "attempts": 0, "model_ms": None}, "internal"),
])
def test_reason_class(kw, expected):
    assert reason_class(event(**kw)) == expected


def test_status_line_counts_and_p50():
    w = StatusWindow(window_s=10)
    for ms, st in [(10, "ok"), (30, "ok"), (20, "fallback"), (5, "superseded")]:
        w(event(latency_ms=ms, status=st))
    line = w.line(in_flight=2, now=w.started + 10)
    assert "0.3 decisions/s" in line and "p50 20 ms" in line
    assert "ok 2" in line and "fallback 1" in line and "superseded 1" in line
    assert "in flight 2" in line
