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

import dataclasses
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_arena import gamegen
from agent_arena.errors import ConfigError
from agent_arena.prompt import answer_text, decision_messages
from agent_arena.scenarios import (
    Alternative,
    ArgCheck,
    Scenario,
    ScenarioSet,
    load_scenarios,
    scenario_paths,
)
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, apply_mask, spec_list
from agent_arena.training.data import Row, to_row

GUARD = "NOT_FOR_TRAINING"  # in an evaluation set's folder
# a scenario's first tag, by the sets' convention (docs/eval.md), and the role it names
KIND_ROLE = {"go": "go", "take": "take", "run": "run", "answer": "talk", "wait": "wait"}

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


def tool_roles(ss: ScenarioSet) -> dict[str, str]:
    """The role (gamegen.ROLES) of each tool that the set's scenarios tell: one whose first tag
    is a kind (go, take, run, answer, wait) and that expects that one tool. A tool told two
    roles, or none, has none."""
    told: dict[str, set[str]] = {}
    for sc in ss.scenarios:
        role = KIND_ROLE.get(sc.tags[0]) if sc.tags else None
        named = {alt.tool for alt in sc.expect.alternatives}
        if role and len(named) == 1 and None not in named:
            told.setdefault(str(named.pop()), set()).add(role)
    return {tool: next(iter(roles)) for tool, roles in told.items() if len(roles) == 1}


def fresh_names(roles: Mapping[str, str], taken: set[str], rng: random.Random) -> dict[str, str]:
    """A new name for each tool of ``roles``, drawn from the generator's words for its role."""
    names: dict[str, str] = {}
    for tool, role in roles.items():
        name = gamegen.draw_name(rng, role)
        while name in taken or name in names.values():
            name = gamegen.draw_name(rng, role)
        names[tool] = name
    return names


def _renamed(value: Any, names: Mapping[str, str]) -> Any:
    """``value`` with every whole-word mention of a renamed tool in its strings renamed (a
    goal such as ``do: stow`` names the tool)."""
    if isinstance(value, str):
        for old, new in names.items():
            value = re.sub(rf"(?<![\w.-]){re.escape(old)}(?![\w-])", new, value)
        return value
    if isinstance(value, Mapping):
        return {k: _renamed(v, names) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_renamed(v, names) for v in value]
    return value


def _spec_renamed(spec: ToolSpec, names: Mapping[str, str]) -> ToolSpec:
    return dataclasses.replace(spec, name=names.get(spec.name, spec.name))


def scenario_rows(paths: Sequence[str | Path], *, copies: int = 2, seed: int = 0,
                  rename: bool = False) -> Iterator[dict[str, Any]]:
    """``copies`` rows per scenario of ``paths`` (files or folders): even copies with the
    scenario's mask (when it has one) and odd ones without; copies past the first two list the
    tools in a shuffled order, as gamegen does, and with ``rename`` give the tools whose role
    the tags tell fresh names (in the mask and the observation too), so that a tool is chosen
    for what it does, not for a name seen in training. Rows that cannot be labelled are
    skipped."""
    rng = random.Random(seed)
    for path in scenario_paths(paths):
        if _guarded(Path(path).resolve()):
            raise ConfigError(f"{path}: its folder holds {GUARD}: an evaluation set is never "
                              "training data")
        ss = load_scenarios(path)
        declared = [ToolSpec.from_any(s) for s in (ss.tool_specs or default_tools())]
        roles = tool_roles(ss) if rename else {}
        taken = {t.name for t in declared}  # a fresh name never coincides with a declared one
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
                observation = sc.observation
                if k >= 2 and roles:
                    names = fresh_names(roles, taken, rng)
                    order = [_spec_renamed(t, names) for t in order]
                    possible = None if possible is None else [_spec_renamed(t, names)
                                                              for t in possible]
                    observation = _renamed(observation, names)
                    call = ToolCall(names.get(call.tool, call.tool), call.arguments)
                spec = next(t for t in order if t.name == call.tool)
                messages = decision_messages(order, observation, possible)
                messages.append({"role": "assistant", "content": answer_text(call, spec)})
                yield {"messages": messages,
                       "meta": {"set": ss.name, "scenario": sc.id, "copy": k,
                                "masked": possible is not None, "tool": call.tool}}


def training_rows(paths: Sequence[str | Path], *, copies: int, seed: int,
                  rename: bool = False) -> list[Row]:
    rows = [to_row(r, source=f"scenarios:{r['meta']['set']}")
            for r in scenario_rows(paths, copies=copies, seed=seed, rename=rename)]
    if not rows:
        raise ConfigError(f"no labelled scenarios in {', '.join(map(str, paths))}")
    return rows
