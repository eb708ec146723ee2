"""One settings layer (issue 27): the schema in agent_arena.config is the only source of
defaults, bounds and descriptions; the YAML shipped with the package restates it exactly, and
one builder checks every section (types, bounds, unknown keys) the same way."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import tomllib
import yaml

from agent_arena import settings
from agent_arena.decide.types import CallingConfig
from agent_arena.errors import ConfigError
from agent_arena.server.config import ServerConfig

ROOT = Path(__file__).resolve().parents[2]


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _defaults(cls: type) -> dict[str, Any]:
    return _plain(cls())


# ---- the shipped YAML restates the code's defaults -----------------------------------------


def test_the_yaml_ships_inside_the_package():
    from agent_arena.config.files import yaml_root

    root = yaml_root()
    package = Path(__import__("agent_arena").__file__).parent
    assert root.is_relative_to(package) and (root / "config.yaml").is_file()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    globs = data["tool"]["setuptools"]["package-data"]["agent_arena"]
    rel = root.relative_to(package)
    for f in root.rglob("*.yaml"):
        assert any(f.relative_to(package).match(g) for g in globs), (f, globs)
        assert f.parent == root or f.parent.parent == root, f"{rel}: one level of groups"


def test_every_section_default_in_config_yaml_equals_the_code():
    from agent_arena.config.app import SECTIONS
    from agent_arena.config.files import yaml_root

    shipped = yaml.safe_load((yaml_root() / "config.yaml").read_text())
    for name, cls in SECTIONS.items():
        assert shipped.get(name) == _defaults(cls), f"config.yaml {name}: differs from {cls}"


def test_every_backend_yaml_equals_its_dataclass_defaults():
    """backend/NAME.yaml with type NAME restates every field of NAME's config class; a file
    named otherwise (vllm_cpu.yaml) is a preset: it only has to build."""
    from agent_arena.backends import backend_classes, list_backends
    from agent_arena.config.app import backend_config
    from agent_arena.config.files import yaml_root

    seen = set()
    for path in sorted((yaml_root() / "backend").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        built = backend_config(data)  # every file builds
        if path.stem != data["type"]:
            continue
        seen.add(path.stem)
        _, cls = backend_classes(data["type"])
        body = {k: v for k, v in data.items() if k != "type"}
        assert body == _defaults(cls), f"{path.name} differs from {cls.__name__}()"
        assert _plain(built) == _defaults(cls)
    assert seen >= set(list_backends()) - {"external", "vllm_engine"}


def test_vllm_in_code_and_serve_backend_vllm_build_the_same_config():
    from agent_arena.backends import VLLMBackend
    from agent_arena.config.app import backend_config

    in_code = VLLMBackend().config
    served = backend_config(settings.compose(["backend=vllm"])["backend"])
    assert served == in_code
    assert (served.temperature, served.max_tokens) == (0.2, 160)


# ---- one builder, clear errors -------------------------------------------------------------


@pytest.mark.parametrize("override,words", [
    ("server.max_pending=lots", ["server.max_pending", "'lots'", "int"]),
    ("demo.agents=lots", ["demo.agents", "'lots'", "int"]),
    ("serve.status_every_s=soon", ["serve.status_every_s", "number"]),
    ("eval.runs=two", ["eval.runs", "int"]),
    ("backend.n_parallel=many", ["backend.n_parallel", "int"]),
])
def test_a_mistyped_value_is_a_config_error_naming_the_key(override, words):
    with pytest.raises(ConfigError) as err:
        settings.compose([override])
    for w in words:
        assert w in err.value.message, err.value.message


@pytest.mark.parametrize("override,words", [
    ("demo.agents=0", ["demo.agents=0", ">= 1"]),
    ("backend.n_parallel=0", ["backend.n_parallel=0", ">= 1"]),
    ("backend.temperature=-1", ["backend.temperature=-1", ">= 0"]),
    ("env.port=70000", ["env.port=70000", "<= 65535"]),
    ("replay.sampling=random", ["replay.sampling", "recorded", "backend"]),
    ("replay.statuses=[ok,okay]", ["replay.statuses", "'okay'", "superseded"]),
    ("server.max_pending=0", ["server.max_pending=0", ">= 1", "decisions in flight"]),
    ("server.event_loop=trio", ["server.event_loop", "asyncio", "uvloop"]),
    ("calling.candidates=17", ["calling.candidates=17", "<= 16", "majority vote"]),
    ("calling.choice=best", ["calling.choice", "likelihood", "description"]),
])
def test_an_out_of_bounds_value_is_a_config_error_naming_the_key(override, words):
    with pytest.raises(ConfigError) as err:
        settings.compose([override])
    for w in words:
        assert w in err.value.message, err.value.message


@pytest.mark.parametrize("override,words", [
    ("+serve.quiett=true", ["serve", "'quiett'", "did you mean quiet"]),
    ("+backend.temprature=0.1", ["backend", "'temprature'", "did you mean temperature"]),
    ("+demo.agent=3", ["demo", "'agent'", "did you mean agents"]),
    ("+colour=red", ["'colour'"]),
    ("serve=5", ["serve=5", "a map of settings"]),
])
def test_an_unknown_key_is_a_config_error_that_says_what_to_do(override, words):
    with pytest.raises(ConfigError) as err:
        settings.compose([override])
    for w in words:
        assert w in err.value.message, err.value.message
    assert "agent-arena config" in err.value.message  # where every setting is listed


def test_numbers_where_text_is_expected_are_their_text():
    """Hydra reads `server_args=[--threads,4]` as a string and an int: the flags still work."""
    from agent_arena.config.app import backend_config

    cfg = settings.compose(["backend=llama_server", "backend.server_args=[--threads-http,4]"])
    assert backend_config(cfg["backend"]).server_args == ["--threads-http", "4"]
    with pytest.raises(ConfigError, match="backend.server_args"):
        backend_config({"type": "llama_server", "server_args": "--threads-http 4"})


def test_sections_are_typed_objects():
    from agent_arena.config.sections import DemoConfig, EnvConfig, ServeConfig

    cfg = settings.compose(["demo.agents=8", "serve.quiet=true", "env.port=8001"])
    assert settings.demo_config(cfg) == DemoConfig(agents=8)
    assert settings.serve_config(cfg) == ServeConfig(quiet=True)
    assert settings.env_config(cfg).port == 8001 and isinstance(settings.env_config(cfg),
                                                                 EnvConfig)


def test_the_one_builder_serves_backends_evaluation_and_launch(tmp_path: Path):
    from agent_arena import evaluation
    from agent_arena.backends import create_backend
    from agent_arena.config import build
    from agent_arena.launch.settings import load_config

    assert evaluation.build_config is build
    with pytest.raises(ConfigError, match="backend.max_concurrency=0"):
        create_backend({"type": "vllm", "max_concurrency": 0})
    with pytest.raises(ConfigError, match="backend.timeout_s='slow'"):
        create_backend({"type": "openai", "timeout_s": "slow"})
    bad = tmp_path / "b.yaml"
    bad.write_text("type: vllm\nmodel: m\nlaunch: {gpu_memory_utilisation: 0.5}\n")
    with pytest.raises(ConfigError, match="backend.launch has no setting "
                                          "'gpu_memory_utilisation'.*did you mean "
                                          "gpu_memory_utilization"):
        load_config(str(bad))
    bad.write_text("type: vllm\nmodel: m\ngpu_memory_utilisation: 0.5\n")  # flat, and a typo
    with pytest.raises(ConfigError, match="did you mean launch.gpu_memory_utilization"):
        load_config(str(bad))
    assert load_config("vllm_cpu")["launch"]["served_model_name"] == "smollm2"  # shipped
    with pytest.raises(ConfigError, match="launch.gpu_memory_utilization=2"):  # an override
        load_config(None, ["launch.gpu_memory_utilization=2"], "vllm")


def test_every_field_has_a_description():
    from agent_arena.backends import backend_classes, list_backends
    from agent_arena.config.fields import undescribed
    from agent_arena.config.sections import (
        DemoConfig,
        EnvConfig,
        EvalConfig,
        ReplayConfig,
        ServeConfig,
    )
    from agent_arena.decide.types import CallingConfig
    from agent_arena.journal import JournalConfig
    from agent_arena.security import AuthConfig
    from agent_arena.server.config import ServerConfig

    classes = [ServeConfig, DemoConfig, EnvConfig, EvalConfig, ReplayConfig, AuthConfig,
               JournalConfig, ServerConfig, CallingConfig]
    classes += [backend_classes(n)[1] for n in list_backends()]
    missing = {c.__name__: undescribed(c) for c in classes if undescribed(c)}
    assert not missing


def test_a_section_describes_itself_for_help_and_docs():
    from agent_arena.backends import VLLMBackendConfig
    from agent_arena.config.fields import describe
    from agent_arena.config.sections import DemoConfig

    lines = describe(DemoConfig, "demo")
    assert "demo.agents=4  agents in the demo world (>= 1)" in lines
    assert any(x.startswith("demo.endpoint=null  ") for x in lines)
    vllm = describe(VLLMBackendConfig, "backend")
    assert any(x.startswith("backend.function_calling.enabled=true  ") for x in vllm)
    assert any(x.startswith("backend.temperature=0.2  ") and "(>= 0)" in x for x in vllm)


@pytest.mark.parametrize("cls,kwargs,words", [
    (ServerConfig, {"ws_port": "x"}, ["server.ws_port='x'", "a whole number"]),
    (ServerConfig, {"gc_threshold": 150.5}, ["server.gc_threshold=150.5", "a whole number"]),
    (ServerConfig, {"session_ttl_s": "long"}, ["server.session_ttl_s='long'", "a number"]),
    (CallingConfig, {"candidates": 1.5}, ["calling.candidates=1.5", "a whole number"]),
    (CallingConfig, {"max_attempts": True}, ["calling.max_attempts=True", "a whole number"]),
])
def test_a_section_built_in_code_refuses_a_non_number_where_bounds_ask_for_one(cls, kwargs,
                                                                                words):
    """The bounds check (config.fields) also checks that a bounded field holds a number, an int
    where the field is typed int, so code that builds a section directly is checked like YAML."""
    with pytest.raises(ConfigError) as err:
        cls(**kwargs)
    for w in words:
        assert w in err.value.message, err.value.message
