"""The demo world's rules (issue 23, part 5), pure Python, no model: characters start apart,
items are contested and the world settles who gets one, villagers ask questions, a wolf stalks
and bites, an elder's order makes everyone hold still, and a character that follows the default
profile's five rules gets to use all five tools in the default demo."""

from __future__ import annotations

import collections
import itertools
from typing import Any

from agent_arena.world.sim import HEARD_TICKS, REACH, SIGHT, THREAT_RANGE, World, dist

TOOLS = {"move_to", "pick_up", "say", "flee", "idle"}


def sensible(obs: dict[str, Any], mask: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The default profile's rules, followed to the letter, within the world's mask."""
    threats = obs.get("threats") or []
    if threats and obs["health"] < 50 and mask["flee"]:
        return "flee", {"threat_id": min(threats, key=lambda t: t["distance"])["id"]}
    if obs.get("heard") and mask["say"]:
        return "say", {"text": "I am busy, sorry."}
    kind = obs["goal"].removeprefix("collect ") if obs["goal"].startswith("collect ") else None
    wanted = [v for v in obs["visible"] if v["kind"] == kind]
    for v in wanted:
        if v["id"] in obs["in_reach"] and mask["pick_up"]:
            return "pick_up", {"item_id": v["id"]}
    if wanted and mask["move_to"]:
        return "move_to", {"target": wanted[0]["position"]}
    return "idle", {}


def test_two_characters_taking_one_apple_in_one_tick_only_the_nearer_gets_it():
    w = World.generate(2)
    ana, bo = w.agents["ana"], w.agents["bo"]
    apple = next(it for it in w.items.values() if it.kind == "apple")
    ana.pos = (apple.pos[0] + 0.4, 0.0, apple.pos[2])
    bo.pos = (apple.pos[0], 0.0, apple.pos[2] + 1.2)
    out = w.resolve({"bo": ("pick_up", {"item_id": apple.id}),
                     "ana": ("pick_up", {"item_id": apple.id})})
    assert out["ana"] == (True, f"picked up {apple.id}")
    ok, text = out["bo"]
    assert not ok and "gone" in text and "ana" in text, text
    assert apple.id in ana.inventory and apple.id not in bo.inventory
    assert apple.id not in w.items


def test_a_tie_still_gives_the_item_to_exactly_one():
    w = World.generate(3)
    item = next(iter(w.items.values()))
    for a in w.agents.values():
        a.pos = item.pos
    out = w.resolve({aid: ("pick_up", {"item_id": item.id}) for aid in w.agents})
    assert sorted(ok for ok, _ in out.values()) == [False, False, True]
    assert sum(item.id in a.inventory for a in w.agents.values()) == 1


def test_an_item_taken_earlier_is_reported_gone_and_by_whom():
    w = World.generate(2)
    item = next(iter(w.items.values()))
    w.agents["ana"].pos = w.agents["bo"].pos = item.pos
    assert w.execute("ana", "pick_up", {"item_id": item.id}) == (True, f"picked up {item.id}")
    ok, text = w.execute("bo", "pick_up", {"item_id": item.id})
    assert not ok and text == f"{item.id} is gone: ana took it"


def test_pick_ups_are_judged_where_everyone_stood_when_the_tick_began():
    """A character walking away in the same tick does not make another's pick-up fail, nor
    does one walking up make its own pick-up succeed."""
    w = World.generate(2)
    item = next(iter(w.items.values()))
    ana, bo = w.agents["ana"], w.agents["bo"]
    ana.pos = item.pos
    bo.pos = (item.pos[0] + 3.0, 0.0, item.pos[2])
    out = w.resolve({"ana": ("pick_up", {"item_id": item.id}),
                     "bo": ("move_to", {"target": list(item.pos)})})
    assert out["ana"][0] and out["bo"][0]
    assert item.id in ana.inventory


def test_characters_start_apart_and_out_of_a_wolf_s_reach():
    for n in range(1, 9):
        w = World.generate(n)
        pos = [a.pos for a in w.agents.values()]
        for p, q in itertools.combinations(pos, 2):
            assert dist(p, q) >= 3.0, (n, p, q)
        for wolf in w.wolves.values():
            assert all(dist(wolf.pos, p) > THREAT_RANGE for p in pos), (n, wolf)


def test_two_characters_with_one_goal_see_one_contested_item():
    w = World.generate(4)
    contested = [
        (it.id, a.id, b.id) for it in w.items.values()
        for a, b in itertools.combinations(w.agents.values(), 2)
        if a.goal == b.goal == it.kind
        and REACH < dist(a.pos, it.pos) <= SIGHT and REACH < dist(b.pos, it.pos) <= SIGHT
        and abs(dist(a.pos, it.pos) - dist(b.pos, it.pos)) < 0.5]
    assert len(contested) >= 2, contested


def test_a_villager_asks_and_the_line_shows_in_the_observation_then_fades():
    w = World.generate(4)
    asked: list[tuple[str, dict[str, str]]] = []
    for _ in range(6):
        asked = [(aid, h[-1]) for aid in w.agents if (h := w.observe(aid).get("heard"))]
        if asked:
            break
        w.step()
    assert asked, "nobody was spoken to in 6 ticks"
    aid, line = asked[0]
    assert line["from"] not in w.agents and line["text"].rstrip().endswith("?"), line
    assert w.mask(aid)["say"] is True
    for _ in range(HEARD_TICKS):
        w.step()
    assert line not in (w.observe(aid).get("heard") or []), "an unanswered line never fades"


def test_answering_clears_what_was_heard():
    w = World.generate(4)
    for _ in range(6):
        if any(w.agents[a].heard for a in w.agents):
            break
        w.step()
    aid = next(a for a in w.agents if w.agents[a].heard)
    assert w.execute(aid, "say", {"text": "Over by the oak."})[0]
    assert "heard" not in w.observe(aid) and w.mask(aid)["say"] is False


def test_a_wolf_stalks_the_nearest_character_and_bites():
    w = World.generate(4)
    wolf = next(iter(w.wolves.values()))
    start = {aid: a.health for aid, a in w.agents.items()}

    def gap() -> float:
        return min(dist(wolf.pos, a.pos) for a in w.agents.values())

    gaps = [gap()]
    threatened = False
    for _ in range(8):  # nobody moves: the wolf comes
        w.step()
        gaps.append(gap())
        threatened |= any("threats" in w.observe(aid) for aid in w.agents)
    assert gaps[1] < gaps[0] and gaps[2] < gaps[1], gaps
    assert threatened
    assert any(a.health < start[aid] for aid, a in w.agents.items())


def test_fleeing_puts_a_character_out_of_the_threat_range():
    w = World.generate(4)
    wolf = next(iter(w.wolves.values()))
    ana = w.agents["ana"]
    ana.pos = (w.size / 2, 0.0, w.size / 2)
    wolf.pos = (w.size / 2 + 1.0, 0.0, w.size / 2)
    assert w.execute("ana", "flee", {"threat_id": wolf.id})[0]
    w.step()
    assert dist(ana.pos, wolf.pos) > THREAT_RANGE


def test_an_order_to_hold_still_stops_walking_and_taking_for_its_ticks():
    w = World.generate(4)
    assert w.hold is not None
    start, end = w.hold
    assert 0 < start < end <= 10, "the order must fall within the demo's 10 ticks"
    while w.tick < start:
        w.step()
    obs, mask = w.observe("ana"), w.mask("ana")
    assert "hold still" in obs["goal"]
    assert mask["move_to"] is False and mask["pick_up"] is False
    ok, text = w.execute("ana", "move_to", {"target": [1.0, 0.0, 1.0]})
    assert not ok and "hold still" in text
    while w.tick < end:
        w.step()
    assert w.observe("ana")["goal"].startswith("collect") and w.mask("ana")["move_to"]


def test_a_sensible_character_uses_all_five_tools_in_the_default_demo():
    """The demo's defaults (4 agents, 10 ticks, seed 7): speakers, a wolf, an order to hold
    still and contested items are all there for a character that follows the rules, and the
    world never hands one item to two characters."""
    w = World.generate(4, size=12.0, seed=7)
    used: collections.Counter[str] = collections.Counter()
    gone = 0
    for _ in range(10):
        calls = {aid: sensible(w.observe(aid), w.mask(aid)) for aid in w.agents}
        used.update(tool for tool, _ in calls.values())
        out = w.resolve(calls)
        gone += sum("is gone" in text for _, text in out.values())
        w.step()
    assert set(used) == TOOLS, used
    assert gone >= 1, "no contested item was reached in the same tick"
    held = [i for a in w.agents.values() for i in a.inventory]
    assert len(held) == len(set(held))
