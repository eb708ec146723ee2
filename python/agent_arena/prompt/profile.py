"""A profile's part of the prompt: its system text and worked examples, and the agent's memory.

A profile may replace the instruction (``system_prompt``) and add worked examples as chat
turns between the system text and the observation; the default profile adds neither, so the
server then sends exactly decision.decision_messages. What a profile contributes is rendered
once per profile object (it was ~40% of building a prompt).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_arena.prompt.observation import is_empty, render_observation
from agent_arena.prompt.parts import Prompt
from agent_arena.prompt.possible import render_possible
from agent_arena.prompt.user import user_text
from agent_arena.tools import ToolSpec

if TYPE_CHECKING:  # agents imports this package's renderers: no import at run time
    from agent_arena.agents import AgentState, Profile


def _present_keys(obs: Mapping[str, Any]) -> set[str]:
    return {k for k, v in obs.items() if not is_empty(v)}


@dataclass(frozen=True)
class _Rendered:
    """What a profile contributes to every prompt, rendered once."""

    system: dict[str, str]
    fixed_turns: tuple[dict[str, str], ...]
    example_keys: tuple[frozenset[str], ...]
    example_turns: tuple[tuple[dict[str, str], ...], ...]


_RENDERED: dict[int, tuple[Profile, _Rendered]] = {}  # id(profile) -> (profile kept alive, parts)


def _rendered(profile: Profile) -> _Rendered:
    hit = _RENDERED.get(id(profile))
    if hit is not None and hit[0] is profile:
        return hit[1]
    r = _Rendered(
        system={"role": "system", "content": profile.system_prompt.strip()},
        fixed_turns=tuple(example_turns(profile.examples)),
        example_keys=tuple(frozenset(_present_keys(ex["observation"]))
                           for ex in profile.examples),
        example_turns=tuple(tuple(example_turns([ex])) for ex in profile.examples))
    if len(_RENDERED) > 1024:
        _RENDERED.clear()
    _RENDERED[id(profile)] = (profile, r)
    return r


def _nearest_indices(profile: Profile, observation: Mapping[str, Any],
                     possible: Sequence[ToolSpec] | None = None) -> list[int]:
    """With a mask, only examples whose tool is possible now compete: an example of a call
    the game rules out is the one thing a small model should not copy last."""
    if not profile.nearest_examples or not profile.examples:
        return []
    keys = frozenset(_present_keys(observation))
    ex_keys = _rendered(profile).example_keys
    pool = range(len(ex_keys))
    if possible is not None:
        names = {s.name for s in possible}
        pool = [i for i in pool if profile.examples[i]["call"]["tool"] in names] or pool

    def score(i: int) -> float:
        other = ex_keys[i]
        return len(keys & other) / (len(keys | other) or 1)

    ranked = sorted(pool, key=score, reverse=True)  # stable: ties keep order
    return list(reversed(ranked[: profile.nearest_examples]))  # most similar last


def nearest_examples(profile: Profile, observation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The ``profile.nearest_examples`` examples whose present keys overlap most (Jaccard)."""
    return [profile.examples[i] for i in _nearest_indices(profile, observation)]


def example_turns(examples: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Examples as chat turns; their thoughts stay in the answers even when calling.thought is
    off and the grammar cannot write one: on SmolLM2-135M, dropping them took the masked
    right-tool share from 70.8% to 68.8% (answers to speech turned into idle; benchmarks.md)."""
    turns = []
    for ex in examples:
        answer: dict[str, Any] = {}
        if ex.get("thought"):
            answer["thought"] = ex["thought"]
        answer["tool"] = ex["call"]["tool"]
        answer["arguments"] = dict(ex["call"].get("arguments") or {})
        turns.append({"role": "user", "content": user_text(ex["observation"])})
        turns.append({"role": "assistant", "content": json.dumps(answer)})
    return turns


def decision_prompt(
    profile: Profile, state: AgentState, observation: Mapping[str, Any],
    possible: Sequence[ToolSpec] | None = None,
) -> Prompt:
    """One decision's prompt, as parts (parts.Prompt); ``possible``: the tools a game's action
    mask leaves open (None: no mask, no line)."""
    r = _rendered(profile)
    turns: tuple[Mapping[str, str], ...] = r.fixed_turns
    for i in _nearest_indices(profile, observation, possible):
        turns += r.example_turns[i]
    return Prompt(r.system, turns, tuple(e.line for e in state.memory),
                  render_observation(observation),
                  render_possible(possible) if possible is not None else None)


def build_messages(
    profile: Profile, state: AgentState, observation: Mapping[str, Any],
    possible: Sequence[ToolSpec] | None = None,
) -> list[dict[str, str]]:
    """The chat for one decision; the calling strategy adds tools/format to the system text
    (tool_block.system_text), so with the default profile the request holds exactly
    ``decision.decision_messages``. ``possible``: the tools a game's action mask leaves open
    (None: no mask, no line)."""
    return decision_prompt(profile, state, observation, possible).messages()
