"""Rows from the game generator (agent_arena.gamegen), made in parallel processes: a GPU
run generates its 100k+ rows in seconds where it trains instead of carrying them."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

from agent_arena.training.data import Row, to_row

SHARD_SEED_STEP = 7919  # shard k of seed s draws games from seed s + k * step


def _shard(args: tuple[int, int]) -> list[Row]:
    from agent_arena import gamegen

    n, seed = args
    return [to_row(e.row(), source=f"gamegen:{seed}") for e in gamegen.examples(n, seed)]


def generated_rows(n: int, seed: int, *, workers: int = 0) -> list[Row]:
    """``n`` generated rows, the same for the same (n, seed, workers)."""
    workers = workers or min(16, os.cpu_count() or 1)
    sizes = [n // workers + (1 if k < n % workers else 0) for k in range(workers)]
    jobs = [(size, seed + k * SHARD_SEED_STEP) for k, size in enumerate(sizes) if size]
    if len(jobs) == 1:
        return _shard(jobs[0])
    with ProcessPoolExecutor(len(jobs)) as pool:
        return [r for part in pool.map(_shard, jobs) for r in part]


def held_out_rows(n: int, seed: int) -> list[Row]:
    """Rows from games the training rows never saw (gamegen's validation seeds)."""
    from agent_arena import gamegen

    return _shard((n, seed + gamegen.VAL_SEED_OFFSET))
