"""`agent-arena demo`'s terminal view, rendered under fixed-size rich consoles (record mode):
the live table holds each agent's latest call from a real demo run, the tool mix counts them."""

from __future__ import annotations

import collections
import io
from typing import Any

from rich.console import Console
from rich.live import Live

from agent_arena.backends.base import ChatRequest
from agent_arena.world import run_demo
from agent_arena.world.demo import AgentsView, call_text, tool_mix
from support.arena_sockets import TOOLS, GatedBackend


class TwoTools(GatedBackend):
    """move_to and say in turn, so the view has more than one kind of call to show."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def chat(self, request: ChatRequest) -> Any:
        self.n += 1
        self.config.answer = ('{"tool": "say", "arguments": {"text": "hello there"}}'
                              if self.n % 2 else
                              '{"tool": "move_to", "arguments": {"target": [4, 0, 2]}}')
        return await super().chat(request)


def recorded(width: int = 110, terminal: bool = False) -> Console:
    return Console(record=True, width=width, file=io.StringIO(), force_terminal=terminal,
                   color_system=None)


async def test_live_table_shows_every_agent_and_its_last_call(arena):
    server = await arena(TwoTools())
    console = recorded(terminal=True)
    view = AgentsView("scripted")
    with Live(view, console=console, auto_refresh=False) as live:
        def update(d: Any) -> None:
            view.update(d)
            live.refresh()  # what auto refresh does 4 times a second

        # the scripted answer ignores the world's masks (it always walks to one spot): masks off
        summary = await run_demo(server.endpoint, TOOLS, agents=3, ticks=3, deadline_ms=60000,
                                 on_decision=update, masks=False)
    last = {d.agent_id: d for d in summary.decisions}
    final = recorded()
    final.print(view)
    text = final.export_text()
    assert "scripted: tick 2, 9 decisions (ok=9)" in text
    for aid, d in last.items():
        line = next(ln for ln in text.splitlines() if f" {aid} " in ln)
        assert call_text(d.tool, d.arguments) in line and "ok" in line and " ms" in line
        assert f"│    {d.tick} │" in line or f" {d.tick} " in line
    # the live display redrew in place: the first state (one decision) was drawn, then replaced
    drawn = console.export_text()
    assert "1 decisions" in drawn and "9 decisions" in drawn


def test_tool_mix_counts_each_tool():
    from agent_arena.world.demo import Decision, DemoSummary

    summary = DemoSummary([Decision(0, "a", "say", {"text": "hi"}, "ok", 3.0, True),
                           Decision(0, "b", "say", {"text": "yo"}, "ok", 3.0, True),
                           Decision(1, "a", "idle", {}, "timeout", 9.0, True),
                           Decision(1, "b", None, {}, "superseded", 1.0, False)])
    console = recorded(width=60)
    console.print(tool_mix(summary))
    rows = {ln.split("│")[1].strip(): ln for ln in console.export_text().splitlines()
            if ln.startswith("│")}
    assert set(rows) == {"say", "idle", "-"}
    assert "2" in rows["say"] and "50%" in rows["say"] and "25%" in rows["idle"]
    view = AgentsView()
    for d in summary.decisions:
        view.update(d)
    console = recorded(width=100)
    console.print(view)
    text = console.export_text()
    assert collections.Counter(view.counts) == {"ok": 2, "timeout": 1, "superseded": 1}
    assert "idle()" in text and "timeout" in text and "superseded" in text
