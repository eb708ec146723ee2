"""End to end in the real Godot 4.6 engine: the demo scene against a real `agent-arena serve`.

The demo project (godot_plugin/demo: the AgentArena autoload, two ArenaAgent NPCs, items), under
the tests' probe (tests/godot/demo_probe: the e2e switches, the "E2E ..." lines), runs
in Godot's official web runtime in headless chromium, connects through the server's WebSocket
relay (websockify) to the real ZeroMQ ROUTER server with the embedded SmolLM2 model, with PLAIN
authentication and ZMTP heartbeats on. It registers a tool, observes (each observation with the
action mask its NPC built: docs/godot.md, "Action masks"), receives actions through
``action_received``, executes them and reports tool results (a pick_up with a reward); the
server's PINGs are answered. Every decision the model made must lie within the mask sent with
its observation. A wrong password must be refused.

Nothing here races the clock: the probe gives the demo's decisions a 10-minute deadline, the
probe quits as soon as the round trip (including one decision made by the model, status ``ok``)
is complete, and every timeout below only guards against a hang.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agent_arena.errors import BackendUnavailable
from agent_arena.launch.process import ChildProcess
from support.godot_harness import demo_probe_files, free_port, godot_web

pytestmark = [pytest.mark.godot, pytest.mark.llama, pytest.mark.usefixtures("godot_runtime")]

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "godot_plugin" / "demo"
USER, PASSWORD = "arena", "s3cret-godot"
HEARTBEAT_TIMEOUT_MS = 20000
PAUSE_S = 30  # longer than the server's heartbeat timeout
# Hang guards only (a slow machine takes longer, it never fails on time): model load, engine run.
SERVER_START_S = 900
ENGINE_RUN_S = 1600  # > the probe's own E2E_TIMEOUT_S (1500 s)
# pytest-timeout's project default (600 s) would race a slow machine; the fixture's server start
# counts against the first test of each server.
pytestmark.append(pytest.mark.timeout(SERVER_START_S + ENGINE_RUN_S + 120))


@pytest.fixture(scope="module", params=["plain", "none"])
def arena_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`agent-arena serve` (PLAIN or no auth), fast heartbeats, its WebSocket relay and a
    journal (what the server made of each observation)."""
    port, ws_port, site_port = free_port(), free_port(), free_port()
    journal = tmp_path_factory.mktemp(f"journal-{request.param}") / "journal.msgpack"
    cmd = [
        sys.executable,
        "-m",
        "agent_arena.cli",
        "serve",
        f"server.bind=tcp://127.0.0.1:{port}",
        f"server.ws_port={ws_port}",
        "server.heartbeat_ivl_ms=250",
        # generous (a busy machine may starve the page's frames for seconds), and shorter than
        # the pause of test_pause_keeps_the_session
        f"server.heartbeat_timeout_ms={HEARTBEAT_TIMEOUT_MS}",
        f"server.auth.mechanism={request.param}",
        f"server.journal.path={journal}",
    ]
    if request.param == "none":
        # without auth the relay only accepts pages from origins it is told about
        cmd.append(f"server.ws_allowed_origins=['http://127.0.0.1:{site_port}']")
    env = {**os.environ, "AGENT_ARENA_PLAIN_USERS": f"{USER}:{PASSWORD}", "PYTHONUNBUFFERED": "1"}
    server = ChildProcess(cmd, name="agent-arena serve", log_path=journal.with_suffix(".log"),
                          new_session=True, env=env, cwd=ROOT)
    server.start()
    try:
        try:
            server.wait_for_line("serving on", SERVER_START_S)
        except BackendUnavailable as exc:
            pytest.fail(f"agent-arena serve did not start: {exc.message}")
        yield {
            "port": port,
            "ws_port": ws_port,
            "site_port": site_port,
            "auth": request.param,
            "journal": journal,
        }
    finally:
        server.stop(timeout=10)  # SIGTERM to its group, SIGKILL after 10 s


def _tool_schemas() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / "configs" / "tools" / "game.yaml").read_text())
    schemas = {name: spec["parameters"] for name, spec in data.items()}
    schemas["wave"] = {
        "type": "object",
        "properties": {"at": {"type": "string", "maxLength": 64}},
        "additionalProperties": False,
    }
    return schemas


def _within_mask(call: dict[str, Any], mask: dict[str, Any]) -> list[str]:
    """Why ``call`` is outside ``mask`` (empty: it is within)."""
    rule = mask.get(call["tool"], True)
    if rule is False:
        return [f"{call['tool']} was masked out"]
    if rule is True:
        return []
    problems = []
    for arg, values in rule.items():
        if call["arguments"].get(arg) not in values:
            problems.append(f"{call['tool']}.{arg}={call['arguments'].get(arg)!r} not in {values}")
    return problems


def _prompt_of(journal: Path, action: dict[str, Any]) -> str:
    """The last user turn the server built for the latest observation of ``action``'s agent
    and tick with its mask (read from the server's journal; waits until the record is there)."""
    from agent_arena.journal import read_journal

    deadline = time.monotonic() + 120  # hang guard: the journal writes within milliseconds
    while True:
        observed: dict[tuple[str, Any], dict[str, Any]] = {}
        actions: dict[tuple[str, Any], dict[str, Any]] = {}
        if journal.exists():
            for record in read_journal(journal, kinds=("observe", "action")):
                key = (record.get("session"), record.get("id"))
                if record["kind"] == "observe":
                    if (record["agent_id"], record["tick"]) == (action["agent_id"], action["tick"]):
                        if json.dumps(record.get("mask"), sort_keys=True) == json.dumps(
                            action["mask"], sort_keys=True
                        ):
                            observed = {key: record}  # the latest one
                else:
                    actions[key] = record
        for key in observed:
            if key in actions and actions[key].get("messages"):
                return actions[key]["messages"][-1]["content"]
        assert time.monotonic() < deadline, f"no journaled decision for {action}"
        time.sleep(0.2)


def _run_demo(
    tmp_path: Path, server: dict[str, Any], password: str, mode: str, *extra: str
) -> godot_web.RunResult:
    args = ["--", f"--url=ws://127.0.0.1:{server['ws_port']}/", f"--{mode}=1", *extra]
    if server["auth"] == "plain":
        args += [f"--user={USER}", f"--password={password}"]
    return godot_web.run_project(
        DEMO,
        tmp_path / "site",
        extra=demo_probe_files(),
        timeout_s=ENGINE_RUN_S,
        args=args,
        port=server["site_port"],
    )


def test_demo_round_trip_with_real_server(arena_server: dict[str, Any], tmp_path: Path) -> None:
    result = _run_demo(tmp_path, arena_server, PASSWORD, "e2e")
    output = "\n".join(result.lines)
    assert result.errors == [], output
    assert any(line.startswith("E2E OK ") for line in result.printed), output
    assert result.exit_code == 0, output
    progress = json.loads(next(x for x in result.printed if x.startswith("E2E OK "))[7:])
    assert progress["pings_answered"] >= 1 and progress["results_acked"] >= 2, progress
    assert set(progress["actions"]) == {"ada", "bo"}, progress

    schemas = _tool_schemas()
    actions = [
        json.loads(x[len("E2E ACTION ") :]) for x in result.printed if x.startswith("E2E ACTION ")
    ]
    assert actions, output
    for action in actions:
        assert action["status"] in {"ok", "fallback", "timeout"}, action
        call = action["call"]
        assert call["tool"] in schemas, action
        jsonschema.validate(call["arguments"], schemas[call["tool"]])
    # The demo's NPCs send a mask with every observation (demo_agent.gd): what the model decided
    # must be possible in the world as the game described it.
    masked = [a for a in actions if a["status"] == "ok" and a.get("mask")]
    # made by the model (not a call the server forced because only one was possible)
    assert any(a["attempts"] >= 1 for a in masked), output
    assert progress["masked_ok_actions"] >= 1, output
    for action in masked:
        mask = action["mask"]
        assert set(mask) <= {"move_to", "pick_up", "say", "wave", "idle"}, mask  # allowed only
        assert "flee" not in mask  # not allowed in the demo: never named
        assert _within_mask(action["call"], mask) == [], (action, output)
        # The server narrowed the prompt to the mask (docs/protocol.md: the last user turn ends
        # with "Possible now: ..."): masked-out tools are not offered. A server that drops the
        # mask would pass the check above whenever the model happens to choose within it.
        if action["attempts"] >= 1:
            prompt = _prompt_of(arena_server["journal"], action)
            possible = [x for x in prompt.split("\n") if x.startswith("Possible now: ")]
            assert possible, (action, prompt)
            for tool, rule in mask.items():
                open_ = rule is not False and not (isinstance(rule, dict) and [] in rule.values())
                names = possible[-1].removeprefix("Possible now: ").split(", ")
                assert (tool in names) == open_, (tool, possible[-1])
    statuses = [a["status"] for a in actions]
    # A fallback is a valid action too, but at least one decision must come from the model:
    # otherwise a broken model path would pass unnoticed. The demo waits for it (deadline 10 min
    # per decision in e2e mode), so this holds on a slow machine as on a fast one.
    assert "ok" in statuses, statuses
    assert progress["ok_actions"] >= 1, progress
    tools = [a["call"]["tool"] for a in actions]
    print(f"\n[{arena_server['auth']}] engine run {result.seconds:.1f}s, statuses {statuses}, "
          f"tools {tools}, masked ok decisions {len(masked)}")


def test_pause_keeps_the_session(arena_server: dict[str, Any], tmp_path: Path) -> None:
    """The game pauses its whole tree for longer than the server's heartbeat timeout: the
    autoload keeps answering PINGs, so the same connection (and session) carries on."""
    if arena_server["auth"] != "plain":
        pytest.skip("one server is enough for the pause")
    assert PAUSE_S * 1000 > HEARTBEAT_TIMEOUT_MS
    result = _run_demo(tmp_path, arena_server, PASSWORD, "e2e", f"--pause_s={PAUSE_S}")
    output = "\n".join(result.lines)
    assert result.errors == [], output
    assert any(line.startswith("E2E OK ") for line in result.printed), output
    progress = json.loads(next(x for x in result.printed if x.startswith("E2E OK "))[7:])
    assert progress["pause_over"], progress
    assert progress["disconnects"] == 0, progress  # before the fix: dropped after 20 s of pause
    assert progress["pings_during_pause"] >= 1, progress
    assert set(progress["actions"]) == {"ada", "bo"}, progress


def test_wrong_password_is_refused(arena_server: dict[str, Any], tmp_path: Path) -> None:
    if arena_server["auth"] != "plain":
        pytest.skip("refusal needs a server with PLAIN authentication")
    result = _run_demo(tmp_path, arena_server, "wrong-password", "expect_refused")
    output = "\n".join(result.lines)
    assert result.errors == [], output
    assert any(line.startswith("E2E REFUSED") for line in result.printed), output
    assert result.exit_code == 0, output
