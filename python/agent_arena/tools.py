"""Tool specs, the registry, and validation of calls against their JSON Schemas.

Schemas are used twice: to constrain decoding (``call_schema``) and to validate what came back
(``ToolRegistry.validate``). Specs are copied on the way in, never mutated. Every check of a
value against a schema (fallbacks, masks, model calls) runs on ``schemas.CompiledSchema``:
no backtracking regular expressions, local references only, sizes capped.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_arena.errors import MaskError, ToolError
from agent_arena.schemas import (
    DEFAULT_LIMITS,
    CompiledSchema,
    SchemaLimits,
    check_limits,
    json_depth,
)

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")
_CACHE_SIZE = 4096
_PARSED: dict[str, ToolSpec] = {}  # canonical spec text -> parsed spec (FIFO-bounded)


@dataclass(frozen=True)
class ToolSpec:
    """One tool in the OpenAI function format (flat)."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    @classmethod
    def from_any(cls, spec: Any, limits: SchemaLimits = DEFAULT_LIMITS) -> ToolSpec:
        """Accept the flat form or the OpenAI ``{"type": "function", "function": {...}}`` form.

        Parsed once per process for each distinct spec: games send the same tools in every
        hello, and checking and compiling a schema costs tens of microseconds. ``limits``
        caps the spec's size and its parameters' nesting (ToolError, invalid_schema)."""
        if isinstance(spec, ToolSpec):
            return spec
        try:
            text = json.dumps(spec, sort_keys=True, default=repr)
        except (TypeError, ValueError):  # e.g. non-str keys mixed with str keys
            return cls._parse(spec)
        name = spec.get("name", spec.get("function")) if isinstance(spec, Mapping) else None
        where = f"tool {name!r}" if isinstance(name, str) else "a tool"
        check_limits(len(text.encode()), None, where, limits)
        parsed = _PARSED.get(text)
        if parsed is None:
            parsed = cls._parse(spec)
            if len(_PARSED) >= _CACHE_SIZE:
                _PARSED.pop(next(iter(_PARSED)))
            _PARSED[text] = parsed
        if parsed.depth > limits.max_depth:
            check_limits(0, parsed.parameters, f"tool {parsed.name!r}", limits)  # raises
        return parsed

    @functools.cached_property
    def depth(self) -> int:
        """Maps and lists nested in the parameters (the parameters map itself is 1)."""
        return json_depth(self.parameters)

    @classmethod
    def _parse(cls, spec: Any) -> ToolSpec:
        if not isinstance(spec, Mapping):
            raise ToolError(f"a tool spec must be a map, got {type(spec).__name__}")
        if spec.get("type") == "function" and isinstance(spec.get("function"), Mapping):
            spec = spec["function"]
        name = spec.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ToolError(
                f"tool name {name!r} is invalid: use 1-64 letters, digits, '_', '.', '-' "
                "starting with a letter or '_'"
            )
        description = spec.get("description", "")
        if not isinstance(description, str):
            raise ToolError(f"tool {name!r}: description must be a string")
        params = spec.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, Mapping):
            raise ToolError(f"tool {name!r}: parameters must be a JSON Schema object (a map)")
        params = _copy_json(params)
        if params.get("type") != "object":
            raise ToolError(f"tool {name!r}: parameters must have \"type\": \"object\"")
        parsed = cls(name=name, description=description, parameters=params)
        parsed.__dict__["compiled"] = CompiledSchema(params, f"tool {name!r}")  # raises here
        return parsed

    @functools.cached_property
    def key(self) -> str:
        return json.dumps([self.name, self.description, self.parameters], sort_keys=True)

    def __hash__(self) -> int:  # parameters is a dict: hash the canonical text instead
        return hash(self.key)

    @functools.cached_property
    def openai_shared(self) -> dict[str, Any]:
        """The OpenAI form, built once and shared: read-only (request bodies are serialised
        at once). ``to_openai`` gives a private copy."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description, "parameters": self.parameters}}

    @functools.cached_property
    def compiled(self) -> CompiledSchema:
        """The parameters compiled once (schemas.py): yes/no checks, per-property checks for
        masks, and readable problems."""
        return CompiledSchema(self.parameters, f"tool {self.name!r}")

    @functools.cached_property
    def is_valid(self) -> Callable[[Any], bool]:
        """The fast yes/no check of arguments: jsonschema-rs (compiled, ~0.3 µs for a small
        schema vs ~33 µs for python-jsonschema). A value JSON has no word for (bytes from
        msgpack) is not valid."""
        return self.compiled.is_valid

    def to_openai(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(dict(self.parameters)),
            },
        }

    def to_flat(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "parameters": copy.deepcopy(dict(self.parameters)),
        }


def _copy_json(v: Any) -> Any:
    """A private copy of JSON-like data (maps and lists rebuilt; ~3x faster than deepcopy)."""
    t = type(v)
    if t is dict or (t is not list and isinstance(v, Mapping)):
        return {k: _copy_json(x) for k, x in v.items()}
    if t is list:
        return [_copy_json(x) for x in v]
    return v if t in _SCALARS else copy.deepcopy(v)


_SCALARS = frozenset({str, int, float, bool, type(None), bytes})


@dataclass(frozen=True)
class ToolCall:
    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def as_wire(self) -> dict[str, Any]:
        return {"tool": self.tool, "arguments": self.arguments}


class ToolRegistry:
    """Named tools with their compiled validators. Registration is all-or-nothing.

    ``limits`` and ``max_tools`` (server.max_schema_bytes/_depth, server.max_tools_per_session)
    bound what one registration may cost; copies keep them."""

    def __init__(self, specs: Iterable[Any] = (), *, limits: SchemaLimits = DEFAULT_LIMITS,
                 max_tools: int | None = None) -> None:
        self._specs: dict[str, ToolSpec] = {}
        self.limits = limits
        self.max_tools = max_tools
        self.register(specs)

    def empty(self) -> ToolRegistry:
        """A registry with the same caps and no tools (a game's own set starts here)."""
        return ToolRegistry(limits=self.limits, max_tools=self.max_tools)

    def copy(self) -> ToolRegistry:
        new = ToolRegistry(limits=self.limits, max_tools=self.max_tools)
        new._specs = dict(self._specs)
        return new

    def register(self, specs: Iterable[Any], *, replace: bool = False) -> list[str]:
        specs = list(specs)
        cap = self.max_tools
        if cap is not None and len(specs) > cap:  # before parsing any: bounded work
            raise ToolError(f"{len(specs)} tools in one request; a session may have at most "
                            f"server.max_tools_per_session={cap}", code="too_many_tools")
        parsed = [ToolSpec.from_any(s, self.limits) for s in specs]
        names = [s.name for s in parsed]
        dupes = sorted(n for n, k in collections.Counter(names).items() if k > 1)
        if dupes:
            raise ToolError(f"tool names must be unique in one request: {', '.join(dupes)}")
        total = len(set(names) | (set() if replace else set(self._specs)))
        if cap is not None and total > cap:
            raise ToolError(f"this would give the session {total} tools; at most "
                            f"server.max_tools_per_session={cap} (replace: true drops the "
                            "ones registered before)", code="too_many_tools")
        if replace:
            self._specs.clear()
        for spec in parsed:
            self._specs[spec.name] = spec
        return names

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def names(self) -> list[str]:
        return list(self._specs)

    def get(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise ToolError(
                f"tool {name!r} is not registered; registered: {', '.join(self._specs) or 'none'}",
                code="unknown_tool",
            ) from None

    def select(self, names: Iterable[str] | None) -> list[ToolSpec]:
        """The specs for ``names`` (all when None), in registration order."""
        if names is None:
            return list(self._specs.values())
        wanted = list(dict.fromkeys(names))
        for n in wanted:
            self.get(n)
        return [s for s in self._specs.values() if s.name in wanted]

    def validate(self, call: ToolCall, allowed: Iterable[str] | None = None) -> list[str]:
        """Problems with ``call`` as human-readable lines; empty means valid."""
        if call.tool not in self._specs:
            return [f"unknown tool {call.tool!r}; choose one of: {', '.join(self._specs)}"]
        if allowed is not None and call.tool not in set(allowed):
            return [f"tool {call.tool!r} is not allowed now; choose one of: {', '.join(allowed)}"]
        if not isinstance(call.arguments, dict):
            return [f"arguments of {call.tool!r} must be an object"]
        spec = self._specs[call.tool]
        if spec.is_valid(call.arguments):
            return []
        return [f"{call.tool}.arguments{('.' + where) if where else ''}: {message}"
                for where, message in spec.compiled.problems(call.arguments)] or \
            [f"{call.tool}.arguments: do not fit the tool's schema"]


def spec_list(tools: Mapping[str, Any] | Iterable[Any] | None) -> list[Any]:
    """Tools as a list of flat specs: a config's ``{name: {description, parameters}}`` map
    (configs/tools/*.yaml) becomes ``[{name, description, parameters}, ...]``; a list stays."""
    if isinstance(tools, Mapping):
        return [{"name": name, **dict(spec)} for name, spec in tools.items()]
    return list(tools or [])


def type_hint(schema: Mapping[str, Any]) -> str:
    """A short type for prompts: ``"a"|"b"`` for enums, ``[number, number]`` for pairs."""
    if "enum" in schema:
        return "|".join(json.dumps(v) for v in schema["enum"])
    t = schema.get("type", "any")
    if t == "array":
        items = schema.get("items", {})
        n = schema.get("minItems")
        if n is not None and n == schema.get("maxItems"):
            return "[" + ", ".join([type_hint(items)] * n) + "]"
        return f"[{type_hint(items)}, ...]"
    if t == "object":
        return "{" + ", ".join(f"{k}: {type_hint(v)}" for k, v in
                               schema.get("properties", {}).items()) + "}"
    return t if isinstance(t, str) else "|".join(t)


def call_schema(specs: Iterable[ToolSpec], *, thought: bool = False) -> dict[str, Any]:
    """Schema of one call (a fresh copy; the cached one is ``cached_call_schema``)."""
    return copy.deepcopy(cached_call_schema(tuple(specs), thought))


@functools.lru_cache(maxsize=256)
def cached_call_schema(specs: tuple[ToolSpec, ...], thought: bool = False) -> dict[str, Any]:
    """Schema of one call: the union over tools of {"tool": const, "arguments": parameters}.

    With ``thought`` the object starts with a short free-text field, so a small model can
    reason for a few words before it commits to a tool (the order of properties is the order
    the grammar makes it generate them).
    """
    variants = []
    for spec in specs:
        props: dict[str, Any] = {}
        required = ["tool", "arguments"]
        if thought:
            props["thought"] = {"type": "string", "maxLength": 80}
            required = ["thought", *required]
        props["tool"] = {"const": spec.name}
        props["arguments"] = copy.deepcopy(dict(spec.parameters))
        variants.append(
            {"type": "object", "properties": props, "required": required,
             "additionalProperties": False}
        )
    if len(variants) == 1:
        return variants[0]
    return {"anyOf": variants}


def schema_key(schema: Mapping[str, Any]) -> str:
    """Stable text of a schema, for caches keyed by schema (e.g. compiled grammars)."""
    return json.dumps(schema, sort_keys=True, separators=(",", ":"))


# ---- action masks --------------------------------------------------------------------------------

MAX_MASK_VALUES = 256  # values per argument: each one is an alternative in the grammar


@functools.lru_cache(maxsize=1024)
def _argument_check(spec: ToolSpec, arg: str) -> Callable[[Any], bool]:
    """Yes/no for one value of ``arg``, with references resolved against the whole schema."""
    schema = spec.parameters.get("properties", {}).get(arg)
    check = spec.compiled.property_check(arg) if isinstance(schema, Mapping) else None
    if check is None:
        raise MaskError(f"mask.{spec.name}.{arg}: tool {spec.name!r} has no argument {arg!r}; "
                        f"its arguments: {', '.join(spec.parameters.get('properties', {})) or 'none'}")
    return check  # type: ignore[no-any-return]


def apply_mask(specs: Iterable[ToolSpec], mask: Mapping[str, Any] | None,
               registered: Collection[str] = ()) -> list[ToolSpec]:
    """The tools possible now: ``specs`` narrowed by a game's action mask (docs/protocol.md).

    ``false`` removes a tool; ``{arg: [values]}`` turns that argument into an enum of values that
    each fit its schema (so the constrained grammar, the response schema and validation all see
    it); tools the mask does not name stay as registered. A game computes one mask over all its
    tools, so entries for ``registered`` tools that this decision does not allow (observe.tools,
    the profile) are ignored. Raises MaskError with the path of the first problem, and when
    nothing would be possible."""
    specs = list(specs)
    if not mask:
        return specs
    by_name = {s.name: s for s in specs}
    for name in mask:
        if name not in by_name and name not in registered:
            raise MaskError(f"mask.{name}: no such tool is registered; registered: "
                            f"{', '.join(registered or by_name)}")
    out: list[ToolSpec] = []
    for spec in specs:
        rule = mask.get(spec.name, True)
        if rule is True:
            out.append(spec)
            continue
        if rule is False:
            continue
        if not isinstance(rule, Mapping):
            raise MaskError(f"mask.{spec.name}: use false, true or {{argument: [values]}}, got "
                            f"{type(rule).__name__}")
        props = dict(spec.parameters.get("properties", {}))
        possible = True
        for arg, values in rule.items():
            check = _argument_check(spec, arg)
            if not isinstance(values, list):
                raise MaskError(f"mask.{spec.name}.{arg}: a list of allowed values, got "
                                f"{type(values).__name__}")
            if len(values) > MAX_MASK_VALUES:
                raise MaskError(f"mask.{spec.name}.{arg}: {len(values)} values; at most "
                                f"{MAX_MASK_VALUES} per argument")
            for i, v in enumerate(values):
                if not check(v):
                    raise MaskError(f"mask.{spec.name}.{arg}[{i}]: {v!r} does not fit the "
                                    f"argument's schema {json.dumps(props[arg], default=str)}")
            if not values:
                possible = False
                break
            props[arg] = {**props[arg], "enum": unique(values)}
        if possible:
            out.append(ToolSpec(spec.name, spec.description, {**spec.parameters,
                                                              "properties": props}))
    if not out:
        raise MaskError("mask: it leaves no tool possible; keep at least one (e.g. idle) open")
    return out


def unique(values: list[Any]) -> list[Any]:
    """``values`` without repeats, in order (lists and maps compared by their JSON text)."""
    seen: set[str] = set()
    out = []
    for v in values:
        key = json.dumps(v, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out
