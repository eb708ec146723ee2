"""The engine backend on the embedded model: the test wraps it in a generate callable the way a
trainer wraps its rollout engine (its own llama.cpp instance, JSON-schema constrained), then
plays decisions through a real ArenaServer and socket (scripted engines:
tests/unit/test_engine_backend.py).
"""

from __future__ import annotations

import asyncio
import json

import pytest

from agent_arena.backends.engine import EngineBackend, EngineOutput
from agent_arena.client import ArenaClient

OBS = {"goal": "collect wood", "health": 100, "in_reach": ["wood-4"],
       "visible": [{"id": "wood-4", "kind": "wood", "position": [1, 0, 1], "distance": 0.5}]}


@pytest.fixture(scope="module")
def engine_generate():
    """A rollout-engine stand-in over the real embedded model: messages, sampling, schema in;
    text and token counts out. One llama.cpp context, so calls take turns."""
    from llama_cpp import Llama, LlamaGrammar

    from agent_arena.backends.embedded_model import embedded_model_path

    llm = Llama(model_path=str(embedded_model_path()), n_ctx=2048, n_threads=2, seed=0,
                verbose=False)
    lock = asyncio.Lock()
    calls: list[dict] = []
    grammars: dict[str, LlamaGrammar] = {}

    def complete(messages, sampling, schema):
        kwargs = {"messages": messages, "temperature": sampling.get("temperature", 0.2),
                  "max_tokens": sampling.get("max_tokens", 96), "seed": sampling.get("seed", 0)}
        if schema is not None:
            text = json.dumps(schema, sort_keys=True)
            if text not in grammars:
                grammars[text] = LlamaGrammar.from_json_schema(text, verbose=False)
            kwargs["grammar"] = grammars[text]
        return llm.create_chat_completion(**kwargs)

    async def generate(messages, sampling, schema):
        calls.append({"messages": messages, "sampling": sampling, "schema": schema})
        async with lock:
            out = await asyncio.to_thread(complete, messages, sampling, schema)
        usage = out["usage"]
        return EngineOutput(text=out["choices"][0]["message"]["content"] or "",
                            prompt_tokens=usage["prompt_tokens"],
                            completion_tokens=usage["completion_tokens"],
                            finish_reason=out["choices"][0].get("finish_reason"))

    generate.calls = calls  # type: ignore[attr-defined]
    yield generate
    llm.close()


@pytest.mark.llama
async def test_engine_backend_answers_decisions_through_the_server(engine_generate, make_server):
    backend = EngineBackend(generate=engine_generate, model_name="smollm2-rollout")
    server = await make_server(backend)
    async with ArenaClient(server.endpoint, timeout_s=600) as client:  # a loaded CI machine
        welcome = await client.hello()
        assert welcome["backend"] == "engine" and welcome["model"] == "smollm2-rollout"
        replies = await asyncio.gather(*(client.observe(f"npc-{i}", 0, OBS, deadline_ms=300_000)
                                         for i in range(2)))
    for r in replies:
        assert r["status"] == "ok", r
        assert r["backend"] == "engine"
        assert r["call"]["tool"] in {"move_to", "pick_up", "say", "flee", "idle"}
        assert r["usage"]["prompt_tokens"] > 50 and r["usage"]["completion_tokens"] > 0
    last = engine_generate.calls[-1]
    assert last["schema"] is not None  # auto picked constrained: the engine got the schema
    assert last["messages"][0]["role"] == "system" and "Tools:" in last["messages"][0]["content"]
    assert last["sampling"]["max_tokens"] == 96
    assert backend.stats["requests"] >= 2
