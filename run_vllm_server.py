#!/usr/bin/env python3
"""Start an inference server for Agent Arena, or print the exact command (``--dry-run``).

    python run_vllm_server.py --model Qwen/Qwen2.5-7B-Instruct --port 8000
    python run_vllm_server.py --engine sglang --model meta-llama/Llama-3.1-8B-Instruct
    python run_vllm_server.py --engine llama-server            # CPU, the embedded SmolLM2
    python run_vllm_server.py --config vllm --model Qwen/Qwen2.5-7B-Instruct --dry-run

The seed's helper script, kept at the top level: it is ``agent-arena launch`` with the engine
as ``--engine`` (default: --config's type, else vllm). Everything it does lives in
python/agent_arena/launch/ (docs/backends.md); ``--help`` lists the options.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("agent_arena") is None:  # run from a checkout, e.g. by .venv-vllm
    sys.path.insert(0, str(Path(__file__).resolve().parent / "python"))

from agent_arena.launch.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(script=True))
