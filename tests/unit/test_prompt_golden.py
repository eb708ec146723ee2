"""Every prompt the project builds, byte for byte, against golden files (tests/data/prompts/).

What a model sees is what it was trained on: a refactor of the prompt's code must not move one
character. Each case below drives one public builder the way its caller does (the server's
request through a strategy, a chooser's scoring questions, the re-ask turns, the training rows
gamegen writes, what replay sends again) and compares the result with its golden file.

A deliberate change of the prompt rewrites the files:
``AGENT_ARENA_UPDATE_GOLDEN=1 pytest tests/unit/test_prompt_golden.py`` (then read the diff).
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agent_arena import gamegen
from agent_arena.agents import AgentState, Profile
from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.backends.types import Capabilities, ChatRequest, Sampling, Scores
from agent_arena.calling import CallingConfig, decide_once
from agent_arena.config.sections import ReplayConfig
from agent_arena.export import DecisionTrace, trajectory_row
from agent_arena.prompt import build_messages, decision_messages, strip_tool_block
from agent_arena.replay import replay
from agent_arena.tools import ToolRegistry, ToolSpec, apply_mask
from agent_arena.training.data import to_row
from support.fixtures import ROOT, default_profiles, game_tools

GOLDEN = Path(__file__).parents[1] / "data" / "prompts"
UPDATE = os.environ.get("AGENT_ARENA_UPDATE_GOLDEN") == "1"

DEMO = ToolRegistry(game_tools())
VILLAGE_GAME = yaml.safe_load((ROOT / "bench" / "heldout" / "village_tools.yaml").read_text())
VILLAGE = ToolRegistry([{"name": k, **v} for k, v in VILLAGE_GAME["tools"].items()])
VILLAGE_OBS = [s["observation"] for s in VILLAGE_GAME["scenarios"][:3]]

DEMO_OBS = [
    {"goal": "collect apple", "health": 100, "in_reach": ["apple-3"],
     "visible": [{"id": "apple-3", "kind": "apple", "position": [1.25, 0.0, 2.0],
                  "distance": 0.6}],
     "threats": [], "heard": [{"from": "bob", "text": "Where is the lake?"}]},
    {"goal": "collect wood", "health": 35.5, "in_reach": [], "visible": [],
     "threats": [{"id": "wolf-3", "distance": 1.5, "position": [2, 0, -1]}], "heard": None,
     "note": "cold", "flags": (True, False), "blob": b"xy"},
]
DEMO_MASK = {"pick_up": {"item_id": ["apple-3"]}, "flee": False,
             "move_to": {"target": [[1.25, 0.0, 2.0]]}}
VILLAGE_MASK = {"go": False, "escape": False}


def _state(window: int = 4) -> AgentState:
    """An agent with memory: a call with its result, a failed one, one without a result."""
    state = AgentState("a1", window)
    state.record_action(1, {"tool": "move_to", "arguments": {"target": [1.0, 0.0, 2.5]}})
    state.record_result(1, "move_to", True, {"arrived": True})
    state.record_action(2, {"tool": "pick_up", "arguments": {"item_id": "apple-9"}})
    state.record_result(2, "pick_up", False, "out of reach")
    state.record_action(3, {"tool": "say", "arguments": {"text": "hello"}})
    return state


def _answer(request: ChatRequest) -> str:
    """A valid call in either game: its tool that takes no arguments."""
    listed = " ".join(str(m.get("content")) for m in request.messages) + str(request.tools)
    return json.dumps({"tool": "pause" if "pause" in listed else "idle", "arguments": {}})


def _requests(backend: ScriptedBackend) -> list[dict[str, Any]]:
    return [{"messages": [dict(m) for m in r.messages], "prefill": r.prefill}
            for r in backend.requests]


class _Scoring(ScriptedBackend):
    """Records every scoring question (its messages, prefill and options)."""

    def __init__(self) -> None:
        super().__init__(responses=lambda r: '{"object": "bucket-2"}' if r.prefill
                         else _answer(r))
        self.scored: list[dict[str, Any]] = []

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True, scores=True)

    async def score(self, request: ChatRequest, options: Sequence[str]) -> Scores:
        self.scored.append({"messages": [dict(m) for m in request.messages],
                            "prefill": request.prefill, "options": list(options)})
        return Scores([-float(i) for i in range(len(options))], 1)


def _server(registry: ToolRegistry, profile: Profile, obs: Mapping[str, Any],
            mask: Mapping[str, Any] | None, *, strategy: str = "constrained",
            thought: bool = False, memory: bool = False, backend: Any = None,
            choice: str = "generate") -> dict[str, Any]:
    """What the server sends for one decision: build_messages, then decide_once."""
    listed = registry.select(profile.tools)
    possible = apply_mask(listed, mask) if mask is not None else None
    state = _state(profile.memory_window) if memory else AgentState("a1", profile.memory_window)
    messages = build_messages(profile, state, obs, possible)
    backend = backend or ScriptedBackend(responses=_answer)
    cfg = CallingConfig(strategy=strategy, thought=thought, choice=choice)
    out = asyncio.run(decide_once(backend, messages, registry, profile.tools, cfg, Sampling(),
                                  possible=possible, observation=obs))
    got: dict[str, Any] = {"built": messages, "status": out.status, "strategy": out.strategy,
                           "requests": _requests(backend)}
    if isinstance(backend, _Scoring):
        got["scored"] = backend.scored
    return got


def _reask() -> dict[str, Any]:
    """An invalid call, re-asked with what is wrong: the re-ask turns."""
    backend = ScriptedBackend(responses=['{"tool": "pick_up", "arguments": {}}',
                                         '{"tool": "nope", "arguments": {}}',
                                         json.dumps({"tool": "idle", "arguments": {}})])
    profile = default_profiles()["default"]
    messages = build_messages(profile, AgentState("a1"), DEMO_OBS[0])
    out = asyncio.run(decide_once(backend, messages, DEMO, None,
                                  CallingConfig(strategy="prompt", max_attempts=3), Sampling()))
    return {"status": out.status, "requests": _requests(backend)}


def _direct() -> dict[str, Any]:
    """prompt.decision_messages as gamegen calls it (no profile, no strategy)."""
    listed = DEMO.select(None)
    return {
        "plain": decision_messages(listed, DEMO_OBS[0]),
        "masked_memory": decision_messages(listed, DEMO_OBS[1], apply_mask(listed, DEMO_MASK),
                                           [e.line for e in _state().memory]),
        "thought": decision_messages(VILLAGE.select(None), VILLAGE_OBS[0], thought=True,
                                     instruction="  Be brief.  "),
        "no_instruction": decision_messages(VILLAGE.select(None), VILLAGE_OBS[1],
                                            instruction=""),
    }


def _training() -> dict[str, Any]:
    """Training rows as gamegen writes them, and the prompt training/data.py reads back."""
    rows = [ex.row() for ex in gamegen.examples(6, seed=3, masked_share=0.5, memory_share=0.5)]
    return {"rows": [r["messages"] for r in rows],
            "prompts": [list(to_row(r).prompt) for r in rows]}


def _trace(messages: Sequence[Mapping[str, Any]], strategy: str, obs: Mapping[str, Any],
           registry: ToolRegistry) -> DecisionTrace:
    return DecisionTrace(
        session="s", agent_id="a1", tick=3, request_id=1, t=0.0, backend="scripted", model="m",
        profile="default", strategy=strategy, messages=[dict(m) for m in messages], sampling={},
        raw_text="", thought=None, call={"tool": "idle", "arguments": {}}, status="ok",
        reason=None, latency_ms=1.0, usage={}, allowed=None,
        tool_specs=[s.to_flat() for s in registry.select(None)], observation=dict(obs))


def _replay() -> dict[str, Any]:
    """What replay takes off recorded messages, and what it sends again."""
    profiles = default_profiles()
    out: dict[str, Any] = {}
    for name, strategy, thought, profile in [
            ("constrained", "constrained", False, "default"),
            ("prompt_thought", "prompt", True, "rules"),
            ("native", "native", False, "default")]:
        sent = _server(DEMO, profiles[profile], DEMO_OBS[0], None, strategy=strategy,
                       thought=thought, memory=True)["requests"][0]["messages"]
        stripped, asked = strip_tool_block(sent, DEMO.select(None), strategy)
        backend = ScriptedBackend(responses=_answer)
        asyncio.run(replay(backend, [_trace(sent, strategy, DEMO_OBS[0], DEMO)]))
        rebuilt = ScriptedBackend(responses=_answer)
        asyncio.run(replay(rebuilt, [_trace(sent, strategy, DEMO_OBS[0], DEMO)],
                           profiles=profiles, config=ReplayConfig(profile=profile)))
        out[name] = {"stripped": stripped, "thought": asked, "sent": _requests(backend),
                     "rebuilt": _requests(rebuilt)}
    # a tool block whose format changed since: cut at its mark all the same
    old = [{"role": "system", "content": "Play well.\n\nTools:\n* move_to\nAnswer: JSON"},
           {"role": "user", "content": "Now:\nx: 1"}]
    out["old_block"] = dict(zip(("stripped", "thought"),
                                strip_tool_block(old, DEMO.select(None), "constrained"),
                                strict=True))
    return out


def _export() -> dict[str, Any]:
    """Trajectory rows of a journal (agent-arena export): the recorded prompt, the answer."""
    sent = _server(DEMO, default_profiles()["default"], DEMO_OBS[0], None,
                   thought=True)["requests"][0]["messages"]
    rows = []
    for call, thought in [({"tool": "say", "arguments": {"text": "Zum Café, Bob!"}}, "bob asked"),
                          ({"tool": "pick_up", "arguments": {"item_id": "apple-3"}}, None),
                          (None, None)]:
        tr = _trace(sent, "constrained", DEMO_OBS[0], DEMO)
        tr.call, tr.thought = call, thought
        row = trajectory_row(tr)
        rows.append({k: row[k] for k in ("messages", "prompt", "completion")})
    return {"rows": rows}


def _cases() -> dict[str, Callable[[], Any]]:
    p = default_profiles()
    default, rules, scout = p["default"], p["rules"], p["scout"]
    village = Profile(name="village", system_prompt="You live in a village.",
                      examples=({"observation": VILLAGE_OBS[1],
                                 "call": {"tool": "take", "arguments": {"object": "bucket-2"}}},
                                {"observation": VILLAGE_OBS[2], "thought": "hurt, run",
                                 "call": {"tool": "escape", "arguments": {"from": "boar-9"}}}),
                      nearest_examples=1)
    return {
        "server_demo_default": lambda: _server(DEMO, default, DEMO_OBS[0], None),
        "server_demo_default_mask_memory": lambda: _server(DEMO, default, DEMO_OBS[1], DEMO_MASK,
                                                           memory=True),
        "server_demo_rules_mask": lambda: _server(DEMO, rules, DEMO_OBS[0], DEMO_MASK,
                                                  memory=True),
        "server_demo_rules_thought": lambda: _server(DEMO, rules, DEMO_OBS[1], None,
                                                     thought=True),
        "server_demo_scout_prompt": lambda: _server(DEMO, scout, DEMO_OBS[0], None,
                                                    strategy="prompt", memory=True),
        "server_demo_native_mask": lambda: _server(DEMO, default, DEMO_OBS[0], DEMO_MASK,
                                                   strategy="native"),
        "server_village_default": lambda: _server(VILLAGE, default, VILLAGE_OBS[0], None),
        "server_village_mask": lambda: _server(VILLAGE, default, VILLAGE_OBS[2], VILLAGE_MASK,
                                               memory=True),
        "server_village_examples": lambda: _server(VILLAGE, village, VILLAGE_OBS[0], VILLAGE_MASK),
        "likelihood_demo_mask": lambda: _server(DEMO, default, DEMO_OBS[0], DEMO_MASK,
                                                backend=_Scoring(), choice="auto"),
        "likelihood_village_rules": lambda: _server(VILLAGE, village, VILLAGE_OBS[1],
                                                    VILLAGE_MASK, backend=_Scoring(),
                                                    choice="likelihood"),
        "description_demo": lambda: _server(DEMO, default, DEMO_OBS[0], None, memory=True,
                                            backend=_Scoring(), choice="auto"),
        "description_village": lambda: _server(VILLAGE, village, VILLAGE_OBS[0], None,
                                               backend=_Scoring(), choice="description"),
        "reask": _reask,
        "decision_messages": _direct,
        "training_rows": _training,
        "export_rows": _export,
        "replay": _replay,
    }


def _text(value: Any) -> str:
    def plain(v: Any) -> Any:
        if isinstance(v, ToolSpec):
            return v.to_flat()
        if isinstance(v, (tuple, list)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return json.dumps(plain(value), indent=1, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(_cases()))
def test_prompt_is_byte_identical_to_its_golden_file(name):
    got = _text(_cases()[name]())
    path = GOLDEN / f"{name}.json"
    if UPDATE or not path.exists():
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"{path} was missing; written now: read it, then run again")
    assert got == path.read_text(encoding="utf-8"), (
        f"the prompt of {name} changed; if meant: AGENT_ARENA_UPDATE_GOLDEN=1 (read the diff)")


def test_the_golden_files_have_their_cases():
    """A golden file without a case is a prompt no longer checked."""
    assert sorted(p.stem for p in GOLDEN.glob("*.json")) == sorted(_cases())
