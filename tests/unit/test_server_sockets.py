"""Black-box tests of the server over real ZeroMQ sockets on loopback.

Everything goes through a bound ROUTER socket and DEALER/REQ peers, exactly as a game would
talk to it. The model is a scripted backend whose timing the tests control with gates
(asyncio events), not with sleeps, so nothing here asserts on durations.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import pytest
import zmq
import zmq.asyncio
import zmq.auth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.errors import ArenaError, ConfigError
from agent_arena.security import AuthConfig
from agent_arena.server import ArenaServer, ServerConfig
from support.arena_sockets import (
    IDLE,
    MAX,
    MOVE,
    REPLY_S,
    SCHEMAS,
    TOOLS,
    GatedBackend,
    assert_valid_call,
    pack,
    unpack,
)

# ---- session: hello, tools -----------------------------------------------------------------


async def test_hello_welcome_fields(arena, connect):
    server = await arena(max_message_bytes=50_000, default_deadline_ms=1234)
    client = await connect(server.endpoint, name="pytest-game")
    w = await client.hello()
    assert w["type"] == "welcome"
    assert w["id"] == 1
    assert w["v"] == 1
    assert re.fullmatch(r"agent-arena/\d+\.\d+\.\d+\S*", w["server"])
    assert isinstance(w["session"], str) and w["session"]
    assert w["backend"] == "scripted"
    assert isinstance(w["model"], str) and w["model"]
    assert w["tools"] == [t["name"] for t in TOOLS]
    assert w["max_message_bytes"] == 50_000
    assert w["default_deadline_ms"] == 1234
    assert next(iter(server.sessions)).client == "pytest-game"


async def test_hello_with_tools_registers_them(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    extra = {"name": "open_door", "description": "Open a door.",
             "parameters": {"type": "object", "properties": {"door_id": {"type": "string"}},
                            "required": ["door_id"]}}
    w = await client.hello(tools=[extra], server_tools=True)
    assert w["tools"] == [*SCHEMAS, "open_door"]
    # without server_tools a game gets exactly its own tools (and names its fallback)
    w = await client.hello(tools=[extra], fallback={"tool": "open_door",
                                                    "arguments": {"door_id": "d1"}})
    assert w["tools"] == ["open_door"]


async def test_hello_again_resets_the_session(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    await client.hello()
    await client.register_tools([{"name": "wave", "parameters": {"type": "object"}}],
                                server_tools=True)
    await client.observe("a", 1, {})
    pending = asyncio.ensure_future(client.observe("b", 1, {"gate": "b"}))
    await asyncio.wait_for(backend.started["b"].wait(), REPLY_S)
    w = await client.hello()
    assert w["tools"] == list(SCHEMAS)  # "wave" is gone
    p = await pending
    assert p["status"] == "superseded" and p["call"] is None
    r = await client.request("tool_result", agent_id="a", tick=1, tool="idle", ok=True,
                             raise_errors=False)
    assert r["code"] == "unknown_agent"  # agents were forgotten too


async def test_sessions_are_per_client(arena, connect):
    server = await arena()
    a, b = await connect(server.endpoint), await connect(server.endpoint)
    await a.register_tools([{"name": "wave", "parameters": {"type": "object"}}])
    assert "wave" not in (await b.register_tools([]))["tools"]
    await a.observe("npc", 1, {})
    r = await b.request("tool_result", agent_id="npc", tick=1, tool="idle", ok=True,
                        raise_errors=False)
    assert r["code"] == "unknown_agent"
    assert (await a.hello())["session"] != (await b.hello())["session"]


async def test_version_mismatch(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("hello", v=2, client="future", raise_errors=False)
    assert r["type"] == "error"
    assert r["code"] == "version_mismatch"
    assert r["id"] is not None
    assert "2" in r["message"] and "1" in r["message"]
    assert (await client.ping())["type"] == "pong"


async def test_register_tools_ok_and_replace(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    door = {"type": "function", "function": {
        "name": "open_door", "description": "Open a door.",
        "parameters": {"type": "object", "properties": {"door_id": {"type": "string"}}}}}
    ack = await client.register_tools([door], server_tools=True)
    assert ack == {"type": "ack", "id": ack["id"], "of": "register_tools",
                   "tools": [*SCHEMAS, "open_door"], "fallback": IDLE}
    ack = await client.register_tools([TOOLS[-1]], replace=True)  # idle only
    assert ack["tools"] == ["idle"]


DOOR = {"name": "open_door", "description": "Open a door.",
        "parameters": {"type": "object", "properties": {"door_id": {"type": "string"}},
                       "required": ["door_id"]}}
WAIT = {"name": "wait", "description": "Wait.",
        "parameters": {"type": "object", "properties": {"s": {"type": "integer"}},
                       "required": ["s"]}}


async def test_replacing_tools_without_the_fallback_is_refused(arena, connect):
    """Before: replace=true without idle was accepted and a timeout answered `idle {}`, a tool
    that session never registered."""
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("register_tools", tools=[DOOR], replace=True, raise_errors=False)
    assert r["type"] == "error" and r["code"] == "invalid_fallback", r
    assert "idle" in r["message"] and "fallback" in r["message"]
    # nothing changed: the old tools and fallback stand, and a timeout answers a valid call
    a = await client.observe("npc", 1, {"gate": "never"}, deadline_ms=50)
    assert a["status"] == "timeout" and a["call"] == IDLE


async def test_a_session_names_its_own_fallback_and_it_is_checked(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("register_tools", tools=[DOOR, WAIT], replace=True,
                             fallback={"tool": "wait", "arguments": {"s": "soon"}},
                             raise_errors=False)
    assert r["code"] == "invalid_fallback" and "wait.arguments.s" in r["message"], r
    ack = await client.register_tools([DOOR, WAIT], replace=True,
                                      fallback={"tool": "wait", "arguments": {"s": 1}})
    assert ack["tools"] == ["open_door", "wait"]
    assert ack["fallback"] == {"tool": "wait", "arguments": {"s": 1}}
    a = await client.observe("npc", 1, {"gate": "never"}, deadline_ms=50)
    assert a["status"] == "timeout" and a["call"] == {"tool": "wait", "arguments": {"s": 1}}
    b = await client.observe("npc", 2, {"event": "boom"})  # backend error: same fallback
    assert b["status"] == "fallback" and b["call"]["tool"] == "wait"
    w = await client.hello(tools=[WAIT], fallback={"tool": "wait", "arguments": {"s": 2}})
    assert w["fallback"] == {"tool": "wait", "arguments": {"s": 2}}
    r = await client.request("hello", v=1, fallback={"tool": "teleport"}, raise_errors=False)
    assert r["code"] == "invalid_fallback" and "teleport" in r["message"]


async def test_fallbacks_and_timeouts_do_not_enter_memory(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    assert (await client.observe("npc", 1, {"gate": "never"}, deadline_ms=50))["status"] \
        == "timeout"
    assert (await client.observe("npc", 2, {"event": "boom"}))["status"] == "fallback"
    assert (await client.observe("npc", 3, {"hp": 5}))["status"] == "ok"
    assert (await client.observe("npc", 4, {"hp": 4}))["status"] == "ok"
    prompt = str(backend.requests[-1].messages[-1]["content"])
    assert "tick 3: move_to" in prompt  # the model's own choice is remembered
    assert "tick 1" not in prompt and "tick 2" not in prompt  # the fallbacks are not


async def test_register_tools_invalid_schema_is_all_or_nothing(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    good = {"name": "wave", "description": "Wave.",
            "parameters": {"type": "object", "properties": {}}}
    bad = {"name": "broken_tool", "description": "x",
           "parameters": {"type": "object", "properties": {"n": {"type": "integer-ish"}}}}
    r = await client.request("register_tools", tools=[good, bad], raise_errors=False)
    assert r["type"] == "error"
    assert r["code"] == "invalid_schema"
    assert "broken_tool" in r["message"]
    assert "Traceback" not in r["message"]
    # nothing changed: "wave" was not registered either
    assert (await client.register_tools([]))["tools"] == list(SCHEMAS)
    r = await client.request("observe", agent_id="a", tick=0, observation={}, tools=["wave"],
                             raise_errors=False)
    assert r["code"] == "unknown_tool"
    # a non-object schema and a bad name are rejected the same way
    r = await client.request("register_tools", raise_errors=False, tools=[
        {"name": "arr", "parameters": {"type": "array"}}])
    assert r["code"] == "invalid_schema" and "arr" in r["message"]
    r = await client.request("register_tools", raise_errors=False, tools=[
        {"name": "1 bad name", "parameters": {"type": "object"}}])
    assert r["code"] == "invalid_schema" and "1 bad name" in r["message"]


# ---- observe -> action -----------------------------------------------------------------------


async def test_observe_gets_valid_action(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    await client.hello()
    obs = {"position": [1, 0, 2], "health": 80, "goal": "collect apples"}
    a = await client.observe("npc-1", 42, obs, deadline_ms=REPLY_S * 1000)
    assert a["type"] == "action"
    assert a["agent_id"] == "npc-1" and a["tick"] == 42
    assert a["status"] == "ok" and a["reason"] is None
    assert a["call"] == {"tool": "move_to", "arguments": {"target": [4, 0, 2]}}
    assert_valid_call(a["call"])
    assert a["thought"] == "go"
    assert a["backend"] == "scripted"
    assert isinstance(a["latency_ms"], float) and a["latency_ms"] >= 0
    assert set(a["usage"]) == {"prompt_tokens", "completion_tokens", "attempts"}
    assert a["usage"]["attempts"] == 1
    # the observation reached the model's prompt
    prompt = server.backend.requests[-1].messages[-1]["content"]
    assert "goal: collect apples" in prompt


async def test_invalid_model_call_never_reaches_the_game(arena, connect):
    """The model names a tool that is not allowed now: re-asked, then the fallback call."""
    server = await arena(ScriptedBackend(answer=MOVE))
    client = await connect(server.endpoint)
    a = await client.observe("a", 1, {}, tools=["say", "idle"])
    assert a["status"] == "fallback"
    assert a["call"] == IDLE
    assert "move_to" in a["reason"]
    assert a["usage"]["attempts"] == 2


async def test_many_in_flight_replies_out_of_order(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    n = 6
    futs = [asyncio.ensure_future(client.observe(f"a{i}", i, {"gate": f"g{i}"})) for i in range(n)]
    for i in range(n):
        await asyncio.wait_for(backend.started[f"g{i}"].wait(), REPLY_S)
    arrived = []
    for i in reversed(range(n)):  # release the newest first: replies must not wait for others
        backend.gates[f"g{i}"].set()
        a = await futs[i]
        arrived.append(a["agent_id"])
        assert a["tick"] == i and a["status"] == "ok"
        assert_valid_call(a["call"])
        assert not any(f.done() for f in futs[:i])  # the older ones are still pending
    assert arrived == [f"a{i}" for i in reversed(range(n))]
    assert client.unmatched == []


async def test_many_in_flight_with_delays(arena, connect):
    """Different model times per agent (responder-driven): every observe gets its own reply."""

    class Delayed(ScriptedBackend):
        async def chat(self, request: ChatRequest) -> ChatResponse:
            m = re.search(r"delay: (\d+)", request.messages[-1]["content"])
            await asyncio.sleep(int(m.group(1)) / 1000)
            return await super().chat(request)

    server = await arena(Delayed(answer=MOVE))
    client = await connect(server.endpoint)
    delays = [60, 0, 30, 10, 45, 5, 20, 0]
    replies = await asyncio.gather(*(client.observe(f"n{i}", 7, {"delay": d})
                                     for i, d in enumerate(delays)))
    assert [r["agent_id"] for r in replies] == [f"n{i}" for i in range(len(delays))]
    assert all(r["status"] == "ok" and r["tick"] == 7 for r in replies)
    assert server.stats["decisions"] == len(delays)


async def test_a_thousand_agents_in_one_game_lose_no_reply(arena, connect):
    """All decisions of a large game finish at once: the burst of replies to one peer must not
    hit the ROUTER's send high-water mark, where ZeroMQ drops messages silently."""
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    n = 1200
    futs = [asyncio.ensure_future(client.observe(f"a{i}", 1, {"gate": "all"}))
            for i in range(n)]
    while server.in_flight < n:
        await asyncio.sleep(0.01)
    assert server.transport.sock.getsockopt(zmq.SNDHWM) >= server.config.max_pending
    backend.gates["all"].set()
    replies = await asyncio.gather(*futs)
    assert sorted(r["agent_id"] for r in replies) == sorted(f"a{i}" for i in range(n))
    assert all(r["status"] == "ok" for r in replies)


async def test_supersede(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    old = asyncio.ensure_future(client.observe("npc", 1, {"gate": "slow"}, id="old"))
    await asyncio.wait_for(backend.started["slow"].wait(), REPLY_S)
    new = await client.observe("npc", 2, {"state": "fresh"}, id="new")
    first = await old
    assert first["id"] == "old" and first["tick"] == 1
    assert first["status"] == "superseded"
    assert first["call"] is None
    assert "new" in first["reason"]
    assert new["id"] == "new" and new["tick"] == 2 and new["status"] == "ok"
    assert_valid_call(new["call"])
    backend.gates["slow"].set()  # the superseded decision must not answer a second time
    assert (await client.ping())["type"] == "pong"
    assert client.unmatched == []
    assert server.stats["superseded"] == 1 and server.stats["decisions"] == 1


async def test_deadline_gives_timeout_with_fallback(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    a = await client.observe("slowpoke", 3, {"gate": "never"}, deadline_ms=50)
    assert a["status"] == "timeout"
    assert a["call"] == IDLE
    assert "deadline_ms=50" in a["reason"]


async def test_default_deadline_applies(arena, connect):
    server = await arena(default_deadline_ms=40)
    client = await connect(server.endpoint)
    a = await client.observe("slowpoke", 3, {"gate": "never"})
    assert a["status"] == "timeout" and a["call"] == IDLE
    assert "deadline_ms=40" in a["reason"]


async def test_backend_error_gives_fallback_and_server_keeps_serving(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    a = await client.observe("a", 1, {"event": "boom"})
    assert a["status"] == "fallback"
    assert a["call"] == IDLE
    assert "crashed" in a["reason"]
    b = await client.observe("b", 1, {"event": "calm"})
    assert b["status"] == "ok"
    assert (await client.ping())["type"] == "pong"


async def test_unreadable_observation_still_gets_exactly_one_action(arena, connect):
    """Values the prompt renderer may choke on (NaN, inf, deep nesting) must not swallow the
    reply: each accepted observe gets exactly one action."""
    server = await arena()
    client = await connect(server.endpoint)
    deep: Any = 1
    for _ in range(600):
        deep = {"k": deep}
    for i, obs in enumerate([{"hp": float("nan")}, {"pos": [float("inf"), 0, 0]},
                             {"deep": deep}]):
        a = await client.request("observe", agent_id=f"odd{i}", tick=i, observation=obs,
                                 raise_errors=False)
        if a["type"] == "error":  # refusing the request is fine too, but it must say why
            assert a["code"] == "bad_message" and "nested" in a["message"], a
            continue
        assert a["type"] == "action" and a["agent_id"] == f"odd{i}"
        assert a["status"] in ("ok", "fallback")
        assert_valid_call(a["call"])
    assert (await client.ping())["type"] == "pong"


async def test_max_pending_overloaded(arena, connect):
    server = await arena(max_pending=2)
    client = await connect(server.endpoint)
    futs = [asyncio.ensure_future(client.observe(f"a{i}", 0, {"gate": "g"})) for i in range(2)]
    while server.in_flight < 2:
        await asyncio.sleep(0.01)
    r = await client.request("observe", agent_id="a9", tick=0, observation={},
                             raise_errors=False)
    assert r["code"] == "overloaded"
    # a newer observe for an agent already in flight is not refused: it supersedes
    s = await client.observe("a0", 1, {})
    assert s["status"] == "ok"
    assert (await futs[0])["status"] == "superseded"
    server.backend.gates["g"].set()
    assert (await futs[1])["status"] == "ok"


# ---- tool_result, reset, profiles, tools -----------------------------------------------------


async def test_tool_result(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("tool_result", agent_id="ghost", tick=1, tool="idle", ok=True,
                             raise_errors=False)
    assert r["type"] == "error" and r["code"] == "unknown_agent"
    assert "ghost" in r["message"]
    await client.observe("npc", 1, {"x": 1})
    ack = await client.tool_result("npc", 1, "move_to", False, "a wall is in the way")
    assert ack == {"type": "ack", "id": ack["id"], "of": "tool_result"}
    await client.observe("npc", 2, {"x": 2})
    prompt = server.backend.requests[-1].messages[-1]["content"]
    assert "a wall is in the way" in prompt


async def test_reset(arena, connect):
    server = await arena()
    backend: GatedBackend = server.backend
    client = await connect(server.endpoint)
    await client.observe("a", 1, {"x": 1})
    await client.tool_result("a", 1, "move_to", True, "arrived-marker")
    pending = asyncio.ensure_future(client.observe("b", 1, {"gate": "b"}))
    await asyncio.wait_for(backend.started["b"].wait(), REPLY_S)
    ack = await client.reset("b")
    assert ack["of"] == "reset" and ack["agents"] == ["b"]
    p = await pending
    assert p["status"] == "superseded" and p["call"] is None
    ack = await client.reset()
    assert ack["of"] == "reset" and sorted(ack["agents"]) == ["a", "b"]
    await client.observe("a", 2, {"x": 2})
    assert "arrived-marker" not in server.backend.requests[-1].messages[-1]["content"]


async def test_unknown_profile(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("observe", agent_id="a", tick=0, observation={}, profile="wizard",
                             raise_errors=False)
    assert r["type"] == "error" and r["code"] == "unknown_profile"
    assert "wizard" in r["message"] and "default" in r["message"]


async def test_unknown_tool_in_observe(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    with pytest.raises(ArenaError) as err:
        await client.observe("a", 0, {}, tools=["move_to", "fly"])
    assert err.value.code == "unknown_tool"
    assert "'fly'" in err.value.message and "move_to" in err.value.message
    assert "'move_to'" not in err.value.message.split("registered")[0]  # names only the missing


async def test_req_client(arena, peers):
    server = await arena()
    req = peers(server.endpoint, zmq.REQ)
    await req.send_msg(type="ping", id=1)
    assert (await req.expect(1))["type"] == "pong"  # REQ drops replies without the delimiter
    await req.send_msg(type="observe", id=2, agent_id="r", tick=5, observation={"hp": 3})
    a = await req.expect(2)
    assert a["type"] == "action" and a["status"] == "ok"
    assert_valid_call(a["call"])
    await req.send(b"\xc1")  # errors also come back through the REQ envelope
    e = await req.expect(lambda m: True)
    assert e["code"] == "bad_frame"


# ---- bad input over the socket -----------------------------------------------------------------

BAD_INPUT = [
    # (name, frames, code or None for "no reply possible", expected id, words in message)
    ("undecodable", [b"\xc1\x00garbage"], "bad_frame", None, ["msgpack"]),
    ("truncated", [b"\x83\xa4type"], "bad_frame", None, ["msgpack"]),
    ("empty", [b""], "bad_frame", None, []),
    ("non_map", [pack([1, 2, 3])], "bad_message", None, ["map"]),
    ("missing_field", [pack({"type": "observe", "id": 11, "tick": 1, "observation": {}})],
     "bad_message", 11, ["agent_id"]),
    ("mistyped_field", [pack({"type": "observe", "id": 12, "agent_id": "a", "tick": "soon",
                              "observation": {}})], "bad_message", 12, ["tick"]),
    ("mistyped_nested", [pack({"type": "observe", "id": 16, "agent_id": "a", "tick": 1,
                               "observation": {}, "tools": ["idle", 3]})],
     "bad_message", 16, ["tools"]),
    ("no_type", [pack({"id": 13})], "bad_message", 13, ["type"]),
    ("unknown_type", [pack({"type": "teleport", "id": 14})], "unknown_type", 14, ["teleport"]),
    ("two_payloads", [pack({"type": "ping", "id": 1}), pack({"type": "ping", "id": 2})],
     "bad_frame", None, ["one"]),
    ("too_large", [pack({"type": "ping", "id": 15, "pad": "x" * (MAX + 10)})], "too_large", None,
     [str(MAX)]),
    ("deeply_nested", [b"\x83\xa4type\xa4ping\xa2id\x11\xa1k" + b"\x81\xa1k" * 1000 + b"\x01"],
     "bad_message", 17, ["nested"]),
    ("over_hard_limit", [b"\x00" * (4 * MAX + 100)], None, None, []),
]


@pytest.mark.parametrize("name,frames,code,rid,words", BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
async def test_bad_input(arena, connect, peers, name, frames, code, rid, words):
    server = await arena(max_message_bytes=MAX)
    backend: GatedBackend = server.backend
    other = await connect(server.endpoint)
    bad = peers(server.endpoint)
    # accepted before the bad input: one observe from the other client, one from the same one
    theirs = asyncio.ensure_future(other.observe("o", 1, {"gate": "o"}))
    await bad.send_msg(type="observe", id="mine", agent_id="m", tick=1,
                       observation={"gate": "m"})
    await asyncio.wait_for(backend.started["o"].wait(), REPLY_S)
    await asyncio.wait_for(backend.started["m"].wait(), REPLY_S)

    await bad.send(*frames)
    if code is None:  # libzmq drops the connection: no reply is possible
        with pytest.raises(asyncio.TimeoutError):
            await bad.expect(lambda m: m.get("type") == "error", timeout=0.5)
    else:
        err = await bad.expect(lambda m: m.get("type") == "error")
        assert err["code"] == code, err
        assert err["id"] == rid
        assert isinstance(err["message"], str) and err["message"]
        assert "Traceback" not in err["message"]
        for w in words:
            assert w in err["message"], err["message"]

    # the server keeps serving: the same client (reconnected if dropped) and another one
    assert (await bad.ping("after"))["type"] == "pong"
    assert (await other.ping())["type"] == "pong"
    # nothing already accepted is lost
    backend.gates["o"].set()
    backend.gates["m"].set()
    a = await theirs
    assert a["status"] == "ok" and a["agent_id"] == "o"
    if code is not None:  # same connection: its in-flight observe is answered too
        mine = await bad.expect("mine")
        assert mine["type"] == "action" and mine["status"] == "ok"
        assert server.stats["decisions"] == 2 and server.stats["ok"] == 2
    else:  # its connection was dropped: its decision is stopped (nobody to answer), the
        # other client's is not

        async def abandoned() -> None:
            while server.stats["abandoned"] < 1:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(abandoned(), REPLY_S)
        assert server.stats["decisions"] == 1 and server.stats["ok"] == 1


# ---- security --------------------------------------------------------------------------------


async def test_non_loopback_bind_without_auth_is_refused(ctx):
    server = ArenaServer(GatedBackend(), ServerConfig(bind="tcp://0.0.0.0:0"), tools=TOOLS,
                         context=ctx[0])
    with pytest.raises(ConfigError) as err:
        await server.start()
    msg = err.value.message
    assert "0.0.0.0" in msg and "authentication" in msg
    assert "server.auth.mechanism=plain" in msg and "127.0.0.1" in msg
    assert server.transport.sock is None


async def test_plain_auth(arena, connect):
    server = await arena(bind="tcp://0.0.0.0:0",
                         auth=AuthConfig(mechanism="plain", users={"game": "s3cret"}))
    port = server.endpoint.rsplit(":", 1)[1]
    endpoint = f"tcp://127.0.0.1:{port}"
    good = await connect(endpoint, plain=("game", "s3cret"))
    assert (await good.hello())["type"] == "welcome"
    wrong = await connect(endpoint, plain=("game", "guess"))
    with pytest.raises(asyncio.TimeoutError):
        await wrong.ping(timeout_s=0.5)
    anonymous = await connect(endpoint)
    with pytest.raises(asyncio.TimeoutError):
        await anonymous.ping(timeout_s=0.5)
    assert (await good.ping())["type"] == "pong"


async def test_curve_auth(arena, connect, tmp_path):
    keys, clients = tmp_path / "keys", tmp_path / "clients"
    keys.mkdir()
    clients.mkdir()
    server_pub_file, server_sec_file = zmq.auth.create_certificates(keys, "server")
    _, client_sec_file = zmq.auth.create_certificates(clients, "client")
    server = await arena(auth=AuthConfig(mechanism="curve",
                                         server_secret_key_file=str(server_sec_file),
                                         client_keys_dir=str(clients)))
    server_pub, _ = zmq.auth.load_certificate(server_pub_file)
    client_keys = zmq.auth.load_certificate(client_sec_file)
    good = await connect(server.endpoint, curve_server_key=server_pub, curve_keypair=client_keys)
    assert (await good.ping())["type"] == "pong"
    a = await good.observe("c", 1, {"hp": 1})
    assert a["status"] == "ok"
    stranger = await connect(server.endpoint, curve_server_key=server_pub)  # unknown key pair
    with pytest.raises(asyncio.TimeoutError):
        await stranger.ping(timeout_s=0.5)
    plaintext = await connect(server.endpoint)
    with pytest.raises(asyncio.TimeoutError):
        await plaintext.ping(timeout_s=0.5)
    assert (await good.ping())["type"] == "pong"


# ---- fuzz ------------------------------------------------------------------------------------


class ThreadedServer:
    """The server on its own event loop in a thread, so a synchronous hypothesis test can
    drive it through a blocking socket."""

    def __init__(self, **cfg: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.ctx = zmq.asyncio.Context()
        self.server = ArenaServer(ScriptedBackend(answer=MOVE),
                                  ServerConfig(bind="tcp://127.0.0.1:0", **cfg), tools=TOOLS,
                                  context=self.ctx)
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.endpoint = asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
        self.ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def fuzz_target():
    t = ThreadedServer(max_message_bytes=MAX, default_deadline_ms=2000)
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(t.endpoint)
    yield t, sock
    sock.close(0)
    ctx.term()
    t.close()


_pings = iter(range(10**9))


def _ping_sync(sock: zmq.Socket, seen: list[dict[str, Any]]) -> dict[str, Any]:
    rid = f"fuzz-{next(_pings)}"
    sock.send(pack({"type": "ping", "id": rid}))
    while sock.poll(int(REPLY_S * 1000)):
        m = unpack(sock.recv_multipart()[-1])
        if isinstance(m, dict) and m.get("id") == rid:
            return m
        seen.append(m)
    raise AssertionError("no pong: the server stopped answering")


_scalars = (st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats()
            | st.text(max_size=30) | st.binary(max_size=30))
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.text(max_size=10) | st.integers(0, 9), inner, max_size=5),
    max_leaves=25)
_message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["hello", "register_tools", "observe", "tool_result", "reset",
                              "ping", "nope"]),
     "id": st.integers(-5, 5) | st.text(max_size=4) | st.none()},
    optional={"v": _values, "agent_id": st.text(max_size=6) | _values,
              "tick": st.integers(-(2**63), 2**63 - 1) | _values, "observation": _values,
              "tools": _values | st.lists(st.sampled_from(list(SCHEMAS)), max_size=3),
              "deadline_ms": st.integers(-5, 3000) | _values, "profile": _values,
              "tool": _values, "ok": _values, "result": _values, "replace": _values,
              "client": _values})
_frames = st.one_of(
    st.binary(max_size=200),
    _values.map(pack),
    _message_like.map(pack),
    st.lists(_message_like.map(pack), min_size=2, max_size=3).map(tuple),
    st.integers(MAX - 2, MAX + 200).map(lambda n: b"\x00" * n),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(frames=_frames)
def test_fuzz_frames_never_kill_the_server(fuzz_target, frames):
    target, sock = fuzz_target
    sock.send_multipart(list(frames) if isinstance(frames, tuple) else [frames])
    seen: list[dict[str, Any]] = []
    assert _ping_sync(sock, seen)["type"] == "pong"
    assert target.server.transport.sock is not None and not target.server.transport.closed.done()
    for m in seen:  # every reply is a well-formed protocol message, never an internal error
        assert isinstance(m, dict), m
        assert m.get("type") in ("welcome", "ack", "action", "error", "pong"), m
        if m["type"] == "error":
            assert m["code"] != "internal", m
        if m["type"] == "action" and m["call"] is not None:
            assert_valid_call(m["call"])
