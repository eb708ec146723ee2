"""The game as TRL's ``GRPOTrainer(environment_factory=...)`` environment (docs/training.md).

TRL gives each rollout an instance, calls ``reset(**row)`` (the returned text is appended to
the prompt), exposes every public method as a tool (its JSON Schema read from the signature
and the Google-style docstring), answers the model with an exception's text when a tool call
raises, and scores the rollout with ``get_reward()``. ``environment_class(tools)`` builds
such a class with one method per registered tool, its docstring from the tool's description:

    GRPOTrainer(model, args=GRPOConfig(max_steps=2, ...), train_dataset=dataset,
                environment_factory=environment_class())

Each instance plays its own episode of the demo world (one agent; its own bridge, started at
the first reset), so rollouts never share a world.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from agent_arena.env.arena import Arena, ArenaConfig, default_tools

_JSON_TYPES: dict[str, Any] = {"string": str, "number": float, "integer": int,
                               "boolean": bool, "object": dict}


def _annotation(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    if kind == "array":
        item = _JSON_TYPES.get(str((schema.get("items") or {}).get("type")), Any)
        return list[item]  # type: ignore[valid-type]
    return _JSON_TYPES.get(str(kind), Any)


def _docstring(spec: Mapping[str, Any]) -> str:
    """The tool's description, then an ``Args:`` section (what TRL's schema reader parses)."""
    params = spec.get("parameters") or {}
    props = params.get("properties") or {}
    lines = [str(spec.get("description") or spec["name"]).strip()]
    if props:
        lines += ["", "Args:"]
        for name, prop in props.items():
            lines.append(f"    {name}: {prop.get('description') or name.replace('_', ' ')}")
    return "\n".join(lines)


def _tool_method(spec: Mapping[str, Any]) -> Callable[..., str]:
    name = str(spec["name"])
    params = spec.get("parameters") or {}
    props: Mapping[str, Any] = params.get("properties") or {}
    required = set(params.get("required") or ())

    def method(self: ArenaToolEnv, **arguments: Any) -> str:
        return self._call(name, arguments)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = _docstring(spec)
    sig_params = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    annotations: dict[str, Any] = {}
    for arg, prop in sorted(props.items(), key=lambda kv: kv[0] not in required):
        annotations[arg] = _annotation(prop)
        sig_params.append(inspect.Parameter(
            arg, inspect.Parameter.KEYWORD_ONLY, annotation=annotations[arg],
            default=inspect.Parameter.empty if arg in required else None))
    annotations["return"] = str
    method.__signature__ = inspect.Signature(sig_params, return_annotation=str)  # type: ignore[attr-defined]
    method.__annotations__ = annotations
    return method


class ArenaToolEnv:
    """One rollout's episode. Subclasses made by ``environment_class`` add the tools."""

    config = ArenaConfig(agents=1, max_ticks=10)

    def __init__(self) -> None:
        self._arena: Arena | None = None
        self.agent_id = ""
        self.total_reward = 0.0
        self.done = False
        self.steps = 0

    def reset(self, **row: Any) -> str:
        """Start a new episode (``seed`` from the dataset row when it has one); returns what
        the agent sees, appended to the prompt."""
        if self._arena is None:
            self._arena = Arena(self.config)
        seed = row.get("seed")
        _, turns = self._arena.reset(int(seed) if seed is not None else None)
        self.agent_id = self._arena.possible_agents[0]
        self.total_reward, self.done, self.steps = 0.0, False, 0
        return _render(turns[self.agent_id])

    def get_reward(self) -> float:
        """The game's rewards over the episode so far."""
        return self.total_reward

    def _close(self) -> None:
        """Private: TRL offers every public method but reset and get_reward to the model as a
        tool (a public ``close`` made GRPO fail: "close ... has no docstring")."""
        if self._arena is not None:
            self._arena.close()
            self._arena = None

    def _call(self, tool: str, arguments: Mapping[str, Any]) -> str:
        if self._arena is None:
            raise RuntimeError("call reset() first")
        if self.done:
            raise RuntimeError("the episode is over: no more actions")
        out = self._arena.act(self.agent_id, tool, {k: v for k, v in arguments.items()
                                                    if v is not None})
        if not out.accepted:
            raise ValueError(out.error)  # TRL answers the model with this text
        self.steps += 1
        self.total_reward += float(out.turn["reward"])
        self.done = bool(out.turn["done"])
        return _render(out.turn) + ("\nThe episode is over." if self.done else "")


def _render(turn: Mapping[str, Any]) -> str:
    """The user turn the bridge built (memory, observation, what is possible now)."""
    messages = turn.get("messages") or []
    return str(messages[-1]["content"]) if messages else str(turn.get("observation"))


def environment_class(tools: Sequence[Mapping[str, Any]] | None = None,
                      config: ArenaConfig | None = None) -> type[ArenaToolEnv]:
    """A class for ``environment_factory``: ``ArenaToolEnv`` with one method per tool."""
    specs = list(tools if tools is not None else default_tools())
    members: dict[str, Any] = {spec["name"]: _tool_method(spec) for spec in specs}
    for reserved in ("reset", "get_reward", "close"):
        if reserved in members:
            raise ValueError(f"a tool named {reserved!r} would hide the environment's own "
                             "method: rename the tool")
    members["config"] = config or ArenaConfig(agents=1, max_ticks=10, tools=specs)
    return type("ArenaGameEnv", (ArenaToolEnv,), members)
