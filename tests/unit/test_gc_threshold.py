"""server.gc_threshold: Python's gen0 threshold is raised while servers run, then restored."""

from __future__ import annotations

import gc

import pytest

from agent_arena.errors import ConfigError
from agent_arena.server import ServerConfig


@pytest.fixture
def threshold():
    saved = gc.get_threshold()
    gc.set_threshold(700, *saved[1:])
    yield
    gc.set_threshold(*saved)


async def test_raised_while_any_server_runs_and_restored_after_the_last(arena, threshold):
    first = await arena(gc_threshold=10_000)
    assert gc.get_threshold()[0] == 10_000
    second = await arena(gc_threshold=10_000)
    await first.stop()
    assert gc.get_threshold()[0] == 10_000  # the second one still serves
    await second.stop()
    assert gc.get_threshold()[0] == 700


async def test_null_leaves_it_and_a_higher_one_is_never_lowered(arena, threshold):
    server = await arena(gc_threshold=None)
    assert gc.get_threshold()[0] == 700
    await server.stop()
    gc.set_threshold(50_000)
    server = await arena(gc_threshold=10_000)
    assert gc.get_threshold()[0] == 50_000
    await server.stop()
    assert gc.get_threshold()[0] == 50_000


@pytest.mark.parametrize("bad", [0, 99, -1, 1.5, True, "10000"])
def test_bad_values_are_refused(bad):
    with pytest.raises(ConfigError, match="server.gc_threshold"):
        ServerConfig(gc_threshold=bad)
