"""Pin the public surface: what users import must stay importable (lazily for backends)."""

import agent_arena
import agent_arena.backends as backends


def test_package_exports():
    for name in agent_arena.__all__:
        assert getattr(agent_arena, name) is not None


def test_backend_exports_resolve_lazily():
    assert "VLLMBackend" in backends.__all__
    for name in backends.__all__:
        assert getattr(backends, name) is not None, name


def test_registered_backend_names():
    assert backends.list_backends() == ["engine", "external", "llama_cpp", "llama_server",
                                        "openai", "scripted", "sglang", "vllm", "vllm_engine",
                                        "xllamacpp"]
