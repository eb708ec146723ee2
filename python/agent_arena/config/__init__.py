"""One settings layer for the whole app (docs/configuration.md).

    fields.py    ``setting(default, help, ge=..., le=..., choices=...)``: a dataclass field with
                 its description and bounds; ``describe(cls, where)``: one line per field
    build.py     ``build(cls, mapping, where)``: the one builder (unknown keys, types, bounds)
    sections.py  serve, demo, env, eval, replay
    files.py     the YAML shipped in ``yaml/`` (package data) and Hydra composition
    app.py       the whole schema: section name -> dataclass; ``compose`` checks every section

Defaults live in the dataclasses; ``yaml/`` restates them (a test proves they are equal).
This module imports only the bottom layer (fields, build, files), so backends can use the
builder without importing the server or calling code that app.py lists.
"""

from __future__ import annotations

from agent_arena.config.build import build, reject_unknown
from agent_arena.config.fields import check_bounds, describe, setting
from agent_arena.config.files import backend_file, load_yaml, yaml_root

__all__ = ["backend_file", "build", "check_bounds", "describe", "load_yaml", "reject_unknown",
           "setting", "yaml_root"]
