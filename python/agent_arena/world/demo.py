"""The demo game loop: a World whose agents think through the server over a real socket.

It speaks the protocol exactly as a game would (hello, observe, tool_result) through
``ArenaClient``, checks each returned call against the tool schemas on its own side, and
summarises decisions, schema-valid share, fallbacks and latency.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_arena.client import ArenaClient
from agent_arena.tools import ToolCall, ToolRegistry
from agent_arena.world.sim import World


@dataclass
class Decision:
    tick: int
    agent_id: str
    tool: str | None
    arguments: Mapping[str, Any]
    status: str
    latency_ms: float
    valid: bool
    result: str = ""
    thought: str | None = None


@dataclass
class DemoSummary:
    decisions: list[Decision] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def n(self) -> int:
        return len(self.decisions)

    def count(self, status: str) -> int:
        return sum(d.status == status for d in self.decisions)

    @property
    def valid_pct(self) -> float:
        acted = [d for d in self.decisions if d.status != "superseded"]
        return 100.0 * sum(d.valid for d in acted) / len(acted) if acted else 0.0

    def latency(self, q: float) -> float:
        lat = sorted(d.latency_ms for d in self.decisions)
        if not lat:
            return 0.0
        if len(lat) == 1:
            return lat[0]
        return statistics.quantiles(lat, n=100, method="inclusive")[int(q) - 1]

    def tools_used(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            out[d.tool or "-"] = out.get(d.tool or "-", 0) + 1
        return out


async def run_demo(
    endpoint: str,
    tools: Sequence[Mapping[str, Any]],
    *,
    agents: int = 4,
    ticks: int = 10,
    deadline_ms: int = 30000,
    seed: int = 7,
    size: float = 12.0,
    on_decision: Callable[[Decision], None] | None = None,
    client_kwargs: Mapping[str, Any] | None = None,
    masks: bool = True,
) -> DemoSummary:
    world = World.generate(agents, size=size, seed=seed)
    check = ToolRegistry(tools)  # the game's own copy of the schemas: an independent check
    summary = DemoSummary()
    loop = asyncio.get_running_loop()
    t_start = loop.time()
    async with ArenaClient(endpoint, name="agent-arena demo world",
                           **dict(client_kwargs or {})) as client:
        await client.hello(tools=tools)
        for _ in range(ticks):
            tick = world.tick
            replies = await asyncio.gather(*(
                client.observe(aid, tick, world.observe(aid), deadline_ms=deadline_ms,
                               mask=world.mask(aid) if masks else None)
                for aid in world.agents))
            for reply in replies:
                summary.decisions.append(
                    await _act(client, world, check, tick, reply, on_decision))
            world.step()
    summary.wall_s = loop.time() - t_start
    return summary


async def _act(client: ArenaClient, world: World, check: ToolRegistry, tick: int,
               reply: Mapping[str, Any], on_decision: Callable[[Decision], None] | None
               ) -> Decision:
    aid = reply["agent_id"]
    call = reply.get("call")
    valid, result = False, ""
    if call is not None:
        valid = not check.validate(ToolCall(call["tool"], call["arguments"]))
        if valid:
            ok, result = world.execute(aid, call["tool"], call["arguments"])
            await client.tool_result(aid, tick, call["tool"], ok, result)
    d = Decision(tick, aid, call and call["tool"], (call or {}).get("arguments", {}),
                 reply["status"], float(reply.get("latency_ms", 0.0)), valid, result,
                 reply.get("thought"))
    if on_decision:
        on_decision(d)
    return d
