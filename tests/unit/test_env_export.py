"""What a trainer drives is journaled as a model's decisions are: `agent-arena export` yields
the same rows, with the game's rewards (demo world, real bridge, real sockets)."""

from __future__ import annotations

import json
from pathlib import Path

from agent_arena.env import Arena, ArenaConfig
from agent_arena.export import export_journal


def test_export_rows_carry_the_env_clients_calls_and_the_games_rewards(tmp_path: Path) -> None:
    journal = tmp_path / "env.journal"
    with Arena(ArenaConfig(agents=2, max_ticks=8, journal=str(journal))) as arena:
        _, turns = arena.reset(seed=3)
        steps = 0
        while not all(t["done"] for t in turns.values()):
            calls = {}
            for aid, turn in turns.items():
                tools = {t["function"]["name"]: t["function"]["parameters"]
                         for t in turn["tools"]}
                if "pick_up" in tools:
                    item = tools["pick_up"]["properties"]["item_id"]["enum"][0]
                    calls[aid] = {"tool": "pick_up", "arguments": {"item_id": item}}
                elif "move_to" in tools:
                    target = tools["move_to"]["properties"]["target"]["enum"][0]
                    calls[aid] = {"tool": "move_to", "arguments": {"target": target}}
                else:  # an order to hold still, or a turn the server already answered
                    calls[aid] = {"tool": "idle", "arguments": {}}
            refused = arena.act("ana", "fly", {}, wait=False)  # refused: never journaled
            assert not refused.accepted
            turns = {a: o.turn for a, o in arena.act_all(calls).items()}
            steps += 1
    summary = export_journal(journal, tmp_path / "rows.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 2 * steps == 16
    assert all(r["backend"] == "external" and r["tool"] in ("pick_up", "move_to", "idle")
               for r in ok)
    assert all(r["prompt"][-1]["content"].startswith(("Now:", "Your last actions:"))
               for r in ok)
    assert summary.with_reward == len(ok)  # every executed call reported its reward
    assert any(r["reward"] == 1.0 for r in ok)  # a goal item picked up
    assert not any(r["tool"] == "fly" for r in rows)
    # the episode's end: one fallback per agent, the reason says why
    ends = [r for r in rows if r["status"] == "fallback"]
    assert len(ends) == 2 and all("episode is over" in r["reason"] for r in ends)
