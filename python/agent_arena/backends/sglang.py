"""SGLang's OpenAI-compatible server (``python -m sglang.launch_server``).

Native tools need ``--tool-call-parser`` (qwen25, llama3, mistral, ...; run_vllm_server.py
picks one from the model family); ``tool_choice`` "required" and named tools are enforced with
constrained decoding. Constrained output uses ``response_format`` json_schema. Reasoning models
started with ``--reasoning-parser`` put their thoughts in ``reasoning_content``; pass
``extra_body: {separate_reasoning: true}`` where the server wants it per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from agent_arena.config.build import build
from agent_arena.config.fields import setting
from agent_arena.launch.config import SGLangLaunchConfig


@dataclass
class SGLangBackendConfig(OpenAICompatConfig):
    """``backend=sglang``. How the server is started is ``launch`` (launch/config.py): the
    client never reads it."""

    launch: SGLangLaunchConfig = setting(factory=SGLangLaunchConfig,
                                         help="how `agent-arena launch --engine sglang` starts "
                                              "the server")

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.launch, Mapping):
            self.launch = build(SGLangLaunchConfig, self.launch, "backend.launch")


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
    config: SGLangBackendConfig

    def __init__(self, config: SGLangBackendConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)

    def _served_name(self) -> str | None:
        return self.config.launch.served_model_name
