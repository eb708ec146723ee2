"""Client-supplied JSON Schemas, checked and compiled once on an engine a client cannot hang.

Every schema a game sends (tool parameters, and through them fallbacks, masks and model calls)
is validated here and nowhere else, because a schema is code the server runs:

- ``pattern`` / ``patternProperties`` run on Rust's ``regex`` engine (jsonschema-rs with
  ``RegexOptions``): linear time, no backtracking. A pattern it cannot run (lookaround,
  backreferences, or a compiled size over ``REGEX_SIZE_LIMIT``) is ``invalid_schema`` at
  registration. Python's ``re`` never sees client data: ``^(a+)+$`` on 40 ``a`` and a ``!``
  froze the server for good (issue 25).
- Only local references (``#...``) resolve; retrieval is refused by the engines' own hooks as
  well, so nothing is ever fetched. A chain of references that loops without descending into
  the value (``a -> b -> a``, also through allOf/anyOf/oneOf/not/if) is refused too: it means
  nothing, and grammar converters recurse on it forever.
- Size and nesting are capped (``SchemaLimits``, ``server.max_schema_bytes`` and
  ``server.max_schema_depth``), so one registration costs a bounded, small time on the loop.

Messages for an invalid value stay python-jsonschema's (what models and games read in re-asks
and reasons) when the schema has no regular expression and the value is small (4 KB of JSON;
some of its checks are quadratic); otherwise they come from jsonschema-rs.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.exceptions import NoSuchResource

from agent_arena.errors import ToolError

PYTHON_MESSAGES_MAX_BYTES = 4096  # larger values are worded by jsonschema-rs (linear)
REGEX_SIZE_LIMIT = 1 << 20  # bytes of one compiled pattern (Rust regex's own default is 10 MiB)
_REGEX = jsonschema_rs.RegexOptions(size_limit=REGEX_SIZE_LIMIT)
_REF_KEYS = ("$ref", "$dynamicRef", "$recursiveRef")
# keywords whose subschemas apply to the same value (a loop through only these never ends)
_IN_PLACE_LISTS = ("allOf", "anyOf", "oneOf")
_IN_PLACE_ONE = ("not", "if", "then", "else")
_DATA = frozenset({"enum", "const", "default", "examples"})  # values, not schemas
_DRAFTS = frozenset({
    "https://json-schema.org/draft/2020-12/schema", "https://json-schema.org/draft/2020-12/schema#",
})

Pointer = tuple[str, ...]


@dataclass(frozen=True)
class SchemaLimits:
    """Caps on one tool's schema (``server.max_schema_bytes`` / ``server.max_schema_depth``)."""

    max_bytes: int = 65536  # JSON text of one tool spec
    max_depth: int = 24  # maps and lists nested in its parameters


DEFAULT_LIMITS = SchemaLimits()


def _refuse(uri: str) -> Any:
    raise ValueError(f"remote reference {uri} refused: only local references (#...) resolve")


def _refuse_python(uri: str) -> Any:
    raise NoSuchResource(ref=uri)


_NO_REMOTE = Registry(retrieve=_refuse_python)  # type: ignore[call-arg]


def check_limits(text_bytes: int, params: Any, where: str, limits: SchemaLimits) -> None:
    if text_bytes > limits.max_bytes:
        raise ToolError(f"{where}: its spec is {text_bytes} bytes of JSON; at most "
                        f"server.max_schema_bytes={limits.max_bytes}")
    if json_depth(params) > limits.max_depth:
        raise ToolError(f"{where}: parameters nest more than server.max_schema_depth="
                        f"{limits.max_depth} levels of maps and lists")


def json_depth(v: Any) -> int:
    """Maps and lists nested in ``v`` (a scalar is 0, ``{}`` is 1)."""
    t = type(v)
    if t is dict or (t is not list and isinstance(v, Mapping)):
        items: Any = v.values()
    elif t is list:
        items = v
    else:
        return 0
    deepest = 0
    for x in items:
        if type(x) in (dict, list) or isinstance(x, Mapping):
            d = json_depth(x)
            if d > deepest:
                deepest = d
    return deepest + 1


class CompiledSchema:
    """One tool's parameters, compiled: yes/no checks of a value against the whole schema or
    one property, and readable problems."""

    def __init__(self, schema: Mapping[str, Any], where: str) -> None:
        try:
            text = json.dumps(schema)
        except (TypeError, ValueError):
            raise ToolError(f"{where}: parameters holds a value JSON cannot represent (keys "
                            "must be strings; no bytes)") from None
        # the walks below only when their keywords appear at all (most tools have neither)
        if '"$' in text:
            _check_refs(schema, where)
        try:
            jsonschema_rs.meta.validate(schema)
            self._root = jsonschema_rs.Draft202012Validator(
                schema, pattern_options=_REGEX, retriever=_refuse)
        except jsonschema_rs.ValidationError as exc:
            at = "/".join(map(str, exc.instance_path)) or "(root)"
            raise ToolError(f"{where}: parameters is not a valid JSON Schema at {at}: "
                            f"{_first_line(exc.message)}") from None
        except Exception as exc:  # a referencing error, a value JSON has no word for
            raise ToolError(f"{where}: parameters is not a valid JSON Schema: "
                            f"{_first_line(str(exc))}") from None
        self.schema = schema
        self._regex = '"pattern' in text and _has_regex(schema)

    @functools.cached_property
    def _map(self) -> Any:
        """Every subschema compiled, by pointer (built on the first mask; the root compiled, so
        none of them fails: the map would leave out one that did, without a word)."""
        return jsonschema_rs.validator_map_for(self.schema, pattern_options=_REGEX,
                                               retriever=_refuse)

    def is_valid(self, instance: Any) -> bool:
        return _safe_is_valid(self._root, instance)

    def property_check(self, name: str) -> Any:
        """Yes/no for one value of property ``name`` (references resolve against the whole
        schema); None if the schema has no such property."""
        v = self._map.get("#/properties/" + name.replace("~", "~0").replace("/", "~1"))
        return None if v is None else functools.partial(_safe_is_valid, v)

    def problems(self, instance: Any, limit: int = 5) -> list[tuple[str, str]]:
        """(path, message) for up to ``limit`` problems; empty when valid."""
        if not self._regex and _small(instance):
            try:
                py = _python_validator(json.dumps(self.schema, sort_keys=True))
                errs = sorted(py.iter_errors(instance), key=lambda e: list(map(str, e.path)))
                return [(".".join(str(p) for p in e.absolute_path), e.message)
                        for e in errs[:limit]]
            except Exception:  # a reference it resolves differently: jsonschema-rs words it
                pass
        try:
            out = []
            for e in self._root.iter_errors(instance):
                out.append((".".join(str(p) for p in e.instance_path), _first_line(e.message)))
                if len(out) >= limit:
                    break
            return out
        except ValueError:
            return [("", "holds a value JSON cannot represent (e.g. bytes)")]


@functools.lru_cache(maxsize=1024)
def _python_validator(text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(text), registry=_NO_REMOTE)


def _small(instance: Any) -> bool:
    """Small enough for python-jsonschema's wording: some of its checks are quadratic
    (``uniqueItems`` over maps compares every pair)."""
    try:
        return len(json.dumps(instance, default=repr)) <= PYTHON_MESSAGES_MAX_BYTES
    except (TypeError, ValueError):
        return False


def _safe_is_valid(validator: Any, instance: Any) -> bool:
    try:
        return bool(validator.is_valid(instance))
    except ValueError:  # a value JSON has no word for (bytes from msgpack): not valid JSON
        return False


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _has_regex(schema: Any) -> bool:
    return any(k in ("pattern", "patternProperties") for k, _ in _walk_keys(schema))


def _walk_keys(v: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(v, Mapping):
        for k, x in v.items():
            yield k, x
            if k not in _DATA:
                yield from _walk_keys(x)
    elif isinstance(v, list):
        for x in v:
            yield from _walk_keys(x)


# ---- references -------------------------------------------------------------------------------


def _check_refs(schema: Mapping[str, Any], where: str) -> None:
    """Only ``#...`` references; a known ``$schema``; no reference loop that stays in place."""
    nodes: dict[Pointer, Mapping[str, Any]] = {}
    resource_of: dict[Pointer, Pointer] = {}
    anchors: dict[tuple[Pointer, str], Pointer] = {}
    _collect(schema, (), (), nodes, resource_of, anchors)
    for ptr, node in nodes.items():
        s = node.get("$schema")
        if s is not None and ptr == () and s not in _DRAFTS:
            raise ToolError(f"{where}: $schema {s!r} is not supported: leave it out (tool "
                            "parameters are JSON Schema 2020-12)")
        for key in _REF_KEYS:
            ref = node.get(key)
            if ref is None:
                continue
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise ToolError(f"{where}: {key} {ref!r} at {_show(ptr)} is not a local "
                                "reference: only references within the schema (#/$defs/name) "
                                "resolve; nothing is fetched")
    # in-place edges: a loop along them never consumes any of the value
    edges: dict[Pointer, list[Pointer]] = {}
    for ptr, node in nodes.items():
        out: list[Pointer] = []
        for key in _REF_KEYS:
            ref = node.get(key)
            if isinstance(ref, str):
                target = _resolve(ref, resource_of.get(ptr, ()), anchors)
                if target is not None and target in nodes:
                    out.append(target)
        for key in _IN_PLACE_LISTS:
            if isinstance(node.get(key), list):
                out += [(*ptr, key, str(i)) for i in range(len(node[key]))]
        for key in _IN_PLACE_ONE:
            if isinstance(node.get(key), Mapping):
                out.append((*ptr, key))
        if isinstance(node.get("dependentSchemas"), Mapping):
            out += [(*ptr, "dependentSchemas", k) for k in node["dependentSchemas"]]
        edges[ptr] = [p for p in out if p in nodes]
    loop = _find_loop(edges)
    if loop:
        raise ToolError(f"{where}: $ref loop {' -> '.join(_show(p) for p in loop)}: the "
                        "references lead back to where they started without descending into "
                        "the value; break the loop")


def _collect(v: Any, ptr: Pointer, resource: Pointer, nodes: dict[Pointer, Mapping[str, Any]],
             resource_of: dict[Pointer, Pointer],
             anchors: dict[tuple[Pointer, str], Pointer]) -> None:
    if isinstance(v, Mapping):
        if ptr and isinstance(v.get("$id"), str):
            resource = ptr  # "#..." inside an embedded resource is relative to it
        nodes[ptr] = v
        resource_of[ptr] = resource
        for key in ("$anchor", "$dynamicAnchor"):
            if isinstance(v.get(key), str):
                anchors[(resource, v[key])] = ptr
        for k, x in v.items():
            if k not in _DATA and isinstance(k, str):
                _collect(x, (*ptr, k), resource, nodes, resource_of, anchors)
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _collect(x, (*ptr, str(i)), resource, nodes, resource_of, anchors)


def _resolve(ref: str, resource: Pointer,
             anchors: dict[tuple[Pointer, str], Pointer]) -> Pointer | None:
    frag = urllib.parse.unquote(ref[1:])
    if not frag:
        return resource
    if not frag.startswith("/"):
        return anchors.get((resource, frag))
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in frag[1:].split("/")]
    return (*resource, *tokens)


def _find_loop(edges: dict[Pointer, list[Pointer]]) -> list[Pointer] | None:
    state: dict[Pointer, int] = {}  # 1: on the current path, 2: done
    for start in edges:
        if state.get(start):
            continue
        path: list[Pointer] = [start]
        stack = [iter(edges[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(edges.get(nxt, ())))
    return None


def _show(ptr: Pointer) -> str:
    return "#/" + "/".join(ptr) if ptr else "#"
