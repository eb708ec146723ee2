"""The embedded default engine (xllamacpp: llama.cpp's server engine in-process), for real.

Real inference on the embedded SmolLM2, real ZeroMQ sockets: every reply path of the reply
contract (supersede, timeout, a vanished game, stop) on this backend, cancellation that frees
the slot at the next token, and agents decoded together. Nothing here asserts on durations.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agent_arena.backends.llama_engine import STRING_CAP, XLlamaCppBackend, XLlamaCppConfig
from agent_arena.backends.types import ChatRequest, Sampling
from agent_arena.client import ArenaClient
from agent_arena.tools import ToolCall, ToolRegistry
from support.arena_sockets import Peer

pytestmark = pytest.mark.llama

LONG = ChatRequest(messages=[{"role": "user", "content": "Count from 1 to 1000, one number "
                              "per line."}], sampling=Sampling(max_tokens=400, temperature=0.0),
                   affinity="counter")


@pytest.fixture(scope="module")
def engine():
    backend = XLlamaCppBackend(XLlamaCppConfig(n_parallel=4, n_ctx_per_slot=1024, n_threads=2,
                                               lora="none"))
    backend.load()
    yield backend
    backend.unload()


@pytest.fixture
async def bridge(make_server, engine):
    # generous default deadline: these tests check decisions, not speed (2 shared cores)
    server = await make_server(engine, default_deadline_ms=300000)
    async with ArenaClient(server.endpoint, timeout_s=600) as client:
        yield server, client


async def _until(cond: Any, timeout: float = 300.0) -> None:
    async def poll() -> None:
        while not cond():
            await asyncio.sleep(0.005)

    await asyncio.wait_for(poll(), timeout)


def _valid(reply: dict[str, Any], tools: list[dict[str, Any]]) -> None:
    assert reply["type"] == "action", reply
    call = reply["call"]
    assert ToolRegistry(tools).validate(ToolCall(call["tool"], call["arguments"])) == []


async def test_constrained_output_matches_the_schema(engine):
    schema = {"type": "object", "properties": {"mood": {"enum": ["calm", "angry"]},
                                               "steps": {"type": "integer"}},
              "required": ["mood", "steps"], "additionalProperties": False}
    out = await engine.chat(ChatRequest(
        messages=[{"role": "user", "content": "How do you feel? Answer in JSON."}],
        response_schema=schema, sampling=Sampling(temperature=0.0, max_tokens=40)))
    data = json.loads(out.text)
    assert data["mood"] in ("calm", "angry") and isinstance(data["steps"], int)
    assert out.prompt_tokens > 0 and out.completion_tokens > 0
    assert out.finish_reason == "stop"


async def test_the_call_is_decoded_in_one_compact_layout_and_free_text_is_bounded(engine):
    """compact_json: no free whitespace (json.dumps' layout, as the adapter was trained), and
    a string the schema leaves unbounded cannot run the answer past max_tokens."""
    schema = {"type": "object", "properties": {
        "tool": {"const": "shout"},
        "arguments": {"type": "object", "properties": {"words": {"type": "string"}},
                      "required": ["words"], "additionalProperties": False}},
        "required": ["tool", "arguments"], "additionalProperties": False}
    out = await engine.chat(ChatRequest(
        messages=[{"role": "user", "content": "Shout the whole alphabet, A to Z, ten times, "
                                              "as one JSON object."}],
        response_schema=schema, sampling=Sampling(temperature=0.0)))  # the default max_tokens
    data = json.loads(out.text)  # complete JSON: the string was capped in time
    assert out.finish_reason == "stop", out.text
    assert out.text == json.dumps(data), out.text
    assert len(data["arguments"]["words"]) <= STRING_CAP
    assert list(data) == ["tool", "arguments"]  # the schema's order: the tool is chosen first


async def test_observe_over_sockets_gives_a_valid_action(bridge, tools):
    server, client = bridge
    welcome = await client.hello()
    assert welcome["backend"] == "xllamacpp" and welcome["model"].endswith(".gguf")
    replies = await asyncio.gather(*(
        client.observe(f"npc-{i}", 1, {"health": 100, "visible": [
            {"id": f"apple-{i}", "position": [i, 0, 2], "distance": 3.0 + i}]})
        for i in range(4)))  # four agents in flight: decoded together on four slots
    for r in replies:
        assert r["status"] == "ok", r
        _valid(r, tools)
    # each agent kept its own slot
    assert len({server.backend.slot_for(f"{next(iter(server.sessions)).id}/npc-{i}")
                for i in range(4)}) == 4


async def test_a_cancelled_generation_stops_at_the_next_token_and_frees_its_slot(engine):
    """The slot of a cancelled request is free at once: the same agent's next request (same
    slot) is answered, and the cancelled one decoded far fewer than max_tokens."""
    stopped = engine.stats["stopped_early"]
    before = engine.stats["streamed_tokens"]
    task = asyncio.create_task(engine.chat(LONG))
    await _until(lambda: engine.stats["streamed_tokens"] > before)  # it is generating
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert engine.stats["stopped_early"] == stopped + 1
    decoded = engine.stats["streamed_tokens"] - before
    assert decoded < 400, decoded
    short = ChatRequest(messages=[{"role": "user", "content": "Say hi."}],
                        sampling=Sampling(max_tokens=4), affinity="counter")
    reply = await engine.chat(short)  # same slot as the cancelled one
    assert reply.completion_tokens > 0


async def test_a_request_cancelled_while_waiting_for_its_slot_never_runs(engine):
    requests = engine.stats["requests"]
    first = asyncio.create_task(engine.chat(LONG))
    queued = asyncio.create_task(engine.chat(LONG))  # same affinity: waits for the slot
    await asyncio.sleep(0)
    queued.cancel()
    first.cancel()
    for t in (first, queued):
        with pytest.raises(asyncio.CancelledError):
            await t
    assert engine.stats["requests"] == requests  # neither completed


async def test_supersede_keeps_the_freshest(bridge, tools):
    server, client = bridge
    await client.hello()
    first = asyncio.ensure_future(client.observe("a", 1, {"health": 100}))
    await _until(lambda: server.in_flight == 1)
    second = await client.observe("a", 2, {"health": 90})
    old = await first
    assert old["status"] == "superseded" and old["call"] is None and old["tick"] == 1
    assert second["status"] == "ok" and second["tick"] == 2
    _valid(second, tools)


async def test_deadline_gives_timeout_fallback_then_decides_again(bridge, tools):
    _, client = bridge
    await client.hello()
    reply = await client.observe("a", 1, {"health": 100}, deadline_ms=30)
    assert reply["status"] == "timeout"
    assert reply["call"] == {"tool": "idle", "arguments": {}}
    again = await client.observe("a", 2, {"health": 100})
    assert again["status"] == "ok"
    _valid(again, tools)


async def test_a_vanished_game_stops_its_decisions(bridge, ctx):
    server, client = bridge
    engine = server.backend
    cancelled = engine.stats["cancelled"]
    game = Peer(ctx[1], server.endpoint)
    await game.send_msg(type="observe", id=1, agent_id="npc", tick=1,
                        observation={"health": 100, "note": "x" * 200})
    await _until(lambda: server.in_flight == 1)
    game.close()
    await _until(lambda: server.stats["abandoned"] == 1)
    await _until(lambda: server.in_flight == 0)
    assert engine.stats["cancelled"] == cancelled + 1  # the engine was told to stop
    assert (await client.ping())["type"] == "pong"


async def test_stop_answers_pending_decisions(make_server, engine):
    server = await make_server(engine, default_deadline_ms=300000)
    async with ArenaClient(server.endpoint, timeout_s=600) as client:
        await client.hello()
        futs = [asyncio.ensure_future(client.observe(f"s{i}", 1, {"health": 100}))
                for i in range(6)]  # more than the four slots: some wait for theirs
        await _until(lambda: server.in_flight == 6)
        await server.stop(grace_ms=0)
        replies = await asyncio.gather(*futs)
    assert sorted(r["agent_id"] for r in replies) == sorted(f"s{i}" for i in range(6))
    assert all(r["status"] in ("stopping", "ok") for r in replies)
    assert any(r["status"] == "stopping" for r in replies)
    # the engine is still usable afterwards
    out = await engine.chat(ChatRequest(messages=[{"role": "user", "content": "Hi"}],
                                        sampling=Sampling(max_tokens=4)))
    assert out.completion_tokens > 0


def test_a_missing_adapter_is_a_clear_config_error(tmp_path):
    from agent_arena.errors import ConfigError

    with pytest.raises(ConfigError, match="lora="):
        XLlamaCppBackend(XLlamaCppConfig(lora=str(tmp_path / "nope.gguf")))


def test_the_packaged_adapter_is_applied_per_request():
    """lora=npc loads the adapter with the model; a request is served with it, a profile's
    ``model: base`` turns it off for that request (scale 0), and both answer."""
    backend = XLlamaCppBackend(XLlamaCppConfig(n_parallel=1, n_ctx_per_slot=512, n_threads=2,
                                               lora="npc"))
    try:
        req = ChatRequest(messages=[{"role": "user", "content": "Say hi."}],
                          sampling=Sampling(max_tokens=4, temperature=0.0))
        assert backend.body(req)["lora"] == [{"id": 0, "scale": 1.0}]
        base = ChatRequest(messages=req.messages, sampling=req.sampling, model="base")
        assert backend.body(base)["lora"] == [{"id": 0, "scale": 0.0}]

        async def both() -> tuple[Any, Any]:
            return await backend.chat(req), await backend.chat(base)

        with_adapter, without = asyncio.run(both())
        assert with_adapter.completion_tokens > 0 and without.completion_tokens > 0
    finally:
        backend.unload()
