"""backend.lora on the embedded llama.cpp backend: the packaged NPC adapter loads, moves the
model's next-token scores, and a decision made through it over real sockets validates."""

from __future__ import annotations

import pytest

from agent_arena.adapters import ADAPTERS, resolve_lora
from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig
from agent_arena.errors import ConfigError


def test_lora_setting_names_a_packaged_adapter_a_path_or_none(tmp_path):
    assert resolve_lora(None) is None and resolve_lora("none") is None
    assert resolve_lora("npc") == ADAPTERS / "npc.gguf" and (ADAPTERS / "npc.gguf").is_file()
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF")
    assert resolve_lora(str(own)) == own
    with pytest.raises(ConfigError, match="packaged adapter .*npc"):
        resolve_lora("wizard")
    with pytest.raises(ConfigError, match="no such file"):
        resolve_lora(str(tmp_path / "missing.gguf"))


@pytest.mark.llama
async def test_the_adapter_changes_the_model_and_its_decision_validates(make_server):
    import llama_cpp

    from agent_arena.client import ArenaClient
    from agent_arena.tools import ToolCall, ToolRegistry

    prompt = (b"<|im_start|>system\nYou control one character in a game.<|im_end|>\n"
              b"<|im_start|>user\nA wolf is close and you are hurt.<|im_end|>\n"
              b"<|im_start|>assistant\n")
    bare = LlamaCppBackend(LlamaCppConfig(seed=0, lora="none", n_ctx=1024))
    tuned = LlamaCppBackend(LlamaCppConfig(seed=0, lora="npc", n_ctx=1024))
    try:
        scores = []
        for backend in (bare, tuned):
            llm = backend.load()
            tokens = llm.tokenize(prompt, add_bos=False, special=True)
            llm.reset()
            llm.eval(tokens)
            last = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)  # the last token's logits
            scores.append([last[i] for i in range(2000)])
        assert tuned.model_name.endswith("+npc")
        assert max(abs(a - b) for a, b in zip(*scores, strict=True)) > 0.05  # the adapter is applied

        walk = {"name": "stride_to", "description": "Walk to a spot.",
                "parameters": {"type": "object", "properties": {
                    "spot": {"type": "array", "items": {"type": "number"}}},
                    "required": ["spot"], "additionalProperties": False}}
        hide = {"name": "crouch", "description": "Stay still this turn.",
                "parameters": {"type": "object", "properties": {}, "additionalProperties": False}}
        server = await make_server(tuned, default_deadline_ms=300000)
        async with ArenaClient(server.endpoint) as client:
            await client.hello(tools=[walk, hide])
            reply = await client.observe("npc-1", 1, {"me": {"at": [0, 0]},
                                                      "seen": [{"id": "well", "at": [9, 4]}]})
        assert reply["status"] == "ok", reply
        call = reply["call"]
        assert ToolRegistry([walk, hide]).validate(ToolCall(call["tool"], call["arguments"])) == []
    finally:
        bare.unload()
        tuned.unload()
