"""PettingZoo's Parallel API on the demo world, driven through the real bridge over real
ZeroMQ sockets (pip install 'agent-arena[env]')."""

from __future__ import annotations

import pytest

pytest.importorskip("pettingzoo")

from pettingzoo.test import parallel_api_test  # noqa: E402

from agent_arena.env import Arena, ArenaConfig  # noqa: E402
from agent_arena.env.pettingzoo import ArenaParallelEnv  # noqa: E402


@pytest.fixture(scope="module")
def arena():
    a = Arena(ArenaConfig(agents=3, max_ticks=6))
    yield a
    a.close()


def test_parallel_api_test_passes_on_the_demo_world(arena) -> None:
    env = ArenaParallelEnv(arena=arena)
    parallel_api_test(env, num_cycles=50)
    assert arena.game is not None and arena.game.episodes >= 3  # reset() reached the game


def test_an_episode_runs_to_done_with_the_games_rewards(arena) -> None:
    env = ArenaParallelEnv(arena=arena)
    obs, infos = env.reset(seed=3)
    assert set(obs) == set(env.possible_agents) == {"ana", "bo", "cy"}
    assert all(o["tools"] and o["messages"] for o in obs.values())
    steps, total = 0, 0.0
    while env.agents:
        # each agent picks up what is in reach, else walks to the first target it may, else
        # waits (the world's orders and the server's forced calls leave some turns without
        # a walk: a turn with no tools was answered already and its action is not used)
        actions = {}
        for a in env.agents:
            tools = {t["function"]["name"]: t["function"]["parameters"] for t in obs[a]["tools"]}
            if "pick_up" in tools:
                item = tools["pick_up"]["properties"]["item_id"]["enum"][0]
                actions[a] = {"tool": "pick_up", "arguments": {"item_id": item}}
            elif "move_to" in tools:
                target = tools["move_to"]["properties"]["target"]["enum"][0]
                actions[a] = {"tool": "move_to", "arguments": {"target": target}}
            else:
                actions[a] = {"tool": "idle", "arguments": {}}
        obs, rewards, terminated, truncated, infos = env.step(actions)
        assert all(i["accepted"] for i in infos.values())
        total += sum(rewards.values())
        steps += 1
    assert steps == 6 and all(terminated.values())
    assert total != 0.0  # items picked up (+1) or wolf bites (-) came from the game


def test_an_invalid_call_is_refused_with_the_schema_error(arena) -> None:
    env = ArenaParallelEnv(arena=arena)
    obs, _ = env.reset(seed=1)
    tick = obs["ana"]["tick"]
    bad = {a: {"tool": "move_to", "arguments": {"target": "north"}} for a in env.agents}
    obs, rewards, terminated, _, infos = env.step(bad)
    assert all(not i["accepted"] for i in infos.values())
    assert "move_to.arguments.target" in infos["ana"]["error"]
    assert obs["ana"]["error"] == infos["ana"]["error"] and obs["ana"]["tick"] == tick
    assert rewards["ana"] == 0.0 and not terminated["ana"]
    good = {a: {"tool": "idle", "arguments": {}} for a in env.agents}
    obs, _, _, _, infos = env.step(good)
    assert all(i["accepted"] for i in infos.values()) and obs["ana"]["tick"] == tick + 1
