"""The live dashboard over real HTTP: its state and event stream after a real demo run, and the
page itself in headless Chromium (Debian chromium driven by playwright-core, as the Godot web
tests do) during a demo with the embedded model: the decisions the client received are on it.

Nothing waits on time: the stream is read until the expected update arrives, the browser waits
for the expected rows (a hang guard bounds both), and the demo holds still between ticks while
the page is looked at (run_demo's after_tick).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from agent_arena.calling import CallingConfig
from agent_arena.world import run_demo
from support.arena_sockets import TOOLS, GatedBackend

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools" / "godot_web"))
import godot_web  # noqa: E402  (where setup.sh put playwright-core)

PLAYWRIGHT = godot_web.WEB_CACHE / "node" / "node_modules" / "playwright-core"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
HANG_S = 600.0  # only guards against a hang


async def sse_events(url: str) -> Any:
    """Yield each event's JSON from the dashboard's stream."""
    async with httpx.AsyncClient(timeout=HANG_S) as http, http.stream("GET", url) as resp:
        assert resp.headers["content-type"].startswith("text/event-stream")
        async for line in resp.aiter_lines():
            if line.startswith("data: "):
                yield json.loads(line[6:])


def last_per_agent(decisions: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in decisions:
        out[d.agent_id] = d
    return out


async def test_state_and_stream_show_the_decisions_the_client_received(arena, connect):
    server = await arena(GatedBackend(), dashboard_port=0)
    base = server.views.urls["dashboard"]
    # the scripted answer ignores the world's masks (it always walks to one spot): masks off
    summary = await run_demo(server.endpoint, TOOLS, agents=3, ticks=3, deadline_ms=60000,
                             masks=False)
    expected = last_per_agent(summary.decisions)

    async with httpx.AsyncClient() as http:
        state = (await http.get(base + "api/state")).json()
        page = await http.get(base)
        js = await http.get(base + "dashboard.js")
    rows = {r["agent"]: r for r in state["rows"]}
    assert set(rows) == set(expected) == {"ana", "bo", "cy"}
    for aid, d in expected.items():
        assert rows[aid]["tick"] == d.tick and rows[aid]["status"] == d.status
        assert rows[aid]["tool"] == d.tool and rows[aid]["call"].startswith(f"{d.tool}(")
        assert rows[aid]["observation"]  # the observation, in one line
    assert state["totals"] == {"ok": 9} and len(state["points"]) == 9
    assert state["server"]["backend"] == "scripted"
    assert page.status_code == 200 and "Agent Arena" in page.text
    assert page.headers["content-type"].startswith("text/html")
    assert js.headers["content-type"].startswith("text/javascript")

    # the stream: everything first, then only what changed
    client = await connect(server.endpoint)
    await client.hello()
    stream = sse_events(base + "events")
    first = await asyncio.wait_for(stream.__anext__(), HANG_S)
    assert first["full"] and {r["agent"] for r in first["rows"]} == {"ana", "bo", "cy"}
    reply = await client.observe("dora", 5, {"hp": 7, "goal": "rest"})
    update = await asyncio.wait_for(stream.__anext__(), HANG_S)
    assert not update["full"] and update["seq"] == first["seq"] + 1
    assert [(r["agent"], r["tick"], r["tool"]) for r in update["rows"]] == \
        [("dora", 5, reply["call"]["tool"])]
    assert update["rows"][0]["observation"] == "hp=7 goal=rest"
    assert len(update["points"]) == 1
    await stream.aclose()


async def test_the_server_stops_with_a_page_connected(arena):
    server = await arena(GatedBackend(), dashboard_port=0)
    stream = sse_events(server.views.urls["dashboard"] + "events")
    assert (await asyncio.wait_for(stream.__anext__(), HANG_S))["full"]
    await server.stop()  # ends the open stream instead of waiting for the page to leave
    with pytest.raises((StopAsyncIteration, httpx.HTTPError)):
        await asyncio.wait_for(stream.__anext__(), HANG_S)


# ---- the page in a real browser --------------------------------------------------------------

RUNNER = r"""
const { chromium } = require(process.env.PLAYWRIGHT);
const [url, expectedJson, shot] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM, headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on("pageerror", (err) => console.log("[page] uncaught: " + err.message));
    await page.goto(url);
    // every agent's row shows the tick of the latest decision the client received
    await page.waitForFunction((exp) => Object.entries(exp).every(([agent, tick]) =>
      document.querySelector(`#agents-table tr[data-agent="${agent}"][data-tick="${tick}"]`)),
      expected, { timeout: Number(process.env.HANG_MS), polling: 100 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.screenshot({ path: shot });
    const rows = await page.$$eval("#agents-table tbody tr", (trs) => trs.map((tr) => ({
      agent: tr.dataset.agent, tick: Number(tr.dataset.tick), tool: tr.dataset.tool,
      status: tr.dataset.status, text: tr.innerText })));
    const facts = await page.evaluate(() => ({
      backend: document.getElementById("backend").textContent,
      model: document.getElementById("model").textContent,
      statuses: [...document.querySelectorAll("#statuses .chip")].map((c) => c.innerText),
      points: window.__arena.points.length,
      conn: document.getElementById("conn").textContent }));
    console.log("RESULT " + JSON.stringify({ rows, facts }));
  } finally {
    await browser.close();
  }
})().catch((err) => { console.log("[runner] " + err.message.split("\n")[0]); process.exit(1); });
"""


@pytest.mark.llama
@pytest.mark.timeout(1500)
async def test_page_in_chromium_during_a_demo_with_the_embedded_model(make_server, llama_backend,
                                                                       tools, tmp_path):
    if not (PLAYWRIGHT.exists() and Path(CHROMIUM).exists() and shutil.which("node")):
        pytest.skip("needs node, Debian chromium and playwright-core (tools/godot_web/setup.sh)")
    server = await make_server(llama_backend, default_deadline_ms=300000, dashboard_port=0,
                               calling=CallingConfig(thought=True))
    url = server.views.urls["dashboard"]
    shot = Path(os.environ.get("AGENT_ARENA_DASHBOARD_SHOT") or tmp_path / "dashboard.png")
    runner = tmp_path / "look.cjs"
    runner.write_text(RUNNER)
    received: list[Any] = []
    seen: dict[str, Any] = {}

    async def look(tick: int) -> None:
        if tick != 1:  # the middle of the run: decisions before, more to come
            return
        expected = {aid: d.tick for aid, d in last_per_agent(received).items()}
        proc = await asyncio.create_subprocess_exec(
            "node", str(runner), url, json.dumps(expected), str(shot),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PLAYWRIGHT": str(PLAYWRIGHT), "CHROMIUM": CHROMIUM,
                 "HANG_MS": str(int(HANG_S * 1000))})
        out, _ = await asyncio.wait_for(proc.communicate(), HANG_S + 60)
        text = out.decode()
        assert proc.returncode == 0, text
        seen.update(json.loads(text.split("RESULT ", 1)[1].splitlines()[0]))
        seen["expected"] = last_per_agent(received)

    summary = await run_demo(server.endpoint, tools, agents=4, ticks=3, deadline_ms=300000,
                             on_decision=received.append, after_tick=look)
    assert summary.n == 12 and seen, "the page was never looked at"
    rows = {r["agent"]: r for r in seen["rows"]}
    assert set(rows) == set(seen["expected"]) == {"ana", "bo", "cy", "di"}
    for aid, d in seen["expected"].items():
        row = rows[aid]
        assert (row["tick"], row["tool"], row["status"]) == (d.tick, d.tool or "", d.status)
        assert aid in row["text"] and (d.tool or "-") in row["text"]
    facts = seen["facts"]
    assert facts["backend"] == "llama_cpp" and facts["model"].endswith(".gguf")
    assert facts["points"] == 8  # two ticks of four agents before the look
    assert any(c.startswith("ok") for c in facts["statuses"]) or \
        any(d.status != "ok" for d in seen["expected"].values())
    assert shot.stat().st_size > 10_000
