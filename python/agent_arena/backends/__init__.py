"""Backends, registered by name (the name is what configs say in ``backend.type``).

Modules load lazily, so ``import agent_arena.backends`` never imports llama_cpp or httpx.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from agent_arena.backends.base import (
    Backend,
    Capabilities,
    ChatRequest,
    ChatResponse,
    GenerationResult,
    RawToolCall,
    Sampling,
)
from agent_arena.config.build import build
from agent_arena.errors import ConfigError

# name -> (module, backend class, config class)
_REGISTRY: dict[str, tuple[str, str, str]] = {}


def register_backend(name: str, module: str, cls: str, config_cls: str) -> None:
    if name in _REGISTRY and _REGISTRY[name] != (module, cls, config_cls):
        raise ValueError(f"backend name {name!r} is already registered to {_REGISTRY[name]}")
    _REGISTRY[name] = (module, cls, config_cls)


def list_backends() -> list[str]:
    return sorted(_REGISTRY)


def backend_classes(name: str) -> tuple[type[Backend], type]:
    try:
        module, cls, config_cls = _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown backend {name!r}; choose one of: {', '.join(list_backends())}"
        ) from None
    mod = importlib.import_module(module)
    return getattr(mod, cls), getattr(mod, config_cls)


def create_backend(settings: Mapping[str, Any]) -> Backend:
    """Build a backend from a config mapping: ``type`` picks the class, the other keys are built
    into its config dataclass by the one builder (types, bounds, unknown keys: config.build)."""
    settings = dict(settings)
    name = settings.pop("type", "xllamacpp")
    backend_cls, config_cls = backend_classes(name)
    return backend_cls(build(config_cls, settings, "backend"))


register_backend("xllamacpp", "agent_arena.backends.llama_engine", "XLlamaCppBackend",
                 "XLlamaCppConfig")
register_backend("llama_cpp", "agent_arena.backends.llama_cpp", "LlamaCppBackend", "LlamaCppConfig")
register_backend("scripted", "agent_arena.backends.scripted", "ScriptedBackend", "ScriptedConfig")

# ---- real inference servers (issue 4) -----------------------------------------------------
register_backend("vllm", "agent_arena.backends.vllm", "VLLMBackend", "VLLMBackendConfig")
register_backend("sglang", "agent_arena.backends.sglang", "SGLangBackend", "SGLangBackendConfig")
register_backend("openai", "agent_arena.backends.openai", "OpenAIBackend", "OpenAIBackendConfig")
register_backend("llama_server", "agent_arena.backends.llama_server", "LlamaServerBackend",
                 "LlamaServerConfig")
register_backend("vllm_engine", "agent_arena.backends.vllm_engine", "VLLMEngineBackend",
                 "VLLMEngineConfig")
register_backend("engine", "agent_arena.backends.engine", "EngineBackend", "EngineConfig")
# an environment client (a trainer) acts for the agents (docs/env.md)
register_backend("external", "agent_arena.backends.external", "ExternalBackend",
                 "ExternalConfig")

# Classes importable from here without importing their modules up front (the seed API:
# ``from agent_arena.backends import VLLMBackend, VLLMBackendConfig``).
_LAZY: dict[str, str] = {
    "XLlamaCppBackend": "agent_arena.backends.llama_engine",
    "XLlamaCppConfig": "agent_arena.backends.llama_engine",
    "LlamaCppBackend": "agent_arena.backends.llama_cpp",
    "LlamaCppConfig": "agent_arena.backends.llama_cpp",
    "ScriptedBackend": "agent_arena.backends.scripted",
    "ScriptedConfig": "agent_arena.backends.scripted",
    "RecordingBackend": "agent_arena.backends.recording",
    "OpenAICompatBackend": "agent_arena.backends.openai_compat",
    "OpenAICompatConfig": "agent_arena.backends.openai_compat",
    "FunctionCalling": "agent_arena.backends.openai_compat",
    "VLLMBackend": "agent_arena.backends.vllm",
    "VLLMBackendConfig": "agent_arena.backends.vllm",
    "SGLangBackend": "agent_arena.backends.sglang",
    "SGLangBackendConfig": "agent_arena.backends.sglang",
    "OpenAIBackend": "agent_arena.backends.openai",
    "OpenAIBackendConfig": "agent_arena.backends.openai",
    "LlamaServerBackend": "agent_arena.backends.llama_server",
    "LlamaServerConfig": "agent_arena.backends.llama_server",
    "VLLMEngineBackend": "agent_arena.backends.vllm_engine",
    "VLLMEngineConfig": "agent_arena.backends.vllm_engine",
    "ExternalBackend": "agent_arena.backends.external",
    "ExternalConfig": "agent_arena.backends.external",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


# the seed's sync API (Backend.is_available, generate, ...): agent_arena.seed installs its
# wrapper as Backend.sync_front when loaded; last here, as seed imports backends.base
import agent_arena.seed  # noqa: E402, F401

__all__ = [  # the lazy names resolve through __getattr__
    *_LAZY,
    "RecordingBackend",
    "Backend",
    "Capabilities",
    "ChatRequest",
    "ChatResponse",
    "GenerationResult",
    "RawToolCall",
    "Sampling",
    "backend_classes",
    "create_backend",
    "list_backends",
    "register_backend",
]
