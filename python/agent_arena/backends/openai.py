"""Any other OpenAI-compatible endpoint: a llama.cpp server you run yourself, Ollama
(``http://localhost:11434/v1``), LM Studio (``http://localhost:1234/v1``), or a hosted API.

The API key comes from ``api_key`` or ``OPENAI_API_KEY``. ``top_k`` and ``repetition_penalty``
are sent only when set (hosted APIs reject them). Which function-calling modes work depends on
the server: ``auto`` tries native tools, then json_schema, then the prompt, by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from agent_arena.backends.openai_compat import OpenAICompatBackend, OpenAICompatConfig
from agent_arena.config.fields import setting


@dataclass
class OpenAIBackendConfig(OpenAICompatConfig):
    """``backend=openai``: set ``api_base`` (and ``model`` for servers that serve several)."""

    api_base: str | None = setting("http://localhost:8080/v1", "the server: a llama-server "
                                   "(8080), Ollama (:11434/v1), LM Studio (:1234/v1), a hosted "
                                   "API")


class OpenAIBackend(OpenAICompatBackend):
    name: ClassVar[str] = "openai"
    label: ClassVar[str] = "OpenAI-compatible"
    default_api_key_env: ClassVar[str] = "OPENAI_API_KEY"
    start_hint: ClassVar[str] = "check that the server is running and backend.api_base is right"
    config_cls: ClassVar[type[OpenAICompatConfig]] = OpenAIBackendConfig

    def __init__(self, config: OpenAIBackendConfig | None = None, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
