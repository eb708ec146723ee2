"""One settings layer for the whole app (docs/configuration.md).

    files.py     the YAML shipped in ``yaml/`` (package data) and Hydra composition
"""

from __future__ import annotations

from agent_arena.config.files import backend_file, load_yaml, yaml_root

__all__ = ["backend_file", "load_yaml", "yaml_root"]
