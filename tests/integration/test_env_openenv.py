"""The demo world through OpenEnv (openenv-core): its own HTTP and WebSocket clients against
``agent-arena env``'s app served by uvicorn on a real port (pip install 'agent-arena[env]')."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("openenv")

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from openenv.core.generic_client import GenericEnvClient  # noqa: E402

from agent_arena.env import ArenaConfig  # noqa: E402
from agent_arena.env.openenv import make_app  # noqa: E402
from agent_arena.launch.process import free_port  # noqa: E402


def serve(config: ArenaConfig) -> Iterator[str]:
    app, arena = make_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):  # until it listens (bounded: a broken start fails the test)
        if server.started:
            break
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        arena.close()


@pytest.fixture(scope="module")
def one_agent() -> Iterator[str]:
    yield from serve(ArenaConfig(agents=1, max_ticks=20))


def first_target(obs: dict[str, Any]) -> dict[str, Any]:
    """A valid call: pick up what is in reach, else walk to the first allowed target."""
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in obs["tools"]}
    if "pick_up" in tools:
        return {"tool": "pick_up",
                "arguments": {"item_id": tools["pick_up"]["properties"]["item_id"]["enum"][0]}}
    if "move_to" in tools:
        return {"tool": "move_to",
                "arguments": {"target": tools["move_to"]["properties"]["target"]["enum"][0]}}
    return {"tool": "idle", "arguments": {}}  # an order to hold still, or nothing to do


def test_100_steps_through_the_websocket_client(one_agent: str) -> None:
    with GenericEnvClient(base_url=one_agent).sync() as env:
        result = env.reset(seed=1)
        assert result.observation["agent_id"] == "ana" and result.observation["tools"]
        episodes, rewards, steps = 1, [], 0
        while steps < 100:
            result = env.step(first_target(result.observation))
            steps += 1
            assert result.observation["error"] is None
            rewards.append(result.reward)
            if result.done:
                result = env.reset()
                episodes += 1
        assert episodes == 6  # 20 ticks an episode, then done
        assert any(r for r in rewards)  # the game's rewards came through


def test_an_invalid_action_returns_the_schema_error_over_websocket(one_agent: str) -> None:
    with GenericEnvClient(base_url=one_agent).sync() as env:
        first = env.reset(seed=2).observation
        bad = env.step({"tool": "move_to", "arguments": {"target": [1, 2]}})
        assert "move_to.arguments.target" in bad.observation["error"]
        assert bad.observation["tick"] == first["tick"] and bad.reward == 0.0
        good = env.step({"tool": "idle", "arguments": {}})
        assert good.observation["error"] is None and good.observation["tick"] == 1


def test_100_steps_over_plain_http_naming_the_agent(one_agent: str) -> None:
    with httpx.Client(base_url=one_agent, timeout=30) as http:
        schema = http.get("/schema").json()
        assert "tool" in schema["action"]["properties"]
        assert http.get("/health").status_code == 200
        obs = http.post("/reset", json={"seed": 4}).json()
        agent = obs["observation"]["agent_id"]
        episodes = 1
        for _ in range(100):
            step = http.post("/step", json={"action": first_target(obs["observation"]),
                                            "agent_id": agent}).json()
            assert step["observation"]["error"] is None
            assert step["observation"]["tick"] == obs["observation"]["tick"] + 1
            obs = step
            if step["done"]:
                obs = http.post("/reset", json={}).json()
                episodes += 1
        assert episodes == 6
        bad = http.post("/step", json={"action": {"tool": "fly", "arguments": {}},
                                       "agent_id": agent}).json()
        assert "unknown tool 'fly'" in bad["observation"]["error"] and bad["reward"] == 0.0


def test_one_session_per_agent_of_one_episode() -> None:
    served = serve(ArenaConfig(agents=2, max_ticks=5))
    url = next(served)
    try:
        with GenericEnvClient(base_url=url).sync() as a, \
                GenericEnvClient(base_url=url).sync() as b:
            ra = a.reset(seed=0).observation
            rb = b.reset(episode_id=ra["episode_id"]).observation
            assert {ra["agent_id"], rb["agent_id"]} == {"ana", "bo"}
            # the tick waits for both agents: step them from two threads
            out: dict[str, Any] = {}
            tb = threading.Thread(target=lambda: out.setdefault(
                "b", b.step({"tool": "idle", "arguments": {}})))
            tb.start()
            sa = a.step({"tool": "idle", "arguments": {}})
            tb.join(30)
            assert sa.observation["tick"] == 1 and out["b"].observation["tick"] == 1
    finally:
        served.close()


def test_agent_arena_env_serves_the_demo_world(tmp_path) -> None:
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{root / 'python'}{os.pathsep}"
                                       f"{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_arena.cli", "env", f"env.port={port}", "env.agents=1",
         "env.max_ticks=3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(600):  # bounded: imports take a few seconds on a busy machine
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.1)
        with GenericEnvClient(base_url=url).sync() as client:
            result = client.reset(seed=0)
            for _ in range(3):
                result = client.step(first_target(result.observation))
            assert result.done and result.observation["agent_id"] == "ana"
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert f"OpenEnv on http://127.0.0.1:{port}" in out and "world=demo" in out
