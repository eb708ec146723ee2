"""What the game sent, as prompt text: the observation, values and calls, compactly.

Deterministic (numbers rounded, the game's key order kept) so equal states give equal token
sequences; compact (no quotes around simple keys or words) because every token is read on
every tick.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any


def _num(v: float) -> str:
    """One decimal at most, none for whole numbers: 3.0 -> "3", 2.25 -> "2.2".

    Whole numbers (positions, distances) skip ``round``, the slow part. nan, inf and -inf
    are not integers and pass through ``round`` unchanged: "nan", "inf", "-inf"."""
    if v.is_integer():
        return str(int(v))
    r = round(v, 1)
    return str(int(r)) if r.is_integer() else str(r)


def render_value(v: Any) -> str:
    """Compact, JSON-like but with fewer tokens: no quotes around simple keys or words."""
    render = _BY_TYPE.get(type(v))
    return render(v) if render is not None else _render_other(v)


def _render_items(m: Mapping[Any, Any]) -> str:
    """A map's ``key: value`` pairs without the braces (a list-of-maps line shows them bare)."""
    get = _BY_TYPE.get
    return ", ".join([f"{k}: {(get(type(x)) or _render_other)(x)}" for k, x in m.items()])


def _render_map(m: Mapping[Any, Any]) -> str:
    return "{" + _render_items(m) + "}"


def _render_seq(v: Sequence[Any]) -> str:
    get = _BY_TYPE.get
    return "[" + ", ".join([(get(type(x)) or _render_other)(x) for x in v]) + "]"


# The types msgpack decodes to, by exact type: one dict lookup per value instead of a chain
# of isinstance checks (rendering the observation was the largest part of building a prompt).
_BY_TYPE: dict[type, Callable[[Any], str]] = {
    str: str, int: str, float: _num, bool: {True: "true", False: "false"}.__getitem__,
    dict: _render_map, list: _render_seq, type(None): lambda _: "none",
}


def _render_other(v: Any) -> str:
    """Everything else (subclasses, tuples, bytes, other Mappings and Sequences)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, (int, str)):
        return str(v)
    if v is None:
        return "none"
    if isinstance(v, bytes):
        return f"<{len(v)} bytes>"
    if isinstance(v, Mapping):
        return _render_map(v)
    if isinstance(v, Sequence):
        return _render_seq(v)
    return str(v)


_SCALARS = (str, int, float, bool, bytes)


def is_empty(value: Any) -> bool:
    """None or an empty list/map: left out of the prompt (and of example matching)."""
    t = type(value)
    if t in _SCALARS:
        return False
    if t is list or t is dict:
        return not value
    return value is None or (isinstance(value, (Sequence, Mapping)) and not isinstance(
        value, (str, bytes)) and len(value) == 0)


def _is_map(x: Any) -> bool:
    return type(x) is dict or isinstance(x, Mapping)


def render_observation(obs: Mapping[str, Any]) -> str:
    """One line per top-level key; lists of maps become one indented line per element.

    Empty values are left out: a key that is present only when it matters ("threats",
    "in_reach", "heard") is the strongest cue a small model gets, and it saves tokens.
    """
    lines = []
    for key, value in obs.items():
        t = type(value)
        if t is list:  # what msgpack gives, first: no ABC checks
            if not value:
                continue
            if all(map(_is_map, value)):
                lines.append(f"{key}:")
                lines += [f"  - {_render_items(x)}" for x in value]
                continue
        elif t is dict:
            if not value:
                continue
        elif value is None:
            continue
        elif t not in _BY_TYPE:  # tuples, other Sequences and Mappings, subclasses
            if is_empty(value):
                continue
            if t not in _SCALARS and isinstance(value, Sequence) and all(map(_is_map, value)):
                lines.append(f"{key}:")
                lines += [f"  - {render_value(x)[1:-1]}" for x in value]
                continue
        lines.append(f"{key}: {render_value(value)}")
    return "\n".join(lines) or "(nothing)"


def render_call(call: Mapping[str, Any]) -> str:
    """A call as a memory line shows it: ``pick_up(item_id=apple-3)``."""
    args = call.get("arguments") or {}
    return f"{call.get('tool')}({', '.join(f'{k}={render_value(v)}' for k, v in args.items())})"
