"""``python -m agent_arena.cli``: the same as the ``agent-arena`` command."""

from agent_arena.cli import main

raise SystemExit(main())
