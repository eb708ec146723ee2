"""The bridge end to end on the CPU server path: ``backend=llama_server`` (a managed
llama-server child with 4 slots, the embedded SmolLM2) and 4 agents of the demo world, over
real ZeroMQ sockets. Every action must be a schema-valid call that arrived in time."""

from __future__ import annotations

import pytest

from agent_arena.backends import create_backend
from agent_arena.world import run_demo

pytestmark = pytest.mark.llama_server


@pytest.fixture(scope="module")
def server_backend():
    from support.llama_server_fixture import llama_server_binary

    llama_server_binary()  # skips with the reason when there is none
    b = create_backend({"type": "llama_server", "n_parallel": 4, "n_ctx": 8192})
    assert b.is_available()
    yield b
    b.sync().close()


async def test_four_agents_over_real_sockets(make_server, tools, server_backend):
    server = await make_server(server_backend)
    summary = await run_demo(server.endpoint, tools, agents=4, ticks=2, deadline_ms=60000)
    assert summary.n == 8
    assert summary.count("timeout") == 0
    assert summary.valid_pct == 100.0
    assert summary.count("ok") == 8, [d.status for d in summary.decisions]
    assert server_backend.stats["requests"] >= 8
    assert server_backend.stats["prompt_tokens"] > 0
    await server_backend.aclose_client()
