"""Prometheus metrics after a demo on the embedded model, and `agent-arena serve` refusing public
metrics without auth in a real process (the scripted runs: tests/unit/test_metrics.py)."""

from __future__ import annotations

import asyncio
import collections
import subprocess
import sys

import pytest

from agent_arena.world import run_demo
from support.prometheus import by_label, scrape


@pytest.mark.llama
async def test_scrape_after_a_demo_with_the_embedded_model(make_server, llama_backend, tools):
    server = await make_server(llama_backend, default_deadline_ms=300000, metrics_port=0)
    summary = await run_demo(server.endpoint, tools, agents=2, ticks=2, deadline_ms=300000)
    m = await asyncio.to_thread(scrape, server.views.urls["metrics"])
    statuses = collections.Counter(d.status for d in summary.decisions)
    assert sum(statuses.values()) == 4
    assert by_label(m["agent_arena_decisions_total"], "status") == statuses
    assert {dict(k)["backend"] for k in m["agent_arena_decisions_total"]} == {"llama_cpp"}
    assert m["agent_arena_completion_tokens_total"][(("backend", "llama_cpp"),)] == \
        sum(d.usage["completion_tokens"] for d in summary.decisions) > 0
    assert m["agent_arena_model_seconds_count"][()] == statuses["ok"] + statuses["fallback"]
    # one generation at a time: decisions beyond it are queued (none now)
    assert m["agent_arena_queued_decisions"][()] == 0
    assert m["agent_arena_backend_up"][(("backend", "llama_cpp"),)] == 1.0


def test_serve_refuses_public_metrics_without_auth_in_a_real_process():
    p = subprocess.run([sys.executable, "-m", "agent_arena.cli", "serve", "backend=scripted",
                        "server.metrics_port=9464", "server.metrics_host=0.0.0.0"],
                       capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 2
    assert "refusing to serve the metrics on 0.0.0.0" in p.stderr and "Traceback" not in p.stderr
    assert "serving on" not in p.stdout
