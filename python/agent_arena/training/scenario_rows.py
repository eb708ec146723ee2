"""Training rows from labelled scenario files (``agent-arena train --scenarios DIR,...``).

Generated games teach the choice, but they are all written by one generator; hand-written
games (bench/dev_games, bench/scenarios: the design sets) look different, and a model trained
only on generated games scores far lower on them. Their scenarios are labelled decisions, the
closest thing to a game's own journals before it has any: each becomes a row with the exact
prompt the server sends for it (the game's tools in declared order; with its mask, and without),
answered with a call that satisfies the scenario's ``expect``.

Evaluation sets are never training data: a folder holding a ``NOT_FOR_TRAINING`` file is refused.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError
from agent_arena.prompt import answer_text, decision_messages
from agent_arena.scenarios import Alternative, ArgCheck, Scenario, load_scenarios, scenario_paths
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, apply_mask, spec_list
from agent_arena.training.data import Row, to_row

GUARD = "NOT_FOR_TRAINING"  # in an evaluation set's folder

# a reply where a scenario asks only for some words: short, and true whatever was asked
REPLIES = ("Yes, I heard you.", "One moment, I will tell you.", "Aye, I am listening.",
           "Sure, give me a second.", "I hear you. Let me think.")


def default_tools() -> list[dict[str, Any]]:
    """The server's configured tools, for scenario files that declare none (read here, not
    through settings, which imports the server: a GPU host trains without pyzmq/msgpack)."""
    from agent_arena.config import load_yaml, yaml_root

    return spec_list(load_yaml(yaml_root() / "tools" / "game.yaml"))


def _guarded(path: Path) -> bool:
    return any((p / GUARD).exists() for p in [path, *path.parents] if p.is_dir())


def _value(check: ArgCheck, spec: Mapping[str, Any], rng: random.Random) -> Any:
    """A value that satisfies ``check``, in the argument's schema shape (None: none known)."""
    enum = spec.get("enum")
    if isinstance(enum, list):  # a mask's values: the first that satisfies the check
        return next((v for v in enum if check.holds({check.arg: v}, {})), None)
    if check.op == "equals":
        return check.value
    if check.op == "one_of":
        return check.value[0]
    if check.op == "non_empty":
        return rng.choice(REPLIES) if check.value else None
    if check.op == "contains":
        words = check.value if isinstance(check.value, list) else [check.value]
        return str(words[0])
    if check.op == "near":
        point = list(check.value)
        keys = list((spec.get("properties") or {}).keys())
        if spec.get("type") == "object" and len(keys) == len(point):
            return dict(zip(keys, point, strict=True))
        return point
    return None  # farther_from, from_observation: no one value to teach


def labelled_call(sc: Scenario, tools: Sequence[ToolSpec], rng: random.Random) -> ToolCall | None:
    """The call a scenario expects, made concrete against ``tools`` (the ones possible now):
    its first acceptable action that can be; None when none can (no tool named, or no single
    value, e.g. ``farther_from``: not trainable)."""
    by_name = {t.name: t for t in tools}
    registry = ToolRegistry(list(tools))
    for alt in sc.expect.alternatives:
        call = _concrete(alt, by_name, rng)
        if call is not None and not registry.validate(call) and \
                sc.expect.judge(call.as_wire(), True, sc.observation).right_args:
            return call
    return None


def _concrete(alt: Alternative, by_name: Mapping[str, ToolSpec],
              rng: random.Random) -> ToolCall | None:
    if alt.tool not in by_name:
        return None
    props = by_name[alt.tool].parameters.get("properties") or {}
    args: dict[str, Any] = {}
    for check in alt.checks:
        value = _value(check, props.get(check.arg) or {}, rng)
        if value is None:
            return None
        args[check.arg] = value
    return ToolCall(alt.tool, args)


def scenario_rows(paths: Sequence[str | Path], *, copies: int = 2, seed: int = 0,
                  ) -> Iterator[dict[str, Any]]:
    """``copies`` rows per scenario of ``paths`` (files or folders): even copies with the
    scenario's mask (when it has one) and odd ones without; copies past the first two list the
    tools in a shuffled order, as gamegen does. Rows that cannot be labelled are skipped."""
    rng = random.Random(seed)
    for path in scenario_paths(paths):
        if _guarded(Path(path).resolve()):
            raise ConfigError(f"{path}: its folder holds {GUARD}: an evaluation set is never "
                              "training data")
        ss = load_scenarios(path)
        declared = [ToolSpec.from_any(s) for s in (ss.tool_specs or default_tools())]
        for sc in ss.scenarios:
            listed = [t for t in declared if sc.tools is None or t.name in sc.tools]
            mask = sc.observe.get("mask")
            for k in range(copies):
                order = list(listed)
                if k >= 2:
                    rng.shuffle(order)
                possible = apply_mask(order, mask) if mask is not None and k % 2 == 0 else None
                call = labelled_call(sc, possible if possible is not None else order, rng)
                if call is None:
                    break
                spec = next(t for t in order if t.name == call.tool)
                messages = decision_messages(order, sc.observation, possible)
                messages.append({"role": "assistant", "content": answer_text(call, spec)})
                yield {"messages": messages,
                       "meta": {"set": ss.name, "scenario": sc.id, "copy": k,
                                "masked": possible is not None, "tool": call.tool}}


def training_rows(paths: Sequence[str | Path], *, copies: int, seed: int) -> list[Row]:
    rows = [to_row(r, source=f"scenarios:{r['meta']['set']}")
            for r in scenario_rows(paths, copies=copies, seed=seed)]
    if not rows:
        raise ConfigError(f"no labelled scenarios in {', '.join(map(str, paths))}")
    return rows
