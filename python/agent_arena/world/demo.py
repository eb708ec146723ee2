"""The demo game loop: a World whose agents think through the server over a real socket.

It speaks the protocol exactly as a game would (hello, observe, tool_result) through
``ArenaClient``, checks each returned call against the tool schemas on its own side, and
summarises decisions, schema-valid share, fallbacks and latency. ``AgentsView`` is the live
terminal table of `agent-arena demo` (a rich renderable: agents, last action, status, latency),
``tool_mix`` the summary's count of each tool chosen.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table
from rich.text import Text

from agent_arena.client import ArenaClient
from agent_arena.errors import WireStatus
from agent_arena.tools import ToolCall, ToolRegistry
from agent_arena.world.sim import World


@dataclass
class Decision:
    tick: int
    agent_id: str
    tool: str | None
    arguments: Mapping[str, Any]
    status: WireStatus
    latency_ms: float
    valid: bool
    result: str = ""
    thought: str | None = None
    reason: str | None = None
    usage: Mapping[str, int] = field(default_factory=dict)  # the reply's token counts, attempts


@dataclass
class DemoSummary:
    decisions: list[Decision] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def n(self) -> int:
        return len(self.decisions)

    def count(self, status: WireStatus) -> int:
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
    after_tick: Callable[[int], Awaitable[None]] | None = None,
) -> DemoSummary:
    """``after_tick(tick)`` is awaited once each tick's actions are done (nothing in flight):
    a test can look at the server then, a game loop would render its frame there."""
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
            summary.decisions.extend(
                await _act(client, world, check, tick, replies, on_decision))
            if after_tick is not None:
                await after_tick(tick)
            world.step()
    summary.wall_s = loop.time() - t_start
    return summary


async def _act(client: ArenaClient, world: World, check: ToolRegistry, tick: int,
               replies: Sequence[Mapping[str, Any]],
               on_decision: Callable[[Decision], None] | None) -> list[Decision]:
    """Carry out one tick's replies together, as a game frame would: the world settles who gets
    an item two agents reach for at once (World.resolve), then each agent hears how its call
    went (tool_result) in reply order."""
    calls: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for reply in replies:
        call = reply.get("call")
        if call is not None and not check.validate(ToolCall(call["tool"], call["arguments"])):
            calls[reply["agent_id"]] = call["tool"], call["arguments"]
    results = world.resolve(calls)
    out = []
    for reply in replies:
        aid = reply["agent_id"]
        call = reply.get("call")
        valid, result = aid in calls, ""
        if valid:
            ok, result = results[aid]
            await client.tool_result(aid, tick, call["tool"], ok, result)
        d = Decision(tick, aid, call and call["tool"], (call or {}).get("arguments", {}),
                     reply["status"], float(reply.get("latency_ms", 0.0)), valid, result,
                     reply.get("thought"), reply.get("reason"), dict(reply.get("usage") or {}))
        if on_decision:
            on_decision(d)
        out.append(d)
    return out


STATUS_STYLE: dict[WireStatus, str] = {"ok": "green", "fallback": "yellow", "timeout": "red",
                                       "superseded": "dim", "stopping": "magenta"}


def call_text(tool: str | None, arguments: Mapping[str, Any]) -> str:
    if tool is None:
        return "-"
    return f"{tool}({', '.join(f'{k}={v}' for k, v in arguments.items())})"


class AgentsView:
    """The live table: one row per agent with its latest decision; update() per decision."""

    def __init__(self, title: str = "agents") -> None:
        self.title = title
        self.latest: dict[str, Decision] = {}
        self.counts: dict[str, int] = {}
        self.tick = 0

    def update(self, d: Decision) -> None:
        self.latest[d.agent_id] = d
        self.counts[d.status] = self.counts.get(d.status, 0) + 1
        self.tick = max(self.tick, d.tick)

    def __rich__(self) -> Table:
        n = sum(self.counts.values())
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        table = Table(title=f"{self.title}: tick {self.tick}, {n} decisions ({counts or '-'})",
                      title_justify="left", expand=False)
        table.add_column("agent")
        table.add_column("tick", justify="right")
        table.add_column("last action", overflow="fold")
        table.add_column("status")
        table.add_column("latency", justify="right")
        table.add_column("thought / result", overflow="fold", style="dim")
        for aid in sorted(self.latest):
            d = self.latest[aid]
            action = Text(call_text(d.tool, d.arguments))
            if not d.valid and d.status != "superseded":
                action.append("  INVALID", style="bold red")
            table.add_row(aid, str(d.tick), action,
                          Text(d.status, style=STATUS_STYLE.get(d.status, "")),
                          f"{d.latency_ms:.0f} ms", d.thought or d.result or "")
        return table


def tool_mix(summary: DemoSummary) -> Table:
    """How often each tool was chosen over the whole run (the summary's second half)."""
    used = summary.tools_used()
    total = sum(used.values()) or 1
    table = Table(title="tool mix", title_justify="left")
    table.add_column("tool")
    table.add_column("calls", justify="right")
    table.add_column("share", justify="right")
    for tool, n in sorted(used.items(), key=lambda kv: (-kv[1], kv[0])):
        table.add_row(tool, str(n), f"{100.0 * n / total:.0f}%")
    return table
