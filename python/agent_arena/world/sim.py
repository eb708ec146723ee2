"""A small headless world: an open field with apples and wood, wolves, villagers who talk, and
agents.

Pure state and rules, no I/O: ``observe(agent_id)`` gives what a game would send, ``mask`` what
the game allows now, ``resolve`` applies one tick's calls at once and returns (ok, result) per
agent as a game would report it (``execute`` is one call alone). Deterministic for a seed.

It is built so that every one of the five default tools has its moment (issue 23, part 5):
characters start apart on a ring, each pair of neighbours shares a goal and an item halfway
between them (contested: the world gives it to one and tells the other who took it), villagers
ask questions now and then (answer with say), a wolf starts away from everyone and stalks the
nearest character, biting when it reaches one (flee when hurt), one character starts hurt, the
elder orders everyone to hold still for a few ticks (idle), and a character that has collected
enough has nothing left to do.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

REACH = 1.5  # metres within which pick_up works
SPEED = 4.0  # metres walked per move_to (or flee) per tick
SIGHT = 8.0
THREAT_RANGE = 3.0  # a wolf this close shows up in threats (and flee is possible)
WOLF_SPEED = 1.5  # metres a wolf stalks per tick
WOLF_SCENT = 9.0  # a wolf stalks the nearest character within this; farther ones it ignores
BITE_RANGE = 1.0
BITE = 25  # health a bite takes
HURT_START = 40  # the health of the one character that starts hurt
QUOTA = 2  # items of its goal a character collects; then it has nothing left to do
HEARD_TICKS = 2  # what was said stays in `heard` this many ticks unless answered
ASK_EVERY = 3  # a villager asks someone a question every ASK_EVERY ticks (from tick 2)
HOLD_AT, HOLD_TICKS = 5, 2  # the elder's order to hold still: from this tick, for this long

NAMES = ["ana", "bo", "cy", "di", "ed", "fay", "gus", "hal"]
VILLAGERS = ["mara", "old tom", "the miller", "little pip"]
QUESTIONS = [
    "{name}, have you seen my goat?",
    "Where can I find {kind} around here, {name}?",
    "{name}, is the wolf still near the field?",
    "How many {kind} have you got, {name}?",
    "{name}, will you come to the harvest feast tonight?",
]

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
    heard_tick: int = 0  # when the latest line arrived: it fades HEARD_TICKS later
    asked: bool = False  # someone spoke to it and waits for an answer (say is possible)

    def collected(self) -> int:
        return sum(i.startswith(f"{self.goal}-") for i in self.inventory)


@dataclass
class World:
    size: float = 12.0
    seed: int = 7
    items: dict[str, Item] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)
    wolves: dict[str, Wolf] = field(default_factory=dict)
    tick: int = 0
    hold: tuple[int, int] | None = None  # [start, end) ticks of the order to hold still
    taken: dict[str, str] = field(default_factory=dict)  # item id -> who took it

    @classmethod
    def generate(cls, n_agents: int, size: float = 12.0, seed: int = 7) -> World:
        rng = random.Random(seed)
        w = cls(size=size, seed=seed, hold=(HOLD_AT, HOLD_AT + HOLD_TICKS))
        mid = size / 2

        def clamp(v: float) -> float:
            return round(min(max(v, 0.5), size - 0.5), 1)

        def spot() -> Vec:
            return (round(rng.uniform(0, size), 1), 0.0, round(rng.uniform(0, size), 1))

        # characters on a ring around the centre, so they start apart; neighbours 2k, 2k+1
        # share a goal
        radius, turn = 0.36 * size, rng.uniform(0, 2 * math.pi)
        for i in range(n_agents):
            aid = NAMES[i] if i < len(NAMES) else f"agent-{i}"
            a = turn + 2 * math.pi * i / max(n_agents, 1)
            pos = (clamp(mid + radius * math.cos(a)), 0.0, clamp(mid + radius * math.sin(a)))
            w.agents[aid] = Agent(aid, pos, goal="apple" if (i // 2) % 2 == 0 else "wood",
                                  health=HURT_START if i == 1 else 100)
        ids = list(w.agents)
        for k in range(0, n_agents - 1, 2):  # the contested item, halfway between neighbours
            a, b = w.agents[ids[k]], w.agents[ids[k + 1]]
            iid = f"{a.goal}-{len(w.items)}"
            w.items[iid] = Item(iid, a.goal, (round((a.pos[0] + b.pos[0]) / 2, 2), 0.0,
                                              round((a.pos[2] + b.pos[2]) / 2, 2)))
        for i in range(max(3, n_agents * 2)):
            kind = "apple" if i % 2 == 0 else "wood"
            iid = f"{kind}-{len(w.items)}"
            w.items[iid] = Item(iid, kind, spot())
        # wolves at the field's corners, each nearest the character that starts hurt first
        corners = [(0.5, 0.0, 0.5), (0.5, 0.0, size - 0.5), (size - 0.5, 0.0, 0.5),
                   (size - 0.5, 0.0, size - 0.5)]
        prey = w.agents[ids[1]] if n_agents > 1 else next(iter(w.agents.values()), None)
        if prey is not None:
            corners.sort(key=lambda c: dist(c, prey.pos))
        for i in range(max(1, n_agents // 3)):
            w.wolves[f"wolf-{i}"] = Wolf(f"wolf-{i}", corners[i % len(corners)])
        return w

    # ---- what a game sends ---------------------------------------------------------------------

    def holding(self) -> bool:
        """The elder's order to hold still is on this tick."""
        return self.hold is not None and self.hold[0] <= self.tick < self.hold[1]

    def goal_text(self, a: Agent) -> str:
        if self.holding():
            assert self.hold is not None
            return f"hold still until tick {self.hold[1]}: the elder is counting the harvest"
        if a.collected() >= QUOTA:
            return f"none: you have collected {QUOTA} {a.goal}, nothing left to do"
        return f"collect {a.goal}"

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
            "goal": self.goal_text(a),
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
        the wolves that are close, answer when someone asked something and is still waiting
        (talk that nobody asked for turned a small model's demo into chatter: 23 of 40 calls;
        an answer asks nothing back), walk to what is in sight or to
        one of the field's waypoints (so an agent with nothing in sight can still explore);
        what is in reach needs no walk. While the order to hold still is on, no walking or
        taking (fleeing and talking stay possible)."""
        a = self.agents[agent_id]
        in_reach = [it.id for it in self.items.values() if dist(a.pos, it.pos) <= REACH]
        threats = [wf.id for wf in self.wolves.values() if dist(a.pos, wf.pos) <= THREAT_RANGE]
        seen = sorted((it for it in self.items.values() if REACH < dist(a.pos, it.pos) <= SIGHT),
                      key=lambda it: dist(a.pos, it.pos))[:4]
        targets = [list(it.pos) for it in seen] + self.waypoints()
        still = self.holding()
        return {
            "move_to": False if still else {"target": targets},
            "pick_up": {"item_id": in_reach} if in_reach and not still else False,
            "flee": {"threat_id": threats} if threats else False,
            "say": a.asked,
        }

    def waypoints(self) -> list[list[float]]:
        """The field's corners and centre: places a game's navigation would offer."""
        lo, hi, mid = 1.0, round(self.size - 1.0, 1), round(self.size / 2, 1)
        return [[lo, 0.0, lo], [lo, 0.0, hi], [hi, 0.0, lo], [hi, 0.0, hi], [mid, 0.0, mid]]

    # ---- what a game does with the calls of one tick -------------------------------------------

    def resolve(self, calls: Mapping[str, tuple[str, Mapping[str, Any]]]
                ) -> dict[str, tuple[bool, str]]:
        """Apply one tick's calls (agent id -> (tool, arguments)) as simultaneous.

        Pick-ups are judged on where everyone stood when the tick began, so the order of the
        replies does not matter: an item claimed by several goes to the nearest claimant (ties:
        the first id in sorted order) and the others are told it is gone and who took it. Talk
        comes next, then walking and fleeing."""
        out: dict[str, tuple[bool, str]] = {}
        claims: dict[str, list[str]] = {}
        for aid, (tool, args) in sorted(calls.items()):
            if tool == "pick_up":
                claims.setdefault(str(args["item_id"]), []).append(aid)
        for iid, who in claims.items():
            item = self.items.get(iid)
            if item is None:
                for aid in who:
                    out[aid] = False, self._missing(iid)
                continue
            near = [aid for aid in who if dist(self.agents[aid].pos, item.pos) <= REACH]
            for aid in who:
                if aid not in near:
                    d = round(dist(self.agents[aid].pos, item.pos), 1)
                    out[aid] = False, f"{iid} is {d} m away; move_to it first"
            if self.holding():
                for aid in near:
                    out[aid] = False, self._still()
                continue
            if near:
                winner = min(near, key=lambda aid: (dist(self.agents[aid].pos, item.pos), aid))
                del self.items[iid]
                self.taken[iid] = winner
                self.agents[winner].inventory.append(iid)
                for aid in near:
                    out[aid] = (True, f"picked up {iid}") if aid == winner else \
                        (False, self._missing(iid))
        for aid, (tool, args) in sorted(calls.items(), key=lambda kv: kv[1][0] != "say"):
            if tool != "pick_up":
                out[aid] = self._act(self.agents[aid], tool, args)
        return out

    def execute(self, agent_id: str, tool: str, args: Mapping[str, Any]) -> tuple[bool, str]:
        """One call alone: ``resolve`` of a tick with only this call."""
        return self.resolve({agent_id: (tool, args)})[agent_id]

    def _missing(self, iid: str) -> str:
        who = self.taken.get(iid)
        return f"{iid} is gone: {who} took it" if who else f"there is no item {iid}"

    def _still(self) -> str:
        assert self.hold is not None
        return f"the elder said to hold still until tick {self.hold[1]}"

    def _act(self, a: Agent, tool: str, args: Mapping[str, Any]) -> tuple[bool, str]:
        if tool == "move_to":
            if self.holding():
                return False, self._still()
            tx, _, tz = (float(v) for v in args["target"])
            target = (min(max(tx, 0), self.size), 0.0, min(max(tz, 0), self.size))
            d = dist(a.pos, target)
            if d <= SPEED:
                a.pos = target
                return True, f"arrived at {list(target)}"
            a.pos = self._toward(a.pos, target, SPEED)
            return True, f"walked toward {list(target)}, {round(d - SPEED, 1)} m left"
        if tool == "say":
            text = str(args["text"])
            if a.asked:  # an answer goes back to the agents that spoke, and asks nothing
                askers = {h["from"] for h in a.heard}
                for other in self.agents.values():
                    if other.id in askers and other.id != a.id:
                        self._hear(other, a.id, text, asks=False)
            else:  # speaking up unasked: everyone in earshot may answer
                for other in self.agents.values():
                    if other.id != a.id and dist(other.pos, a.pos) <= SIGHT:
                        self._hear(other, a.id, text, asks=True)
            a.heard, a.asked = [], False
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

    def _hear(self, a: Agent, speaker: str, text: str, *, asks: bool) -> None:
        a.heard = [*a.heard[-1:], {"from": speaker, "text": text[:120]}]
        a.heard_tick = self.tick
        a.asked = a.asked or asks

    @staticmethod
    def _toward(src: Vec, dst: Vec, step: float) -> Vec:
        d = dist(src, dst)
        if d <= step:
            return dst
        f = step / d
        return (round(src[0] + (dst[0] - src[0]) * f, 1), 0.0,
                round(src[2] + (dst[2] - src[2]) * f, 1))

    # ---- the world's own turn ------------------------------------------------------------------

    def step(self) -> None:
        """End of a tick: wolves stalk (or drift) and bite, unanswered talk fades, and in the
        new tick a villager may ask someone a question."""
        rng = random.Random(self.seed * 1000 + self.tick)
        self.tick += 1
        for wf in self.wolves.values():
            near = [a for a in self.agents.values() if dist(a.pos, wf.pos) <= WOLF_SCENT]
            if near:
                prey = min(near, key=lambda a: (dist(a.pos, wf.pos), a.id))
                if dist(prey.pos, wf.pos) > 0.5:
                    wf.pos = self._toward(wf.pos, prey.pos, min(WOLF_SPEED,
                                                               dist(prey.pos, wf.pos) - 0.5))
            else:
                wf.pos = (round(min(max(wf.pos[0] + rng.uniform(-1.5, 1.5), 0), self.size), 1),
                          0.0,
                          round(min(max(wf.pos[2] + rng.uniform(-1.5, 1.5), 0), self.size), 1))
            for a in self.agents.values():
                if dist(a.pos, wf.pos) <= BITE_RANGE:
                    a.health = max(0, a.health - BITE)
        for a in self.agents.values():
            if a.heard and self.tick - a.heard_tick >= HEARD_TICKS:
                a.heard, a.asked = [], False
        if self.agents and self.tick % ASK_EVERY == 2:  # from the last agent backwards
            ids = list(self.agents)
            a = self.agents[ids[-1 - (self.tick // ASK_EVERY) % len(ids)]]
            line = rng.choice(QUESTIONS).format(name=a.id, kind=a.goal)
            self._hear(a, rng.choice(VILLAGERS), line, asks=True)
