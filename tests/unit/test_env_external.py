"""The external backend through the real server over real ZeroMQ sockets: a game (ArenaClient)
observes, an environment client acts (docs/env.md).

The decision machinery is the server's own: these tests check that an invalid action reaches
the client as the schema error and never the game, that the deadline, a reset and the game's
reset still answer, and that rewards and done come through.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from agent_arena import protocol
from agent_arena.backends.external import EPISODE_OVER, ActionRefused, ExternalBackend
from agent_arena.calling import CallingConfig
from agent_arena.client import ArenaClient
from agent_arena.env.server import EnvServer, turn_key
from agent_arena.server import ServerConfig

WAIT_S = 10.0  # only bounds a test that would otherwise hang
MASK = {"pick_up": {"item_id": ["apple-1"]}, "flee": False, "say": False}


@pytest.fixture
async def bridge(tools):
    backend = ExternalBackend()
    server = EnvServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"), tools=tools,
                       calling=CallingConfig(strategy="native", max_attempts=1))
    endpoint = await server.start()
    game = await ArenaClient(endpoint, name="test game").connect()
    await game.hello(tools=tools)
    yield server, backend, game
    await game.close()
    await server.stop(grace_ms=0)


def key_of(server: EnvServer, agent_id: str) -> str:
    assert server.game is not None
    return turn_key(server.game.id, agent_id)


async def test_the_client_gets_prompt_observation_and_masked_schemas(bridge) -> None:
    server, backend, game = bridge
    obs = {"goal": "collect apple", "in_reach": ["apple-1"]}
    reply = asyncio.ensure_future(game.observe("ana", 3, obs, mask=MASK, deadline_ms=60000))
    turn = await backend.wait_turn(key_of(server, "ana"), timeout_s=WAIT_S)
    assert turn.tick == 3 and turn.observation == obs and not turn.done
    assert "in_reach: [apple-1]" in turn.messages[-1]["content"]  # the prompt a model gets
    names = [t["function"]["name"] for t in turn.tools]
    assert names == ["move_to", "pick_up", "idle"]  # say and flee masked out
    pick = next(t for t in turn.tools if t["function"]["name"] == "pick_up")
    assert pick["function"]["parameters"]["properties"]["item_id"]["enum"] == ["apple-1"]
    backend.act(turn.key, "pick_up", {"item_id": "apple-1"})
    got = await asyncio.wait_for(reply, WAIT_S)
    assert got["status"] == "ok"
    assert got["call"] == {"tool": "pick_up", "arguments": {"item_id": "apple-1"}}


async def test_an_invalid_action_returns_the_schema_error_and_the_game_gets_nothing(
        bridge) -> None:
    server, backend, game = bridge
    reply = asyncio.ensure_future(game.observe("ana", 0, {"x": 1}, mask=MASK,
                                               deadline_ms=60000))
    turn = await backend.wait_turn(key_of(server, "ana"), timeout_s=WAIT_S)
    with pytest.raises(ActionRefused) as bad:
        backend.act(turn.key, "pick_up", {"item_id": "wolf-9"})
    assert bad.value.code == "invalid_action"
    assert "pick_up.arguments.item_id" in bad.value.message and "apple-1" in bad.value.message
    with pytest.raises(ActionRefused, match="not allowed now|unknown tool"):
        backend.act(turn.key, "flee", {"threat_id": "wolf-0"})  # masked out
    await game.ping()  # a round trip: anything the server had sent would be here by now
    assert not reply.done() and server.in_flight == 1
    assert turn.as_dict()["error"] is not None and turn.open
    backend.act(turn.key, "idle", {})
    got = await asyncio.wait_for(reply, WAIT_S)
    assert got["status"] == "ok" and got["call"] == {"tool": "idle", "arguments": {}}


async def test_the_deadline_answers_the_game_with_the_fallback(bridge) -> None:
    server, backend, game = bridge
    reply = await asyncio.wait_for(game.observe("ana", 0, {"x": 1}, deadline_ms=50), WAIT_S)
    assert reply["status"] == "timeout" and reply["call"] == {"tool": "idle", "arguments": {}}
    turn = backend.latest[key_of(server, "ana")]
    assert turn.ended == "timeout" and not turn.open
    with pytest.raises(ActionRefused, match="timeout") as late:
        backend.act(turn.key, "idle", {})
    assert late.value.code == "no_turn"


async def test_rewards_add_up_until_the_next_turn_and_done_ends_the_episode(bridge) -> None:
    server, backend, game = bridge
    key = key_of(server, "ana")
    first = asyncio.ensure_future(game.observe("ana", 0, {"x": 1}, deadline_ms=60000))
    t0 = await backend.wait_turn(key, timeout_s=WAIT_S)
    assert t0.reward == 0.0
    backend.act(key, "idle", {})
    await asyncio.wait_for(first, WAIT_S)
    await game.tool_result("ana", 0, "idle", True, "waited", reward=1.5)
    last = await asyncio.wait_for(
        game.observe("ana", 1, {"x": 2}, reward=-0.25, done=True), WAIT_S)
    assert last["status"] == "fallback" and EPISODE_OVER in last["reason"]
    t1 = backend.latest[key]
    assert t1.seq > t0.seq and t1.done and t1.reward == 1.25 and not t1.open


async def test_a_newer_observe_supersedes_the_parked_turn(bridge) -> None:
    server, backend, game = bridge
    key = key_of(server, "ana")
    old = asyncio.ensure_future(game.observe("ana", 0, {"x": 1}, deadline_ms=60000))
    t0 = await backend.wait_turn(key, timeout_s=WAIT_S)
    new = asyncio.ensure_future(game.observe("ana", 1, {"x": 2}, deadline_ms=60000))
    assert (await asyncio.wait_for(old, WAIT_S))["status"] == "superseded"
    t1 = await backend.wait_turn(key, t0.seq, timeout_s=WAIT_S)
    assert t0.ended == "superseded" and t1.tick == 1
    backend.act(key, "idle", {})
    assert (await asyncio.wait_for(new, WAIT_S))["status"] == "ok"


async def test_the_server_reset_request_reaches_the_game_and_its_answer_ends_it(
        bridge) -> None:
    server, backend, game = bridge
    seen: list[dict[str, Any]] = []
    game.on_reset = seen.append
    pending = asyncio.ensure_future(game.observe("ana", 0, {"x": 1}, deadline_ms=60000))
    await backend.wait_turn(key_of(server, "ana"), timeout_s=WAIT_S)
    asking = asyncio.ensure_future(server.request_reset(5, "ep-7", timeout_s=WAIT_S))
    for _ in range(100):
        if seen:
            break
        await game.ping()
    assert seen and seen[0]["type"] == "reset" and seen[0]["seed"] == 5
    assert seen[0]["episode_id"] == "ep-7"
    assert not asking.done()  # until the game says its episode is ready
    ack = await game.reset(episode_id="ep-7")
    assert ack["type"] == "ack" and ack["of"] == "reset"
    session, _ = await asyncio.wait_for(asking, WAIT_S)
    assert session is server.game
    assert (await asyncio.wait_for(pending, WAIT_S))["status"] == "superseded"


def test_reset_request_is_a_protocol_message() -> None:
    msg = protocol.reset_request("reset-1", seed=3, episode_id="e")
    assert protocol.unpack(protocol.pack(msg)) == {"type": "reset", "id": "reset-1", "seed": 3,
                                                   "episode_id": "e"}
    decoded = protocol.decode(protocol.pack({"type": "reset", "id": 1, "episode_id": "e"}))
    assert isinstance(decoded, protocol.Reset) and decoded.episode_id == "e"
    obs = protocol.decode(protocol.pack({"type": "observe", "id": 2, "agent_id": "a", "tick": 0,
                                         "observation": {}, "reward": 0.5, "done": True}))
    assert isinstance(obs, protocol.Observe) and obs.reward == 0.5 and obs.done
