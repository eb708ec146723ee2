"""A small headless world: an open field with apples and wood, wolves, and talking agents.

Pure state and rules, no I/O: ``observe(agent_id)`` gives what a game would send, ``execute``
applies a tool call and returns (ok, result) as a game would report it. Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

REACH = 1.5  # metres within which pick_up works
SPEED = 4.0  # metres walked per move_to per tick
SIGHT = 8.0
THREAT_RANGE = 3.0

Vec = tuple[float, float, float]


def dist(a: Vec, b: Vec) -> float:
    return math.dist((a[0], a[2]), (b[0], b[2]))


@dataclass
class Item:
    id: str
    kind: str
    pos: Vec


@dataclass
class Wolf:
    id: str
    pos: Vec


@dataclass
class Agent:
    id: str
    pos: Vec
    goal: str  # item kind to collect
    health: int = 100
    inventory: list[str] = field(default_factory=list)
    heard: list[dict[str, str]] = field(default_factory=list)


@dataclass
class World:
    size: float = 12.0
    seed: int = 7
    items: dict[str, Item] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    wolves: dict[str, Wolf] = field(default_factory=dict)
    tick: int = 0

    @classmethod
    def generate(cls, n_agents: int, size: float = 12.0, seed: int = 7) -> World:
        rng = random.Random(seed)
        w = cls(size=size, seed=seed)

        def spot() -> Vec:
            return (round(rng.uniform(0, size), 1), 0.0, round(rng.uniform(0, size), 1))

        for i in range(max(3, n_agents * 2)):
            kind = "apple" if i % 2 == 0 else "wood"
            w.items[f"{kind}-{i}"] = Item(f"{kind}-{i}", kind, spot())
        for i in range(max(1, n_agents // 3)):
            w.wolves[f"wolf-{i}"] = Wolf(f"wolf-{i}", spot())
        names = ["ana", "bo", "cy", "di", "ed", "fay", "gus", "hal"]
        for i in range(n_agents):
            aid = names[i] if i < len(names) else f"agent-{i}"
            w.agents[aid] = Agent(aid, spot(), goal="apple" if i % 2 == 0 else "wood")
        return w

    # ---- what a game sends ---------------------------------------------------------------------

    def observe(self, agent_id: str) -> dict[str, Any]:
        a = self.agents[agent_id]
        visible = sorted(
            ((dist(a.pos, it.pos), it) for it in self.items.values() if dist(a.pos, it.pos) <= SIGHT),
            key=lambda x: x[0])
        in_reach = [it.id for d, it in visible if d <= REACH]
        threats = [
            {"id": wf.id, "distance": round(dist(a.pos, wf.pos), 1)}
            for wf in self.wolves.values() if dist(a.pos, wf.pos) <= THREAT_RANGE
        ]
        obs: dict[str, Any] = {
            "goal": f"collect {a.goal}",
            "position": list(a.pos),
            "health": a.health,
            "inventory": list(a.inventory),
            "in_reach": in_reach,
            "visible": [
                {"id": it.id, "kind": it.kind, "position": list(it.pos), "distance": round(d, 1)}
                for d, it in visible[:4]
            ],
        }
        if threats:
            obs["threats"] = threats
        if a.heard:
            obs["heard"] = list(a.heard)
        return obs

    def mask(self, agent_id: str) -> dict[str, Any]:
        """What this world allows the agent now (observe.mask): pick up what is in reach, flee
        the wolves that are close, answer when someone spoke (talk that nobody asked for turned
        a small model's demo into chatter: 23 of 40 calls), walk to what is in sight or to
        one of the field's waypoints (so an agent with nothing in sight can still explore);
        what is in reach needs no walk."""
        a = self.agents[agent_id]
        in_reach = [it.id for it in self.items.values() if dist(a.pos, it.pos) <= REACH]
        threats = [wf.id for wf in self.wolves.values() if dist(a.pos, wf.pos) <= THREAT_RANGE]
        seen = sorted((it for it in self.items.values() if REACH < dist(a.pos, it.pos) <= SIGHT),
                      key=lambda it: dist(a.pos, it.pos))[:4]
        targets = [list(it.pos) for it in seen] + self.waypoints()
        return {
            "move_to": {"target": targets},
            "pick_up": {"item_id": in_reach} if in_reach else False,
            "flee": {"threat_id": threats} if threats else False,
            "say": bool(a.heard),
        }

    def waypoints(self) -> list[list[float]]:
        """The field's corners and centre: places a game's navigation would offer."""
        lo, hi, mid = 1.0, round(self.size - 1.0, 1), round(self.size / 2, 1)
        return [[lo, 0.0, lo], [lo, 0.0, hi], [hi, 0.0, lo], [hi, 0.0, hi], [mid, 0.0, mid]]

    # ---- what a game does with a call ----------------------------------------------------------

    def execute(self, agent_id: str, tool: str, args: dict[str, Any]) -> tuple[bool, str]:
        a = self.agents[agent_id]
        if tool == "move_to":
            tx, ty, tz = (float(v) for v in args["target"])
            target = (min(max(tx, 0), self.size), 0.0, min(max(tz, 0), self.size))
            d = dist(a.pos, target)
            if d <= SPEED:
                a.pos = target
                return True, f"arrived at {list(target)}"
            f = SPEED / d
            a.pos = (round(a.pos[0] + (target[0] - a.pos[0]) * f, 1), 0.0,
                     round(a.pos[2] + (target[2] - a.pos[2]) * f, 1))
            return True, f"walked toward {list(target)}, {round(d - SPEED, 1)} m left"
        if tool == "pick_up":
            item = self.items.get(str(args["item_id"]))
            if item is None:
                return False, f"there is no item {args['item_id']}"
            d = dist(a.pos, item.pos)
            if d > REACH:
                return False, f"{item.id} is {round(d, 1)} m away; move_to it first"
            del self.items[item.id]
            a.inventory.append(item.id)
            return True, f"picked up {item.id}"
        if tool == "say":
            text = str(args["text"])
            for other in self.agents.values():
                if other.id != a.id and dist(other.pos, a.pos) <= SIGHT:
                    other.heard = [*other.heard[-1:], {"from": a.id, "text": text[:120]}]
            a.heard = []
            return True, "said it"
        if tool == "flee":
            wolf = self.wolves.get(str(args["threat_id"]))
            if wolf is None:
                return False, f"there is no threat {args['threat_id']}"
            dx, dz = a.pos[0] - wolf.pos[0], a.pos[2] - wolf.pos[2]
            n = math.hypot(dx, dz) or 1.0
            a.pos = (round(min(max(a.pos[0] + dx / n * SPEED, 0), self.size), 1), 0.0,
                     round(min(max(a.pos[2] + dz / n * SPEED, 0), self.size), 1))
            return True, f"ran from {wolf.id}"
        if tool == "idle":
            return True, "waited"
        return False, f"this world cannot do {tool}"

    def step(self) -> None:
        """Wolves drift and bite agents they reach."""
        rng = random.Random(self.seed * 1000 + self.tick)
        self.tick += 1
        for wf in self.wolves.values():
            wf.pos = (round(min(max(wf.pos[0] + rng.uniform(-1.5, 1.5), 0), self.size), 1), 0.0,
                      round(min(max(wf.pos[2] + rng.uniform(-1.5, 1.5), 0), self.size), 1))
            for a in self.agents.values():
                if dist(a.pos, wf.pos) <= 1.0:
                    a.health = max(0, a.health - 20)
