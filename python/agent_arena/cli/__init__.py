"""`agent-arena SUBCOMMAND [options] [key=value ...]`: the command line (``main``).

One module per subcommand group: parser.py (every subcommand's --help, and the examples that
``agent-arena --help`` prints), serve.py, demo.py, keys.py; eval, replay, export, gen, train and
launch run their own module's ``cli(args)``. Settings are Hydra overrides (key=value) after the
subcommand; ``agent-arena SUB --help`` lists them.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import Any

from agent_arena.cli.parser import COMMANDS, OWN_ARGS, parser
from agent_arena.errors import ArenaError

__all__ = ["main"]


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, str(level).upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


def _parse(args: list[str]) -> Any:
    """argparse's namespace, or the exit code of --help (0) or a usage error (2)."""
    try:
        return parser().parse_args(args)
    except SystemExit as stop:
        return int(stop.code or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(parser().format_help())
        return 0 if args else 2
    command = args[0]
    if command not in COMMANDS:
        print(f"agent-arena: unknown command {command!r}\n{parser().format_usage()}",
              file=sys.stderr)
        return 2
    try:
        if command in OWN_ARGS:  # flags of their own (docs/eval.md, docs/training.md)
            _setup_logging("WARNING")
            return int(importlib.import_module(OWN_ARGS[command]).cli(args[1:]))
        ns = _parse(args)
        if isinstance(ns, int):
            return ns
        if command == "keys":
            from agent_arena.cli.keys import keys

            return keys(ns.dir)
        if command in ("eval", "replay"):  # SCENARIOS/JOURNAL and key=value, as before
            _setup_logging("WARNING")
            module = {"eval": "agent_arena.evaluation", "replay": "agent_arena.replay"}[command]
            return int(importlib.import_module(module).cli(ns.args))
        return _configured(command, ns.overrides)
    except ArenaError as exc:
        print(f"agent-arena: error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _configured(command: str, overrides: list[str]) -> int:
    """serve, demo, env and config: the composed configuration, then the subcommand."""
    from agent_arena import settings

    cfg = settings.compose(overrides)
    _setup_logging(cfg.get("log_level", "INFO"))
    if command == "serve":
        from agent_arena.cli.serve import serve
        from agent_arena.server.config import run

        event_loop = settings.server_config(cfg).event_loop  # a bad setting fails here
        return run(serve(cfg), event_loop)
    if command == "demo":
        from agent_arena.cli.demo import demo

        return asyncio.run(demo(cfg))
    if command == "env":
        from agent_arena.env.serve import run_env

        return run_env(cfg)
    from omegaconf import OmegaConf  # config

    print(OmegaConf.to_yaml(cfg))
    return 0
