"""run_vllm_server.py: the exact commands per engine and model family, config files, what vLLM's
CPU build needs, a real ``--engine llama-server`` start (health, printed base_url, Ctrl-C) and a
real ``--engine vllm`` start on the CPU build (tests/integration/test_vllm_real.py's session server is
started through it too)."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agent_arena.launch.cli import parse_args
from agent_arena.launch.commands import build_command
from agent_arena.launch.settings import resolve
from agent_arena.launch.vllm import engine_env

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "run_vllm_server.py"



NO_VLLM = "/nonexistent/python"  # GPU-flag tests: as on a host whose vLLM is the `vllm` command


@pytest.fixture(autouse=True)
def _no_local_vllm(monkeypatch):
    monkeypatch.setenv("VLLM_PYTHON", NO_VLLM)


def dry(*argv: str) -> list[str]:
    if "--device" not in argv and "--engine" not in argv:
        argv = ("--device", "gpu", *argv)
    args = parse_args(["--dry-run", *argv], script=True)
    cmd = build_command(resolve(args), dry_run=True)
    return cmd


def dry_env(*argv: str) -> dict[str, str]:
    return engine_env(resolve(parse_args(["--dry-run", *argv], script=True)))


def flag(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd else None


@pytest.mark.parametrize("model,vllm_parser,sglang_parser", [
    ("Qwen/Qwen2.5-7B-Instruct", "hermes", "qwen25"),
    ("NousResearch/Hermes-3-Llama-3.1-8B", "hermes", "qwen25"),
    ("meta-llama/Llama-3.1-8B-Instruct", "llama3_json", "llama3"),
    ("meta-llama/Llama-3.2-3B-Instruct", "llama3_json", "llama3"),
    ("meta-llama/Llama-4-Scout-17B-16E-Instruct", "llama4_pythonic", "pythonic"),
    ("mistralai/Mistral-7B-Instruct-v0.3", "mistral", "mistral"),
    ("Qwen/Qwen3-Coder-30B-A3B-Instruct", "qwen3_coder", "qwen3_coder"),
    ("openai/gpt-oss-20b", "openai", "gpt-oss"),
    ("meta-llama/Llama-2-7b-chat-hf", None, None),
])
def test_tool_call_parser_follows_the_model_family(model, vllm_parser, sglang_parser):
    cmd = dry("--model", model)
    assert cmd[1:3] == ["serve", model]
    assert flag(cmd, "--tool-call-parser") == vllm_parser
    assert ("--enable-auto-tool-choice" in cmd) == (vllm_parser is not None)
    scmd = dry("--engine", "sglang", "--model", model)
    assert scmd[1:3] == ["-m", "sglang.launch_server"]
    assert flag(scmd, "--model-path") == model
    assert flag(scmd, "--tool-call-parser") == sglang_parser
    assert "--enable-auto-tool-choice" not in scmd  # not an SGLang flag


def test_seed_flags_map_to_each_engine():
    seed = ["--model", "meta-llama/Llama-3.1-8B-Instruct", "--port", "8123",
            "--gpu-memory-utilization", "0.8", "--max-model-len", "4096",
            "--tensor-parallel-size", "2", "--dtype", "bfloat16",
            "--pipeline-parallel-size", "2", "--data-parallel-size", "2"]
    v = dry(*seed)
    assert (flag(v, "--port"), flag(v, "--gpu-memory-utilization"), flag(v, "--max-model-len"),
            flag(v, "--tensor-parallel-size"), flag(v, "--dtype"),
            flag(v, "--pipeline-parallel-size"), flag(v, "--data-parallel-size")) == \
           ("8123", "0.8", "4096", "2", "bfloat16", "2", "2")
    s = dry("--engine", "sglang", *seed)
    assert (flag(s, "--port"), flag(s, "--mem-fraction-static"), flag(s, "--context-length"),
            flag(s, "--tp-size"), flag(s, "--dtype"), flag(s, "--pp-size"),
            flag(s, "--dp-size")) == ("8123", "0.8", "4096", "2", "bfloat16", "2", "2")


def test_lora_reasoning_and_passthrough():
    cmd = dry("--model", "Qwen/Qwen3-8B", "--lora-modules", "npc=/loras/npc", "guard=/loras/g",
              "--", "--max-num-seqs", "64")
    assert "--enable-lora" in cmd
    i = cmd.index("--lora-modules")
    assert cmd[i + 1:i + 3] == ["npc=/loras/npc", "guard=/loras/g"]
    assert flag(cmd, "--reasoning-parser") == "qwen3"
    assert cmd[-2:] == ["--max-num-seqs", "64"]
    s = dry("--engine", "sglang", "--model", "Qwen/Qwen3-8B", "--lora-modules", "npc=/l/npc")
    assert flag(s, "--lora-paths") == "npc=/l/npc" and "--enable-lora" in s


def test_explicit_parser_and_no_auto_tool_choice():
    cmd = dry("--model", "my-org/custom", "--tool-call-parser", "hermes")
    assert flag(cmd, "--tool-call-parser") == "hermes" and "--enable-auto-tool-choice" in cmd
    cmd = dry("--model", "Qwen/Qwen2.5-7B-Instruct", "--no-enable-auto-tool-choice")
    assert "--enable-auto-tool-choice" not in cmd
    with pytest.raises(SystemExit, match="needs --tool-call-parser"):
        dry("--model", "my-org/custom", "--enable-auto-tool-choice")


def test_values_come_from_the_hydra_backend_config(tmp_path: Path):
    # the shipped vllm.yaml restates VLLMBackendConfig's defaults: no model (the client asks
    # GET /models), so the server's model comes from --model
    cmd = dry("--config", str(ROOT / "configs" / "backend" / "vllm.yaml"), "--device", "gpu",
              "--model", "meta-llama/Llama-2-7b-chat-hf")
    assert cmd[1:3] == ["serve", "meta-llama/Llama-2-7b-chat-hf"]
    assert flag(cmd, "--port") == "8000" and flag(cmd, "--max-model-len") == "4096"
    assert dry("--config", "vllm", "--device", "gpu", "--model", "m") == \
        dry("--config", str(ROOT / "configs" / "backend" / "vllm.yaml"), "--device", "gpu",
            "--model", "m")  # a shipped file by name
    assert flag(cmd, "--gpu-memory-utilization") == "0.9"
    cfg = tmp_path / "b.yaml"
    cfg.write_text("type: sglang\nmodel: Qwen/Qwen2.5-7B-Instruct\nport: 30001\n"
                   "function_calling: {enabled: true, format: qwen25}\n"
                   "launch: {lora_modules: {npc: /l/npc}}\n")
    s = dry("--config", str(cfg), "--port", "31000")  # the flag wins over the file
    assert s[1:3] == ["-m", "sglang.launch_server"] and flag(s, "--port") == "31000"
    assert flag(s, "--tool-call-parser") == "qwen25" and flag(s, "--lora-paths") == "npc=/l/npc"


def test_llama_server_dry_run_is_the_managed_command():
    cmd = dry("--engine", "llama-server", "--parallel", "4", "--port", "8099")
    assert flag(cmd, "--parallel") == "4" and flag(cmd, "--port") == "8099"
    assert flag(cmd, "--model").endswith(".gguf") and "--jinja" in cmd


def test_dry_run_prints_a_shell_command():
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", "Qwen/Qwen2.5-7B-Instruct",
                          "--device", "gpu", "--dry-run"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "python"),
                                          "VLLM_PYTHON": NO_VLLM})
    assert out.returncode == 0, out.stderr
    cmd = shlex.split(out.stdout.strip())
    assert cmd[:2] == ["env", "VLLM_ENFORCE_STRICT_TOOL_CALLING=0"]
    assert Path(cmd[2]).name == "vllm" and cmd[3] == "serve" and "--tool-call-parser" in cmd
    assert json.loads(flag(cmd, "--structured-outputs-config")) == {
        "backend": "xgrammar", "disable_any_whitespace": True}


def test_cpu_device_adds_what_the_cpu_build_needs(tmp_path: Path, monkeypatch):
    for key in ("VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND", "HF_HUB_OFFLINE",
                "VLLM_CPU_NUM_OF_RESERVED_CPU", "VLLM_CACHE_ROOT",
                "VLLM_ENFORCE_STRICT_TOOL_CALLING"):
        monkeypatch.delenv(key, raising=False)  # the caller's environment would win
    cmd = dry("--device", "cpu", "--model", "/models/smollm2", "--gpu-memory-utilization", "0.8")
    assert flag(cmd, "--dtype") == "bfloat16" and flag(cmd, "--max-model-len") == "2048"
    assert "--enforce-eager" in cmd and "--gpu-memory-utilization" not in cmd
    env = dry_env("--device", "cpu", "--model", str(tmp_path), "--cpu-kvcache-space", "2",
                  "--work-dir", str(tmp_path / "w"))
    cores = sorted(os.sched_getaffinity(0))
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "0"
    assert env["VLLM_CPU_OMP_THREADS_BIND"] in (f"{cores[0]}-{cores[-1]}",
                                                ",".join(map(str, cores)))
    assert env["HF_HUB_OFFLINE"] == "1"  # a local folder
    assert env["VLLM_CACHE_ROOT"] == str(tmp_path / "w" / "vllm")
    assert env["VLLM_ENFORCE_STRICT_TOOL_CALLING"] == "0"
    # a GPU build gets none of it; flags given win over the CPU defaults
    gpu = dry("--device", "gpu", "--model", "m", "--dtype", "float16")
    assert "--enforce-eager" not in gpu and flag(gpu, "--dtype") == "float16"
    assert "VLLM_CPU_KVCACHE_SPACE" not in dry_env("--device", "gpu", "--model", "m")
    keep = dry("--device", "cpu", "--model", "m", "--max-model-len", "4096",
               "--no-enforce-eager", "--no-disable-any-whitespace")
    assert flag(keep, "--max-model-len") == "4096" and "--enforce-eager" not in keep
    assert "--structured-outputs-config" not in keep


def test_cpu_build_runs_as_the_api_server_module(monkeypatch):
    """vllm-cpu's `vllm` command looks up the distribution "vllm" and dies, so the CPU build is
    started as `python -m vllm.entrypoints.openai.api_server` from its own interpreter."""
    from support.vllm_fixture import vllm_python

    monkeypatch.delenv("VLLM_PYTHON")
    py = vllm_python()
    cmd = dry("--device", "cpu", "--vllm-python", py, "--model", "/m")
    assert cmd[:5] == [py, "-m", "vllm.entrypoints.openai.api_server", "--model", "/m"]


def test_missing_vllm_says_what_to_do():
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", "x", "--device", "gpu"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python"),
                              "VLLM_PYTHON": NO_VLLM, "PATH": "/usr/bin:/bin"})
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "make vllm-venv" in out.stderr and "pip install vllm" in out.stderr


def test_missing_engine_is_a_clear_error():
    out = subprocess.run([sys.executable, str(SCRIPT), "--engine", "sglang", "--model", "x"],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    if out.returncode == 0:  # pragma: no cover - sglang installed here
        pytest.skip("sglang is installed")
    assert out.returncode == 1 and "--dry-run" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.llama_server
def test_llama_server_engine_really_starts_and_stops_on_ctrl_c():
    from agent_arena.backends.llama_server import free_port
    from support.llama_server_fixture import llama_server_binary

    llama_server_binary()
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--engine", "llama-server", "--port", str(port),
         "--parallel", "2", "--health-timeout", "120"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 150
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("ready: base_url"):
                lines.append(proc.stdout.readline())  # the agent-arena serve line
                break
        text = "".join(lines)
        assert f"ready: base_url = http://127.0.0.1:{port}/v1" in text, text[-2000:]
        assert "backend.api_base=http://127.0.0.1:" in text
        assert httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends; the script forwards it
        assert proc.wait(60) is not None
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_model_embedded_is_the_converted_folder(monkeypatch):
    """``--model embedded``: the embedded GGUF converted once (cached by its hash) is served."""
    from support.vllm_fixture import hf_model_dir, vllm_python

    monkeypatch.delenv("VLLM_PYTHON")
    py = vllm_python()
    folder = hf_model_dir()  # converts on a fresh machine (~1 min), else the cache
    out = subprocess.run([sys.executable, str(SCRIPT), "--model", "embedded", "--vllm-python",
                          py, "--device", "cpu", "--dry-run"], capture_output=True, text=True,
                         timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    assert out.returncode == 0, out.stderr[-2000:]
    cmd = shlex.split(out.stdout.strip())
    assert flag(cmd, "--model") == folder and Path(folder, "model.safetensors").is_file()
    assert Path(folder, "chat_template.jinja").is_file()  # vLLM uses the GGUF's template
    assert "HF_HUB_OFFLINE=1" in cmd


def test_agent_arena_launch_takes_the_engine_and_backend_overrides(capsys):
    """`agent-arena launch ENGINE key=value ...`: the same command as the script's flags; an
    override is a backend key (checked by the one builder), and a flag wins over it."""
    from agent_arena.cli import main

    assert main(["launch", "vllm", "--device", "gpu", "model=Qwen/Qwen2.5-7B-Instruct",
                 "launch.gpu_memory_utilization=0.5", "--port", "8100", "--dry-run"]) == 0
    cmd = shlex.split(capsys.readouterr().out.strip())
    assert flag(cmd, "serve") == "Qwen/Qwen2.5-7B-Instruct"
    assert flag(cmd, "--gpu-memory-utilization") == "0.5" and flag(cmd, "--port") == "8100"
    assert cmd[cmd.index("vllm"):] == dry("--model", "Qwen/Qwen2.5-7B-Instruct", "--port",
                                          "8100", "--gpu-memory-utilization", "0.5")
    assert main(["launch", "vllm", "--model", "m", "--device", "gpu",
                 "launch.gpu_memory_utilization=0.25", "--gpu-memory-utilization", "0.75",
                 "--dry-run"]) == 0
    assert flag(shlex.split(capsys.readouterr().out.strip()), "--gpu-memory-utilization") == "0.75"
    assert main(["launch", "vllm", "--model", "m", "no_such_key=1", "--dry-run"]) == 1
    assert "no_such_key" in capsys.readouterr().err
    # an old flat launch key is refused, naming its new place
    assert main(["launch", "vllm", "--model", "m", "gpu_memory_utilization=0.5",
                 "--dry-run"]) == 1
    assert "backend.launch.gpu_memory_utilization" in capsys.readouterr().err


def test_the_script_is_launch(capsys):
    """run_vllm_server.py --help is launch's, with --engine as a flag."""
    out = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT / "python")})
    assert out.returncode == 0 and out.stdout.startswith("usage: run_vllm_server.py")
    assert "--engine" in out.stdout and "--dry-run" in out.stdout
