"""The short prompt (agent_arena.prompt): what it holds, that its stable part stays put, that the
answer is the constrained decoder's JSON, and that the server sends exactly it (real sockets,
scripted model: the server's own logic)."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from agent_arena.agents import AgentState, Profile
from agent_arena.calling import STRATEGIES, CallingConfig
from agent_arena.prompt import (
    INSTRUCTION,
    answer_text,
    build_messages,
    decision_messages,
    ordered_arguments,
)
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, apply_mask, call_schema
from support.fixtures import default_profiles, game_tools

SPECS = ToolRegistry(game_tools()).select(None)
OBS = {"goal": "collect apple", "health": 80, "in_reach": [],
       "visible": [{"id": "apple-5", "kind": "apple", "position": [7, 0, 3], "distance": 4.2}]}


def test_two_messages_the_instruction_and_tools_then_the_observation():
    system, user = decision_messages(SPECS, OBS)
    assert system["role"] == "system" and user["role"] == "user"
    assert system["content"].startswith(INSTRUCTION + "\n\nTools:\n")
    assert "- move_to(target: [number, number, number]): Walk to a position." in \
        system["content"]
    assert "- idle(): Wait." in system["content"]
    assert system["content"].endswith('{"tool": "<name>", "arguments": {...}}')
    # empty values left out, key order kept, nested records one line each
    assert user["content"] == ("Now:\ngoal: collect apple\nhealth: 80\nvisible:\n"
                               "  - id: apple-5, kind: apple, position: [7, 0, 3], distance: 4.2")


def test_memory_first_and_the_mask_as_names_last():
    possible = apply_mask(SPECS, {"pick_up": False, "flee": False})
    _, user = decision_messages(SPECS, OBS, possible, ["- tick 3: idle() -> ok"])
    text = user["content"]
    assert text.startswith("Your last actions:\n- tick 3: idle() -> ok\n\nNow:\n")
    assert text.endswith("\n\nPossible now: move_to, say, idle")


def test_the_system_text_is_the_same_whatever_the_observation_or_mask():
    a = decision_messages(SPECS, OBS)
    b = decision_messages(SPECS, {"hp": 3}, apply_mask(SPECS, {"say": False}), ["- x"])
    assert a[0] == b[0] and a[1] != b[1]


def test_no_examples_in_the_default_profile():
    """The shipped default profile adds nothing to the short prompt."""
    profile = default_profiles()["default"]
    assert profile.examples == () and profile.system_prompt.strip() == INSTRUCTION
    messages = build_messages(profile, AgentState("a"), OBS)
    request = STRATEGIES["constrained"].build_request(messages, SPECS, CallingConfig(), None)
    assert request.messages == decision_messages(SPECS, OBS)


def test_a_profile_keeps_its_system_prompt_and_examples():
    ex = {"observation": {"hp": 1}, "call": {"tool": "idle", "arguments": {}}}
    profile = Profile(name="p", system_prompt="Be a farmer.", examples=(ex,))
    messages = build_messages(profile, AgentState("a"), OBS)
    request = STRATEGIES["constrained"].build_request(messages, SPECS, CallingConfig(), None)
    sent = request.messages
    assert sent[0]["content"].startswith("Be a farmer.\n\nTools:\n")
    assert sent[1] == {"role": "user", "content": "Now:\nhp: 1"}
    assert sent[2] == {"role": "assistant", "content": '{"tool": "idle", "arguments": {}}'}
    assert sent[-1] == decision_messages(SPECS, OBS)[1]


def test_answer_text_is_the_constrained_json_in_the_decoders_order():
    spec = ToolSpec.from_any({"name": "walk", "description": "", "parameters": {
        "type": "object", "properties": {"pace": {"type": "string"},
                                         "dest": {"type": "array", "items": {"type": "number"}}},
        "required": ["dest"]}})
    call = ToolCall("walk", {"pace": "slow", "dest": [1, 2]})
    text = answer_text(call, spec)
    # llama.cpp's json-schema grammar writes required properties first
    assert text == '{"tool": "walk", "arguments": {"dest": [1, 2], "pace": "slow"}}'
    assert list(ordered_arguments(call.arguments, spec)) == ["dest", "pace"]
    assert answer_text(call) == '{"tool": "walk", "arguments": {"pace": "slow", "dest": [1, 2]}}'
    Draft202012Validator(call_schema([spec])).validate(json.loads(text))
    idle = next(s for s in SPECS if s.name == "idle")
    assert answer_text({"tool": "idle"}, idle) == '{"tool": "idle", "arguments": {}}'


async def test_the_likelihood_choice_scores_after_exactly_this_prompt():
    """With a mask the default choice scores each call after the same messages, the answer
    started as answer_text starts it."""
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.backends.types import Capabilities, Sampling, Scores
    from agent_arena.calling import decide_once

    class Scoring(ScriptedBackend):
        asked: list = []

        @property
        def capabilities(self) -> Capabilities:
            return Capabilities(json_schema=True, scores=True)

        async def score(self, request, options) -> Scores:
            self.asked.append(request)
            return Scores([0.0 if "idle" in o else -5.0 for o in options], 1)

    backend = Scoring()
    possible = apply_mask(SPECS, {"flee": False, "say": False, "pick_up": False})
    messages = build_messages(default_profiles()["default"], AgentState("a"), OBS, possible)
    out = await decide_once(backend, messages, ToolRegistry(SPECS), None, CallingConfig(),
                            Sampling(), possible=possible)
    assert out.status == "ok" and out.strategy == "likelihood" and out.call.tool == "idle"
    first = backend.asked[0]
    assert list(first.messages) == decision_messages(SPECS, OBS, possible)
    assert first.prefill == '{"tool": "'
    assert answer_text(out.call).startswith(first.prefill)
