"""Every subcommand's argparse parser, so ``agent-arena SUB --help`` lists its options.

Settings stay Hydra overrides (key=value) after the subcommand; their help lists the keys with
their defaults, read from the composed configuration (or the section's dataclass) only when
help is asked for, so parsing costs nothing. export, gen, train and launch own their parsers
(their modules' ``cli``), which answer --help themselves; they are listed here for the overview.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

EXAMPLES = """\
examples:
    agent-arena serve backend=llama_server server.bind=tcp://127.0.0.1:6000
    agent-arena demo demo.agents=8 demo.ticks=20 backend.temperature=0.2
    agent-arena config backend=vllm          # print the composed configuration
    agent-arena keys ./keys                  # CURVE key pairs for server and a client
    agent-arena eval bench/scenarios profile=default eval.runs=2 eval.out=eval-out
    agent-arena replay run.journal backend=llama_server   # re-decide a journal, agreement
    agent-arena export run.journal --format parquet       # trajectories for datasets / TRL
    agent-arena gen --n 20000 --seed 0 --out data.jsonl   # generated games (+ data.val.jsonl)
    agent-arena env env.agents=2 env.port=8000            # the game for RL trainers (OpenEnv)
    agent-arena train data.jsonl --out outputs/train      # LoRA for the embedded model
    agent-arena launch vllm --model Qwen/Qwen2.5-7B-Instruct  # start vLLM for backend=vllm
"""

# subcommands whose own module parses every argument (and answers --help)
OWN_ARGS = {"export": "agent_arena.export", "gen": "agent_arena.gamegen",
            "train": "agent_arena.training.cli", "launch": "agent_arena.launch.cli"}

COMMANDS = {
    "serve": "serve the bridge on a ZeroMQ socket until SIGINT/SIGTERM",
    "demo": "run the demo world's agents against the configured backend",
    "config": "print the composed configuration",
    "keys": "write CURVE key pairs for the server and a client",
    "eval": "score a backend on scenario files (docs/eval.md)",
    "replay": "re-decide a journal's decisions and report agreement (docs/eval.md)",
    "export": "turn a journal into trajectories (JSONL / Parquet) for datasets and TRL",
    "gen": "generate games as training data (docs/training.md)",
    "env": "serve the game to RL trainers through OpenEnv (docs/env.md)",
    "train": "train a LoRA for the embedded model (docs/training.md)",
    "launch": "start an inference server: vllm, sglang or llama-server (docs/backends.md)",
}

OVERRIDES = """\
Settings are Hydra overrides after the subcommand: key=value (server.bind=...),
group=option (backend=llama_server), +new.key=value; `agent-arena config ...` prints
the composed result."""

ENV_KEYS = {  # agent_arena.env.serve reads these (docs/env.md)
    "env.world": "the world the game plays (demo)",
    "env.agents": "agents in the world",
    "env.max_ticks": "ticks per episode",
    "env.deadline_ms": "how long the bridge waits for an action",
    "env.agent_ids": "names of the agents (default: the world's)",
    "env.bind": "the bridge's ZeroMQ endpoint",
    "env.host": "the OpenEnv HTTP host",
    "env.port": "the OpenEnv HTTP port",
    "env.max_sessions": "concurrent OpenEnv sessions",
}


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help ends with a listing made only when help is printed."""

    def __init__(self, *args: Any, listing: Callable[[], str] | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)
        self.listing = listing

    def format_help(self) -> str:
        text = super().format_help()
        return f"{text}\n{self.listing()}" if self.listing is not None else text


def _value(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, default=str)


def _flat(data: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(data, Mapping) and data:
        for k, v in data.items():
            yield from _flat(v, f"{prefix}.{k}")
    else:
        yield prefix, data


def config_keys(*sections: str) -> Callable[[], str]:
    """Help text: every key of ``sections`` of the composed configuration, with its default."""

    def listing() -> str:
        from agent_arena import settings
        from agent_arena.backends import list_backends

        cfg = settings.compose([])
        lines = ["settings (key=value, default shown):"]
        for section in sections:
            lines += [f"  {k}={_value(v)}" for k, v in _flat(cfg.get(section), section)]
        if "backend" in sections:
            lines.append(f"  (the keys of backend={cfg['backend'].get('type')}; backend=NAME "
                         f"picks another: {', '.join(list_backends())})")
        return "\n".join(lines) + "\n"

    return listing


def dataclass_keys(module: str, cls: str, section: str) -> Callable[[], str]:
    """Help text: the fields of a settings dataclass as ``section.field=default``."""

    def listing() -> str:
        import importlib

        lines = ["settings (key=value, default shown; also backend=..., profile=NAME):"]
        for f in dataclasses.fields(getattr(importlib.import_module(module), cls)):
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
            lines.append(f"  {section}.{f.name}={_value(default)}")
        return "\n".join(lines) + "\n"

    return listing


def _env_keys() -> str:
    return "settings (key=value):\n" + "".join(f"  {k:<18} {v}\n" for k, v in ENV_KEYS.items())


def _overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("overrides", nargs="*", metavar="key=value", help="Hydra overrides")


def parser() -> Parser:
    top = Parser(prog="agent-arena", description="Agent Arena: game observations in over "
                 "ZeroMQ, validated tool calls out.", epilog=f"{EXAMPLES}\n{OVERRIDES}")
    sub = top.add_subparsers(dest="command", metavar="SUBCOMMAND", title="subcommands")

    def add(name: str, listing: Callable[[], str] | None = None, **kw: Any) -> Parser:
        kw.setdefault("epilog", OVERRIDES)
        return sub.add_parser(name, help=COMMANDS[name], description=COMMANDS[name] + ".",
                              listing=listing, **kw)  # type: ignore[no-any-return]

    _overrides(add("serve", config_keys("server", "serve", "calling", "backend")))
    _overrides(add("demo", config_keys("demo", "backend")))
    _overrides(add("config", lambda: "groups: backend=NAME, tools=NAME, agents=NAME "
                   "(configs/); any key=value of the printed configuration\n"))
    add("keys", epilog=None).add_argument("dir", metavar="DIR", help="where to write the key files")
    add("eval", dataclass_keys("agent_arena.evaluation", "EvalConfig", "eval"),
        usage="%(prog)s [-h] SCENARIO_FILE_OR_DIR... [key=value ...]").add_argument(
        "args", nargs="*", metavar="ARG", help="scenario files or directories, then overrides")
    add("replay", dataclass_keys("agent_arena.replay", "ReplayConfig", "replay"),
        usage="%(prog)s [-h] JOURNAL [key=value ...]").add_argument(
        "args", nargs="*", metavar="ARG", help="the journal to replay, then overrides")
    _overrides(add("env", _env_keys))
    for name in OWN_ARGS:  # listed here; their own parser answers `agent-arena NAME --help`
        sub.add_parser(name, help=COMMANDS[name], add_help=False).add_argument(
            "args", nargs=argparse.REMAINDER)
    return top
