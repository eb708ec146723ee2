"""The journal alone: round trip, rotation, fsync policies, torn records, unwritable paths.

(The journal of a real server run is tested in test_journal_e2e.py.)
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path

import msgpack
import pytest

from agent_arena.errors import ConfigError
from agent_arena.journal import Journal, JournalConfig, ReadReport, read_journal, segments


def action(i: int) -> dict:
    return {"session": "s1", "agent_id": f"a{i % 3}", "tick": i, "id": i, "backend": "llama_cpp",
            "messages": [{"role": "system", "content": "x" * 40}, {"role": "user", "content":
                                                                    f"tick {i}"}],
            "sampling": {"temperature": 0.2}, "call": {"tool": "idle", "arguments": {}},
            "status": "ok", "latency_ms": 1.5 * i, "usage": {"prompt_tokens": 10}}


def write(path: Path, n: int, **cfg) -> Journal:
    j = Journal(JournalConfig(path=str(path), **cfg))
    for i in range(n):
        j.record("action", action(i))
    j.close()
    return j


def test_records_round_trip_in_order_with_a_header(tmp_path):
    p = tmp_path / "run.journal"
    j = write(p, 20)
    recs = list(read_journal(p))
    assert recs[0]["kind"] == "journal" and recs[0]["format"] == 1
    body = recs[1:]
    assert [r["tick"] for r in body] == list(range(20))
    assert [r["seq"] for r in body] == list(range(1, 21))
    assert body[7]["messages"] == action(7)["messages"]
    assert body[7]["call"] == {"tool": "idle", "arguments": {}}
    assert all(r["kind"] == "action" and r["t"] > 0 for r in body)
    assert j.stats["written"] == 20 and j.stats["dropped"] == 0


def test_record_is_a_snapshot_and_converts_what_msgpack_cannot_encode(tmp_path):
    @dataclasses.dataclass
    class Sampling:
        temperature: float = 0.5

    p = tmp_path / "j"
    j = Journal(JournalConfig(path=str(p)))
    fields = {"tools": ("a", "b"), "sampling": Sampling(), "odd": object(), "blob": b"\x00\x01",
              "names": {"x"}}
    j.record("hello", fields)
    fields["tools"] = ("changed",)  # after record(): must not show up in the journal
    j.close()
    rec = list(read_journal(p, kinds=("hello",)))[0]
    assert rec["tools"] == ["a", "b"]
    assert rec["sampling"] == {"temperature": 0.5}
    assert rec["odd"].startswith("<object object")
    assert rec["blob"] == b"\x00\x01" and rec["names"] == ["x"]


@pytest.mark.parametrize("fsync", ["never", "rotate", "always"])
def test_rotation_by_size_keeps_every_record_in_order(tmp_path, fsync):
    p = tmp_path / "run.journal"
    one = len(msgpack.packb({"kind": "action", "t": 0.0, "seq": 1, **action(1)}))
    j = write(p, 50, max_bytes=one * 6, fsync=fsync)
    files = segments(p)
    assert len(files) >= 8 and files[-1] == (None, p)
    assert [n for n, _ in files[:-1]] == list(range(1, len(files)))
    assert all(f.stat().st_size <= one * 6 + 64 for _, f in files)
    recs = list(read_journal(p, kinds=("action",)))
    assert [r["tick"] for r in recs] == list(range(50))
    assert j.stats["rotations"] == len(files) - 1


def test_unknown_fsync_policy_is_a_config_error():
    with pytest.raises(ConfigError, match="never, rotate, always"):
        JournalConfig(path="x", fsync="sometimes")


def test_a_torn_last_record_reads_up_to_the_last_whole_record(tmp_path):
    p = tmp_path / "run.journal"
    write(p, 5)
    data = p.read_bytes()
    last = len(msgpack.packb(list(read_journal(p))[-1]))
    for cut in range(1, last):  # every point inside the last record
        p.write_bytes(data[:-cut])
        report = ReadReport()
        recs = list(read_journal(p, report=report))
        assert [r["tick"] for r in recs[1:]] == [0, 1, 2, 3], cut
        assert report.torn_bytes == last - cut
    p.write_bytes(data)
    report = ReadReport()
    assert len(list(read_journal(p, report=report))) == 6 and report.torn_bytes == 0


def test_garbage_in_the_middle_stops_that_file_and_keeps_reading_the_next(tmp_path, caplog):
    p = tmp_path / "run.journal"
    first = tmp_path / "run.journal.1"
    first.write_bytes(msgpack.packb({"kind": "action", "tick": 10}) + b"\xc1"
                      + msgpack.packb({"kind": "action", "tick": 11}))
    write(p, 2)
    report = ReadReport()
    with caplog.at_level(logging.WARNING, "agent_arena.journal"):
        recs = list(read_journal(p, kinds=("action",), report=report))
    assert [r["tick"] for r in recs] == [10, 0, 1]
    assert report.corrupt == 1 and report.files == 2
    assert "undecodable" in caplog.text


def test_reopening_moves_the_old_file_aside_so_a_torn_tail_stays_last(tmp_path):
    p = tmp_path / "run.journal"
    write(p, 3)
    p.write_bytes(p.read_bytes()[:-2])  # a crash mid-write
    write(p, 2)
    assert [n for n, _ in segments(p)] == [1, None]
    report = ReadReport()
    ticks = [r["tick"] for r in read_journal(p, kinds=("action",), report=report)]
    assert ticks == [0, 1, 0, 1] and report.torn_bytes > 0


def unwritable_paths(tmp_path: Path) -> list[Path]:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    paths = [blocker / "run.journal", Path("/dev/full")]  # no directory; disk full
    if os.geteuid() != 0:  # root writes through permission bits
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        paths.append(ro / "run.journal")
    return paths


def test_an_unwritable_journal_is_reported_once_and_drops_records(tmp_path, caplog):
    for path in unwritable_paths(tmp_path):
        caplog.clear()
        with caplog.at_level(logging.ERROR, "agent_arena.journal"):
            j = Journal(JournalConfig(path=str(path)))
            for i in range(10):
                j.record("action", action(i))  # never raises
            assert j.flush(timeout=30)
            for i in range(10):
                j.record("action", action(i))
            j.close()
        errors = [r for r in caplog.records if r.name == "agent_arena.journal"]
        assert len(errors) == 1, (path, [r.getMessage() for r in errors])
        assert str(path) in errors[0].getMessage()
        assert j.error is not None and not j.enabled
        assert j.stats["written"] == 0 and j.stats["dropped"] == 20


def test_a_journal_without_path_is_off(tmp_path):
    j = Journal(JournalConfig())
    assert not j.enabled
    j.record("action", action(1))
    j.close()
    assert j.stats == {"recorded": 0, "written": 0, "dropped": 0, "bytes": 0, "rotations": 0}
    with pytest.raises(FileNotFoundError):
        list(read_journal(tmp_path / "none"))


def test_records_from_many_threads_all_arrive(tmp_path):
    import threading

    p = tmp_path / "mt.journal"
    j = Journal(JournalConfig(path=str(p)))

    def worker(k: int) -> None:
        for i in range(200):
            j.record("observe", {"worker": k, "i": i})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    j.close()
    recs = list(read_journal(p, kinds=("observe",)))
    assert len(recs) == 800
    assert sorted(r["seq"] for r in recs) == list(range(1, 801))
    for k in range(4):
        assert [r["i"] for r in recs if r["worker"] == k] == list(range(200))


# ---- replay ------------------------------------------------------------------------------------

OBSERVATIONS = [
    {"goal": "collect wood", "health": 100, "in_reach": ["wood-4"],
     "visible": [{"id": "wood-4", "kind": "wood", "position": [1, 0, 1], "distance": 0.5}]},
    {"goal": "collect apple", "health": 20, "threats": [{"id": "wolf-2", "distance": 1.1}]},
    {"goal": "collect apple", "health": 100,
     "visible": [{"id": "apple-1", "kind": "apple", "position": [8, 0, 2], "distance": 8.2}]},
]


def recorded_journal(path: Path, tools: list, thought: bool = False) -> list[dict]:
    """A journal as the server hook writes it: first-request messages from the real
    constrained strategy, calls as a model might have answered."""
    from agent_arena.agents import AgentState
    from agent_arena.backends.base import Sampling
    from agent_arena.backends.scripted import ScriptedBackend
    from agent_arena.calling import CallingConfig, pick_strategy
    from agent_arena.prompt import build_messages
    from agent_arena.tools import ToolRegistry
    from support.fixtures import default_profiles

    profile = default_profiles()["default"]
    specs = ToolRegistry(tools).select(None)
    strategy = pick_strategy("constrained", ScriptedBackend())
    calls = [{"tool": "pick_up", "arguments": {"item_id": "wood-4"}},
             {"tool": "flee", "arguments": {"threat_id": "wolf-2"}},
             {"tool": "move_to", "arguments": {"target": [8, 0, 2]}}]
    j = Journal(JournalConfig(path=str(path)))
    j.record("hello", {"session": "s", "client": "t", "v": 1, "tools": tools})
    actions = []
    for i, (obs, call) in enumerate(zip(OBSERVATIONS, calls, strict=True)):
        conv = build_messages(profile, AgentState(f"a{i}"), obs)
        req = strategy.build_request(conv, specs, CallingConfig(thought=thought),
                                     Sampling(temperature=0.2, max_tokens=96))
        j.record("observe", {"session": "s", "agent_id": f"a{i}", "tick": 0, "id": i,
                             "observation": obs, "tools": None, "profile": "default"})
        rec = {"session": "s", "agent_id": f"a{i}", "tick": 0, "id": i, "backend": "llama_cpp",
               "model": "m", "profile": "default", "tools": None,
               "messages": list(req.messages), "sampling": dataclasses.asdict(req.sampling),
               "raw_text": "", "strategy": "constrained", "thought": None, "call": call,
               "status": "ok", "reason": None, "latency_ms": 700.0,
               "usage": {"prompt_tokens": 600, "completion_tokens": 20, "attempts": 1}}
        j.record("action", rec)
        actions.append({"conversation": conv, **rec})
    j.close()
    return actions


@pytest.mark.parametrize("thought", [False, True])
def test_strip_tool_block_gives_back_the_conversation(tmp_path, tools, thought):
    from agent_arena.prompt import strip_tool_block
    from agent_arena.tools import ToolRegistry

    actions = recorded_journal(tmp_path / "j", tools, thought)
    specs = ToolRegistry(tools).select(None)
    for a in actions:
        stripped, asked = strip_tool_block(a["messages"], specs, "constrained")
        assert stripped == a["conversation"] and asked is thought
        assert strip_tool_block(a["conversation"], specs, "native") == (a["conversation"], False)


@pytest.mark.llama
async def test_replay_recorded_prompts_on_the_embedded_model(tmp_path, tools, llama_backend):
    from agent_arena.export import load_traces
    from agent_arena.replay import ReplayConfig, replay
    from support.fixtures import default_profiles

    path = tmp_path / "run.journal"
    recorded_journal(path, tools)
    decisions = load_traces(path)
    assert len(decisions) == 3
    runs = []
    for _ in range(2):
        s = await replay(llama_backend, decisions, config=ReplayConfig(seed=0))
        runs.append(s)
        assert s.decisions == 3 and s.schema_valid_pct == 100.0
        same = sum(r.tool == d.call["tool"] for r, d in zip(s.rows, decisions, strict=True))
        assert s.same_tool_pct == pytest.approx(100 * same / 3, abs=0.01)
        # the recorded prompt, tools once (the short default prompt: 211-236 tokens by SmolLM2's
        # tokenizer for these observations; 300+ before it, when the profile had examples)
        assert all(r.prompt_tokens > 150 for r in s.rows)
    # rebuilt prompts from the observations, with the default profile
    s = await replay(llama_backend, decisions, profiles=default_profiles(),
                     config=ReplayConfig(profile="default", seed=0))
    assert s.mode == "profile=default" and s.schema_valid_pct == 100.0 and s.decisions == 3


# ---- the journal of a real server ---------------------------------------------------------------


def _hook() -> str | None:
    """How this tree's server takes a journal: ServerConfig.journal (a JournalConfig, the
    server owns the Journal) or ArenaServer(journal=...) (a Journal object)."""
    import inspect

    from agent_arena.server import ArenaServer, ServerConfig

    if "journal" in getattr(ServerConfig, "__dataclass_fields__", {}):
        return "config"
    if "journal" in inspect.signature(ArenaServer).parameters:
        return "object"
    return None


needs_hook = pytest.mark.skipif(_hook() is None, reason="the server has no journal hook yet")


class JournaledServer:
    """A real ArenaServer on a loopback port with a journal, whichever way the hook takes it."""

    def __init__(self, backend, tools, config: JournalConfig) -> None:
        from agent_arena.server import ArenaServer, ServerConfig
        from support.fixtures import default_profiles

        self.journal = None
        if _hook() == "config":
            self.server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0",
                                                            journal=config),
                                      tools=tools, profiles=default_profiles())
        else:
            self.journal = Journal(config)
            self.server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"),
                                      tools=tools, profiles=default_profiles(),
                                      journal=self.journal)

    async def __aenter__(self):
        await self.server.start()
        return self.server

    async def __aexit__(self, *exc) -> None:
        await self.server.stop()  # with ServerConfig.journal, stop() closes the journal
        if self.journal is not None:
            self.journal.close()


async def demo_journal(backend, tools, path: Path):
    from agent_arena.world import run_demo

    async with JournaledServer(backend, tools, JournalConfig(path=str(path))) as server:
        return await run_demo(server.endpoint, tools, agents=2, ticks=3, deadline_ms=300_000,
                              client_kwargs={"timeout_s": 600})  # never a timeout, even loaded


@needs_hook
@pytest.mark.llama
@pytest.mark.llama_server
async def test_a_real_demo_run_is_journaled_and_replays(tools, llama_backend, llama_server,
                                                        tmp_path):
    from agent_arena.backends import create_backend
    from agent_arena.replay import ReplayConfig, replay_journal

    path = tmp_path / "demo.journal"
    summary = await demo_journal(llama_backend, tools, path)
    assert summary.n == 6
    recs = list(read_journal(path))
    kinds = [r["kind"] for r in recs]
    assert kinds.count("hello") == 1 and kinds.count("observe") == 6
    actions = [r for r in recs if r["kind"] == "action"]
    assert len(actions) == 6
    assert kinds.count("tool_result") == sum(d.valid for d in summary.decisions)
    got = {(d.agent_id, d.tick): (d.tool, dict(d.arguments), d.status)
           for d in summary.decisions}
    for a in actions:  # the journal says what the game got, and what the model saw
        assert (a["call"]["tool"], a["call"]["arguments"], a["status"]) == \
            got[(a["agent_id"], a["tick"])]
        assert a["messages"][0]["role"] == "system" and a["messages"][-1]["role"] == "user"
        assert "Now:" in a["messages"][-1]["content"]
        assert a["backend"] == "llama_cpp" and a["model"].endswith(".gguf")
        assert a["sampling"]["temperature"] == 0.2 and a["raw_text"]
        assert a["usage"]["prompt_tokens"] > 0 and a["latency_ms"] > 0
        assert a["session"] and a["id"] is not None
    # replay: the same backend, then llama-server, both on the recorded prompts
    server_backend = create_backend({"type": "llama_server", "managed": False,
                                     "api_base": llama_server.base_url})
    try:
        for backend in (llama_backend, server_backend):
            s = await replay_journal(path, backend, tools=tools,
                                     config=ReplayConfig(out=str(tmp_path / f"{backend.name}.json")))
            assert s.decisions == 6 and s.schema_valid_pct == 100.0, s.rows
            same = sum(r.status == "ok" and a["status"] == "ok" and r.tool == a["call"]["tool"]
                       for r, a in zip(s.rows, actions, strict=True))
            assert s.same_tool_pct == pytest.approx(100 * same / 6, abs=0.01)
            assert (tmp_path / f"{backend.name}.json").is_file()
    finally:
        await server_backend.close()


@needs_hook
@pytest.mark.llama
async def test_an_unwritable_journal_is_reported_and_the_server_keeps_answering(
        tools, llama_backend, tmp_path, caplog):
    from agent_arena.client import ArenaClient

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with caplog.at_level(logging.ERROR, "agent_arena.journal"):
        async with JournaledServer(llama_backend, tools,
                                   JournalConfig(path=str(blocker / "run.journal"))) as server:
            async with ArenaClient(server.endpoint, timeout_s=600) as client:
                await client.hello()
                replies = [await client.observe("npc", t, OBSERVATIONS[0], deadline_ms=300_000)
                           for t in range(2)]
    assert [r["status"] for r in replies] == ["ok", "ok"]
    assert len([r for r in caplog.records if r.name == "agent_arena.journal"]) == 1


# ---- the prompt's parts beside the messages ------------------------------------------------------


def _scripted(answers: list[str]):
    from agent_arena.backends.scripted import ScriptedBackend

    return ScriptedBackend(responses=answers)


@needs_hook
async def test_the_journal_records_the_prompt_parts_and_replay_reads_them(tools, tmp_path):
    """Each action keeps its prompt as parts (system text, tool block, memory, observation,
    masks line) that put together give the recorded messages; replay takes the tool block off
    by them and sends the recorded prompt again, byte for byte."""
    import json

    from agent_arena.client import ArenaClient
    from agent_arena.prompt import render_observation, user_content
    from agent_arena.replay import replay_journal

    path = tmp_path / "run.journal"
    call = json.dumps({"tool": "idle", "arguments": {}})
    async with JournaledServer(_scripted([call]), tools, JournalConfig(path=str(path))) as server:
        async with ArenaClient(server.endpoint, timeout_s=60) as client:
            await client.hello()
            await client.observe("npc", 0, OBSERVATIONS[0])
            await client.tool_result("npc", 0, "idle", True, "waited")
            await client.observe("npc", 1, OBSERVATIONS[1], mask={"pick_up": False})
    actions = [r for r in read_journal(path) if r["kind"] == "action"]
    assert len(actions) == 2
    for a, obs in zip(actions, OBSERVATIONS, strict=False):
        parts, messages = a["prompt"], a["messages"]
        assert parts["tools"].startswith("Tools:\n") and parts["thought"] is False
        assert messages[0]["content"] == f"{parts['system']}\n\n{parts['tools']}"
        assert parts["observation"] == render_observation(obs) and parts["examples"] == 0
        assert messages[-1]["content"] == user_content(parts["memory"], parts["observation"],
                                                       parts["possible"])
    assert actions[0]["prompt"]["memory"] == [] and actions[0]["prompt"]["possible"] is None
    assert actions[1]["prompt"]["memory"] == ["- tick 0: idle() -> ok: waited"]
    assert actions[1]["prompt"]["possible"] == "Possible now: move_to, say, flee, idle"

    backend = _scripted([call])
    s = await replay_journal(path, backend, tools=tools)
    assert s.decisions == 2 and s.same_tool_pct == 100.0
    assert [list(r.messages) for r in backend.requests] == [a["messages"] for a in actions]


def _trace(messages, prompt, strategy="constrained"):
    from agent_arena.export import DecisionTrace

    return DecisionTrace(
        session="s", agent_id="a", tick=0, request_id=0, t=0.0, backend="b", model="m",
        profile="default", strategy=strategy, messages=messages, sampling={}, raw_text="",
        thought=None, call={"tool": "idle", "arguments": {}}, status="ok", reason=None,
        latency_ms=1.0, usage={}, prompt=prompt)


async def test_replay_takes_the_tool_block_off_by_the_parts_not_by_its_text(tools):
    """A tool block in a format no longer written (no "Tools:" heading to find) goes by the
    recorded parts; the same record without parts keeps it, as before."""
    import json

    from agent_arena.replay import replay

    old_block = "Werkzeuge:\n- idle()\nJSON please"
    messages = [{"role": "system", "content": f"Be brief.\n\n{old_block}"},
                {"role": "user", "content": "Now:\nx: 1"}]
    parts = {"system": "Be brief.", "tools": old_block, "thought": True, "examples": 0,
             "memory": [], "observation": "x: 1", "possible": None}
    call = json.dumps({"thought": "t", "tool": "idle", "arguments": {}})
    with_parts, without = _scripted([call]), _scripted([call])
    await replay(with_parts, [_trace(messages, parts)], tools=tools)
    await replay(without, [_trace(messages, None)], tools=tools)
    sent = with_parts.requests[0].messages[0]["content"]
    assert sent.startswith("Be brief.\n\nTools:\n") and '"thought"' in sent
    assert old_block not in sent
    assert without.requests[0].messages[0]["content"].startswith(f"Be brief.\n\n{old_block}")


async def test_a_journal_written_before_the_parts_still_replays(tools, tmp_path):
    """Old action records (no ``prompt``): the tool block is found in the text, as before."""
    import json

    from agent_arena.export import load_traces
    from agent_arena.replay import replay

    path = tmp_path / "old.journal"
    actions = recorded_journal(path, tools)
    decisions = load_traces(path)
    assert all("prompt" not in a for a in actions) and all(d.prompt is None for d in decisions)
    backend = _scripted([json.dumps({"tool": "idle", "arguments": {}})])
    s = await replay(backend, decisions)
    assert s.decisions == 3
    assert [list(r.messages) for r in backend.requests] == [a["messages"] for a in actions]
