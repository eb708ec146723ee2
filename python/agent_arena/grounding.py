"""Arguments grounded in the observation, for games that send no action mask.

Without a mask every string is open, and a 135M model writing an id copies whatever follows
it in the rendered observation ("apple-3, type: apple, position: ..." as one item_id). Two
kinds of parameter name a thing the character can see: a string whose name is ``id`` or ends
in ``id`` (item_id, threat_id), and a fixed-length array of numbers (a position). For those,
the values the observation shows are the candidates; every other parameter stays open, and a
parameter with no candidate in the observation too (a game may name a place it remembers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator

from agent_arena.tools import MAX_MASK_VALUES, MaskError, ToolSpec, apply_mask, unique

# one token with a letter and a digit or separator: apple-3, goblin#3, B7 (not "rest", "wood")
_ID = re.compile(r"^(?=.*[A-Za-z])(?=.*[\d_.:#-])[A-Za-z0-9][\w.:#-]*$")
_WORD_ID = re.compile(r"\b(?=[\w#-]*\d)(?=[\w#-]*[A-Za-z])[A-Za-z0-9][\w#-]*\b")  # in prose: E1
_POSITION = re.compile(r"\[\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?){1,3}\s*\]")


def observed_values(observation: Any) -> tuple[list[str], list[list[float]]]:
    """(strings that look like ids, number lists and {x, y, z} points), in order, no repeats."""
    strings: list[str] = []
    points: list[list[float]] = []
    _walk(observation, strings, points)
    return unique(strings), unique(points)


def _walk(v: Any, strings: list[str], points: list[list[float]]) -> None:
    if isinstance(v, Mapping):
        xyz = [v[k] for k in ("x", "y", "z") if k in v]
        if len(xyz) >= 2 and all(_number(c) for c in xyz):
            points.append(xyz)
        for x in v.values():
            _walk(x, strings, points)
    elif isinstance(v, (list, tuple)):
        if 2 <= len(v) <= 4 and all(_number(c) for c in v):
            points.append(list(v))
            return
        for x in v:
            _walk(x, strings, points)
    elif isinstance(v, str):
        if _ID.match(v):
            strings.append(v)
        else:
            strings += _WORD_ID.findall(v)
            points += [[float(c) for c in p.strip("[] ").split(",")]
                       for p in _POSITION.findall(v)]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _candidates(prop: Any, name: str, strings: list[str],
                points: list[list[float]]) -> list[Any] | None:
    if not isinstance(prop, Mapping) or "enum" in prop:
        return None
    if prop.get("type") == "string" and name.lower().endswith("id"):
        return strings
    items = prop.get("items")
    n = prop.get("minItems")
    if prop.get("type") == "array" and isinstance(items, Mapping) and \
            items.get("type") in ("number", "integer") and n is not None and \
            n == prop.get("maxItems"):
        return [p for p in points if len(p) == n]
    return None


def ground(spec: ToolSpec, observation: Any) -> ToolSpec:
    """``spec`` with its id and position parameters narrowed to the values ``observation``
    shows (those that fit the parameter's schema); unchanged where there are none."""
    strings, points = observed_values(observation)
    rule: dict[str, list[Any]] = {}
    for name, prop in (spec.parameters.get("properties") or {}).items():
        values = _candidates(prop, name, strings, points)
        if not values:
            continue
        fits = list(filter(Draft202012Validator(prop).is_valid, values))  # one validator each
        if fits:
            rule[name] = fits[:MAX_MASK_VALUES]
    if not rule:
        return spec
    try:
        return apply_mask([spec], {spec.name: rule})[0]
    except MaskError:  # cannot happen for values that fit; never fail a decision over a hint
        return spec
