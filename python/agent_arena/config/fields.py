"""A setting is a dataclass field with its description and bounds in ``metadata``.

    n_parallel: int = setting(8, "slots: agents decoded together", ge=1)

The builder (config.build) reads the metadata, so a bound is written once, beside the default
and the description; ``docs/configuration.md`` and ``undescribed`` read the same metadata.
Keys: ``help`` (str), ``ge``/``gt``/``le``/``lt`` (numbers), ``choices`` (allowed values),
``also`` (scalar types a nested section also accepts, e.g. ``function_calling: true``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable
from typing import Any

_MISSING: Any = dataclasses.MISSING


def setting(default: Any = _MISSING, help: str = "", *, factory: Callable[[], Any] | None = None,
            ge: float | None = None, gt: float | None = None, le: float | None = None,
            lt: float | None = None, choices: Iterable[Any] | None = None,
            also: tuple[type, ...] = ()) -> Any:
    """A dataclass field carrying its description and bounds (see the module docstring)."""
    meta: dict[str, Any] = {"help": help}
    for key, value in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)):
        if value is not None:
            meta[key] = value
    if choices is not None:
        meta["choices"] = tuple(choices)
    if also:
        meta["also"] = also
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def help_of(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("help", ""))


def undescribed(cls: type) -> list[str]:
    """Fields of ``cls`` without a description (a test keeps this empty for our sections)."""
    return [f.name for f in dataclasses.fields(cls) if not help_of(f)]


def describe(cls: type, where: str) -> list[str]:
    """One line per field, ``where.name=DEFAULT  help (bounds)``: for ``--help`` and docs."""
    lines = []
    for f in dataclasses.fields(cls):
        if f.default is not _MISSING:
            default = f.default
        elif f.default_factory is not _MISSING:
            default = f.default_factory()
        else:
            default = None
        if dataclasses.is_dataclass(default):
            lines += describe(type(default), f"{where}.{f.name}")
            continue
        limits = [f"{w} {f.metadata[k]:g}" for k, w in (("ge", ">="), ("gt", ">"), ("le", "<="),
                                                          ("lt", "<")) if k in f.metadata]
        if "choices" in f.metadata:
            limits.append(" | ".join(map(str, f.metadata["choices"])))
        text = help_of(f) + (f" ({', '.join(limits)})" if limits else "")
        lines.append(f"{where}.{f.name}={_yaml(default)}" + (f"  {text}" if text else ""))
    return lines


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


_NUMERIC = ("ge", "gt", "le", "lt")


def bound_problem(name: str, value: Any, meta: Any, *, whole: bool = False) -> str | None:
    """Why ``value`` is outside the field's bounds, or None. ``None`` values are never out; a
    field with numeric bounds takes a number (``whole``: an int), never a bool."""
    if value is None:
        return None
    choices = meta.get("choices")
    if choices is not None:  # on a list: every item is one of them
        bad = ([v for v in value if v not in choices] if isinstance(value, (list, tuple))
               else [value] if value not in choices else [])
        if bad:
            which = f" ({', '.join(map(repr, bad))})" if isinstance(value, (list, tuple)) else ""
            return f"{name}={value!r}{which}: choose one of {', '.join(map(str, choices))}"
    if not any(meta.get(key) is not None for key in _NUMERIC):
        return None
    if isinstance(value, bool) or not isinstance(value, int if whole else (int, float)):
        return f"{name}={value!r}: must be {'a whole number' if whole else 'a number'}"
    for key, ok, word in (("ge", lambda v, b: v >= b, ">="), ("gt", lambda v, b: v > b, ">"),
                          ("le", lambda v, b: v <= b, "<="), ("lt", lambda v, b: v < b, "<")):
        bound = meta.get(key)
        if bound is not None and not ok(value, bound):
            return f"{name}={value!r}: must be {word} {bound:g}"
    return None


def check_bounds(obj: Any, where: str) -> None:
    """Check every field's bounds on a built object (``__post_init__`` calls it, so direct
    construction in code is checked the same way as a YAML file)."""
    from agent_arena.errors import ConfigError

    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        problem = bound_problem(f"{where}.{f.name}", getattr(obj, f.name), f.metadata,
                                whole=_is_int(hints.get(f.name)))
        if problem:
            raise ConfigError(with_help(problem, f))


def _is_int(hint: Any) -> bool:
    """``int`` or ``int | None``."""
    return hint is int or set(typing.get_args(hint)) == {int, type(None)}


def with_help(problem: str, field: dataclasses.Field[Any]) -> str:
    text = help_of(field)
    return f"{problem} ({text})" if text else problem
