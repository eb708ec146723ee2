"""Step rate of each environment API on the demo world (docs/env.md): the bridge, the demo
game and the client in one process, real ZeroMQ sockets between game and bridge.

    PYTHONPATH=python python bench/env_rate.py --steps 2000
"""

from __future__ import annotations

import argparse
import socket
import threading
import time
from typing import Any

from agent_arena.env import Arena, ArenaConfig


def valid_call(turn: dict[str, Any]) -> dict[str, Any]:
    tools = {t["function"]["name"]: t["function"]["parameters"] for t in turn["tools"]}
    if "pick_up" in tools:
        return {"tool": "pick_up",
                "arguments": {"item_id": tools["pick_up"]["properties"]["item_id"]["enum"][0]}}
    return {"tool": "move_to",
            "arguments": {"target": tools["move_to"]["properties"]["target"]["enum"][0]}}


def arena_rate(steps: int) -> float:
    with Arena(ArenaConfig(agents=1, max_ticks=50)) as arena:
        _, turns = arena.reset(seed=0)
        turn = turns["ana"]
        t0 = time.perf_counter()
        for _ in range(steps):
            call = valid_call(turn)
            turn = arena.act("ana", call["tool"], call["arguments"]).turn
            if turn["done"]:
                turn = arena.reset()[1]["ana"]
        return steps / (time.perf_counter() - t0)


def pettingzoo_rate(steps: int, agents: int) -> float:
    from agent_arena.env.pettingzoo import ArenaParallelEnv

    env = ArenaParallelEnv(ArenaConfig(agents=agents, max_ticks=50))
    obs, _ = env.reset(seed=0)
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        if not env.agents:
            obs, _ = env.reset()
        obs, *_ = env.step({a: valid_call(obs[a]) for a in env.agents})
        done += 1
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def openenv_rate(steps: int) -> float:
    import uvicorn
    from openenv.core.generic_client import GenericEnvClient

    from agent_arena.env.openenv import make_app

    app, arena = make_app(ArenaConfig(agents=1, max_ticks=50))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    try:
        with GenericEnvClient(base_url=f"http://127.0.0.1:{port}").sync() as env:
            r = env.reset(seed=0)
            t0 = time.perf_counter()
            for _ in range(steps):
                r = env.step(valid_call(r.observation))
                if r.done:
                    r = env.reset()
            return steps / (time.perf_counter() - t0)
    finally:
        server.should_exit = True
        arena.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    n = ap.parse_args().steps
    print(f"Arena.act (1 agent):              {arena_rate(n):8.0f} steps/s")
    print(f"PettingZoo step (4 agents a tick): {pettingzoo_rate(n // 4, 4):8.0f} ticks/s")
    print(f"OpenEnv WebSocket step (1 agent): {openenv_rate(n):8.0f} steps/s")


if __name__ == "__main__":
    main()
