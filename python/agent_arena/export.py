"""Trajectories: a journal turned into one row per decision, for datasets / TRL.

``agent-arena export JOURNAL --format jsonl|parquet [--out PATH] [--status ok]``

Each row joins an ``action`` record with its ``observe`` (same session, agent and request id),
the session's tool specs at that time (latest ``hello`` / ``register_tools``) and the game's
``tool_result`` for that agent and tick (ok, result, and the optional ``reward``). The
``messages`` column is the chat the model saw plus the call as the assistant's last turn, so
``datasets.load_dataset("parquet", data_files=...)`` feeds TRL's SFTTrainer as it is;
``prompt`` / ``completion`` are the same split for prompt-completion trainers (GRPO, DPO
pipelines). Columns are documented in docs/training.md; ``SCHEMA`` is the source.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from agent_arena.errors import Status
from agent_arena.journal import ReadReport, read_journal
from agent_arena.prompt.answer import assistant_text


@dataclass
class DecisionTrace:
    """One decision from a journal, with what surrounded it."""

    session: str
    agent_id: str
    tick: int
    request_id: Any
    t: float
    backend: str
    model: str
    profile: str
    strategy: str
    messages: list[dict[str, Any]]
    sampling: dict[str, Any]
    raw_text: str
    thought: str | None
    call: dict[str, Any] | None
    status: Status
    reason: str | None
    latency_ms: float
    usage: dict[str, Any]
    allowed: list[str] | None = None
    tool_specs: list[dict[str, Any]] | None = None  # the session's tools (None: not journaled)
    observation: dict[str, Any] | None = None
    result: dict[str, Any] | None = None  # the tool_result record (ok, result, reward)
    prompt: dict[str, Any] | None = None  # the prompt's parts (prompt.Prompt.record; None: older)
    extra: dict[str, Any] = field(default_factory=dict)


def _key(rec: Mapping[str, Any]) -> tuple[str, str, Any]:
    rid = rec.get("id", rec.get("request_id"))
    return (str(rec.get("session")), str(rec.get("agent_id")), json.dumps(rid, default=str))


_ACTION_FIELDS = {"kind", "t", "seq", "session", "agent_id", "tick", "id", "request_id",
                  "backend", "model", "profile", "strategy", "messages", "sampling", "raw_text",
                  "thought", "call", "status", "reason", "latency_ms", "usage", "tools", "prompt"}


def traces(records: Iterable[Mapping[str, Any]], *,
           statuses: Sequence[str] | None = None) -> list[DecisionTrace]:
    """Decisions in journal order; ``superseded`` actions (no decision reached the game) and
    actions without messages are left out, as are statuses not in ``statuses`` when given."""
    tools_of: dict[str, list[dict[str, Any]]] = {}
    observes: dict[tuple[str, str, Any], Mapping[str, Any]] = {}
    out: list[DecisionTrace] = []
    waiting: dict[tuple[str, str, int], list[DecisionTrace]] = {}
    for rec in records:
        kind = rec.get("kind")
        session = str(rec.get("session"))
        if kind in ("hello", "register_tools") and isinstance(rec.get("tools"), list):
            specs = [t for t in rec["tools"] if isinstance(t, Mapping)]
            if specs:  # names only (an older hook) tell nothing about the schemas
                tools_of[session] = [dict(t) for t in specs]
        elif kind == "observe":
            observes[_key(rec)] = rec
        elif kind == "action":
            status = cast(Status, str(rec.get("status")))  # as the server journaled it
            if status == "superseded" or not rec.get("messages"):
                continue
            if statuses is not None and status not in statuses:
                continue
            obs = observes.pop(_key(rec), None)
            allowed = rec.get("tools", obs.get("tools") if obs else None)
            tr = DecisionTrace(
                session=session, agent_id=str(rec.get("agent_id")), tick=int(rec.get("tick") or 0),
                request_id=rec.get("id", rec.get("request_id")), t=float(rec.get("t") or 0.0),
                backend=str(rec.get("backend") or ""), model=str(rec.get("model") or ""),
                profile=str(rec.get("profile") or (obs or {}).get("profile") or "default"),
                strategy=str(rec.get("strategy") or ""),
                messages=[dict(m) for m in rec.get("messages") or []],
                sampling=dict(rec.get("sampling") or {}), raw_text=str(rec.get("raw_text") or ""),
                thought=rec.get("thought"), call=dict(rec["call"]) if rec.get("call") else None,
                status=status, reason=rec.get("reason"),
                latency_ms=float(rec.get("latency_ms") or 0.0), usage=dict(rec.get("usage") or {}),
                allowed=list(allowed) if allowed is not None else None,
                tool_specs=tools_of.get(session),
                observation=dict(obs["observation"]) if obs and isinstance(
                    obs.get("observation"), Mapping) else None,
                prompt=dict(rec["prompt"]) if isinstance(rec.get("prompt"), Mapping) else None,
                extra={k: v for k, v in rec.items() if k not in _ACTION_FIELDS})
            out.append(tr)
            waiting.setdefault((session, tr.agent_id, tr.tick), []).append(tr)
        elif kind == "tool_result":
            key = (session, str(rec.get("agent_id")), int(rec.get("tick") or 0))
            for tr in waiting.get(key, []):
                if tr.result is None and tr.call and tr.call.get("tool") == rec.get("tool"):
                    tr.result = {k: rec.get(k) for k in ("ok", "result", "reward")}
                    break
    return out


def load_traces(path: str | Path, *, statuses: Sequence[str] | None = None,
                report: ReadReport | None = None) -> list[DecisionTrace]:
    return traces(read_journal(path, report=report), statuses=statuses)


# ---- rows ----------------------------------------------------------------------------------------


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str, ensure_ascii=False)


def _chat(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    return [{"role": str(m.get("role")), "content": str(m.get("content") or "")}
            for m in messages]


def trajectory_row(tr: DecisionTrace) -> dict[str, Any]:
    prompt = _chat(tr.messages)
    completion = [{"role": "assistant", "content": assistant_text(tr.call, tr.thought)}]
    specs = tr.tool_specs
    if specs is not None and tr.allowed is not None:
        specs = [s for s in specs if s.get("name") in set(tr.allowed)]
    result = tr.result or {}
    reward = result.get("reward")
    return {
        "messages": prompt + completion,
        "prompt": prompt,
        "completion": completion,
        "session": tr.session,
        "agent_id": tr.agent_id,
        "tick": tr.tick,
        "request_id": str(tr.request_id),
        "t": tr.t,
        "backend": tr.backend,
        "model": tr.model,
        "profile": tr.profile,
        "strategy": tr.strategy,
        "observation_json": _json(tr.observation),
        "tools_json": _json(specs),
        "tool": tr.call.get("tool") if tr.call else None,
        "arguments_json": _json(tr.call.get("arguments")) if tr.call else None,
        "status": tr.status,
        "reason": tr.reason,
        "raw_text": tr.raw_text,
        "thought": tr.thought,
        "latency_ms": tr.latency_ms,
        "prompt_tokens": int(tr.usage.get("prompt_tokens") or 0),
        "completion_tokens": int(tr.usage.get("completion_tokens") or 0),
        "attempts": int(tr.usage.get("attempts") or 0),
        "result_ok": result.get("ok") if tr.result is not None else None,
        "result_json": _json(result.get("result")) if tr.result is not None else None,
        "reward": float(reward) if isinstance(reward, (int, float)) and
        not isinstance(reward, bool) else None,
    }


def schema() -> Any:
    """The Arrow schema of a trajectory file (the documented columns, in order)."""
    import pyarrow as pa

    turn = pa.struct([("role", pa.string()), ("content", pa.string())])
    chat = pa.list_(turn)
    return pa.schema([
        ("messages", chat), ("prompt", chat), ("completion", chat),
        ("session", pa.string()), ("agent_id", pa.string()), ("tick", pa.int64()),
        ("request_id", pa.string()), ("t", pa.float64()),
        ("backend", pa.string()), ("model", pa.string()), ("profile", pa.string()),
        ("strategy", pa.string()), ("observation_json", pa.string()), ("tools_json", pa.string()),
        ("tool", pa.string()), ("arguments_json", pa.string()), ("status", pa.string()),
        ("reason", pa.string()), ("raw_text", pa.string()), ("thought", pa.string()),
        ("latency_ms", pa.float64()), ("prompt_tokens", pa.int64()),
        ("completion_tokens", pa.int64()), ("attempts", pa.int64()),
        ("result_ok", pa.bool_()), ("result_json", pa.string()), ("reward", pa.float64()),
    ])


def write_trajectories(rows: Sequence[Mapping[str, Any]], out: str | Path, fmt: str) -> Path:
    """Parquet through pyarrow with ``schema()``; JSONL as the same rows, one per line."""
    import pyarrow as pa

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(list(rows), schema=schema())  # checks every row's types
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    elif fmt == "jsonl":
        with open(out, "w", encoding="utf-8") as f:
            for row in table.to_pylist():
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    else:
        raise ValueError(f"unknown format {fmt!r}; choose jsonl or parquet")
    return out


@dataclass
class ExportSummary:
    path: Path
    rows: int
    statuses: dict[str, int]
    with_result: int
    with_reward: int
    journal: ReadReport


def export_journal(journal: str | Path, out: str | Path, fmt: str = "jsonl", *,
                   statuses: Sequence[str] | None = None) -> ExportSummary:
    report = ReadReport()
    rows = [trajectory_row(t) for t in load_traces(journal, statuses=statuses, report=report)]
    path = write_trajectories(rows, out, fmt)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ExportSummary(path, len(rows), counts, sum(r["result_ok"] is not None for r in rows),
                         sum(r["reward"] is not None for r in rows), report)


def cli(argv: Sequence[str]) -> int:
    ap = argparse.ArgumentParser(prog="agent-arena export", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("journal", help="journal file (its rotated files path.1, ... are read too)")
    ap.add_argument("--format", choices=("jsonl", "parquet"), default="jsonl")
    ap.add_argument("--out", help="output file (default: JOURNAL.trajectories.jsonl|parquet)")
    ap.add_argument("--status", action="append",
                    help="keep only decisions with this status (repeatable), e.g. --status ok")
    args = ap.parse_args(list(argv))
    out = args.out or f"{args.journal}.trajectories.{args.format}"
    try:
        s = export_journal(args.journal, out, args.format, statuses=args.status)
    except FileNotFoundError as exc:
        print(f"agent-arena: error: {exc}", file=sys.stderr)
        return 2
    from rich.console import Console

    Console(soft_wrap=True).print(f"wrote {s.rows} decisions to {s.path} (statuses {s.statuses}, "
                    f"{s.with_result} with a tool_result, {s.with_reward} with a reward; "
                    f"journal: {s.journal.files} file(s), {s.journal.torn_bytes} torn bytes)",
                    highlight=False)
    return 0
