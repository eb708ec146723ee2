"""Every setting a launch needs, from three places: flags win over ``key=value`` overrides,
which win over the backend YAML (``--config``), which wins over the defaults here.

The YAML and the overrides are a backend's own keys, checked by Agent Arena's one settings
builder (unknown keys, types, bounds). How the server is started is the backend's ``launch``
section (launch/config.py: ``launch.gpu_memory_utilization``, ``launch.lora_modules``, ...);
what the client also needs (model, host, port, api_key, function_calling) is read from the
client keys beside it, so one file says how the server is started and how the bridge talks to
it, each fact once. ``llama_server``'s keys (n_parallel, n_ctx, binary, ...) are the managed
backend's own: it starts the same server itself. ``--device cpu`` (the default when no NVIDIA
GPU is visible) adds what vLLM's CPU build needs: ``--dtype bfloat16 --max-model-len 2048
--enforce-eager`` (a compiled start takes 110-340 s here and its cache never reloads; eager
35-120 s).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from agent_arena.errors import ConfigError
from agent_arena.launch.commands import DEFAULT_PORTS
from agent_arena.launch.families import family_parsers
from agent_arena.launch.vllm import nvidia_gpu_visible

CONFIG_TYPES = {"vllm": "vllm", "sglang": "sglang", "llama_server": "llama-server"}
TYPES = {engine: backend for backend, engine in CONFIG_TYPES.items()}


def load_config(path: str | None, overrides: Sequence[str] = (),
                engine: str | None = None) -> dict[str, Any]:
    """A backend YAML (a path, or a shipped one by name: ``vllm``, ``vllm_cpu``, ``sglang``)
    with ``key=value`` overrides on top, checked by the one builder and returned as written:
    the flags and the defaults here fill in the rest."""
    data: dict[str, Any] = {}
    if path:
        from agent_arena.config import backend_file, load_yaml

        data = dict(load_yaml(backend_file(path)))
    extra = parse_overrides(overrides)
    if not data and not extra:
        return {}
    from agent_arena.backends.http import deep_merge
    from agent_arena.config.app import backend_config

    data = deep_merge(data, extra)  # launch.dtype=... keeps the file's other launch keys
    typed = dict(data)
    if not path:  # overrides alone: the keys of the engine's backend
        typed["type"] = TYPES[engine or "vllm"]
    backend_config(typed)
    return data


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``key=value`` (the value read as YAML, as Hydra does: 8, 0.8, true, [a, b], {a: b});
    a dotted key is a nested one (``launch.dtype=float16``), ``backend.`` is optional."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key or key.startswith("-"):
            raise ConfigError(f"{item!r} is not key=value: overrides are a backend's keys, "
                              "e.g. model=Qwen/Qwen2.5-7B-Instruct "
                              "launch.gpu_memory_utilization=0.8")
        *parents, leaf = key.removeprefix("backend.").split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value) if value else None
    return out


def _pick(args: argparse.Namespace, cfg: Mapping[str, Any], flag: str, *keys: str,
          default: Any = None) -> Any:
    value = getattr(args, flag)
    if value is not None:
        return value
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    return default


def _lora_list(args: argparse.Namespace, launch: Mapping[str, Any]) -> list[str]:
    if args.lora_modules:
        return list(args.lora_modules)
    return [f"{k}={v}" for k, v in (launch.get("lora_modules") or {}).items()]


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over overrides over config over defaults: every setting the command needs. Client
    facts (model, host, port, api_key, function_calling) from the client keys; how the server
    is started from ``launch``; llama-server's slots and threads from the managed backend's."""
    cfg = load_config(args.config, getattr(args, "overrides", ()), args.engine)
    engine = args.engine or CONFIG_TYPES.get(str(cfg.get("type")), "vllm")
    fc = cfg.get("function_calling") or {}
    lc: Mapping[str, Any] = cfg.get("launch") or {}
    model = _pick(args, cfg, "model", "model", "model_path")
    if engine != "llama-server" and not model:
        raise SystemExit("--model is required (a Hugging Face id or a local path)")
    s: dict[str, Any] = {
        "engine": engine,
        "model": model,
        "host": _pick(args, cfg, "host", default="127.0.0.1"),
        "port": int(_pick(args, cfg, "port", default=DEFAULT_PORTS[engine]) or
                    DEFAULT_PORTS[engine]),
        "gpu_memory_utilization": _pick(args, lc, "gpu_memory_utilization",
                                        "gpu_memory_utilization"),
        "max_model_len": _pick(args, lc, "max_model_len", "max_model_len",
                               default=cfg.get("n_ctx")),  # llama_server: its n_ctx
        "tensor_parallel_size": _pick(args, lc, "tensor_parallel_size", "tensor_parallel_size",
                                      default=1),
        "pipeline_parallel_size": _pick(args, lc, "pipeline_parallel_size",
                                        "pipeline_parallel_size", default=1),
        "data_parallel_size": _pick(args, lc, "data_parallel_size", "data_parallel_size",
                                    default=1),
        "dtype": _pick(args, lc, "dtype", "dtype"),
        "lora_modules": _lora_list(args, lc),
        "served_model_name": _pick(args, lc, "served_model_name", "served_model_name"),
        "api_key": _pick(args, cfg, "api_key", "api_key"),
        "parallel": _pick(args, cfg, "parallel", "n_parallel", default=4),
        "threads": _pick(args, cfg, "threads", "n_threads"),
        "extra": [str(a) for a in (lc.get("server_args") or cfg.get("server_args") or [])]
        + list(args.extra),
        "binary": cfg.get("binary"),
    }
    s["enable_lora"] = bool(_pick(args, lc, "enable_lora", "enable_lora", default=False)
                            or s["lora_modules"])
    device = _pick(args, lc, "device", "device", default="auto")
    if device == "auto":
        device = "gpu" if nvidia_gpu_visible() else "cpu"
    s["device"] = device
    s["chat_template"] = _pick(args, lc, "chat_template", "chat_template")
    s["work_dir"] = _pick(args, lc, "work_dir", "work_dir")
    s["vllm_python"] = _pick(args, lc, "vllm_python", "vllm_python")
    s["cpu_kvcache_space"] = _pick(args, lc, "cpu_kvcache_space", "cpu_kvcache_space_gb",
                                   default=1)
    s["disable_any_whitespace"] = bool(_pick(args, lc, "disable_any_whitespace",
                                             "disable_any_whitespace", default=True))
    cpu = engine == "vllm" and device == "cpu"
    s["enforce_eager"] = bool(_pick(args, lc, "enforce_eager", "enforce_eager", default=cpu))
    if cpu:  # measured on the 2-core machines: bf16, a short context, no GPU memory fraction
        if s["dtype"] in (None, "auto"):
            s["dtype"] = "bfloat16"
        if s["max_model_len"] is None:
            s["max_model_len"] = 2048
        s["gpu_memory_utilization"] = None
    _parsers(args, s, engine, model, fc)
    if s["api_key"] is None:
        env = {"vllm": "VLLM_API_KEY", "sglang": "SGLANG_API_KEY"}.get(engine)
        key = os.environ.get(env) if env else None
        s["api_key"] = key if key and key != "EMPTY" else None
    return s


def _parsers(args: argparse.Namespace, s: dict[str, Any], engine: str, model: str | None,
             fc: Any) -> None:
    """Tool-call and reasoning parsers: flags, else the config's format, else the family's."""
    tool, reasoning = family_parsers(model or "", engine)
    fmt = fc.get("format") if isinstance(fc, Mapping) else None
    if fmt and fmt not in ("auto", "openai"):
        tool = fmt
    s["tool_call_parser"] = args.tool_call_parser or tool
    s["reasoning_parser"] = args.reasoning_parser or reasoning
    auto = args.enable_auto_tool_choice
    if auto is None:
        enabled = fc.get("enabled", True) if isinstance(fc, Mapping) else True
        auto = bool(s["tool_call_parser"]) and bool(enabled)
    if auto and not s["tool_call_parser"] and engine == "vllm":
        raise SystemExit(f"--enable-auto-tool-choice needs --tool-call-parser: no parser is known "
                         f"for {model!r}; name one (hermes, llama3_json, mistral, ...)")
    s["enable_auto_tool_choice"] = auto
