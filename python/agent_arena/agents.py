"""Per-agent state (memory window), profiles, and the profile's part of the prompt.

The prompt's text is built in prompting.py (the layout is described there); a profile may
replace its instruction (``system_prompt``) and add worked examples as chat turns between the
system text and the observation. The default profile adds neither: the server then sends
exactly ``prompting.decision_messages``. Rendering is deterministic (numbers rounded, the
game's key order kept) so equal states give equal token sequences.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_arena.config.build import reject_unknown
from agent_arena.prompting import (
    INSTRUCTION,
    is_empty,
    render_call,
    render_observation,
    render_possible,
    render_value,
    user_text,
)
from agent_arena.tools import ToolSpec

__all__ = ["DEFAULT_SYSTEM_PROMPT", "AgentState", "MemoryEntry", "Profile", "build_messages",
           "example_turns", "nearest_examples", "render_call", "render_memory",
           "render_memory_line", "render_observation", "render_possible", "render_value"]

DEFAULT_SYSTEM_PROMPT = INSTRUCTION


@dataclass(frozen=True)
class Profile:
    """How one kind of agent thinks; chosen per observe by name (``profile`` field)."""

    name: str = "default"
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    tools: tuple[str, ...] | None = None  # allowed tools; None: all registered
    memory_window: int = 4
    sampling: Mapping[str, Any] = field(default_factory=dict)  # overrides backend defaults
    model: str | None = None  # e.g. a vLLM LoRA adapter name
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    # Worked examples, sent as real chat turns right after the system text (so they are part
    # of the cached prefix): [{observation: {...}, call: {tool, arguments}, thought: str}].
    # Small models copy the shape of chat-turn examples far better than prose rules.
    examples: tuple[Mapping[str, Any], ...] = ()
    # Repeat the k examples most similar to the current observation (by which keys are
    # present) right before it. The fixed examples stay in the cached prefix; only these turns
    # vary. On SmolLM2-135M the examples took right tools from 25% to 45%; 0-3 nearest
    # examples all landed within 35-55%, i.e. noise on 20 scenarios (docs/benchmarks.md).
    nearest_examples: int = 1

    @classmethod
    def from_mapping(cls, name: str, data: Mapping[str, Any]) -> Profile:
        reject_unknown(cls, data, f"profile {name!r}")
        values = dict(data)
        values["name"] = name
        if values.get("tools") is not None:
            values["tools"] = tuple(values["tools"])
        values["examples"] = tuple(values.get("examples") or ())
        return cls(**values)


@dataclass(frozen=True)
class MemoryEntry:
    tick: int
    call: Mapping[str, Any] | None = None
    ok: bool | None = None
    result: Any = None
    line: str = field(default="", compare=False)  # its prompt line, rendered once

    def __post_init__(self) -> None:
        object.__setattr__(self, "line", render_memory_line(self))


class AgentState:
    def __init__(self, agent_id: str, window: int = 4, *, max_result_bytes: int = 1024) -> None:
        self.agent_id = agent_id
        self.max_result_bytes = max_result_bytes  # a result is kept as text cut to this size
        self.memory: deque[MemoryEntry] = deque(maxlen=max(window, 0) or None)
        self.window = window
        self.last_tick: int | None = None

    def record_action(self, tick: int, call: Mapping[str, Any]) -> None:
        """The model's own choice (never a fallback: the model did not choose that)."""
        self.last_tick = tick
        if self.window:
            self.memory.append(MemoryEntry(tick=tick, call=dict(call)))

    def record_result(self, tick: int, tool: str, ok: bool, result: Any) -> None:
        """Attach the game's outcome to the action of that tick (or log it on its own)."""
        if not self.window:
            return
        result = _capped(result, self.max_result_bytes)
        for i in range(len(self.memory) - 1, -1, -1):
            e = self.memory[i]
            if e.tick == tick and e.call and e.call.get("tool") == tool and e.ok is None:
                self.memory[i] = MemoryEntry(tick, e.call, ok, result)
                return
        self.memory.append(MemoryEntry(tick, {"tool": tool, "arguments": {}}, ok, result))

    def reset(self) -> None:
        self.memory.clear()
        self.last_tick = None


def _capped(result: Any, limit: int) -> Any:
    """Small results as they are; a large one as its JSON text cut to ``limit`` characters, so a
    chatty game cannot make memory grow by megabytes per agent."""
    if result is None or isinstance(result, (bool, int, float)):
        return result
    text = result if isinstance(result, str) else json.dumps(result, default=str)
    if len(text) <= limit:
        return result
    return text[:limit] + "..."


def render_memory(entries: Sequence[MemoryEntry]) -> str:
    return "\n".join([e.line for e in entries])


def render_memory_line(e: MemoryEntry) -> str:
    what = render_call(e.call) if e.call else "?"
    outcome = ""
    if e.ok is not None:
        outcome = " -> " + ("ok" if e.ok else "failed")
        if e.result not in (None, ""):
            res = e.result if isinstance(e.result, str) else json.dumps(e.result, default=str)
            outcome += f": {res[:120]}"
    return f"- tick {e.tick}: {what}{outcome}"


def _present_keys(obs: Mapping[str, Any]) -> set[str]:
    return {k for k, v in obs.items() if not is_empty(v)}


@dataclass(frozen=True)
class _Rendered:
    """What a profile contributes to every prompt, rendered once (it was ~40% of the time)."""

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


def build_messages(
    profile: Profile, state: AgentState, observation: Mapping[str, Any],
    possible: Sequence[ToolSpec] | None = None,
) -> list[dict[str, str]]:
    """The chat for one decision; the calling strategy adds tools/format to the system text
    (prompting.system_text), so with the default profile the request holds exactly
    ``prompting.decision_messages``. ``possible``: the tools a game's action mask leaves open
    (None: no mask, no line)."""
    r = _rendered(profile)
    messages = [r.system, *r.fixed_turns]  # shared, read-only turns: never mutate them
    for i in _nearest_indices(profile, observation, possible):
        messages.extend(r.example_turns[i])
    memory = [e.line for e in state.memory]
    messages.append({"role": "user", "content": user_text(observation, possible, memory)})
    return messages
