"""Training rows: chats in TRL's conversational format, read from JSONL (plain or gzipped)
or Parquet (``agent-arena export``). The generator (``agent_arena.gamegen``) and export both
write ``{"messages": [system, user, assistant], ...}``; the assistant's content is the call
as constrained decoding emits it, ``{"tool": ..., "arguments": {...}}``.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError, Status

_TOOL_VALUE = re.compile(r'"tool"\s*:\s*"((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Row:
    """One decision to learn: the prompt turns and the answer the model should write."""

    prompt: tuple[dict[str, str], ...]
    answer: str
    tool: str
    source: str = ""


def tool_span(answer: str) -> tuple[int, int] | None:
    """Character span of the tool's name inside an answer, for weighting its tokens."""
    m = _TOOL_VALUE.search(answer)
    return (m.start(1), m.end(1)) if m else None


def row_problem(rec: Any) -> str | None:
    """Why a record cannot be trained on (None: it can)."""
    if not isinstance(rec, dict):
        return "not an object"
    msgs = rec.get("messages")
    if not isinstance(msgs, list) or len(msgs) < 2:
        return "no messages list of at least two turns"
    for m in msgs:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str) \
                or m.get("role") not in ("system", "user", "assistant"):
            return "a turn without role system/user/assistant and text content"
    if msgs[-1]["role"] != "assistant":
        return "the last turn is not the assistant's answer"
    try:
        answer = json.loads(msgs[-1]["content"])
    except json.JSONDecodeError:
        return "the answer is not JSON"
    if not isinstance(answer, dict) or not isinstance(answer.get("tool"), str) \
            or not isinstance(answer.get("arguments", {}), dict):
        return 'the answer is not {"tool": name, "arguments": {...}}'
    return None


def to_row(rec: dict[str, Any], source: str = "") -> Row:
    msgs = rec["messages"]
    answer = msgs[-1]["content"]
    tool = json.loads(answer)["tool"]
    prompt = tuple({"role": m["role"], "content": m["content"]} for m in msgs[:-1])
    return Row(prompt=prompt, answer=answer, tool=tool, source=source)


def _records(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
        return
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ConfigError(f"{path}:{n}: not JSON ({exc.msg})") from exc


def _files(paths: Iterable[str | Path]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*")
                          if f.name.endswith((".jsonl", ".jsonl.gz", ".parquet")))
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"training data {p} does not exist")
    return out


def load_rows(paths: Sequence[str | Path], *, keep_status: Status | None = "ok") -> list[Row]:
    """Every trainable row of ``paths`` (files or folders). Exported journal rows whose status
    is not ``keep_status`` (fallbacks, timeouts) are left out: they teach the fallback."""
    rows: list[Row] = []
    for f in _files(paths):
        skipped = 0
        for rec in _records(f):
            if keep_status and isinstance(rec, dict) and rec.get("status") not in (None, keep_status):
                continue
            if row_problem(rec) is not None:
                skipped += 1
                continue
            rows.append(to_row(rec, source=f.name))
        if skipped:
            import logging

            logging.getLogger("agent_arena.training").warning(
                "%s: %d rows skipped (not a chat ending in a call)", f, skipped)
    if not rows:
        raise ConfigError(f"no trainable rows in {', '.join(map(str, paths))}: each row needs "
                          '"messages" ending with the assistant\'s {"tool": ..., "arguments": ...}')
    return rows


def split(rows: Sequence[Row], held_out: float, seed: int) -> tuple[list[Row], list[Row]]:
    """A seeded shuffle, then the last ``held_out`` fraction (at least one row) for eval."""
    order = list(rows)
    random.Random(seed).shuffle(order)
    n = max(1, int(len(order) * held_out)) if held_out > 0 and len(order) > 1 else 0
    return order[: len(order) - n], order[len(order) - n:]
