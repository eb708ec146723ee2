"""Scenario files for `agent-arena eval`: one observation each, with what a sensible agent
would do, as argument predicates (docs/eval.md has the file format). Loading and judging only:
no server, no model; evaluation.py runs them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_arena.errors import ScenarioError

# ---- predicates ----------------------------------------------------------------------------------

OPS = ("equals", "one_of", "near", "farther_from", "non_empty", "contains", "from_observation")
MODIFIERS = {"near": "within", "farther_from": "than"}
DEFAULT_WITHIN = 1.0


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def _point(v: Any) -> list[float] | None:
    if isinstance(v, Mapping):  # {x, y, z}
        v = [v[k] for k in ("x", "y", "z") if k in v]
    if not isinstance(v, (list, tuple)) or not v:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
        return None
    return [float(x) for x in v]


def _strings(value: Any) -> Iterable[str]:
    """Every string (and map key) inside an observation: what an id may be copied from."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


@dataclass(frozen=True)
class ArgCheck:
    """One predicate on one argument, e.g. ``target near [7, 0, 3] within 1``."""

    arg: str
    op: str
    value: Any = None
    tolerance: float | None = None

    def holds(self, arguments: Mapping[str, Any], observation: Mapping[str, Any]) -> bool:
        if self.arg not in arguments:
            return False
        got = arguments[self.arg]
        if self.op == "equals":
            return _same(got, self.value)
        if self.op == "one_of":
            return any(_same(got, v) for v in self.value)
        if self.op == "non_empty":
            return isinstance(got, str) and bool(got.strip()) == bool(self.value)
        if self.op == "contains":
            words = self.value if isinstance(self.value, list) else [self.value]
            return isinstance(got, str) and any(str(w).lower() in got.lower() for w in words)
        if self.op == "from_observation":
            return isinstance(got, str) and (got in set(_strings(observation))) == bool(self.value)
        p, q = _point(got), _point(self.value)
        if p is None or q is None or len(p) != len(q):
            return False
        d = math.dist(p, q)
        if self.op == "near":
            return d <= (self.tolerance if self.tolerance is not None else DEFAULT_WITHIN)
        if self.op == "farther_from":
            return d > (self.tolerance or 0.0)
        raise AssertionError(self.op)

    def describe(self) -> str:
        extra = f" {MODIFIERS[self.op]} {self.tolerance:g}" if self.op in MODIFIERS and \
            self.tolerance is not None else ""
        return f"{self.arg} {self.op} {json.dumps(self.value)}{extra}"


@dataclass(frozen=True)
class Alternative:
    """One acceptable action: a tool and the predicates its arguments must satisfy."""

    tool: str | None  # None: any tool
    checks: tuple[ArgCheck, ...] = ()


@dataclass(frozen=True)
class Judgement:
    valid: bool
    right_tool: bool
    right_args: bool
    failed: tuple[str, ...] = ()  # predicates that did not hold (of the best alternative)


@dataclass(frozen=True)
class Expectation:
    alternatives: tuple[Alternative, ...]

    @property
    def tools(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.tool or "*" for a in self.alternatives))

    @property
    def label(self) -> str:
        return "|".join(self.tools)

    def judge(self, call: Mapping[str, Any] | None, valid: bool,
              observation: Mapping[str, Any]) -> Judgement:
        if not valid or call is None:
            return Judgement(False, False, False)
        matching = [a for a in self.alternatives if a.tool in (None, call.get("tool"))]
        if not matching:
            return Judgement(True, False, False)
        args = call.get("arguments") or {}
        best: tuple[str, ...] = ()
        for alt in matching:
            failed = tuple(c.describe() for c in alt.checks if not c.holds(args, observation))
            if not failed:
                return Judgement(True, True, True)
            if not best or len(failed) < len(best):
                best = failed
        return Judgement(True, True, False, best)


def _checks(arg: str, spec: Any, where: str) -> list[ArgCheck]:
    if not isinstance(spec, Mapping):
        return [ArgCheck(arg, "equals", spec)]  # shorthand: item_id: apple-3
    unknown = set(spec) - set(OPS) - set(MODIFIERS.values())
    if unknown:
        raise ScenarioError(f"{where}: argument {arg!r} has unknown predicate(s) "
                            f"{', '.join(sorted(unknown))}; known: {', '.join(OPS)} "
                            "(with 'within' for near, 'than' for farther_from)")
    out = []
    for op in OPS:
        if op not in spec:
            continue
        value = spec[op]
        tol = spec.get(MODIFIERS.get(op, ""), None)
        if op == "one_of" and not isinstance(value, list):
            raise ScenarioError(f"{where}: {arg}.one_of must be a list")
        if op in ("near", "farther_from") and _point(value) is None:
            raise ScenarioError(f"{where}: {arg}.{op} must be a position like [x, y, z]")
        if op == "farther_from" and tol is None:
            raise ScenarioError(f"{where}: {arg}.farther_from needs 'than: <distance>'")
        out.append(ArgCheck(arg, op, value, None if tol is None else float(tol)))
    if not out:
        raise ScenarioError(f"{where}: argument {arg!r} has no predicate; use one of {OPS}")
    return out


def parse_expectation(data: Any, where: str) -> Expectation:
    """``{tool, arguments}``, ``{tool: [a, b]}`` or a list of such alternatives."""
    items = data if isinstance(data, list) else [data]
    alts: list[Alternative] = []
    for item in items:
        if isinstance(item, str):
            item = {"tool": item}
        if not isinstance(item, Mapping):
            raise ScenarioError(f"{where}: expect must be a map or a list of maps")
        unknown = set(item) - {"tool", "arguments"}
        if unknown:
            raise ScenarioError(f"{where}: expect has unknown key(s) {sorted(unknown)}; "
                                "use tool and arguments")
        tools = item.get("tool")
        tools = tools if isinstance(tools, list) else [tools]
        checks: list[ArgCheck] = []
        for arg, spec in dict(item.get("arguments") or {}).items():
            checks.extend(_checks(str(arg), spec, where))
        alts.extend(Alternative(t, tuple(checks)) for t in tools)
    if not alts:
        raise ScenarioError(f"{where}: expect lists no action")
    return Expectation(tuple(alts))


# ---- scenario files ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    id: str
    observation: Mapping[str, Any]
    expect: Expectation
    tools: tuple[str, ...] | None = None  # observe.tools (allowed now); None: all of the set's
    profile: str | None = None  # None: the profile under test
    tags: tuple[str, ...] = ()
    # other fields sent with this observe as they are (e.g. action masks the game knows)
    observe: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class ScenarioSet:
    name: str
    scenarios: list[Scenario]
    tool_specs: list[dict[str, Any]] = field(default_factory=list)  # sent in hello
    path: str | None = None
    fallback: dict[str, Any] | None = None  # {tool, arguments}, sent in hello


_SCENARIO_KEYS = {"id", "name", "observation", "expect", "tools", "profile", "tags", "observe"}
_FILE_KEYS = {"name", "tools", "allowed", "scenarios", "description", "fallback"}


def _scenario(data: Any, where: str, default_tools: tuple[str, ...] | None) -> Scenario:
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{where}: a scenario must be a map")
    unknown = set(data) - _SCENARIO_KEYS
    if unknown:
        raise ScenarioError(f"{where}: unknown key(s) {sorted(unknown)}; known: "
                            f"{', '.join(sorted(_SCENARIO_KEYS))}")
    sid = data.get("id") or data.get("name")
    if not isinstance(sid, str) or not sid:
        raise ScenarioError(f"{where}: every scenario needs an id")
    obs = data.get("observation")
    if not isinstance(obs, Mapping):
        raise ScenarioError(f"{where} ({sid}): observation must be a map")
    if "expect" not in data:
        raise ScenarioError(f"{where} ({sid}): missing expect")
    tools = data.get("tools", default_tools)
    return Scenario(id=sid, observation=dict(obs),
                    expect=parse_expectation(data["expect"], f"{where} ({sid})"),
                    tools=tuple(tools) if tools is not None else None,
                    profile=data.get("profile"), tags=tuple(data.get("tags") or ()),
                    observe=dict(data.get("observe") or {}))


def load_scenarios(path: str | Path) -> ScenarioSet:
    """A YAML file (a list of scenarios, or a map with ``scenarios`` and file-level ``tools``)
    or a JSONL file (one scenario per line)."""
    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"no scenario file at {path}")
    text = path.read_text()
    specs: list[dict[str, Any]] = []
    allowed: tuple[str, ...] | None = None
    fallback: dict[str, Any] | None = None
    name = path.stem
    if path.suffix == ".jsonl":
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise ScenarioError(f"{path}: line {exc.lineno}: {exc.msg}") from exc
    else:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"{path}: not YAML: {exc}") from exc
        if isinstance(data, Mapping):
            unknown = set(data) - _FILE_KEYS
            if unknown:
                raise ScenarioError(f"{path}: unknown top-level key(s) {sorted(unknown)}; "
                                    f"known: {', '.join(sorted(_FILE_KEYS))}")
            name = str(data.get("name") or name)
            tools = data.get("tools") or {}
            specs = ([{"name": k, **dict(v)} for k, v in tools.items()]
                     if isinstance(tools, Mapping) else list(tools))
            if data.get("allowed") is not None:
                allowed = tuple(data["allowed"])
            elif specs:
                allowed = tuple(s["name"] for s in specs)
            items = data.get("scenarios") or []
            if data.get("fallback") is not None:
                fb = data["fallback"]
                if not isinstance(fb, Mapping) or not isinstance(fb.get("tool"), str):
                    raise ScenarioError(f"{path}: fallback must be {{tool: NAME, arguments: "
                                        f"{{...}}}}, the call a game gets on a failed decision")
                fallback = {"tool": fb["tool"], "arguments": dict(fb.get("arguments") or {})}
        else:
            items = data or []
    if not isinstance(items, list) or not items:
        raise ScenarioError(f"{path}: no scenarios")
    scenarios = [_scenario(x, f"{path}#{i + 1}", allowed) for i, x in enumerate(items)]
    ids = [s.id for s in scenarios]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ScenarioError(f"{path}: duplicate scenario ids {dupes}")
    return ScenarioSet(name=name, scenarios=scenarios, tool_specs=specs, path=str(path),
                       fallback=fallback)


def scenario_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; a directory means its *.yaml, *.yml and *.jsonl files, sorted."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(x for x in p.iterdir() if x.suffix in (".yaml", ".yml", ".jsonl")))
        else:
            out.append(p)
    return out
