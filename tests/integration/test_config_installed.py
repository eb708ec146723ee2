"""The package alone, outside the checkout, finds the YAML it ships (issue 27: no ``parents[2]``
into the repository): a fresh interpreter that sees only a copy of agent_arena composes its
defaults. The schema and the YAML themselves: tests/unit/test_config_schema.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_installed_package_finds_its_yaml_without_the_repository(tmp_path: Path):
    """No parents[2]: the package alone, copied out of the checkout, composes its defaults."""
    site = tmp_path / "site"
    shutil.copytree(ROOT / "python" / "agent_arena", site / "agent_arena",
                    ignore=shutil.ignore_patterns("*.gguf", "__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "AGENT_ARENA_CONFIG_DIR"}
    env["PYTHONPATH"] = str(site)
    code = ("import agent_arena, agent_arena.settings as s; "
            "print(agent_arena.__file__); print(s.server_config(s.compose()).bind)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    where, bind = out.stdout.split()
    assert where.startswith(str(site)) and bind == "tcp://127.0.0.1:5555"
