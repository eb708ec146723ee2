"""SGLang's OpenAI-compatible server (``python -m sglang.launch_server``).

Native tools need ``--tool-call-parser`` (qwen25, llama3, mistral, ...; run_vllm_server.py
picks one from the model family); ``tool_choice`` "required" and named tools are enforced with
constrained decoding. Constrained output uses ``response_format`` json_schema. Reasoning models
started with ``--reasoning-parser`` put their thoughts in ``reasoning_content``; pass
``extra_body: {separate_reasoning: true}`` where the server wants it per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from agent_arena.backends.vllm import ServerLaunchConfig
from agent_arena.config.fields import setting


@dataclass
class SGLangBackendConfig(ServerLaunchConfig):
    """``backend=sglang``; ``gpu_memory_utilization`` maps to ``--mem-fraction-static``."""

    gpu_memory_utilization: float = setting(0.85, "--mem-fraction-static: share of GPU memory "
                                                  "the server may take", gt=0, le=1)


class SGLangBackend(OpenAICompatBackend):
    name: ClassVar[str] = "sglang"
    label: ClassVar[str] = "SGLang"
    default_port: ClassVar[int | None] = 30000
    default_api_base: ClassVar[str | None] = "http://localhost:30000/v1"
    default_api_key_env: ClassVar[str] = "SGLANG_API_KEY"
    default_api_key: ClassVar[str | None] = "EMPTY"
    start_hint: ClassVar[str] = (
        "start it with run_vllm_server.py --engine sglang or check the port"
    )
    config_cls: ClassVar[type[OpenAICompatConfig]] = SGLangBackendConfig

    def __init__(self, config: SGLangBackendConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
