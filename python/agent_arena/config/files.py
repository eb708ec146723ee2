"""Where the shipped YAML lives, and composing it with Hydra into one plain mapping.

The YAML is package data (``agent_arena/config/yaml``), found through importlib.resources, so
an installed wheel has it as a checkout does; ``AGENT_ARENA_CONFIG_DIR`` points at a tree of
your own instead. The top-level ``configs/`` of a checkout is a link to the same folder.
"""

from __future__ import annotations

import os
import re
from importlib import resources
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError

ENV = "AGENT_ARENA_CONFIG_DIR"


def yaml_root() -> Path:
    """The config tree: ``$AGENT_ARENA_CONFIG_DIR`` when set, else the package's own."""
    env = os.environ.get(ENV)
    if env:
        root = Path(env)
        if not (root / "config.yaml").is_file():
            raise ConfigError(f"{ENV}={env}: no config.yaml there; unset it to use the "
                              "package's own tree")
        return root
    return Path(str(resources.files("agent_arena.config") / "yaml"))


def backend_file(name_or_path: str) -> Path:
    """A backend YAML: a path, or the name of a shipped one (``vllm``, ``vllm_cpu``)."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.is_file():
        return path
    shipped = yaml_root() / "backend" / f"{name_or_path}.yaml"
    if not shipped.is_file():
        names = sorted(p.stem for p in (yaml_root() / "backend").glob("*.yaml"))
        raise ConfigError(f"no backend config {name_or_path!r}: give a YAML path or one of "
                          f"{', '.join(names)}")
    return shipped


def load_yaml(path: str | Path) -> dict[str, Any]:
    """One YAML file as a plain map (OmegaConf: ``${...}`` interpolations resolved; plain
    PyYAML where OmegaConf is not installed, e.g. a GPU host's vLLM-only Python)."""
    try:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    else:
        try:
            data = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
        except (OSError, OmegaConfBaseException) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a map of settings")
    return data


def compose_raw(overrides: list[str] | None = None) -> dict[str, Any]:
    """config.yaml with its groups and the overrides, unchecked (config.app.compose checks)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    overrides = list(overrides or [])
    while True:
        try:
            with initialize_config_dir(config_dir=str(yaml_root()), version_base="1.3"):
                cfg = hydra_compose(config_name="config", overrides=overrides)
            break
        except (HydraException, OmegaConfBaseException) as exc:
            appended = _appended(overrides, str(exc))
            if appended is None:
                raise ConfigError(f"bad configuration override: {exc}") from exc
            overrides = appended
    return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]


def _appended(overrides: list[str], error: str) -> list[str] | None:
    """``overrides`` with the one Hydra could not override (a key the file does not name)
    given as ``+key=value``, or None. Why: the builder then judges the key against the schema,
    so a preset takes any key of its class, a typo gets "did you mean", and an old flat key
    (``backend.tensor_parallel_size``) is pointed at its new place (``backend.launch.``)."""
    match = re.search(r"Could not override '([^']+)'", error)
    if not match:
        return None
    for i, item in enumerate(overrides):
        if item.partition("=")[0] == match.group(1):
            return [*overrides[:i], "+" + item, *overrides[i + 1:]]
    return None
