"""A game that declares its own tools gets exactly those (issue 23, part 1).

Before: the server's configured tools (move_to, pick_up, say, flee, idle) were merged into every
session, so a game with walk_to/grab got pick_up calls it never declared. Real sockets, a real
ArenaServer; the scripted backend answers with a call the test chooses.
"""

from __future__ import annotations

from typing import Any

from support.arena_sockets import IDLE, SCHEMAS, GatedBackend

WALK = {"name": "walk_to", "description": "Walk to a place far away.",
        "parameters": {"type": "object",
                       "properties": {"spot": {"type": "array", "items": {"type": "number"},
                                               "minItems": 2, "maxItems": 2}},
                       "required": ["spot"], "additionalProperties": False}}
GRAB = {"name": "grab", "description": "Grab a thing within reach.",
        "parameters": {"type": "object", "properties": {"thing": {"type": "string"}},
                       "required": ["thing"], "additionalProperties": False}}
LOITER = {"name": "loiter", "description": "Stay where you are.",
          "parameters": {"type": "object", "properties": {}}}
PICK_UP = '{"tool": "pick_up", "arguments": {"item_id": "apple-1"}}'


def _tools(msg: dict[str, Any]) -> list[str]:
    return list(msg["tools"])


async def test_a_game_that_declares_tools_never_receives_the_servers(arena, connect):
    server = await arena(GatedBackend(answer=PICK_UP))
    client = await connect(server.endpoint)
    w = await client.hello(tools=[WALK, GRAB, LOITER])
    assert _tools(w) == ["walk_to", "grab", "loiter"]
    # the only tool without required arguments is this session's fallback
    assert w["fallback"] == {"tool": "loiter", "arguments": {}}
    for tick in range(3):
        a = await client.observe("npc", tick, {"near": ["apple-1"]})
        assert a["call"]["tool"] in {"walk_to", "grab", "loiter"}, a
        assert a["call"]["tool"] != "pick_up"
    # the model was offered only the game's tools (the first request of a decision: a re-ask
    # quotes the scripted answer back)
    first = server.backend.requests[0]
    seen = str(first.messages) + str(first.tools) + str(first.response_schema)
    assert "walk_to" in seen and "pick_up" not in seen and "move_to" not in seen


async def test_register_tools_after_hello_also_replaces_the_servers(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    await client.hello()
    ack = await client.register_tools([WALK, GRAB], fallback={"tool": "grab",
                                                              "arguments": {"thing": "x"}})
    assert _tools(ack) == ["walk_to", "grab"]
    ack = await client.register_tools([LOITER])  # a second declaration adds to the first
    assert _tools(ack) == ["walk_to", "grab", "loiter"]


async def test_a_client_that_declares_nothing_gets_the_servers_tools(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    w = await client.hello()
    assert _tools(w) == list(SCHEMAS) and w["fallback"] == IDLE


async def test_a_client_may_ask_for_the_servers_tools_explicitly(arena, connect):
    server = await arena()
    client = await connect(server.endpoint)
    w = await client.request("hello", v=1, tools=[WALK], server_tools=True)
    assert _tools(w) == [*SCHEMAS, "walk_to"] and w["fallback"] == IDLE


async def test_declared_tools_without_a_possible_fallback_are_refused_with_advice(arena,
                                                                                  connect):
    server = await arena()
    client = await connect(server.endpoint)
    r = await client.request("hello", v=1, tools=[WALK, GRAB], raise_errors=False)
    assert r["type"] == "error" and r["code"] == "invalid_fallback", r
    assert "fallback" in r["message"]
    # nothing changed: the session still has the server's tools
    assert _tools(await client.hello()) == list(SCHEMAS)


async def test_a_profile_naming_tools_the_game_lacks_uses_those_it_has(arena, connect):
    server = await arena(GatedBackend(answer='{"tool": "grab", "arguments": {"thing": "x"}}'))
    server.profiles["scout"] = server.profiles["default"].__class__(
        name="scout", tools=("move_to", "grab", "loiter"))
    client = await connect(server.endpoint)
    await client.hello(tools=[WALK, GRAB, LOITER])
    a = await client.observe("npc", 1, {}, profile="scout")
    assert a["status"] == "ok" and a["call"]["tool"] == "grab", a


def test_asking_for_scoring_on_a_backend_that_cannot_score_is_a_config_error():
    """Before: calling.choice=likelihood on a backend without scores silently generated."""
    import pytest

    from agent_arena.calling import CallingConfig
    from agent_arena.errors import ConfigError
    from agent_arena.server import ArenaServer

    with pytest.raises(ConfigError, match="choice=likelihood"):
        ArenaServer(GatedBackend(), calling=CallingConfig(choice="likelihood"))
