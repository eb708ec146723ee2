"""The one builder: a plain mapping (YAML, Hydra, keyword arguments) to a settings dataclass.

Every section of the app goes through ``build``: the server, calling, each backend, serve,
demo, env, eval, replay, and the files run_vllm_server.py reads. It refuses, naming the key
as it is typed on the command line (``server.max_pending``):

- a key the dataclass does not know (with the closest known name, and where to look),
- a value of the wrong type (``server.max_pending=lots``), checked against the type hints,
  nested sections built the same way (a number where text is expected is taken as its text:
  Hydra reads ``server_args=[--threads,4]`` as a string and a number),
- a value outside the field's bounds (``ge``/``le``/``choices`` in the field's metadata),

then calls the constructor, whose ``__post_init__`` keeps the checks that span fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from agent_arena.config.fields import bound_problem, with_help
from agent_arena.errors import ConfigError

WHERE_TO_LOOK = "`agent-arena config` prints every setting (docs/configuration.md)"


def reject_unknown(cls: type, keys: Iterable[str], where: str) -> None:
    """A key ``cls`` does not know is an error naming it, the closest known one, and the rest."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(keys) - set(known))
    if not unknown:
        return
    for key in unknown:
        section = moved_to(cls, key)
        if section:
            raise ConfigError(f"{where} has no setting {key!r}: it is {where}.{section}.{key} "
                              f"(in YAML: under {section}:); {WHERE_TO_LOOK}")
    nested = _nested_names(cls)  # leaf -> section.leaf, for a typo of a nested key
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, [*known, *nested], n=1, cutoff=0.6)
        name = nested.get(close[0], close[0]) if close else None
        hints.append(f"{key!r}" + (f" (did you mean {name}?)" if name else ""))
    raise ConfigError(f"{where} has no setting {', '.join(hints)}: fix the spelling or remove "
                      f"it; known: {', '.join(sorted(known))}; {WHERE_TO_LOOK}")


def _nested_names(cls: type) -> dict[str, str]:
    hints, known = _hints(cls), {f.name for f in dataclasses.fields(cls)}
    out: dict[str, str] = {}
    for name in sorted(known):
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            out.update({f.name: f"{name}.{f.name}" for f in dataclasses.fields(hint)
                        if f.name not in known})
    return out


def moved_to(cls: type, key: str) -> str | None:
    """The nested section of ``cls`` that has ``key`` (``launch`` for ``tensor_parallel_size``
    on VLLMBackendConfig), or None: an old flat key is pointed at its new place."""
    hints = _hints(cls)
    for name in (f.name for f in dataclasses.fields(cls)):
        hint = hints.get(name)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type) \
                and key in {f.name for f in dataclasses.fields(hint)}:
            return name
    return None


def build(cls: type, data: Mapping[str, Any] | None, where: str) -> Any:
    """``cls(**data)`` after checking keys, types and bounds (see the module docstring)."""
    if data is not None and not isinstance(data, Mapping):
        raise ConfigError(f"{where}={data!r}: must be a map of settings ({WHERE_TO_LOOK})")
    data = dict(data or {})
    reject_unknown(cls, data, where)
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in list(data.items()):
        name, field = f"{where}.{key}", fields[key]
        data[key] = _check(name, hints.get(key, Any), value, field.metadata)
        problem = bound_problem(name, data[key], field.metadata)
        if problem:
            raise ConfigError(with_help(problem, field))
    return cls(**data)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


_NAMES = {int: "an int", float: "a number", str: "a string", bool: "true or false"}


def _scalar_ok(hint: Any, value: Any) -> bool:
    if hint is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # true is not 1 here
    if hint is float:
        return isinstance(value, (int, float))
    return isinstance(value, hint)


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if hint in _NAMES:
        return _NAMES[hint]
    if hint is type(None):
        return "null"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        return "a list"
    if _is_map(hint):
        return "a map"
    if dataclasses.is_dataclass(hint):
        return "a map of settings"
    return getattr(hint, "__name__", str(hint))


def _is_map(hint: Any) -> bool:
    import collections.abc

    origin = typing.get_origin(hint) or hint
    return origin in (dict, Mapping, collections.abc.Mapping)


def _check(name: str, hint: Any, value: Any, meta: Mapping[str, Any]) -> Any:
    """``value`` if it fits ``hint`` (nested sections built), else a ConfigError."""
    origin = typing.get_origin(hint)
    if hint is Any or isinstance(hint, typing.TypeVar):
        return value
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _check(name, option, value, meta)
            except ConfigError as exc:
                if dataclasses.is_dataclass(option) and isinstance(value, Mapping):
                    raise exc  # the nested section's own, more precise, message
        raise _type_error(name, hint, value)
    if origin is typing.Literal:
        if value in typing.get_args(hint):
            return value
        raise _type_error(name, hint, value)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if isinstance(value, Mapping):
            return build(hint, value, name)
        if isinstance(value, hint) or isinstance(value, meta.get("also", ())):
            return value
        raise _type_error(name, hint, value)
    if hint in _NAMES:
        if _scalar_ok(hint, value):
            return value
        if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # Hydra reads `server_args=[--threads,4]` and `model=7` as numbers
        raise _type_error(name, hint, value)
    if origin in (list, tuple, typing.Sequence) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _type_error(name, hint, value)
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return type(value)(_check(f"{name}[{i}]", item, v, {}) for i, v in enumerate(value))
    if _is_map(hint):
        if not isinstance(value, Mapping):
            raise _type_error(name, hint, value)
        args = typing.get_args(hint)
        item = args[1] if len(args) == 2 else Any
        return {k: _check(f"{name}.{k}", item, v, {}) for k, v in value.items()}
    return value  # callables, classes of our own: their constructors decide


def _type_error(name: str, hint: Any, value: Any) -> ConfigError:
    return ConfigError(f"{name}={value!r}: must be {_describe(hint)} "
                       f"(on the command line: {name}=VALUE)")
