"""The in-process vLLM engine (backend ``vllm_engine``) for real: run by tests/integration/test_vllm_real.py
in the vLLM virtualenv (vllm imports only there), with agent_arena on PYTHONPATH:

    .venv-vllm/bin/python tests/support/vllm_engine_probe.py MODEL_DIR

Prints one JSON line per step (``{"step": ..., ...}``); the test asserts on them. Steps: engine
start; a constrained decision through a real ArenaServer and ArenaClient over ZeroMQ; streaming
(deltas that add up to valid JSON); a superseded decision whose engine request is aborted;
truncated constrained output as its own error; clean shutdown (no child process left). No
timing is asserted; times are reported for the docs.

vLLM starts its engine core in a spawned process: the ``__main__`` guard below is required.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def emit(step: str, **data) -> None:
    print(json.dumps({"step": step, **data}), flush=True)


def game_tools() -> list[dict]:
    tools = yaml.safe_load((ROOT / "configs" / "tools" / "game.yaml").read_text())
    return [{"name": name, **spec} for name, spec in tools.items()]


async def main(model_dir: str) -> int:
    import psutil

    from agent_arena.agents import Profile
    from agent_arena.backends import ChatRequest, Sampling
    from agent_arena.backends.vllm import TruncatedOutput
    from agent_arena.backends.vllm_engine import VLLMEngineBackend, VLLMEngineConfig
    from agent_arena.client import ArenaClient
    from agent_arena.server import ArenaServer, ServerConfig
    from agent_arena.tools import ToolSpec, call_schema

    tools = game_tools()
    agents = yaml.safe_load((ROOT / "configs" / "agents" / "default.yaml").read_text())
    profiles = {name: Profile.from_mapping(name, data or {}) for name, data in agents.items()}
    backend = VLLMEngineBackend(VLLMEngineConfig(model=model_dir, max_model_len=2048,
                                                 temperature=0.0, max_tokens=96, seed=0))
    t0 = time.perf_counter()
    await backend.start()
    emit("start", seconds=round(time.perf_counter() - t0, 1),
         engine=type(backend._engine).__module__ + "." + type(backend._engine).__name__,
         children=len(psutil.Process().children(recursive=True)))

    server = ArenaServer(backend, ServerConfig(bind="tcp://127.0.0.1:0"), tools=tools,
                         profiles=profiles)
    await server.start()
    obs = {"position": [0, 0, 0], "health": 100, "goal": "collect the apple",
           "visible": [{"id": "apple_1", "kind": "apple", "position": [4, 0, 2],
                        "distance": 4.5}]}
    try:
        async with ArenaClient(server.endpoint, timeout_s=600) as client:
            # a tool whose call cannot be short: the superseded request is still generating
            story = {"name": "tell_story", "description": "Tell a long story.",
                     "parameters": {"type": "object", "required": ["text"],
                                    "additionalProperties": False,
                                    "properties": {"text": {"type": "string",
                                                            "minLength": 300}}}}
            names = [t["name"] for t in tools]
            await client.hello([*tools, story])
            t0 = time.perf_counter()
            reply = await client.observe("a1", 1, obs, tools=names, deadline_ms=600000)
            emit("decision", status=reply.get("status"), call=reply.get("call"),
                 backend=reply.get("backend"), seconds=round(time.perf_counter() - t0, 2))

            # supersede: a long free-text tick 2 is replaced by tick 3 while it generates
            long_obs = dict(obs, heard=[{"from": "bard", "text": "Tell me a very long story."}])
            first = asyncio.create_task(client.observe("a2", 2, long_obs, tools=["tell_story"],
                                                       deadline_ms=600000))
            while backend.unfinished_requests() == 0 and not first.done():
                await asyncio.sleep(0.005)  # until tick 2 is in the engine (an event, no timer)
            in_engine = backend.unfinished_requests()
            second = asyncio.create_task(client.observe("a2", 3, obs, tools=names,
                                                        deadline_ms=600000))
            r1, r2 = await asyncio.gather(first, second)
            for _ in range(100):  # the abort reaches vLLM's output processor asynchronously
                if backend.unfinished_requests() == 0:
                    break
                await asyncio.sleep(0.1)
            emit("supersede", first=r1.get("status"), second=r2.get("status"),
                 second_call=r2.get("call"), in_engine_before=in_engine,
                 aborted=backend.stats["aborted"], unfinished_after=backend.unfinished_requests())
    finally:
        await server.stop()

    specs = [ToolSpec.from_any(t) for t in tools]
    schema = call_schema(specs)
    req = ChatRequest(messages=[{"role": "user", "content": "Walk to (10, 20, 5)."}],
                      response_schema=schema, sampling=Sampling(temperature=0.0, max_tokens=64))
    chunks = [c async for c in backend.stream(req)]
    text = "".join(chunks)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    emit("stream", chunks=len(chunks), text=text, parsed=parsed)

    try:
        await backend.chat(ChatRequest(messages=req.messages, response_schema=schema,
                                       sampling=Sampling(temperature=0.0, max_tokens=3)))
        emit("truncated", error=None)
    except TruncatedOutput as exc:
        emit("truncated", error=exc.message, kind=exc.kind)

    await backend.close()
    left = []
    for _ in range(100):  # the engine core process exits after shutdown returns
        left = [p for p in psutil.Process().children(recursive=True) if p.is_running()
                and p.status() != psutil.STATUS_ZOMBIE
                and "resource_tracker" not in " ".join(p.cmdline())]  # multiprocessing's own
        if not left:
            break
        await asyncio.sleep(0.1)
    emit("shutdown", children_left=[p.name() for p in left], stats=backend.stats)
    return 0


if __name__ == "__main__":  # vLLM's engine core is a spawned process: this guard is required
    sys.exit(asyncio.run(main(sys.argv[1])))
