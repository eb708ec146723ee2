"""The whole app's schema: which dataclass each section of the composed config builds into.

    backend   the registered backend's config class, picked by ``backend.type``
    server    ServerConfig (server/config.py; auth and journal nested)
    calling   CallingConfig (calling.py)
    serve, demo, env, eval, replay   config/sections.py
    tools     {name: {description, parameters}}    agents  {name: profile}    log_level

``compose`` is Hydra's composition followed by ``check``: every section is built once, so a
mistyped value, a value out of bounds or an unknown key anywhere stops the command before it
starts anything, with the key named as it is typed on the command line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_arena.calling import CallingConfig
from agent_arena.config.build import WHERE_TO_LOOK, build, reject_unknown
from agent_arena.config.files import compose_raw
from agent_arena.config.sections import (
    DemoConfig,
    EnvConfig,
    EvalConfig,
    ReplayConfig,
    ServeConfig,
)
from agent_arena.errors import ConfigError
from agent_arena.server.config import ServerConfig

# section name -> its dataclass (backend, tools, agents and log_level are checked apart)
SECTIONS: dict[str, type] = {
    "server": ServerConfig, "calling": CallingConfig, "serve": ServeConfig,
    "demo": DemoConfig, "env": EnvConfig, "eval": EvalConfig, "replay": ReplayConfig,
}
OTHER_KEYS = ("backend", "tools", "agents", "log_level")
DEFAULT_BACKEND = "xllamacpp"


def section(cfg: Mapping[str, Any], name: str) -> Any:
    """``cfg[name]`` built into its dataclass (defaults where the mapping has no such section)."""
    return build(SECTIONS[name], cfg.get(name), name)


def backend_config(settings: Mapping[str, Any]) -> Any:
    """The ``backend`` mapping built into the config class its ``type`` names."""
    from agent_arena.backends import backend_classes

    data = dict(settings)
    _, config_cls = backend_classes(str(data.pop("type", DEFAULT_BACKEND)))
    return build(config_cls, data, "backend")


def check(cfg: Mapping[str, Any]) -> None:
    """Build every section of a composed config (see the module docstring)."""
    from agent_arena.agents import Profile

    unknown = sorted(set(cfg) - set(SECTIONS) - set(OTHER_KEYS))
    if unknown:
        names = ", ".join(repr(k) for k in unknown)
        raise ConfigError(f"the configuration has no section {names}: sections are "
                          f"{', '.join(sorted((*SECTIONS, *OTHER_KEYS)))}; {WHERE_TO_LOOK}")
    for name in SECTIONS:
        section(cfg, name)
    backend_config(cfg.get("backend") or {})
    tools = cfg.get("tools") or {}
    if not isinstance(tools, (Mapping, list)):
        raise ConfigError(f"tools={tools!r}: must be a map of tool name -> "
                          "{description, parameters}")
    agents = cfg.get("agents") or {}
    if not isinstance(agents, Mapping):
        raise ConfigError(f"agents={agents!r}: must be a map of profile name -> settings")
    for name, data in agents.items():
        Profile.from_mapping(name, data or {})
    if not isinstance(cfg.get("log_level", "INFO"), str):
        raise ConfigError(f"log_level={cfg.get('log_level')!r}: a level such as INFO or DEBUG")


def compose(overrides: list[str] | None = None) -> dict[str, Any]:
    """The shipped YAML, Hydra overrides applied, every section checked; a plain mapping."""
    cfg = compose_raw(overrides)
    check(cfg)
    return cfg


__all__ = ["SECTIONS", "backend_config", "check", "compose", "reject_unknown", "section"]
