"""``python -m agent_arena.training`` = ``agent-arena train`` without the CLI's other imports."""

import sys

from agent_arena.training.cli import cli

raise SystemExit(cli(sys.argv[1:]))
