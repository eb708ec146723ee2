"""Every ``agent-arena`` subcommand answers ``--help`` with exit 0 and lists its options (issue 27),
each in a fresh interpreter as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


# subcommand -> a word its --help must show (one of its options)
SUBCOMMANDS = {
    "serve": "server.bind", "demo": "demo.agents", "config": "key=value", "keys": "DIR",
    "eval": "eval.runs", "replay": "replay.seed", "export": "--format", "gen": "--seed",
    "env": "env.agents", "train": "--steps", "launch": "--dry-run",
}
ENV = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120",
       "PYTHONPATH": os.pathsep.join([str(ROOT / "python"), os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def helps() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every `agent-arena SUB --help` at once (each is a fresh interpreter)."""
    procs = {sub: subprocess.Popen([sys.executable, "-m", "agent_arena.cli", *sub.split(), "--help"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=ENV, cwd=ROOT)
             for sub in [*SUBCOMMANDS, ""]}
    out = {}
    for sub, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=120)
        out[sub] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return out


@pytest.mark.parametrize("sub", sorted(SUBCOMMANDS))
def test_every_subcommand_answers_help(helps, sub):
    p = helps[sub]
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.startswith(f"usage: agent-arena {sub}"), p.stdout + p.stderr
    assert "-h, --help" in p.stdout and SUBCOMMANDS[sub] in p.stdout, p.stdout


def test_top_level_help_lists_every_subcommand(helps):
    p = helps[""]
    assert p.returncode == 0, p.stderr
    for sub in SUBCOMMANDS:
        assert f"    {sub}" in p.stdout, (sub, p.stdout)
