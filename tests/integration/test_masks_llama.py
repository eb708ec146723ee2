"""Action masks on the embedded model with the real grammar: "the call is within the mask" is
checked on real decoding (the narrowing itself: tests/unit/test_masks.py)."""

from __future__ import annotations

import pytest

from agent_arena.client import ArenaClient
from agent_arena.tools import ToolRegistry, apply_mask
from support.arena_sockets import TOOLS

SPECS = ToolRegistry(TOOLS).select(None)


@pytest.mark.llama
async def test_the_embedded_model_stays_inside_the_mask(make_server, llama_backend):
    server = await make_server(llama_backend, default_deadline_ms=600000)
    async with ArenaClient(server.endpoint, timeout_s=660) as client:
        await client.hello()
        cases = [
            ({"goal": "collect apple", "in_reach": ["apple-3"], "health": 100},
             {"pick_up": {"item_id": ["apple-3"]}, "flee": False, "say": False,
              "move_to": False}),
            ({"goal": "collect wood", "health": 20, "threats": [{"id": "wolf_7", "distance": 1}]},
             {"flee": {"threat_id": ["wolf_7"]}, "pick_up": False, "say": False}),
            ({"goal": "collect apple", "visible": [{"id": "apple-1", "position": [7, 0, 3]}]},
             {"move_to": {"target": [[7, 0, 3]]}, "pick_up": False, "flee": False}),
        ]
        for i, (obs, mask) in enumerate(cases):
            reply = await client.observe(f"m{i}", 1, obs, mask=mask)
            assert reply["status"] == "ok", reply
            possible = {s.name: s for s in apply_mask(SPECS, mask)}
            call = reply["call"]
            assert call["tool"] in possible, (mask, call)
            assert possible[call["tool"]].is_valid(call["arguments"]), (mask, call)
