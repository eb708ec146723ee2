"""Action masks (docs/protocol.md, "Action masks"): the game says what is possible now; the
server narrows the call to it and validates against the narrowed schema.

Socket tests run a real server and client over loopback with a scripted model; the embedded
model under a mask is tests/integration/test_masks_llama.py.
"""

from __future__ import annotations

import json

import pytest

from agent_arena.agents import AgentState, Profile
from agent_arena.client import ArenaClient
from agent_arena.errors import ArenaError, ToolError
from agent_arena.prompt import build_messages
from agent_arena.tools import MAX_MASK_VALUES, MaskError, ToolRegistry, apply_mask
from support.arena_sockets import TOOLS, GatedBackend, Peer

SPECS = ToolRegistry(TOOLS).select(None)
REACH_MASK = {"pick_up": {"item_id": ["apple-3", "wood-1"]}, "flee": False, "say": False}


# ---- narrowing (pure) ------------------------------------------------------------------------


def test_a_mask_narrows_arguments_and_removes_tools():
    out = {s.name: s for s in apply_mask(SPECS, REACH_MASK)}
    assert list(out) == ["move_to", "pick_up", "idle"]  # registration order, masked removed
    assert out["pick_up"].parameters["properties"]["item_id"]["enum"] == ["apple-3", "wood-1"]
    assert out["pick_up"].is_valid({"item_id": "apple-3"})
    assert not out["pick_up"].is_valid({"item_id": "apple-4"})  # well-formed, not possible
    assert out["move_to"] is next(s for s in SPECS if s.name == "move_to")  # unnamed: as is
    # the registered specs are never changed
    assert "enum" not in next(s for s in SPECS if s.name == "pick_up").parameters[
        "properties"]["item_id"]


def test_array_values_and_repeats():
    out = apply_mask(SPECS, {"move_to": {"target": [[7, 0, 3], [7, 0, 3], [1, 0, 9]]}})
    move = next(s for s in out if s.name == "move_to")
    assert move.parameters["properties"]["target"]["enum"] == [[7, 0, 3], [1, 0, 9]]
    assert move.is_valid({"target": [1, 0, 9]}) and not move.is_valid({"target": [2, 0, 2]})


def test_an_empty_value_list_makes_the_tool_impossible():
    names = [s.name for s in apply_mask(SPECS, {"pick_up": {"item_id": []}, "say": True})]
    assert "pick_up" not in names and "say" in names


@pytest.mark.parametrize("mask, path", [
    ({"open_door": False}, "mask.open_door"),
    ({"pick_up": {"item": ["a"]}}, "mask.pick_up.item"),
    ({"pick_up": {"item_id": ["ok", 3]}}, "mask.pick_up.item_id[1]"),
    ({"pick_up": {"item_id": "apple-3"}}, "mask.pick_up.item_id"),
    ({"pick_up": 1}, "mask.pick_up"),
    ({"move_to": {"target": [[1, 2]]}}, "mask.move_to.target[0]"),
    ({"pick_up": {"item_id": [f"i{n}" for n in range(MAX_MASK_VALUES + 1)]}},
     "mask.pick_up.item_id"),
    ({n: False for n in ("move_to", "pick_up", "say", "flee", "idle")}, "mask"),
])
def test_bad_masks_name_their_path(mask, path):
    with pytest.raises(MaskError) as err:
        apply_mask(SPECS, mask)
    assert err.value.code == "bad_message"
    assert err.value.message.startswith(path + ":") or err.value.message.startswith(path + " ")
    assert isinstance(err.value, ToolError)


def test_the_prompt_lists_what_is_possible_and_keeps_the_stable_prefix():
    state = AgentState("a", 4)
    obs = {"goal": "collect apple", "in_reach": ["apple-3"]}
    plain = build_messages(Profile(), state, obs)
    masked = build_messages(Profile(), state, obs, apply_mask(SPECS, REACH_MASK))
    assert masked[:-1] == plain[:-1]  # system text and examples unchanged: KV prefix reused
    assert "Possible now:" not in plain[-1]["content"]
    # by name: the mask's values need no words, the constrained decoder holds the call to them
    assert masked[-1]["content"].endswith("\n\nPossible now: move_to, pick_up, idle")


# ---- over real sockets (scripted model: the server's own logic) ------------------------------


async def test_bad_masks_get_an_error_and_the_server_keeps_serving(arena, peers):
    server = await arena(GatedBackend(answer=json.dumps({"tool": "idle", "arguments": {}})))
    p: Peer = peers(server.endpoint)
    await p.send_msg(type="hello", id=1, v=1)
    assert (await p.expect(1))["type"] == "welcome"
    bad = [{"pick_up": {"item_id": [3]}}, {"nope": False}, "not a map",
           {n: False for n in ("move_to", "pick_up", "say", "flee", "idle")}]
    for i, mask in enumerate(bad):
        await p.send_msg(type="observe", id=f"b{i}", agent_id="a", tick=i,
                         observation={"x": 1}, mask=mask)
        reply = await p.expect(f"b{i}")
        assert reply["type"] == "error" and reply["code"] == "bad_message", reply
        assert "mask" in reply["message"]
    await p.send_msg(type="observe", id="ok", agent_id="a", tick=9, observation={"x": 1},
                     mask={"flee": False})
    reply = await p.expect("ok")
    assert reply["type"] == "action" and reply["status"] == "ok", reply


async def test_a_game_wide_mask_may_name_tools_this_decision_does_not_allow(arena, connect):
    """A game computes one mask over all its tools; observe.tools (or the profile) may allow
    fewer. Entries for registered tools that are not allowed now are ignored, not an error."""
    backend = GatedBackend(answer=json.dumps({"tool": "pick_up",
                                              "arguments": {"item_id": "apple-3"}}))
    server = await arena(backend)
    client: ArenaClient = await connect(server.endpoint)
    await client.hello()
    reply = await client.observe("a", 1, {"in_reach": ["apple-3"]}, tools=["pick_up", "idle"],
                                 mask=REACH_MASK)
    assert reply["status"] == "ok" and reply["call"] == {"tool": "pick_up",
                                                         "arguments": {"item_id": "apple-3"}}
    assert "Possible now: pick_up" in backend.requests[-1].messages[-1]["content"]
    # a name the session never registered is still a mistake worth an error
    with pytest.raises(ArenaError) as err:
        await client.observe("a", 2, {"x": 1}, tools=["idle", "pick_up"],
                             mask={"open_door": False})
    assert err.value.code == "bad_message" and "mask.open_door" in str(err.value)


async def test_a_call_outside_the_mask_is_reasked_and_never_reaches_the_game(arena, connect):
    answers = [json.dumps({"tool": "pick_up", "arguments": {"item_id": "apple-9"}}),
               json.dumps({"tool": "flee", "arguments": {"threat_id": "wolf-1"}})]
    backend = GatedBackend()
    backend._responses = answers  # well-formed calls, but neither is possible now
    server = await arena(backend)
    client: ArenaClient = await connect(server.endpoint)
    await client.hello()
    reply = await client.observe("a", 1, {"in_reach": ["apple-3"]}, mask=REACH_MASK)
    assert reply["status"] == "fallback" and reply["call"] == {"tool": "idle", "arguments": {}}
    assert "tool 'flee' is not possible now" in reply["reason"]
    first, second = list(backend.requests)[-2:]
    # the re-ask told the model why; the schema sent was the narrowed one
    assert "'apple-9' is not one of ['apple-3', 'wood-1']" in second.messages[-1]["content"]
    schema = json.dumps(first.response_schema)
    assert '"enum": ["apple-3", "wood-1"]' in schema and "flee" not in schema


async def test_no_mask_means_todays_behaviour(arena, connect):
    backend = GatedBackend(answer=json.dumps({"tool": "flee", "arguments": {"threat_id": "w"}}))
    server = await arena(backend)
    client = await connect(server.endpoint)
    await client.hello()
    reply = await client.observe("a", 1, {"in_reach": ["apple-3"]})
    assert reply["status"] == "ok" and reply["call"]["tool"] == "flee"
    assert "Possible now" not in backend.requests[-1].messages[-1]["content"]


# ---- the demo world ---------------------------------------------------------------------------


def test_the_demo_world_opens_say_only_to_answer():
    """Talk nobody asked for turned a small model's demo into chatter (23 of 40 calls)."""
    from agent_arena.world.sim import World

    w = World.generate(2)
    ana, bo = w.agents["ana"], w.agents["bo"]
    bo.pos = ana.pos  # in earshot of each other
    assert w.mask("bo")["say"] is False
    assert w.execute("ana", "say", {"text": "hello bo"})[0]
    assert w.mask("bo")["say"] is True and w.mask("ana")["say"] is False
