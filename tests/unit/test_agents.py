from agent_arena.agents import AgentState, Profile
from agent_arena.calling import STRATEGIES, CallingConfig
from agent_arena.prompt import build_messages, render_observation
from agent_arena.tools import ToolRegistry
from support.fixtures import game_tools


def test_stable_prefix_across_ticks_and_agents():
    """The system text (persona + tools + format) is identical whatever the state or agent, so
    a KV cache reuses it; only the user message changes."""
    profile = Profile(system_prompt="Be a farmer.")
    tools = ToolRegistry(game_tools()).select(None)
    cfg = CallingConfig(thought=True)
    reqs = []
    for aid, obs in [("a", {"hp": 1}), ("b", {"hp": 2, "x": [1.25, 2]})]:
        msgs = build_messages(profile, AgentState(aid), obs)
        reqs.append(STRATEGIES["constrained"].build_request(msgs, tools, cfg, None))
    sys0, sys1 = (r.messages[0]["content"] for r in reqs)
    assert sys0 == sys1
    assert sys0.startswith("Be a farmer.")
    assert "- move_to(target: [number, number, number])" in sys0
    assert reqs[0].messages[1]["content"] != reqs[1].messages[1]["content"]


def test_memory_window_and_results_reach_the_prompt():
    state = AgentState("a", window=2)
    for t in range(3):
        state.record_action(t, {"tool": "move_to", "arguments": {"target": [t, 0, 0]}})
    state.record_result(2, "move_to", False, "blocked by a wall")
    text = build_messages(Profile(), state, {"hp": 5})[1]["content"]
    assert "tick 0" not in text  # window of 2
    assert "tick 1: move_to(target=[1, 0, 0])" in text
    assert "tick 2: move_to(target=[2, 0, 0]) -> failed: blocked by a wall" in text
    assert text.index("Your last actions") < text.index("Now:")


def test_result_for_unknown_tick_is_kept():
    state = AgentState("a")
    state.record_result(9, "say", True, {"heard_by": ["bo"]})
    assert "tick 9: say() -> ok" in build_messages(Profile(), state, {})[1]["content"]


def test_observation_rendering_is_compact_and_deterministic():
    obs = {"position": [1.26, 0.0, 2], "visible": [{"id": "apple-1", "distance": 2.04}],
           "in_reach": [], "ok": True, "note": None}
    text = render_observation(obs)
    assert text == ("position: [1.3, 0, 2]\nvisible:\n  - id: apple-1, distance: 2\n"
                    "ok: true")
    assert render_observation(obs) == text


def test_rendering_of_every_kind_of_value():
    """What each value becomes in the prompt, pinned: the renderer dispatches on exact types
    first (what msgpack decodes to), everything else takes the general path."""
    import enum
    import types

    class Level(enum.IntEnum):
        HIGH = 3

    obs = {"whole": 3.0, "round": 2.25, "tiny": -0.04, "nan": float("nan"),
           "inf": [float("inf"), float("-inf")], "big": 1e20, "flags": [True, False],
           "nothing": [None], "blob": b"abc", "pair": (1, 2.5), "empty_str": "",
           "empty_tuple": (), "level": Level.HIGH, "view": types.MappingProxyType({"a": 1}),
           "rows": ({"k": 1}, types.MappingProxyType({"k": 2})), 7: "int key",
           "nested": {"a": [{"b": None}], "c": {}}}
    assert render_observation(obs) == (
        "whole: 3\nround: 2.2\ntiny: 0\nnan: nan\ninf: [inf, -inf]\n"
        "big: 100000000000000000000\nflags: [true, false]\nnothing: [none]\n"
        "blob: <3 bytes>\npair: [1, 2.5]\nempty_str: \nlevel: 3\nview: {a: 1}\n"
        "rows:\n  - k: 1\n  - k: 2\n7: int key\nnested: {a: [{b: none}], c: {}}")
