"""Arguments grounded in the observation, for games that send no action mask.

Without a mask every string is open, and a 135M model writing an id copies whatever follows
it in the rendered observation ("apple-3, type: apple, position: ..." as one item_id). Two
kinds of parameter name a thing the character can see: a string whose name is ``id`` or ends
in ``id`` (item_id, threat_id), and a fixed-length array of numbers (a position). For those,
the values the observation shows are the candidates; every other parameter stays open.

A required one with no candidate leaves the tool nothing to act on: it is not possible now,
as if the game had masked it. Two things in an observation are not in view: where the
character stands (a lone point under a key such as ``position`` or ``deck_pos``, at the top
or in ``self``; under ``home`` or ``goal`` it is a place to go) and what it carries (under a
key such as ``inventory``), a candidate only for a tool whose description speaks of carrying
(drop, give). Measured in docs/benchmarks.md, "Without a mask: what is in view".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agent_arena.tools import MAX_MASK_VALUES, MaskError, ToolSpec, apply_mask, unique

# one token with a letter and a digit or separator: apple-3, goblin#3, B7 (not "rest", "wood")
_ID = re.compile(r"^(?=.*[A-Za-z])(?=.*[\d_.:#-])[A-Za-z0-9][\w.:#-]*$")
_WORD_ID = re.compile(r"\b(?=[\w#-]*\d)(?=[\w#-]*[A-Za-z])[A-Za-z0-9][\w#-]*\b")  # in prose: E1
_POSITION = re.compile(r"\[\s*-?\d+(?:\.\d+)?(?:\s*,\s*-?\d+(?:\.\d+)?){1,3}\s*\]")
# the character itself, where it stands, what it carries (key names, case-insensitive)
_SELF = re.compile(r"^(self|me|player|agent|character|body)$", re.I)
_HERE = re.compile(r"(^|_)(position|pos|location|loc|spot|coords?|xyz|here)$", re.I)
_HELD = re.compile(r"(^|_)(inventory|inv|carrying|carried|held|holding|bag|backpack|equipment"
                   r"|equipped)$", re.I)
_ABOUT_HELD = re.compile(r"\b(carr(y|ies|ying|ied)|hold(s|ing)?|held|inventory|drop|give)\b",
                         re.I)


@dataclass
class Seen:
    """What an observation shows, in order, no repeats."""

    ids: list[str] = field(default_factory=list)  # things in view
    points: list[list[float]] = field(default_factory=list)  # places in view
    held: list[str] = field(default_factory=list)  # what the character carries
    here: list[list[float]] = field(default_factory=list)  # where it stands


def observed(observation: Any) -> Seen:
    seen = Seen()
    _walk(observation, seen, seen.ids, depth=0, in_list=False)
    for name in ("ids", "points", "held", "here"):
        setattr(seen, name, unique(getattr(seen, name)))
    return seen


def _walk(v: Any, seen: Seen, ids: list[str], *, depth: int, in_list: bool,
          key: str = "", in_self: bool = False) -> None:
    lone = not in_list and (depth == 1 or (depth == 2 and in_self))
    points = seen.here if lone and _HERE.search(key) else seen.points
    if isinstance(v, Mapping):
        xyz = [v[k] for k in ("x", "y", "z") if k in v]
        if len(xyz) >= 2 and all(_number(c) for c in xyz):
            points.append(xyz)
        for k, x in v.items():
            k = str(k)
            _walk(x, seen, seen.held if _HELD.search(k) else ids, depth=depth + 1,
                  in_list=in_list, key=k,
                  in_self=in_self or (depth == 0 and bool(_SELF.match(k))))
    elif isinstance(v, (list, tuple)):
        if 2 <= len(v) <= 4 and all(_number(c) for c in v):
            points.append(list(v))
            return
        for x in v:
            _walk(x, seen, ids, depth=depth + 1, in_list=True)
    elif isinstance(v, str):
        if _ID.match(v):
            ids.append(v)
        else:
            ids += _WORD_ID.findall(v)
            seen.points += [[float(c) for c in p.strip("[] ").split(",")]
                            for p in _POSITION.findall(v)]


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _candidates(prop: Any, name: str, spec: ToolSpec, seen: Seen) -> list[Any] | None:
    if not isinstance(prop, Mapping) or "enum" in prop:
        return None
    if prop.get("type") == "string" and name.lower().endswith("id"):
        return seen.ids + seen.held if _ABOUT_HELD.search(spec.description) else seen.ids
    items = prop.get("items")
    n = prop.get("minItems")
    if prop.get("type") == "array" and isinstance(items, Mapping) and \
            items.get("type") in ("number", "integer") and n is not None and \
            n == prop.get("maxItems"):
        return [p for p in seen.points if len(p) == n]
    return None


def ground(spec: ToolSpec, observation: Any) -> ToolSpec | None:
    """``spec`` with its id and position parameters narrowed to the values ``observation``
    shows (those that fit the parameter's schema); None if a required one has none."""
    seen = observation if isinstance(observation, Seen) else observed(observation)
    required = set(spec.parameters.get("required") or ())
    rule: dict[str, list[Any]] = {}
    for name, prop in (spec.parameters.get("properties") or {}).items():
        values = _candidates(prop, name, spec, seen)
        if values is None:
            continue
        check = spec.compiled.property_check(name)  # compiled once per spec (schemas.py)
        fits = list(filter(check, values)) if check is not None else []
        if fits:
            rule[name] = fits[:MAX_MASK_VALUES]
        elif name in required:
            return None
    if not rule:
        return spec
    try:
        return apply_mask([spec], {spec.name: rule})[0]
    except MaskError:  # cannot happen for values that fit; never fail a decision over a hint
        return spec
