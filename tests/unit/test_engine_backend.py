"""The engine backend: a caller's async generate callable drives agents through the server.

Scripted generate callables here; the embedded model wrapped the way a trainer wraps its rollout
engine is tests/integration/test_engine_backend_llama.py.
"""

from __future__ import annotations

import sys
import types

import pytest

from agent_arena.backends import create_backend
from agent_arena.backends.engine import EngineBackend
from agent_arena.client import ArenaClient
from agent_arena.errors import ConfigError

OBS = {"goal": "collect wood", "health": 100, "in_reach": ["wood-4"],
       "visible": [{"id": "wood-4", "kind": "wood", "position": [1, 0, 1], "distance": 0.5}]}


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
