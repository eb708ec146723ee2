"""Export: a journal (written by Journal, records shaped as the server hook writes them) to
trajectory files that pyarrow and Hugging Face ``datasets`` load with the documented columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_arena.export import export_journal, load_traces, schema
from agent_arena.journal import Journal, JournalConfig

COLUMNS = ["messages", "prompt", "completion", "session", "agent_id", "tick", "request_id", "t",
           "backend", "model", "profile", "strategy", "observation_json", "tools_json", "tool",
           "arguments_json", "status", "reason", "raw_text", "thought", "latency_ms",
           "prompt_tokens", "completion_tokens", "attempts", "result_ok", "result_json", "reward"]

SPECS = [{"name": "move_to", "description": "Walk.", "parameters": {
    "type": "object", "properties": {"target": {"type": "array"}}}},
    {"name": "idle", "description": "Wait.", "parameters": {"type": "object", "properties": {}}}]


def play(path: Path) -> None:
    """Two agents, three ticks, one superseded observe, results with and without reward."""
    j = Journal(JournalConfig(path=str(path)))
    j.record("hello", {"session": "s1", "client": "test", "v": 1, "tools": SPECS})
    rid = 0
    for tick in range(3):
        for agent in ("a", "b"):
            rid += 1
            obs = {"tick": tick, "me": agent, "visible": [{"id": "x", "position": [tick, 0, 1]}]}
            j.record("observe", {"session": "s1", "agent_id": agent, "tick": tick, "id": rid,
                                 "observation": obs, "tools": None, "profile": "default"})
            if agent == "b" and tick == 1:
                j.record("action", {"session": "s1", "agent_id": "b", "tick": 1, "id": rid,
                                    "status": "superseded", "call": None})
                continue
            call = {"tool": "move_to", "arguments": {"target": [tick, 0, 1]}} if agent == "a" \
                else {"tool": "idle", "arguments": {}}
            j.record("action", {
                "session": "s1", "agent_id": agent, "tick": tick, "id": rid,
                "backend": "llama_cpp", "model": "m.gguf", "profile": "default", "tools": None,
                "messages": [{"role": "system", "content": "rules"},
                             {"role": "user", "content": f"Now:\ntick: {tick}"}],
                "sampling": {"temperature": 0.2}, "raw_text": json.dumps(call),
                "strategy": "constrained", "thought": None, "call": call,
                "status": "ok" if tick < 2 or agent == "a" else "fallback",
                "reason": None, "latency_ms": 700.0 + tick,
                "usage": {"prompt_tokens": 300, "completion_tokens": 12, "attempts": 1}})
            res = {"session": "s1", "agent_id": agent, "tick": tick, "tool": call["tool"],
                   "ok": True, "result": {"moved": tick}}
            if agent == "a":
                res["reward"] = float(tick)
            j.record("tool_result", res)
    j.close()


def test_traces_join_observe_action_and_result(tmp_path):
    p = tmp_path / "run.journal"
    play(p)
    trs = load_traces(p)
    assert [(t.agent_id, t.tick) for t in trs] == [("a", 0), ("b", 0), ("a", 1), ("a", 2),
                                                   ("b", 2)]
    a2 = trs[3]
    assert a2.observation["visible"][0]["position"] == [2, 0, 1]
    assert a2.result == {"ok": True, "result": {"moved": 2}, "reward": 2.0}
    assert a2.tool_specs == SPECS and trs[4].status == "fallback"
    assert [t.agent_id for t in load_traces(p, statuses=["ok"])] == ["a", "b", "a", "a"]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_export_loads_with_pyarrow_and_datasets(tmp_path, fmt, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    p = tmp_path / "run.journal"
    play(p)
    out = tmp_path / f"traj.{fmt}"
    summary = export_journal(p, out, fmt)
    assert summary.rows == 5 and summary.with_reward == 3 and summary.statuses == {
        "ok": 4, "fallback": 1}

    import datasets

    ds = datasets.load_dataset("json" if fmt == "jsonl" else "parquet", data_files=str(out),
                               split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.column_names == COLUMNS
    assert len(ds) == 5
    first = ds[0]
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert json.loads(first["messages"][-1]["content"]) == {
        "tool": "move_to", "arguments": {"target": [0, 0, 1]}}
    assert first["prompt"] + first["completion"] == first["messages"]
    assert ds["reward"] == [0.0, None, 1.0, 2.0, None]
    assert ds["status"] == ["ok", "ok", "ok", "ok", "fallback"]
    assert json.loads(first["tools_json"]) == SPECS
    assert json.loads(ds[3]["observation_json"])["tick"] == 2
    assert ds["result_ok"] == [True, True, True, True, True]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        assert pq.read_schema(out).names == COLUMNS
        assert pq.read_table(out).schema.equals(schema())


def test_export_command_line(tmp_path, capsys):
    from agent_arena.cli import main

    p = tmp_path / "run.journal"
    play(p)
    assert main(["export", str(p), "--format", "parquet", "--status", "ok"]) == 0
    assert "wrote 4 decisions" in capsys.readouterr().out
    assert (tmp_path / "run.journal.trajectories.parquet").is_file()
    assert main(["export", str(tmp_path / "missing.journal")]) == 2
