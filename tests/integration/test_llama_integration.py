"""The bridge end to end: real ZeroMQ sockets, real llama.cpp inference on embedded SmolLM2."""

from __future__ import annotations

import asyncio

import pytest

from agent_arena.backends.recording import RecordingBackend
from agent_arena.calling import DESCRIBE_QUESTION
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
    ack = await client.register_tools([DOOR], server_tools=True)
    assert "open_door" in ack["tools"]
    reply = await client.observe("npc-1", 1, {"in_reach": ["door-3"], "goal": "get inside"},
                                 tools=["open_door", "idle"])
    assert reply["status"] == "ok", reply
    assert_valid(reply, [*tools, DOOR], ["open_door", "idle"])
    assert reply["usage"]["prompt_tokens"] > 0 and reply["latency_ms"] > 0
    # no mask: the tool was chosen by its description (calling.choice=auto on llama.cpp), and a
    # door id can only be one the observation shows (the only one here is scored, not written)
    assert any(DESCRIBE_QUESTION in str(r.messages[-1]["content"]) for r in backend.requests)
    if reply["call"]["tool"] == "open_door":
        assert reply["call"]["arguments"] == {"door_id": "door-3"}


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


async def _until(cond, timeout: float = 300.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


async def test_a_cancelled_generation_stops_at_the_next_token(llama_backend):
    """Before: a superseded or timed-out generation ran to max_tokens and held the single
    worker, so every agent behind it waited."""
    from agent_arena.backends.types import ChatRequest, Sampling

    long = ChatRequest(messages=[{"role": "user", "content": "Count from 1 to 1000, one number "
                                  "per line."}], sampling=Sampling(max_tokens=600,
                                                                   temperature=0.0))
    stopped = llama_backend.stats["stopped_early"]
    start = llama_backend._evaluated
    task = asyncio.create_task(llama_backend.chat(long))
    await _until(lambda: llama_backend._evaluated > start)  # the prompt is in: generating
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    short = ChatRequest(messages=[{"role": "user", "content": "Say hi."}],
                        sampling=Sampling(max_tokens=4))
    reply = await llama_backend.chat(short)  # the worker is free again
    assert reply.completion_tokens > 0
    assert llama_backend.stats["stopped_early"] == stopped + 1
    generated = llama_backend._evaluated - start  # prompt + tokens of the cancelled one + short
    assert generated < 600, generated  # far fewer than max_tokens were decoded


async def test_a_superseded_decision_frees_the_model_for_the_next(bridge):
    server, client, backend = bridge
    inner = backend.inner if hasattr(backend, "inner") else backend
    stopped = inner.stats["stopped_early"] + inner.stats["cancelled"]
    first = asyncio.ensure_future(client.observe("npc", 1, {"health": 50, "goal": "explore"}))
    await _until(lambda: server.in_flight == 1)
    second = await client.observe("npc", 2, {"health": 40, "goal": "explore"})
    assert (await first)["status"] == "superseded"
    assert second["status"] == "ok"
    assert inner.stats["stopped_early"] + inner.stats["cancelled"] >= stopped + 1
