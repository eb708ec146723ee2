"""Launch settings apart from client settings (issue 27): how a server is started is one typed
dataclass owned by launch/, kept under ``backend.launch`` in the shipped YAML; the HTTP client's
config classes hold only what the client uses. An old flat key is an error naming the new one."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest
import yaml

from agent_arena import settings
from agent_arena.errors import ConfigError


def _launch_classes() -> list[type]:
    from agent_arena.launch.config import LaunchConfig, SGLangLaunchConfig, VLLMLaunchConfig

    return [LaunchConfig, VLLMLaunchConfig, SGLangLaunchConfig]


def _client_classes() -> list[type]:
    """The HTTP clients' configs, less llama_server's: that backend starts its own child
    (``managed: true``), so its server keys (n_parallel, server_args, ...) are its own."""
    from agent_arena.backends import backend_classes, list_backends
    from agent_arena.backends.llama_server import LlamaServerConfig
    from agent_arena.backends.openai_compat import OpenAICompatConfig

    out = [OpenAICompatConfig]
    for name in list_backends():
        cls = backend_classes(name)[1]
        if issubclass(cls, OpenAICompatConfig) and cls is not LlamaServerConfig:
            out.append(cls)
    assert len(out) >= 4  # openai, vllm, sglang at least
    return out


LAUNCH_ONLY = ("tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "dtype",
               "max_model_len", "gpu_memory_utilization", "enable_lora", "lora_modules",
               "served_model_name", "chat_template", "device", "enforce_eager",
               "cpu_kvcache_space_gb", "disable_any_whitespace", "vllm_python", "work_dir")


def test_launch_settings_are_one_typed_dataclass_owned_by_launch():
    from agent_arena.config.fields import undescribed

    for cls in _launch_classes():
        assert dataclasses.is_dataclass(cls) and cls.__module__ == "agent_arena.launch.config"
        assert not undescribed(cls), cls
    names = {f.name for c in _launch_classes() for f in dataclasses.fields(c)}
    assert names >= set(LAUNCH_ONLY)
    gpu = {f.name: f for f in dataclasses.fields(_launch_classes()[1])}["gpu_memory_utilization"]
    assert (gpu.metadata["gt"], gpu.metadata["le"]) == (0, 1)  # bounds through setting()


def test_client_configs_hold_no_launch_only_field():
    from agent_arena.launch.config import LaunchConfig

    launch_names = {f.name for c in _launch_classes() for f in dataclasses.fields(c)}
    for cls in _client_classes():
        names = {f.name for f in dataclasses.fields(cls)}
        assert not names & launch_names, (cls.__name__, sorted(names & launch_names))
        hints = typing.get_type_hints(cls)
        if "launch" in names:  # the launch part is one nested section, of launch/'s type
            assert issubclass(hints["launch"], LaunchConfig), cls


def test_vllm_and_sglang_keep_their_launch_part_under_launch():
    from agent_arena.backends import SGLangBackendConfig, VLLMBackendConfig
    from agent_arena.launch.config import SGLangLaunchConfig, VLLMLaunchConfig

    cfg = VLLMBackendConfig(model_path="m", api_base="http://h:1/v1")  # the seed's API
    assert isinstance(cfg.launch, VLLMLaunchConfig) and cfg.launch.max_model_len == 4096
    assert isinstance(SGLangBackendConfig().launch, SGLangLaunchConfig)
    assert SGLangBackendConfig().launch.gpu_memory_utilization == 0.85
    assert VLLMBackendConfig(launch={"tensor_parallel_size": 2}).launch.tensor_parallel_size == 2
    with pytest.raises(ConfigError, match="backend.launch.gpu_memory_utilization=2"):
        VLLMBackendConfig(launch=VLLMLaunchConfig(gpu_memory_utilization=2))


@pytest.mark.parametrize("name", ["vllm", "sglang", "vllm_cpu"])
def test_the_shipped_yaml_keeps_launch_keys_under_launch(name):
    from agent_arena.config.files import yaml_root

    data = yaml.safe_load((yaml_root() / "backend" / f"{name}.yaml").read_text())
    assert not set(data) & set(LAUNCH_ONLY), sorted(set(data) & set(LAUNCH_ONLY))
    assert isinstance(data["launch"], dict) and data["launch"]


@pytest.mark.parametrize("override", ["backend.tensor_parallel_size=2",
                                      "+backend.tensor_parallel_size=2"])
def test_an_old_flat_launch_override_names_the_new_key(override):
    with pytest.raises(ConfigError) as err:
        settings.compose(["backend=vllm", override])
    assert "backend.launch.tensor_parallel_size" in err.value.message, err.value.message


def test_an_old_flat_launch_key_in_a_file_or_mapping_names_the_new_key(tmp_path: Path):
    from agent_arena.backends import create_backend
    from agent_arena.launch.settings import load_config

    with pytest.raises(ConfigError, match=r"backend\.launch\.gpu_memory_utilization"):
        create_backend({"type": "vllm", "gpu_memory_utilization": 0.5})
    old = tmp_path / "old.yaml"
    old.write_text("type: vllm\nmodel: m\nmax_model_len: 1024\n")
    with pytest.raises(ConfigError, match=r"backend\.launch\.max_model_len"):
        load_config(str(old))
    with pytest.raises(ConfigError, match=r"backend\.launch\.dtype"):
        load_config(None, ["dtype=float16"], "vllm")


def test_launch_overrides_reach_the_launch_section():
    from agent_arena.launch.settings import load_config

    cfg = load_config("vllm", ["launch.gpu_memory_utilization=0.5", "model=m",
                               "backend.launch.lora_modules={npc: /l/npc}"])
    assert cfg["launch"]["gpu_memory_utilization"] == 0.5 and cfg["model"] == "m"
    assert cfg["launch"]["lora_modules"] == {"npc": "/l/npc"}
    assert cfg["launch"]["max_model_len"] == 4096  # the file's, kept beside the override
    built = settings.compose(["backend=vllm", "backend.launch.tensor_parallel_size=2"])
    assert built["backend"]["launch"]["tensor_parallel_size"] == 2
    # a preset names only what it changes; a key of the class it leaves out still overrides
    preset = settings.compose(["backend=vllm_cpu", "backend.launch.tensor_parallel_size=2"])
    assert preset["backend"]["launch"]["tensor_parallel_size"] == 2
    assert preset["backend"]["launch"]["device"] == "cpu"
    with pytest.raises(ConfigError, match="did you mean launch.tensor_parallel_size"):
        settings.compose(["backend=vllm", "backend.tensor_paralel_size=2"])
