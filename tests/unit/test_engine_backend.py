"""The engine backend: a caller's async generate callable drives agents through the server.

The real test wraps the embedded model in a generate callable the way a trainer wraps its
rollout engine (its own llama.cpp instance, JSON-schema constrained), then plays decisions
through a real ArenaServer and socket.
"""

from __future__ import annotations

import asyncio
import json
import sys
import types

import pytest

from agent_arena.backends import create_backend
from agent_arena.backends.engine import EngineBackend, EngineOutput
from agent_arena.client import ArenaClient
from agent_arena.errors import ConfigError

OBS = {"goal": "collect wood", "health": 100, "in_reach": ["wood-4"],
       "visible": [{"id": "wood-4", "kind": "wood", "position": [1, 0, 1], "distance": 0.5}]}


@pytest.fixture(scope="module")
def engine_generate():
    """A rollout-engine stand-in over the real embedded model: messages, sampling, schema in;
    text and token counts out. One llama.cpp context, so calls take turns."""
    from llama_cpp import Llama, LlamaGrammar

    from agent_arena.backends.llama_cpp import embedded_model_path

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


async def test_engine_errors_become_fallbacks_not_crashes(make_server):
    async def broken(messages, sampling, schema):
        raise RuntimeError("rollout worker died")

    server = await make_server(EngineBackend(generate=broken))
    async with ArenaClient(server.endpoint) as client:
        await client.hello()
        r = await client.observe("npc", 0, OBS)
    assert r["status"] == "fallback" and r["call"]["tool"] == "idle"
    assert "rollout worker died" in r["reason"]


async def test_engine_output_forms():
    from agent_arena.backends.base import ChatRequest

    async def as_str(m, s, schema):
        return '{"tool": "idle", "arguments": {}}'

    def sync_mapping(m, s, schema):  # a plain function returning a mapping works too
        return {"text": "hi", "prompt_tokens": 3, "completion_tokens": 1}

    async def wrong(m, s, schema):
        return 42

    req = ChatRequest(messages=[{"role": "user", "content": "x"}])
    assert (await EngineBackend(generate=as_str).chat(req)).text.startswith('{"tool"')
    r = await EngineBackend(generate=sync_mapping).chat(req)
    assert (r.text, r.prompt_tokens, r.completion_tokens) == ("hi", 3, 1)
    from agent_arena.errors import BackendError

    with pytest.raises(BackendError, match="must return a str"):
        await EngineBackend(generate=wrong).chat(req)


def test_engine_from_config_by_import_path(monkeypatch):
    mod = types.ModuleType("my_rollout")

    async def generate(m, s, schema):
        return "x"

    mod.generate = generate
    mod.make = lambda: generate
    monkeypatch.setitem(sys.modules, "my_rollout", mod)
    b = create_backend({"type": "engine", "generate": "my_rollout:generate", "model_name": "m"})
    assert b.name == "engine" and b.model_name == "m" and b.capabilities.json_schema
    b2 = create_backend({"type": "engine", "generate": "my_rollout:make", "factory": True,
                         "json_schema": False})
    assert not b2.capabilities.json_schema
    with pytest.raises(ConfigError, match="needs a generate callable"):
        create_backend({"type": "engine"})
    with pytest.raises(ConfigError, match="cannot be imported"):
        create_backend({"type": "engine", "generate": "my_rollout:nope"})
