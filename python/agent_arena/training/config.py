"""What one training run is: data, base, LoRA shape, optimiser, budget. Every field has a
default that reproduces the committed adapter (python/agent_arena/adapters/README.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class TrainConfig:
    data: list[str] = field(default_factory=list)  # JSONL / JSONL.gz / Parquet files or folders
    generate: int = 0  # + this many rows from agent_arena.gamegen (seeded by seed)
    scenarios: str = ""  # + labelled scenario files or folders, comma-separated (design sets)
    scenario_copies: int = 2  # rows per scenario: with its mask, without, then shuffled tools
    scenario_rename: bool = False  # copies past two: tools get fresh names (their role's words)
    eval_rows: int = 500  # held out: rows of unseen generated games (or a share of data)
    out: str = "outputs/train"
    base: str | None = None  # a GGUF; None: the embedded SmolLM2-135M-Instruct as served (Q4_0)
    seed: int = 0
    init_adapter: str = ""  # start from this GGUF LoRA (a path, or a packaged name: npc)
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    targets: str = "all-linear"  # or a comma list: q_proj,k_proj,v_proj,o_proj,...
    lr: float = 2e-4
    warmup: int = 30
    batch: int = 8
    steps: int = 200  # optimiser steps (stops early at max_minutes)
    max_minutes: float = 0.0  # 0: no time limit; training time over all calls of a run
    pause_minutes: float = 0.0  # >0: after this long in this call, save OUT/checkpoint.pt and stop
    resume: bool = False  # go on from OUT/checkpoint.pt (same command otherwise)
    max_len: int = 1024
    tool_weight: float = 3.0
    held_out: float = 0.02
    eval_every: int = 100
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # CPU threads for torch (0: torch's default)

    def __post_init__(self) -> None:
        from agent_arena.errors import ConfigError

        if self.rank < 1 or self.alpha <= 0:
            raise ConfigError(f"rank={self.rank}, alpha={self.alpha}: both must be positive")
        if self.batch < 1 or self.steps < 1:
            raise ConfigError(f"batch={self.batch}, steps={self.steps}: both must be at least 1")
        if not self.data and self.generate < 1 and not self.scenarios:
            raise ConfigError("no training data: name JSONL/Parquet files, --generate N or "
                              "--scenarios DIR")
        if self.scenario_copies < 1:
            raise ConfigError(f"scenario_copies={self.scenario_copies}: at least 1")
        if not 0 <= self.held_out < 0.5:
            raise ConfigError(f"held_out={self.held_out}: a fraction below 0.5")
        if self.resume and not (Path(self.out) / "checkpoint.pt").is_file():
            raise ConfigError(f"--resume: no {Path(self.out) / 'checkpoint.pt'}; give the --out of "
                              "a run paused by --pause-minutes, or start without --resume")
        if self.pause_minutes < 0 or self.max_minutes < 0:
            raise ConfigError("pause_minutes and max_minutes are minutes: 0 (off) or more")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device={self.device!r}: auto, cpu or cuda")
