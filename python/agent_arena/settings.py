"""From a composed config (a plain mapping) to the objects the app runs with.

Thin wrappers over agent_arena.config, kept because the CLI, evaluation, replay, env and the
benches call them: ``compose`` checks every section (config.app.check); the ``*_config``
functions build one section into its dataclass with the one builder (config.build).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_arena.agents import Profile
from agent_arena.calling import CallingConfig
from agent_arena.config import app
from agent_arena.config.files import yaml_root
from agent_arena.config.sections import (
    DemoConfig,
    EnvConfig,
    EvalConfig,
    ReplayConfig,
    ServeConfig,
)
from agent_arena.server import ServerConfig
from agent_arena.tools import spec_list


def config_dir() -> Path:
    """The config tree: the package's own YAML, or $AGENT_ARENA_CONFIG_DIR."""
    return yaml_root()


def compose(overrides: list[str] | None = None) -> dict[str, Any]:
    return app.compose(overrides)


def server_config(cfg: Mapping[str, Any]) -> ServerConfig:
    return app.section(cfg, "server")  # type: ignore[no-any-return]


def calling_config(cfg: Mapping[str, Any]) -> CallingConfig:
    return app.section(cfg, "calling")  # type: ignore[no-any-return]


def serve_config(cfg: Mapping[str, Any]) -> ServeConfig:
    return app.section(cfg, "serve")  # type: ignore[no-any-return]


def demo_config(cfg: Mapping[str, Any]) -> DemoConfig:
    return app.section(cfg, "demo")  # type: ignore[no-any-return]


def env_config(cfg: Mapping[str, Any]) -> EnvConfig:
    return app.section(cfg, "env")  # type: ignore[no-any-return]


def eval_config(cfg: Mapping[str, Any]) -> EvalConfig:
    return app.section(cfg, "eval")  # type: ignore[no-any-return]


def replay_config(cfg: Mapping[str, Any]) -> ReplayConfig:
    return app.section(cfg, "replay")  # type: ignore[no-any-return]


def backend_config(cfg: Mapping[str, Any]) -> Any:
    """The ``backend`` section built into its type's config class."""
    return app.backend_config(cfg.get("backend") or {})


def tool_specs(cfg: Mapping[str, Any]) -> list[dict[str, Any]]:
    return spec_list(cfg.get("tools"))


def profiles(cfg: Mapping[str, Any]) -> dict[str, Profile]:
    return {name: Profile.from_mapping(name, data or {})
            for name, data in (cfg.get("agents") or {}).items()}
