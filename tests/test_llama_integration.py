"""The bridge end to end: real ZeroMQ sockets, real llama.cpp inference on embedded SmolLM2."""

from __future__ import annotations

import asyncio

import pytest

from agent_arena.backends.recording import RecordingBackend
from agent_arena.client import ArenaClient
from agent_arena.tools import ToolCall, ToolRegistry
from agent_arena.world import run_demo

pytestmark = pytest.mark.llama

DOOR = {"name": "open_door", "description": "Open a door that is in reach.",
        "parameters": {"type": "object", "properties": {"door_id": {"type": "string"}},
                       "required": ["door_id"], "additionalProperties": False}}


@pytest.fixture
async def bridge(make_server, llama_backend):
    backend = RecordingBackend(llama_backend)
    # generous default deadline: these tests check decisions, not speed (2 shared cores)
    server = await make_server(backend, default_deadline_ms=300000)
    async with ArenaClient(server.endpoint) as client:
        yield server, client, backend


def assert_valid(reply, tools, allowed=None):
    assert reply["type"] == "action", reply
    call = reply["call"]
    assert ToolRegistry(tools).validate(ToolCall(call["tool"], call["arguments"]), allowed) == []


async def test_hello_register_observe_gives_schema_valid_action(bridge, tools):
    server, client, backend = bridge
    welcome = await client.hello()
    assert welcome["backend"] == "llama_cpp" and welcome["model"].endswith(".gguf")
    ack = await client.register_tools([DOOR])
    assert "open_door" in ack["tools"]
    reply = await client.observe("npc-1", 1, {"in_reach": ["door-3"], "goal": "get inside"},
                                 tools=["open_door", "idle"])
    assert reply["status"] == "ok", reply
    assert_valid(reply, [*tools, DOOR], ["open_door", "idle"])
    assert reply["usage"]["completion_tokens"] > 0 and reply["latency_ms"] > 0
    # the request really was constrained by the union-of-tools schema (auto -> constrained)
    assert backend.requests[-1].response_schema is not None


async def test_several_agents_in_flight(bridge, tools):
    _, client, _ = bridge
    await client.hello()
    replies = await asyncio.gather(*(
        client.observe(f"a{i}", 7, {"health": 100, "visible": [], "note": f"agent {i}"})
        for i in range(3)))
    assert sorted(r["agent_id"] for r in replies) == ["a0", "a1", "a2"]
    for r in replies:
        assert r["tick"] == 7 and r["status"] == "ok"
        assert_valid(r, tools)


async def test_supersede_keeps_the_freshest(bridge, tools):
    _, client, _ = bridge
    await client.hello()
    first = asyncio.ensure_future(client.observe("a", 1, {"health": 100}))
    await asyncio.sleep(0.05)
    second = await client.observe("a", 2, {"health": 90})
    old = await first
    assert old["status"] == "superseded" and old["call"] is None and old["tick"] == 1
    assert second["status"] == "ok" and second["tick"] == 2
    assert_valid(second, tools)


async def test_deadline_gives_timeout_fallback(bridge):
    _, client, _ = bridge
    await client.hello()
    reply = await client.observe("a", 1, {"health": 100}, deadline_ms=30)
    assert reply["status"] == "timeout"
    assert reply["call"] == {"tool": "idle", "arguments": {}}
    assert "deadline_ms=30" in reply["reason"]
    # the server is still fine afterwards, with a real decision
    again = await client.observe("a", 2, {"health": 100})
    assert again["status"] == "ok"


async def test_tool_result_reaches_the_next_prompt(bridge):
    _, client, backend = bridge
    await client.hello()
    first = await client.observe("a", 1, {"health": 100})
    await client.tool_result("a", 1, first["call"]["tool"], False, "the bridge is broken")
    await client.observe("a", 2, {"health": 100})
    prompt = backend.requests[-1].messages[-1]["content"]  # the last user turn
    assert f"tick 1: {first['call']['tool']}(" in prompt
    assert "failed: the bridge is broken" in prompt


async def test_demo_world_is_all_schema_valid(make_server, llama_backend, tools):
    server = await make_server(llama_backend)
    summary = await run_demo(server.endpoint, tools, agents=2, ticks=2, deadline_ms=300000)
    assert summary.n == 4
    assert summary.valid_pct == 100.0
    assert summary.count("timeout") == 0


async def test_timeouts_mid_generation_do_not_break_the_model(bridge, tools):
    """Regression: a decision cancelled while llama.cpp decodes must finish (or stop) before the
    next one starts; overlapping calls crashed llama.cpp (GGML_ASSERT) in an earlier build."""
    _, client, _ = bridge
    await client.hello()
    for deadline in (150, 400, 800):
        replies = await asyncio.gather(*(
            client.observe(f"t{i}", deadline, {"health": 100, "note": "x" * (i + 1)},
                           deadline_ms=deadline) for i in range(3)))
        assert all(r["status"] in ("ok", "timeout") for r in replies)
    after = await client.observe("fresh", 1, {"health": 100})
    assert after["status"] == "ok"
    assert_valid(after, tools)
    assert (await client.ping())["type"] == "pong"
