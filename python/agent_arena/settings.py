"""From a composed Hydra config (a plain mapping) to the objects the server runs with.

The dataclasses (ServerConfig, AuthConfig, CallingConfig, each backend's config) are the single
source of defaults; the YAML in config/yaml (package data; configs/ links there) only restates
and documents them, and an unknown key is an error that names the known ones.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_arena.agents import Profile
from agent_arena.calling import CallingConfig
from agent_arena.config.files import compose_raw, yaml_root
from agent_arena.config_keys import reject_unknown
from agent_arena.errors import ConfigError
from agent_arena.journal import JournalConfig
from agent_arena.security import AuthConfig
from agent_arena.server import ServerConfig


def config_dir() -> Path:
    """The config tree: the package's own YAML (config/yaml), or $AGENT_ARENA_CONFIG_DIR."""
    return yaml_root()


def compose(overrides: list[str] | None = None) -> dict[str, Any]:
    return compose_raw(overrides)


def _build(cls: type, data: Mapping[str, Any], where: str) -> Any:
    reject_unknown(cls, data, where)
    hints = typing.get_type_hints(cls)
    for key, value in data.items():
        _check_type(f"{where}.{key}", hints.get(key), value)
    return cls(**data)


_SIMPLE = {int: (int,), float: (int, float), str: (str,), bool: (bool,)}


def _check_type(name: str, hint: Any, value: Any) -> None:
    """Refuse a mistyped scalar now (``server.max_pending=lots``), not at the first request."""
    if hint is None or value is None:
        return
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union,
                                                                     types.UnionType) else (hint,)
    simple = [o for o in options if o in _SIMPLE]
    if not simple or len(simple) != len([o for o in options if o is not type(None)]):
        return  # containers, nested dataclasses: checked by their own builders
    ok = any(isinstance(value, _SIMPLE[o]) and not (o is not bool and isinstance(value, bool))
             for o in simple)
    if not ok:
        want = " or ".join(o.__name__ for o in simple)
        raise ConfigError(f"{name} must be {want}, got {value!r}")


def server_config(cfg: Mapping[str, Any]) -> ServerConfig:
    data = dict(cfg.get("server") or {})
    auth = _build(AuthConfig, dict(data.pop("auth", None) or {}), "server.auth")
    journal = _build(JournalConfig, dict(data.pop("journal", None) or {}), "server.journal")
    return _build(ServerConfig, {**data, "auth": auth, "journal": journal}, "server")


def calling_config(cfg: Mapping[str, Any]) -> CallingConfig:
    return _build(CallingConfig, dict(cfg.get("calling") or {}), "calling")


def tool_specs(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    tools = cfg.get("tools") or {}
    if isinstance(tools, Mapping):
        return [{"name": name, **dict(spec)} for name, spec in tools.items()]
    return list(tools)


def profiles(cfg: Mapping[str, Any]) -> dict[str, Profile]:
    return {name: Profile.from_mapping(name, data or {})
            for name, data in (cfg.get("agents") or {}).items()}
