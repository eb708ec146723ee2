"""``agent-arena train DATA... [--out DIR] [--steps N] ...`` (docs/training.md)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

from agent_arena.errors import ArenaError
from agent_arena.training.config import TrainConfig


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="agent-arena train",
        description="LoRA on the embedded model from generated games and exported journals; "
                    "writes OUT/adapter.gguf for backend.lora (docs/training.md).")
    p.add_argument("data", nargs="*", help="JSONL(.gz) / Parquet files or folders of rows "
                                           "with a messages column (and/or --generate N)")
    for f in dataclasses.fields(TrainConfig):
        if f.name == "data":
            continue
        value = f.default
        if isinstance(value, bool):
            p.add_argument(f"--{f.name.replace('_', '-')}", action=argparse.BooleanOptionalAction,
                           default=value, help=f"(default: {value})")
            continue
        kind = type(value) if value is not None else str
        p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=value,
                       help=f"(default: {value})")
    return p


def cli(argv: Sequence[str]) -> int:
    args = vars(parser().parse_args(list(argv)))
    try:
        cfg = TrainConfig(**args)
        from agent_arena.training.loop import train

        train(cfg, say=lambda s: print(s, file=sys.stderr, flush=True))
    except ArenaError as exc:
        print(f"agent-arena train: error: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(cli(sys.argv[1:]))
