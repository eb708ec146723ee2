"""Invented games and the calls a sensible character makes in them: training data.

Each game draws its own tool names, descriptions and argument shapes (positions as lists or
maps, ids, text, enums, no arguments), its own observation layout (keys, nesting, units,
fractions or percents, lists or maps, speech as strings or records, inventories) and rules
(reach, what counts as close and as hurt). A threat is a creature or, in some games, a hazard
(fire, a gas leak, a rockslide...), maybe listed apart and flagged as closing in; some games have
no coordinates: the character and things are *at* named places, in reach means the same place,
and the go tool takes a place's name. Shapes taken from hand-written games: goals that name the
take tool ("stow rum barrel": still a walk when the thing is far) or no goal at all, reach stated
on the character (sometimes with only coordinates to judge it by), integer ids, things known by
a short description, lines addressed by name inside the line. Each example is one situation in
that game, with distractors, labelled by the invented world's rules:

    flee        a hostile thing is close and the character is hurt        -> the run tool
    answer      someone asked the character (or everyone) a question       -> the talk tool
    take        a wanted thing is in reach                                 -> the take tool
    fetch       a wanted thing is seen but out of reach                     -> the go tool
    hold        nothing of the above (or an order to wait)                  -> the wait tool

and the distractors that must not change the call: an unwanted thing in reach, another wanted
thing far away, a distant threat (or a close one while healthy), chatter that asks nothing,
a question put to someone else. About half the examples carry the action mask the game would
send ("Possible now: ..."). Rows are built with prompt.decision_messages and answer_text,
the very bytes the server sends and the constrained decoder writes.

    python -m agent_arena.gamegen --n 20000 --seed 0 --out data.jsonl   # + data.val.jsonl

Long because: one seeded generator. Games, worlds, situations, observations and masks draw
from one random.Random in a fixed order (the same seed gives the same rows, which training's
shards and the held-out set rely on), and the word tables sit beside the draws that use them;
split by section, that one order would be spread over files that must change together.
Hazards, named places and the shapes after them (about 1,300 lines now) added small helpers
(_hazards_and_places, Builder.place_of / danger_kind, _ground, _ref_schema, _kind) rather than
a module of their own, for the same reason.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_arena import gamewords as W
from agent_arena.agents import MemoryEntry
from agent_arena.prompt import answer_text, decision_messages
from agent_arena.tools import ToolCall, ToolRegistry, ToolSpec, apply_mask

ROLES = ("go", "take", "run", "talk", "wait")
SITUATIONS = ("fetch", "take", "flee", "answer", "hold")
ROLE_OF = {"fetch": "go", "take": "take", "flee": "run", "answer": "talk", "hold": "wait"}


# ---- names --------------------------------------------------------------------------------------

STYLES = ("snake", "snake", "snake", "camel", "camel", "dotted", "kebab")


def styled(parts: Sequence[str], style: str) -> str:
    """``["walk", "to"]`` as walk_to, walkTo, act.walk_to or walk-to."""
    words = [w for p in parts for w in p.split("_") if w]
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "kebab":
        return "-".join(words)
    snake = "_".join(words)
    return f"act.{snake}" if style == "dotted" else snake


_ROLE_WORDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "go": (W.GO_VERBS, W.GO_PARTICLES + W.GO_OBJECTS),
    "take": (W.TAKE_VERBS, ("",) * 4 + W.TAKE_OBJECTS),
    "run": (W.RUN_VERBS, ("",) * 4 + W.RUN_OBJECTS),
    "talk": (W.TALK_VERBS, ("",) * 3 + ("to",) + W.TALK_OBJECTS),
    "wait": (W.WAIT_VERBS, ("",)),
}


def tool_names(role: str) -> Iterator[str]:
    """Every name the generator can give a tool of ``role`` (the vocabulary test walks it)."""
    verbs, tails = _ROLE_WORDS[role]
    for verb, tail, style in itertools.product(verbs, dict.fromkeys(tails), dict.fromkeys(STYLES)):
        yield styled([verb, tail] if tail else [verb], style)


def draw_name(rng: random.Random, role: str) -> str:
    verbs, tails = _ROLE_WORDS[role]
    verb = rng.choice(verbs)
    tail = rng.choice(tails) if rng.random() < 0.6 else ""
    return styled([verb, tail] if tail else [verb], rng.choice(STYLES))


# ---- a game -------------------------------------------------------------------------------------


@dataclass
class Layout:
    """How one game writes its observation."""

    self_key: str | None  # None: the character's fields are top-level
    name_key: str
    hp_key: str
    hp_style: str  # frac | pct | pct_str | record | ratio | words
    hp_max: int
    hp_record_keys: tuple[str, str]
    pos_key: str | None  # the character's own position (None: not shown)
    want_key: str
    want_style: str  # phrase | sentence | quest | bare | record | list | label | verb_phrase
    # | verb_record (the last two name the game's take tool: "stow rum barrel")
    bag_key: str | None
    bag_style: str  # list | map
    grouping: str  # one_list | groups | id_map
    things_key: str
    items_key: str
    beings_key: str
    people_key: str
    id_key: str
    kind_key: str
    ent_pos_key: str | None
    dist_key: str | None
    hostile_key: str
    danger_key: str | None  # hostile beings in a list of their own
    reach_style: str  # list | flag | radius (stated in the take tool) | implicit ("next to you")
    # | self (stated on the character: {reach: 1.5}, maybe with no distances shown)
    reach_key: str
    speech_key: str
    speech_style: str  # string | record | latest (only the last line, as one string)
    speaker_key: str
    line_key: str
    address_key: str
    order_key: str  # a standing order, when there is one
    quest_title_key: str
    quest_text_key: str
    noise: tuple[str, ...]
    key_order: tuple[str, ...] = ()
    speech_fmt: int = 0  # which of SPEECH_FORMATS writes a line as a string
    you_word: bool = False  # a line to the character says "you", not its name
    hazard_key: str | None = None  # hazards (not creatures) in a list of their own
    hazard_flag_key: str | None = None  # a flag on each hazard in that list
    closing_key: str | None = None  # on every danger: is it close (true) or not
    here_key: str = ""  # place games: the character's place
    at_key: str = ""  # place games: a thing's place
    kind_spaces: bool = False  # kinds written "rum barrel", not "rum_barrel"
    desc_key: str = ""  # a short description on each thing ("a battered wooden pail")
    desc_only: bool = False  # ... and no kind key: the kind is only in the description
    goal_verb_key: str = ""  # verb_record goals: the key naming the verb


@dataclass
class Rules:
    dims: int  # 2 or 3 (3: [a, 0, b], the ground plane)
    pos_style: str  # list | map
    coords: tuple[str, ...]  # map keys of a position
    unit: str  # m | steps
    dist_style: str  # number | string
    reach: float  # in reach: at most this far (in units)
    close: float  # a hostile thing this near is a danger
    hurt: float  # health fraction at or below which the character is hurt
    id_style: str  # kind_n | kind-n | kindn | opaque | number (an integer; tools take integers)
    mask_style: str  # tools | args
    dangers: str = "beasts"  # beasts | hazards | mixed: what a threat is
    places: tuple[str, ...] = ()  # named places instead of coordinates (go takes one)
    z_up: bool = False  # 3D positions on the ground are [a, b, 0], not [a, 0, b]


@dataclass
class Game:
    name: str
    specs: dict[str, ToolSpec]  # role -> spec
    extras: list[ToolSpec]
    shapes: dict[str, str]  # role -> argument shape
    args: dict[str, dict[str, str]]  # role -> {slot: argument name}
    layout: Layout
    rules: Rules
    me: str

    @property
    def tools(self) -> list[ToolSpec]:
        return [*self.specs.values(), *self.extras]


def _pick(rng: random.Random, words: Sequence[str], avoid: set[str]) -> str:
    free = [w for w in words if w not in avoid]
    word = rng.choice(free)
    avoid.add(word)
    return word


def new_layout(rng: random.Random) -> Layout:
    used: set[str] = set()
    p = lambda words: _pick(rng, words, used)  # noqa: E731  one key of a kind per game
    coords_hp = rng.choice((("now", "max"), ("cur", "cap"), ("left", "full"), ("value", "top")))
    grouping = rng.choice(("one_list", "one_list", "groups", "id_map"))
    layout = Layout(
        self_key=p(W.SELF_KEYS) if rng.random() < 0.5 else None,
        name_key=p(W.NAME_KEYS), hp_key=p(W.HP_KEYS),
        hp_style=rng.choice(("frac", "pct", "pct_str", "record", "ratio", "words")),
        hp_max=rng.choice((10, 20, 50, 80, 100, 120, 200)), hp_record_keys=coords_hp,
        pos_key=p(W.SELF_POS_KEYS) if rng.random() < 0.75 else None,
        want_key=p(W.WANT_KEYS), want_style=rng.choice((
            "phrase", "sentence", "sentence", "quest", "bare", "record", "list", "label",
            "verb_phrase", "verb_record")),
        bag_key=p(W.BAG_KEYS) if rng.random() < 0.5 else None,
        bag_style=rng.choice(("list", "map")), grouping=grouping,
        things_key=p(W.THINGS_KEYS), items_key=p(W.ITEMS_KEYS), beings_key=p(W.BEINGS_KEYS),
        people_key=p(W.PEOPLE_KEYS), id_key=p(W.ENT_ID_KEYS), kind_key=p(W.ENT_KIND_KEYS),
        ent_pos_key=p(W.ENT_POS_KEYS) if rng.random() < 0.85 else None,
        dist_key=p(W.ENT_DIST_KEYS) if rng.random() < 0.85 else None,
        hostile_key=p(W.HOSTILE_KEYS),
        danger_key=p(W.DANGER_KEYS) if rng.random() < 0.35 else None,
        reach_style=rng.choice(("list", "flag", "radius", "implicit", "self")), reach_key="",
        speech_key=p(W.SPEECH_KEYS), speech_style=rng.choice(("string", "string", "record", "record",
                                                             "latest")),
        speaker_key=p(W.SPEAKER_KEYS), line_key=p(W.LINE_KEYS), address_key=p(W.ADDRESS_KEYS),
        order_key=p(W.ORDER_KEYS), quest_title_key=p(W.QUEST_TITLE_KEYS),
        quest_text_key=p(W.QUEST_TEXT_KEYS),
        noise=tuple(rng.sample(W.NOISE_KEYS, rng.choice((0, 0, 1, 2)))),
    )
    if layout.want_style == "quest":
        layout.want_key = p(W.QUEST_KEYS)
    layout.speech_fmt = rng.randrange(len(SPEECH_FORMATS))
    layout.you_word = rng.random() < 0.4
    if layout.dist_key is None and layout.reach_style in ("radius", "implicit"):
        layout.reach_style = rng.choice(("list", "flag"))
    layout.reach_key = p(W.REACH_LIST_KEYS if layout.reach_style == "list" else
                         W.SELF_REACH_KEYS if layout.reach_style == "self" else W.REACH_FLAG_KEYS)
    if layout.reach_style == "self" and layout.dist_key is None:  # reach from coordinates
        layout.pos_key = layout.pos_key or p(W.SELF_POS_KEYS)
        layout.ent_pos_key = layout.ent_pos_key or p(W.ENT_POS_KEYS)
    layout.kind_spaces = rng.random() < 0.3
    if rng.random() < 0.25:
        layout.desc_key = p(W.DESC_KEYS)
        layout.desc_only = rng.random() < 0.5
    if layout.want_style == "verb_record":
        layout.goal_verb_key = p(W.GOAL_VERB_KEYS)
    return layout


def _keys(layout: Layout) -> set[str]:
    return {v for v in vars(layout).values() if isinstance(v, str)}


def new_rules(rng: random.Random) -> Rules:
    unit = rng.choice(("m", "m", "steps"))
    coords = rng.choice(W.COORD_KEYS)
    dims = len(coords) if rng.random() < 0.5 else rng.choice((2, 3))
    if len(coords) != dims:
        coords = rng.choice([c for c in W.COORD_KEYS if len(c) == dims])
    return Rules(
        dims=dims, pos_style=rng.choice(("list", "list", "map")), coords=coords, unit=unit,
        dist_style=rng.choice(("number", "number", "string")),
        reach=rng.choice((1, 1.5, 2, 2.5)) if unit == "m" else rng.choice((1, 2)),
        close=rng.choice((4, 5, 6)) if unit == "m" else rng.choice((3, 4)),
        hurt=rng.choice((0.3, 0.35, 0.4)),
        id_style=rng.choice(("kind_n", "kind_n", "kind-n", "kindn", "opaque", "number")),
        mask_style=rng.choice(("tools", "args", "args")), z_up=rng.random() < 0.5)


def _pos_schema(rules: Rules) -> dict[str, Any]:
    if rules.pos_style == "map":
        return {"type": "object", "properties": {k: {"type": "number"} for k in rules.coords},
                "required": list(rules.coords), "additionalProperties": False}
    return {"type": "array", "items": {"type": "number"}, "minItems": rules.dims,
            "maxItems": rules.dims}


def _ref_schema(rules: Rules) -> dict[str, Any]:
    """An argument naming a thing by its id."""
    if rules.id_style == "number":
        return {"type": "integer", "minimum": 0}
    return {"type": "string", "maxLength": 64}


def _desc(rng: random.Random, options: Sequence[str], **fmt: Any) -> str:
    return rng.choice(options).format(**fmt)


GO_DESC = ("Walk to {a}.", "Go to {a}. Use it to get close to something out of reach.",
           "Travel toward {a}.", "Head for {a} that is farther than arm's length.",
           "Make your way to {a}.", "Move the character to {a}.", "Approach {a}.",
           "Walk over to {a} you can see.")
TAKE_DESC = ("Pick up {a} that is in reach.", "Take {a} next to you.",
             "Grab {a} within reach and keep it.", "Put {a} in your {bag}. It must be in reach.",
             "Collect {a} close enough to touch.", "Take hold of {a} at hand.")
TAKE_RADIUS_DESC = ("Pick up {a} at most {r} {u} away.", "Grab {a} within {r} {u}.",
                    "Take {a}; it must be no farther than {r} {u}.")
RUN_DESC = ("Run away from {a}.", "Escape from {a}. Use it when hurt and {a} is close.",
            "Retreat from danger.", "Flee to safety when a hostile creature is near and you are "
            "hurt.", "Get away from {a} quickly.", "Back off from {a}.")
TALK_DESC = ("Say something out loud.", "Answer someone who talked to you.",
             "Speak a line to the people nearby.", "Talk to a character.",
             "Reply to a question.", "Speak. Use it to answer someone who spoke to you.")
TAKE_HERE_DESC = ("Pick up {a} in the same place as you.", "Take {a} from the room you are in.",
                  "Grab {a} where you are standing.")
RUN_HAZARD_DESC = ("Get clear of {a}.", "Run from {a} when it is close and you are hurt.",
                   "Escape {a}: fire, flood, falling rubble...", "Move away from {a}.",
                   "Flee from {a} nearby.")
WAIT_DESC = ("Do nothing this turn.", "Wait and watch.", "Stay where you are.",
             "Rest for a moment. Use it when there is nothing to do.", "Hold still.",
             "Pass the turn.", "Stand by.", "Stay put, e.g. when told to wait.")


def _hazards_and_places(rng: random.Random, rules: Rules, layout: Layout) -> None:
    """Some games' dangers are hazards (fire, a gas leak...), not creatures, maybe listed
    apart; some games have named places instead of coordinates (the go tool takes a name)."""
    used = _keys(layout)
    p = lambda words: _pick(rng, words, used)  # noqa: E731
    rules.dangers = rng.choice(("beasts", "beasts", "beasts", "hazards", "hazards", "mixed"))
    if rules.dangers != "beasts" and (rng.random() < 0.5 or (
            layout.grouping == "groups" and not layout.danger_key)):
        layout.hazard_key = p(W.HAZARD_KEYS)
        layout.hazard_flag_key = p(W.HAZARD_FLAG_KEYS) if rng.random() < 0.5 else None
    if rng.random() < 0.25:
        layout.closing_key = p(W.CLOSING_KEYS)
    if rng.random() < 0.25:  # a place game: the character and things are *at* places
        rules.places = tuple(rng.sample(W.ROOM_NAMES, rng.randint(3, 6)))
        layout.pos_key = layout.ent_pos_key = layout.dist_key = None
        layout.here_key, layout.at_key = p(W.SELF_PLACE_KEYS), p(W.ENT_PLACE_KEYS)
        if layout.reach_style in ("radius", "self"):  # no distances: in reach = same place
            layout.reach_style = rng.choice(("list", "flag", "implicit"))
            if layout.reach_style == "list":
                layout.reach_key = p(W.REACH_LIST_KEYS)
            elif layout.reach_style == "flag":
                layout.reach_key = p(W.REACH_FLAG_KEYS)


def new_game(rng: random.Random, name: str) -> Game:
    rules = new_rules(rng)
    layout = new_layout(rng)
    _hazards_and_places(rng, rules, layout)
    if layout.reach_style == "implicit":  # "next to you": arm's length, whatever the game
        rules.reach = 1 if rules.unit == "steps" else 1.5
    specs: dict[str, ToolSpec] = {}
    shapes: dict[str, str] = {}
    args: dict[str, dict[str, str]] = {}
    names: set[str] = set()
    for role in ROLES:
        tool = draw_name(rng, role)
        while tool in names:
            tool = draw_name(rng, role)
        names.add(tool)
        props: dict[str, Any] = {}
        required: list[str] = []
        slots: dict[str, str] = {}
        a = rng.choice(("a place", "a spot", "a location", "a point", "a thing"))
        if role == "go":
            shape = "place" if rules.places else rng.choice(
                ("pos", "pos", "pos") + ("ref",) * (rules.id_style != "number"))
            if shape == "place":  # a place's name, one of the game's
                slots["dest"] = rng.choice(W.DEST_PLACE_ARGS)
                props[slots["dest"]] = {"type": "string", "enum": list(rules.places)}
                a = rng.choice(("a place", "a room", "another place"))
            elif shape == "pos":
                slots["dest"] = rng.choice(W.DEST_POS_ARGS)
                props[slots["dest"]] = _pos_schema(rules)
            else:
                slots["dest"] = rng.choice(W.DEST_REF_ARGS)
                props[slots["dest"]] = {"type": "string", "maxLength": 64}
            required.append(slots["dest"])
            if rng.random() < 0.2:
                slots["pace"] = rng.choice(W.PACE_ARGS)
                props[slots["pace"]] = {"type": "string", "enum": list(rng.choice(W.PACE_VALUES))}
            desc = _desc(rng, GO_DESC, a=a)
        elif role == "take":
            shape = "ref"
            slots["what"] = rng.choice(W.TAKE_ARGS)
            props[slots["what"]] = _ref_schema(rules)
            required.append(slots["what"])
            a = rng.choice(("an item", "a thing", "an object", "something"))
            if layout.reach_style == "radius":
                desc = _desc(rng, TAKE_RADIUS_DESC, a=a, r=f"{rules.reach:g}", u=rules.unit)
            elif rules.places and layout.reach_style == "implicit":
                desc = _desc(rng, TAKE_HERE_DESC, a=a)
            else:
                desc = _desc(rng, TAKE_DESC, a=a, bag=layout.bag_key or "pack")
        elif role == "run":
            compass = rules.pos_style == "map" and rules.coords[:2] == ("easting", "northing")
            shape = rng.choice(("ref", "ref", "none") + ("from_pos",) * (not rules.places)
                               + ("direction",) * 2 * compass * (not rules.places))
            if shape == "direction":  # away from the threat, by the game's own compass
                slots["from"] = rng.choice(W.RUN_DIR_ARGS)
                props[slots["from"]] = {"type": "string", "enum": list(COMPASS)}
                required.append(slots["from"])
            elif shape == "ref":
                slots["from"] = rng.choice(W.RUN_ARGS)
                props[slots["from"]] = _ref_schema(rules)
                required.append(slots["from"])
            elif shape == "from_pos":
                slots["from"] = rng.choice(W.RUN_POS_ARGS)
                props[slots["from"]] = _pos_schema(rules)
                required.append(slots["from"])
            desc = _desc(rng, RUN_DESC, a=rng.choice(("a threat", "danger", "an enemy",
                                                      "a predator"))) \
                if rules.dangers == "beasts" else _desc(rng, RUN_HAZARD_DESC, a=rng.choice((
                    "a hazard", "danger", "a threat", "fire or falling debris")))
        elif role == "talk":
            shape = rng.choice(("text", "text", "text_to"))
            slots["text"] = rng.choice(W.TALK_ARGS)
            props[slots["text"]] = {"type": "string", "minLength": 1, "maxLength": 120}
            required.append(slots["text"])
            if shape == "text_to":
                slots["to"] = rng.choice([w for w in W.TALK_TO_ARGS if w != slots["text"]])
                props[slots["to"]] = {"type": "string", "maxLength": 32}
                required.append(slots["to"])
                if rng.random() < 0.5:
                    props = dict(reversed(props.items()))
            desc = _desc(rng, TALK_DESC)
        else:
            shape = rng.choice(("none", "none", "none", "ticks"))
            if shape == "ticks":
                slots["n"] = rng.choice(W.WAIT_ARGS)
                props[slots["n"]] = {"type": "integer", "minimum": 1, "maximum": 10}
                required.append(slots["n"])
                desc = _desc(rng, WAIT_DESC) + f" {slots['n']}: how long, usually 1."
            else:
                desc = _desc(rng, WAIT_DESC)
        if rng.random() < 0.05:
            desc = ""
        params: dict[str, Any] = {"type": "object", "properties": props,
                                  "additionalProperties": False}
        if required:
            params["required"] = required
        specs[role] = ToolSpec(tool, desc, params)  # checked in tests: no meta-schema check here
        shapes[role], args[role] = shape, slots
    if shapes["run"] == "direction" and layout.pos_key is None:  # to tell where away is
        layout.pos_key = rng.choice([k for k in W.SELF_POS_KEYS if k not in _keys(layout)])
    if layout.ent_pos_key is None and "pos" in (shapes["go"], shapes["run"].replace("from_", "")
                                                ) + ("pos",) * (shapes["run"] == "direction"):
        layout.ent_pos_key = rng.choice([k for k in W.ENT_POS_KEYS if k not in _keys(layout)])
    extras = []
    for ename, edesc in rng.sample(W.EXTRA_TOOLS, rng.choice((0, 0, 1, 1, 2, 3))):
        ename = styled([ename], rng.choice(STYLES))
        if ename in names:
            continue
        names.add(ename)
        extras.append(ToolSpec(ename, edesc, {"type": "object", "properties": {},
                                              "additionalProperties": False}))
    return Game(name=name, specs=specs, extras=extras, shapes=shapes, args=args, layout=layout,
                rules=rules, me=rng.choice(W.PERSON_NAMES))


# ---- a world: what is around the character ------------------------------------------------------


@dataclass
class Thing:
    uid: str | int  # int: a game whose ids are numbers
    kind: str
    cls: str  # item | beast | critter | person
    pos: list[float]
    dist: float
    hostile: bool = False
    near: bool = False  # an item in reach
    at: str | None = None  # place games: the place it is at


@dataclass
class Speech:
    speaker: str
    line: str
    to: str | None  # None: nobody in particular
    order: bool = False  # an order to wait
    vocative: bool = False  # addressed by name inside the line ("Kit, can you...?"), no marker


@dataclass
class World:
    pos: list[float]
    hp: float  # fraction
    wants: list[str]
    bag: dict[str, int]
    things: list[Thing] = field(default_factory=list)
    speech: list[Speech] = field(default_factory=list)
    noise: dict[str, Any] = field(default_factory=dict)
    order: str | None = None  # a standing order to hold (the layout's order key)
    xy: list[float] = field(default_factory=list)  # the character on the ground plane
    at: str | None = None  # place games: the character's place
    no_goal: bool = False  # the game shows no goal ("task: none"): nothing is wanted


class Builder:
    """Places things around the character in one game's units and id style."""

    def __init__(self, rng: random.Random, game: Game) -> None:
        self.rng, self.game, self.r = rng, game, game.rules
        self.counter = itertools.count(rng.randint(1, 40))
        self.kinds_used: set[str] = set()
        self.names_used: set[str] = {game.me}
        steps = self.r.unit == "steps"
        self.origin: list[float] = [round(rng.uniform(-40, 40)) if steps else
                                    round(rng.uniform(-40, 40), 1) for _ in range(2)]
        self.here = rng.choice(self.r.places) if self.r.places else None

    def uid(self, kind: str) -> str | int:
        n = next(self.counter)
        style = self.r.id_style
        if style == "number":
            return n
        if style == "opaque":
            return f"{self.rng.choice('eonkx')}{n}"
        return {"kind_n": f"{kind}_{n}", "kind-n": f"{kind}-{n}", "kindn": f"{kind}{n}"}[style]

    def kind(self, pool: Sequence[str]) -> str:
        k = self.rng.choice([x for x in pool if x not in self.kinds_used])
        self.kinds_used.add(k)
        return k

    def item_kind(self) -> str:
        """An item kind; about one in four is two words ("iron_chisel"), so a goal written as
        a phrase ("an iron chisel") must be matched to a kind written with an underscore."""
        noun = self.kind(W.ITEM_KINDS)
        if self.rng.random() < 0.25:
            return f"{self.rng.choice(W.ITEM_ADJECTIVES)}_{noun}"
        return noun

    def person(self) -> str:
        n = self.rng.choice([x for x in W.PERSON_NAMES if x not in self.names_used])
        self.names_used.add(n)
        return n

    def place(self, lo: float, hi: float) -> tuple[list[float], float]:
        """A position ``lo``..``hi`` units away, and its distance as shown."""
        steps = self.r.unit == "steps"
        for _ in range(50):
            d = self.rng.uniform(lo, hi)
            a = self.rng.uniform(0, 2 * math.pi)
            if steps:
                xy = [self.origin[0] + round(d * math.cos(a)),
                      self.origin[1] + round(d * math.sin(a))]
            else:
                xy = [round(self.origin[0] + d * math.cos(a), 1),
                      round(self.origin[1] + d * math.sin(a), 1)]
            dist = math.dist(xy, self.origin)
            dist = round(dist) if steps else round(dist, 1)
            if lo <= dist <= hi and xy != self.origin:
                return xy, dist
        raise RuntimeError("no position found")  # pragma: no cover

    def thing(self, kind: str, cls: str, near: bool | None = None, *, lo: float | None = None,
              hi: float | None = None, hostile: bool = False) -> Thing:
        r = self.r
        if lo is None or hi is None:
            if near:
                lo, hi = (0.3 if r.unit == "m" else 1), r.reach
            else:
                lo, hi = max(3 * r.reach, 4), 30
        pos, dist = self.place(lo, hi)
        uid = kind if cls == "person" else self.uid(kind)  # people go by their names
        near = bool(cls == "item" and dist <= r.reach)
        return Thing(uid, kind, cls, pos, dist, hostile, near=near,
                     at=self.place_of(near if cls == "item" else dist < r.close))

    def place_of(self, here: bool) -> str | None:
        """Place games: an item in reach or anything else close is here, the rest elsewhere."""
        if self.here is None:
            return None
        return self.here if here else self.rng.choice([p for p in self.r.places
                                                       if p != self.here])

    def danger_kind(self) -> tuple[str, str]:
        """A threat's kind and class: a creature or, in some games, a hazard."""
        dangers = self.r.dangers
        if dangers == "hazards" or (dangers == "mixed" and self.rng.random() < 0.5):
            return self.kind(W.HAZARD_KINDS), "hazard"
        return self.kind(W.BEAST_KINDS), "beast"

    def pos3(self, xy: list[float]) -> list[float]:
        return _ground(self.r, xy)


# ---- situations ---------------------------------------------------------------------------------


def _question(rng: random.Random, b: Builder, world: World) -> tuple[str, str]:
    """A question and a sensible reply."""
    place = rng.choice(W.PLACE_NAMES)
    kind = rng.choice(W.ITEM_KINDS)
    other = rng.choice([x for x in W.PERSON_NAMES if x not in b.names_used])
    seen = [t.kind for t in world.things if t.cls == "item"]
    want = world.wants[0]
    options = [
        (f"Where is the {place}?", f"The {place} is {rng.choice(W.DIRECTIONS)}."),
        (f"Have you seen any {kind}?", f"Yes, there is a {kind} nearby." if kind in seen
         else f"No, I have not seen any {kind}."),
        ("What are you looking for?", f"I am looking for {want}."),
        ("What are you doing here?", f"I am out collecting {want}."),
        ("Can you help me?", rng.choice(("Yes, what do you need?", "Sorry, not right now."))),
        (f"Is the road to the {place} safe?", f"I think the road to the {place} is safe."),
        ("How are you?", "I am fine, thank you." if world.hp > 0.5 else "I am hurt, but alive."),
        (f"Do you know {other}?", f"Yes, {other} lives by the {place}."),
        ("What time is it?", f"It is {rng.choice(('morning', 'noon', 'evening', 'late'))}."),
        (f"Any news from the {place}?", f"All is quiet at the {place}."),
        (f"Which way to the {place}?", f"Go {rng.choice(W.DIRECTIONS)} to reach the {place}."),
        (f"Got any {want} to spare?", f"Sorry, I need the {want} myself."),
    ]
    if world.no_goal:  # nothing wanted: no answer may mention a goal
        options = [o for o in options if want not in o[1]]
    q, reply = rng.choice(options)
    if rng.random() < 0.3:  # people say something before they ask
        q = f"{rng.choice(LEAD_INS)} {q}"
    return q, reply


LEAD_INS = ("Hey!", "Good to see you.", "You look tired.", "Busy day, eh?", "Listen.",
            "Sorry to bother you.", "You look banged up.", "Ah, there you are.", "Quick question.")
CHATTER = ("Lovely weather today.", "I need to fix my roof.", "The market was busy this morning.",
           "Hmm.", "My feet hurt from all this walking.", "I heard wolves last night.",
           "This bread is stale.", "What a long day.", "The river is high this year.",
           "*hums a tune*", "I should get back to work.", "Ah, the smell of rain.")
GOAL_SENTENCES = (
    "find {a} {item} and bring it back.", "bring {a} {item} to {who}.",
    "{who} asked you to fetch {a} {item}.", "you need {a} {item} for the {place}.",
    "your task is to get {a} {item}.", "get hold of {a} {item} before nightfall.",
    "the {place} is short of {item}; go and get some.", "look for {a} {item}.",
    "{who} will pay well for {a} {item}.", "pick up {a} {item} for {who}.",
    "we are out of {item}. Find some.", "deliver {a} {item} to the {place}.")
PLACE_GOAL_SENTENCES = (  # place games: the chore says where the thing is
    "fetch {a} {item} from the {where}.", "go to the {where} and get {a} {item}.",
    "there is {a} {item} in the {where}; bring it here.", "{who} left {a} {item} at the {where}.",
    "get the {item} from the {where}.", "the {item} is in the {where}. Fetch it.")
QUEST_TITLES = ("A {item} for the road", "Errand: {item}", "Supplies", "Odd job", "Favour owed")
EVERYONE = ("everyone", "all", "anyone", "the group")
ORDERS = ("wait here.", "stay where you are.", "hold your position.", "do not move.",
          "stay put for now.", "wait for me here.")


def _scenery(rng: random.Random, b: Builder, world: World, *, items: int, critters: int,
             people: int) -> None:
    """Things that change nothing: unwanted items far away, harmless animals, bystanders."""
    for _ in range(items):
        world.things.append(b.thing(b.kind(W.ITEM_KINDS), "item", near=False))
    for _ in range(critters):
        world.things.append(b.thing(b.kind(W.CRITTER_KINDS), "critter", lo=2, hi=25))
    for _ in range(people):
        world.things.append(b.thing(b.person(), "person", lo=2, hi=20))


def build_situation(rng: random.Random, game: Game, situation: str) -> tuple[World, ToolCall,
                                                                                  str]:
    """A world for ``situation`` with its distractors; the sensible call and the variant."""
    b = Builder(rng, game)
    r = game.rules
    n_wants = 2 if game.layout.want_style == "list" else 1
    wants = [b.item_kind() for _ in range(n_wants)]
    hurt = round(rng.uniform(0.05, r.hurt - 0.05), 2)
    healthy = round(rng.uniform(0.75, 1.0), 2)
    world = World(pos=b.pos3(b.origin), hp=healthy, wants=wants, bag={}, xy=list(b.origin),
                  at=b.here, no_goal=situation in ("flee", "answer", "hold")
                  and rng.random() < 0.25)
    if game.layout.bag_key and rng.random() < 0.7:
        for k in rng.sample(W.ITEM_KINDS, rng.randint(1, 3)):
            if k not in wants:
                world.bag[k] = rng.randint(1, 4)
    _scenery(rng, b, world, items=rng.choice((0, 1, 1, 2)), critters=rng.choice((0, 0, 1)),
             people=rng.choice((0, 0, 1)))
    roll = rng.random()  # health alone decides nothing: hurt with no threat near, carry on
    if roll < 0.4:
        world.hp = round(rng.uniform(0.45, 1.0), 2)
    elif roll < 0.55:
        world.hp = hurt

    def threat(close: bool) -> Thing:
        lo, hi = ((0.8 if r.unit == "m" else 1), r.close - 1) if close else \
            (r.close * 3, r.close * 8)
        t = b.thing(*b.danger_kind(), lo=lo, hi=hi, hostile=True)
        world.things.append(t)
        return t

    def item(kind: str, near: bool) -> Thing:
        t = b.thing(kind, "item", near=near)
        world.things.append(t)
        return t

    def speak(line: str, to: str | None, speaker: str | None = None,
              order: bool = False) -> Speech:
        who = speaker or b.person()
        if not any(t.kind == who for t in world.things) and rng.random() < 0.6:
            world.things.append(b.thing(who, "person", lo=1, hi=8))
        s = Speech(who, line, to, order)
        world.speech.append(s)
        return s

    def distractor(choices: Sequence[str]) -> str:
        """One harmless extra from ``choices`` (or none); its name for the meta."""
        pick = rng.choice(choices)
        if pick == "far_threat":
            threat(close=False)
        elif pick == "far_threat_hurt":  # hurt, but the threat is far: carry on
            world.hp = hurt
            threat(close=False)
        elif pick == "unwanted_near":
            item(b.item_kind(), near=True)
        elif pick == "wanted_far":  # with no goal: an item of no interest, far away
            item(rng.choice(wants), near=False)
        elif pick == "chatter":
            speak(rng.choice(CHATTER), None)
        elif pick == "to_other":
            other = b.person()
            q, _ = _question(rng, b, world)
            speak(q, other)
        return pick

    g = game
    if situation == "fetch":
        target = item(rng.choice(wants), near=False)
        variant = distractor(("unwanted_near", "unwanted_near", "far_threat", "chatter",
                              "none", "to_other", "far_threat_hurt"))
        call = _go_call(g, target)
    elif situation == "take":
        target = item(rng.choice(wants), near=True)
        variant = distractor(("wanted_far", "wanted_far", "unwanted_near", "far_threat",
                              "chatter", "none", "far_threat_hurt"))
        call = _role_call(g, "take", what=target.uid)
    elif situation == "flee":
        world.hp = hurt
        t = threat(close=True)
        variant = distractor(("wanted_far", "unwanted_near", "none", "chatter"))
        if variant == "none" and rng.random() < 0.5:
            item(rng.choice(wants), near=True)  # even a wanted thing in reach waits
            variant = "wanted_near"
        call = _run_call(g, t, world)
    elif situation == "answer":
        q, reply = _question(rng, b, world)
        to = rng.choice((game.me, game.me, None, rng.choice(EVERYONE)))
        s = speak(q, to)
        s.vocative = to == game.me and rng.random() < 0.3
        variant = "asked_me" if to == game.me else "asked_all"
        extra = distractor(("none", "none", "unwanted_near", "far_threat", "wanted_far"))
        variant += "" if extra == "none" else f"+{extra}"
        call = _talk_call(g, reply, s.speaker)
    else:
        variant = rng.choice(("empty", "unwanted_near", "far_threat", "far_threat_hurt",
                              "chatter", "to_other", "order", "order_key", "close_critter"))
        if variant == "order":  # an order outranks fetching
            leader = b.person()
            speak(f"{game.me}, {rng.choice(ORDERS)}" if rng.random() < 0.5
                  else rng.choice(ORDERS).capitalize(), game.me, leader, order=True)
        elif variant == "order_key":
            world.order = rng.choice(W.ORDER_VALUES)
        if variant.startswith("order") and not world.no_goal and rng.random() < 0.5:
            item(rng.choice(wants), near=False)
            variant += "+wanted_far"
        elif variant == "close_critter":
            world.things.append(b.thing(b.kind(W.CRITTER_KINDS), "critter", lo=1, hi=3))
        elif variant != "empty" and not variant.startswith("order"):
            distractor((variant,))
        if world.no_goal and rng.random() < 0.5:  # no goal: a far item is nothing to fetch
            item(b.item_kind(), near=False)
            variant += "+item_far"
        call = _wait_call(g)
    if world.no_goal:
        variant += "+no_goal"
    return world, call, variant


def _ground(r: Rules, xy: Sequence[float]) -> list[float]:
    """A ground position [a, b] in the game's dimensions: [a, 0, b] in 3D ([a, b, 0] z-up)."""
    if r.dims != 3:
        return list(xy)
    return [xy[0], xy[1], 0] if r.z_up else [xy[0], 0, xy[1]]


def _point(game: Game, xy_or_pos: list[float]) -> Any:
    """A ground position ([a, b]) as the game writes positions: [a, 0, b] in 3D lists (the
    demo's way), {easting: a, northing: b, height: 0} in maps with a height axis."""
    r = game.rules
    pos = xy_or_pos if len(xy_or_pos) == r.dims else _ground(r, xy_or_pos)
    if r.pos_style == "map" and r.coords[-1] == "height" and len(xy_or_pos) == 2:
        pos = [xy_or_pos[0], xy_or_pos[1], 0]
    if r.pos_style == "map":
        return dict(zip(r.coords, pos, strict=True))
    return pos


def _role_call(game: Game, role: str, **values: Any) -> ToolCall:
    slots = game.args[role]
    return ToolCall(game.specs[role].name, {slots[k]: v for k, v in values.items()})


def _go_call(game: Game, target: Thing) -> ToolCall:
    if game.shapes["go"] == "place":
        return _role_call(game, "go", dest=target.at)
    if game.shapes["go"] == "ref":
        return _role_call(game, "go", dest=target.uid)
    return _role_call(game, "go", dest=_point(game, target.pos))


COMPASS = ("north", "south", "east", "west")


def away(me: Sequence[float], threat: Sequence[float]) -> str:
    """The compass direction away from ``threat`` (positions as [easting, northing])."""
    de, dn = me[0] - threat[0], me[1] - threat[1]
    if abs(de) >= abs(dn):
        return "east" if de > 0 else "west"
    return "north" if dn > 0 else "south"


def _run_call(game: Game, threat: Thing, world: World) -> ToolCall:
    shape = game.shapes["run"]
    if shape == "none":
        return _role_call(game, "run")
    if shape == "direction":
        return _role_call(game, "run", **{"from": away(world.xy, threat.pos)})
    if shape == "from_pos":
        return _role_call(game, "run", **{"from": _point(game, threat.pos)})
    return _role_call(game, "run", **{"from": threat.uid})


def _talk_call(game: Game, reply: str, speaker: str) -> ToolCall:
    if game.shapes["talk"] == "text_to":
        return _role_call(game, "talk", text=reply, to=speaker)
    return _role_call(game, "talk", text=reply)


def _wait_call(game: Game) -> ToolCall:
    return _role_call(game, "wait", n=1) if game.shapes["wait"] == "ticks" else \
        _role_call(game, "wait")


# ---- the observation ----------------------------------------------------------------------------


def _dist(game: Game, d: float) -> Any:
    r = game.rules
    if r.dist_style == "string":
        if r.unit == "steps":
            return f"{d:g} step" if d == 1 else f"{d:g} steps"
        return f"{d:g}{r.unit}"
    return d


HP_WORDS = (  # hurt | scratched (not hurt enough to run) | well
    ("badly hurt", "bleeding badly", "barely standing", "near death", "wounded, limping",
     "in a bad way", "critical"),
    ("a few scratches", "bruised", "tired", "winded", "sore but fine"),
    ("unhurt", "fine", "in good shape", "fresh", "healthy", "fit"),
)


def _hp(game: Game, frac: float) -> Any:
    lay = game.layout
    style = lay.hp_style
    if style == "frac":
        return round(frac, 2)
    if style == "pct":
        return round(frac * 100)
    if style == "pct_str":
        return f"{round(frac * 100)}%"
    if style == "words":  # a game that describes its character's state in words
        band = HP_WORDS[0] if frac <= game.rules.hurt else \
            HP_WORDS[1] if frac < 0.75 else HP_WORDS[2]
        return band[zlib.crc32(f"{game.name}{frac}".encode()) % len(band)]
    now = max(1, round(frac * lay.hp_max))
    if style == "record":
        return {lay.hp_record_keys[0]: now, lay.hp_record_keys[1]: lay.hp_max}
    return f"{now}/{lay.hp_max}"


LABELS = ("fetch:{item}", "fetch: {item}", "get {item}", "bring={item}", "{item} x1",
          "collect/{item}", "TODO: {item}", "need {item}")


def _kind(game: Game, kind: str) -> str:
    return kind.replace("_", " ") if game.layout.kind_spaces else kind


def _wants(rng: random.Random, game: Game, wants: list[str], where: str | None = None) -> Any:
    """The goal in the game's style; ``where``: the wanted thing's place in a place game, which
    a goal sentence may name (the call still depends on whether that place is here)."""
    style = game.layout.want_style
    wants = [_kind(game, w) for w in wants]
    take = game.specs["take"].name
    if style == "verb_record":  # the goal names the take tool: fetch first when far
        return {game.layout.goal_verb_key: take, game.layout.kind_key: wants[0]}
    if style == "verb_phrase":
        return rng.choice(("{t} {w}", "{t}: {w}", "{t}({w})", "{t} the {w}")).format(
            t=take, w=wants[0].replace("_", " "))
    if style == "list":
        return list(wants)
    if style == "bare":
        return wants[0]
    if style == "label":  # a designer's short label
        return rng.choice(LABELS).format(item=wants[0])
    if style == "record":
        return {game.layout.kind_key: wants[0], "count": rng.randint(1, 5)}
    want = wants[0].replace("_", " ")
    if style == "phrase":
        verb = rng.choice(("collect", "find", "gather", "bring back", "get"))
        return f"{verb} {want}" if rng.random() < 0.5 else f"{verb} a {want}"
    said = where if where is None or rng.random() < 0.5 else where.replace("_", " ")
    text = rng.choice(PLACE_GOAL_SENTENCES if said and rng.random() < 0.5 else GOAL_SENTENCES)
    text = text.format(
        item=want, a="an" if want[0] in "aeiou" else "a", who=rng.choice(W.PERSON_NAMES),
        place=rng.choice(W.PLACE_NAMES), where=said)
    text = text[0].upper() + text[1:]
    if style == "sentence":
        return text
    lay = game.layout  # quest: a record with a title and the goal as a sentence
    return {lay.quest_title_key: rng.choice(QUEST_TITLES).format(item=want),
            lay.quest_text_key: text}


# how games write a line of speech as one string: (addressed, to anyone)
SPEECH_FORMATS = (
    ("{who} (to {to}): {line}", "{who}: {line}"),
    ("{who} to {to}: {line}", "{who}: {line}"),
    ("[{who} -> {to}] {line}", "[{who}] {line}"),
    ("{who} says to {to}: \"{line}\"", "{who} says: \"{line}\""),
    ("{clock} {who}> @{to} {line}", "{clock} {who}> {line}"),
    ("<{who}> {to}, {line}", "<{who}> {line}"),
)


def _speech(game: Game, s: Speech) -> Any:
    lay = game.layout
    to = "you" if lay.you_word and s.to == game.me else s.to
    line = s.line
    if s.vocative:  # the name opens the line; no "to" marker
        to, line = None, f"{game.me}, {line[0].lower()}{line[1:]}"
    if lay.speech_style in ("string", "latest"):
        addressed, anyone = SPEECH_FORMATS[lay.speech_fmt]
        stamp = zlib.crc32(f"{s.speaker}{s.line}".encode())  # stable across processes
        clock = f"{stamp % 24:02d}:{stamp // 24 % 60:02d}"
        return (addressed if to else anyone).format(who=s.speaker, to=to, line=line,
                                                    clock=clock)
    rec = {lay.speaker_key: s.speaker, lay.line_key: line}
    if to:
        rec[lay.address_key] = to
    return rec


def _entity(game: Game, t: Thing, *, with_id: bool = True) -> dict[str, Any]:
    lay = game.layout
    rec: dict[str, Any] = {}
    if with_id:
        rec[lay.id_key] = t.uid
    if (t.cls != "person" or lay.kind_key != lay.id_key) and not (
            lay.desc_only and t.cls != "person"):
        rec[lay.kind_key] = "person" if t.cls == "person" else _kind(game, t.kind)
    if lay.desc_key and t.cls != "person":
        words = [W.DESC_WORDS[zlib.crc32(f"{t.uid}{t.kind}".encode()) % len(W.DESC_WORDS)]] \
            if zlib.crc32(str(t.uid).encode()) % 2 else []
        words.append(t.kind.replace("_", " "))
        rec[lay.desc_key] = ("an " if words[0][0] in "aeiou" else "a ") + " ".join(words)
    if lay.ent_pos_key:
        rec[lay.ent_pos_key] = _point(game, t.pos)
    if lay.dist_key:
        rec[lay.dist_key] = _dist(game, t.dist)
    if t.at is not None:
        rec[lay.at_key] = t.at
    if t.cls == "hazard" and lay.hazard_key:  # in a list of its own
        if lay.hazard_flag_key:
            rec[lay.hazard_flag_key] = True
    elif t.hostile and not lay.danger_key:
        rec[lay.hostile_key] = True
    if t.hostile and lay.closing_key:
        rec[lay.closing_key] = t.dist < game.rules.close
    if lay.reach_style == "flag" and t.cls == "item" and t.near:
        rec[lay.reach_key] = True
    return rec


def render(rng: random.Random, game: Game, world: World) -> dict[str, Any]:
    """The observation the game would send for ``world``, in its own layout."""
    lay = game.layout
    me: dict[str, Any] = {lay.name_key: game.me, lay.hp_key: _hp(game, world.hp)}
    if lay.pos_key:
        me[lay.pos_key] = _point(game, world.xy)
    if world.at is not None:
        me[lay.here_key] = world.at
    if lay.reach_style == "self":
        me[lay.reach_key] = _dist(game, game.rules.reach)
    top: dict[str, Any] = {}
    if not world.no_goal:
        wanted = next((t for t in world.things if t.cls == "item" and t.kind in world.wants
                       and t.at), None)  # the first is the one a fetch or take goes for
        top[lay.want_key] = _wants(rng, game, world.wants, wanted.at if wanted else None)
    elif rng.random() < 0.75:  # a game shows "none" for no goal, or leaves the key out
        top[lay.want_key] = [] if lay.want_style == "list" else rng.choice(W.NO_GOAL_VALUES)
    if lay.bag_key:
        bag = world.bag
        top[lay.bag_key] = (dict(bag) if lay.bag_style == "map"
                            else [k for k, n in bag.items() for _ in range(min(n, 2))])
    things = sorted(world.things, key=lambda t: t.dist) if rng.random() < 0.7 else \
        rng.sample(world.things, len(world.things))
    if lay.hazard_key:
        top[lay.hazard_key] = [_entity(game, t) for t in things if t.cls == "hazard"]
        things = [t for t in things if t.cls != "hazard"]
    if lay.danger_key:
        top[lay.danger_key] = [_entity(game, t) for t in things if t.hostile]
        things = [t for t in things if not t.hostile]
    if lay.grouping == "one_list":
        top[lay.things_key] = [_entity(game, t) for t in things]
    elif lay.grouping == "id_map":
        top[lay.things_key] = {t.uid: _entity(game, t, with_id=False) for t in things}
    else:
        top[lay.items_key] = [_entity(game, t) for t in things if t.cls == "item"]
        top[lay.beings_key] = [_entity(game, t) for t in things if t.cls in ("beast", "critter",
                                                                             "hazard")]
        top[lay.people_key] = [_entity(game, t) for t in things if t.cls == "person"]
    if lay.reach_style == "list":
        top[lay.reach_key] = [t.uid for t in things if t.cls == "item" and t.near]
    if lay.speech_style == "latest":
        top[lay.speech_key] = _speech(game, world.speech[-1]) if world.speech else None
    else:
        top[lay.speech_key] = [_speech(game, s) for s in world.speech]
    if world.order:
        top[lay.order_key] = world.order
    for key in lay.noise:
        values = W.NOISE_VALUES.get(key)
        top[key] = rng.choice(values) if values else rng.randint(1, 500)
    if lay.self_key:
        obs = {lay.self_key: me, **top}
    else:
        obs = {**me, **top}
    if not lay.key_order:
        keys = list(obs)
        rng.shuffle(keys)
        lay.key_order = tuple(keys)
    order = {k: i for i, k in enumerate(lay.key_order)}
    return {k: obs[k] for k in sorted(obs, key=lambda k: order.get(k, len(order)))}


# ---- the mask -----------------------------------------------------------------------------------


def game_mask(rng: random.Random, game: Game, world: World) -> dict[str, Any]:
    """The action mask the game would send: what its rules make possible now."""
    lay, r = game.layout, game.rules
    mask: dict[str, Any] = {}
    seen = [t for t in world.things if t.cls in ("item", "person", "critter", "beast")]
    places = list(r.places)  # place games: every place is a possible destination
    items_near = [t for t in world.things if t.cls == "item" and t.near]
    hostile = [t for t in world.things if t.hostile]
    args = r.mask_style == "args"
    go, take, run, talk = (game.specs[x] for x in ("go", "take", "run", "talk"))
    if not seen and not places:
        mask[go.name] = False
    elif args:
        dest = game.args["go"]["dest"]
        if places:
            mask[go.name] = {dest: places}
        elif game.shapes["go"] == "ref":
            mask[go.name] = {dest: [t.uid for t in seen]}
        else:
            mask[go.name] = {dest: [_point(game, t.pos) for t in seen]}
    if not items_near:
        mask[take.name] = False
    elif args:
        mask[take.name] = {game.args["take"]["what"]: [t.uid for t in items_near]}
    if not hostile:
        mask[run.name] = False
    elif args and game.shapes["run"] == "ref":
        mask[run.name] = {game.args["run"]["from"]: [t.uid for t in hostile]}
    if not world.speech and not any(t.cls == "person" for t in world.things):
        mask[talk.name] = False
    for extra in game.extras:
        if rng.random() < 0.7:
            mask[extra.name] = False
    del lay
    return mask


# ---- rows ---------------------------------------------------------------------------------------


def _memory(rng: random.Random, game: Game) -> list[str]:
    """Earlier turns, as the server writes them (agents.MemoryEntry): they carry no cue."""
    lines = []
    tick = rng.randint(3, 400)
    for i in range(rng.choice((1, 2, 3))):
        role = rng.choice(("wait", "go"))
        if role == "wait":
            call = _wait_call(game)
        else:
            b = Builder(rng, game)
            xy, _ = b.place(2, 20)
            if game.shapes["go"] == "place":
                call = _role_call(game, "go", dest=rng.choice(game.rules.places))
            elif game.shapes["go"] == "ref":
                call = _role_call(game, "go", dest=b.uid(rng.choice(W.ITEM_KINDS)))
            else:
                call = _role_call(game, "go", dest=_point(game, xy))
        ok = rng.random() < 0.85
        lines.append(MemoryEntry(tick - 3 + i, call.as_wire(), ok,
                                 None if ok else "blocked").line)
    return lines


@dataclass
class Example:
    game: Game
    situation: str
    variant: str
    observation: dict[str, Any]
    call: ToolCall
    mask: dict[str, Any] | None
    listed: list[ToolSpec]  # the tools in prompt order
    possible: list[ToolSpec] | None
    memory: list[str]
    world: World

    def row(self, full: bool = False) -> dict[str, Any]:
        """TRL's conversational row; ``full`` adds what a game would send (the tools, the
        observation, the mask, as JSON text) and the call, to replay it through a server."""
        spec = next(s for s in self.listed if s.name == self.call.tool)
        messages = decision_messages(self.listed, self.observation, self.possible, self.memory)
        messages.append({"role": "assistant", "content": answer_text(self.call, spec)})
        meta: dict[str, Any] = {
            "game": self.game.name, "situation": self.situation, "variant": self.variant,
            "masked": self.mask is not None, "tool": self.call.tool,
            "role": ROLE_OF[self.situation], "memory": bool(self.memory)}
        if full:  # JSON text: games differ in shape, one Arrow column each
            meta["tools_json"] = json.dumps([s.to_flat() for s in self.listed])
            meta["observation_json"] = json.dumps(self.observation)
            meta["mask_json"] = json.dumps(self.mask)
            meta["call_json"] = json.dumps(self.call.as_wire())
            meta["memory_lines"] = list(self.memory)
        return {"messages": messages, "meta": meta}


def examples(n: int, seed: int = 0, *, per_game: int = 5, masked_share: float = 0.5,
             memory_share: float = 0.2) -> Iterator[Example]:
    """``n`` labelled examples, the same for the same arguments. Situations rotate in a
    shuffled cycle (balanced to within one of each), each game serves ``per_game`` examples,
    every example lists the game's tools in a fresh order."""
    rng = random.Random(seed)
    game: Game | None = None
    cycle: list[str] = []
    for i in range(n):
        if game is None or i % per_game == 0:
            game = new_game(rng, f"s{seed}-g{i // per_game}-{rng.choice(W.THEMES)}")
        if not cycle:
            cycle = list(SITUATIONS)
            rng.shuffle(cycle)
        situation = cycle.pop()
        world, call, variant = build_situation(rng, game, situation)
        obs = render(rng, game, world)
        listed = game.tools
        rng.shuffle(listed)
        mask = game_mask(rng, game, world) if rng.random() < masked_share else None
        possible = apply_mask(listed, mask) if mask is not None else None
        memory = _memory(rng, game) if rng.random() < memory_share else []
        yield Example(game, situation, variant, obs, call, mask, listed, possible, memory, world)


def check(example: Example) -> list[str]:
    """Problems with an example's label: it must validate against the game's tools and fit
    the mask (an empty list: fine)."""
    tools = example.possible if example.possible is not None else example.listed
    return ToolRegistry(tools).validate(example.call)


def write_jsonl(path: str | Path, rows: Iterator[dict[str, Any]]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


VAL_SEED_OFFSET = 1_000_003  # validation games never share a seed with training games


def generate(out: str | Path, n: int, seed: int = 0, *, val_out: str | Path | None = None,
             val_n: int | None = None, per_game: int = 5, masked_share: float = 0.5,
             memory_share: float = 0.2) -> dict[str, Any]:
    """Write ``n`` training rows to ``out`` and ``val_n`` (default n/20, at least 100)
    validation rows from other games to ``val_out`` (default: ``out`` with .val.jsonl); the
    validation rows carry the game's tools, observation, mask and call (Example.row(full))."""
    out = Path(out)
    val_out = Path(val_out) if val_out else out.with_suffix(".val.jsonl")
    val_n = max(100, n // 20) if val_n is None else val_n
    kw = {"per_game": per_game, "masked_share": masked_share, "memory_share": memory_share}
    written = write_jsonl(out, (e.row() for e in examples(n, seed, **kw)))
    val = write_jsonl(val_out, (e.row(full=True)
                                for e in examples(val_n, seed + VAL_SEED_OFFSET, **kw)))
    return {"train": str(out), "rows": written, "val": str(val_out), "val_rows": val}


DEV_SEED_OFFSET = 7_000_001  # dev-set games: neither training's nor validation's seeds


def scenario_sets(n: int, seed: int = 0, *, per_game: int = 10) -> list[dict[str, Any]]:
    """``n`` generated decisions as eval scenario files (docs/eval.md), one per game: a dev
    set of unseen generated games that `agent-arena eval` runs like any game, so a trained
    model's in-distribution skill is measured with the same decoding as the independent sets.
    Every scenario carries its game's mask (``eval.masks=false`` drops it); expectations are
    the labelled tool only."""
    sets: dict[str, dict[str, Any]] = {}
    for i, e in enumerate(examples(n, seed + DEV_SEED_OFFSET, per_game=per_game,
                                   masked_share=1.0, memory_share=0.0)):
        g = sets.get(e.game.name)
        if g is None:
            wait = e.game.specs["wait"]
            call = ToolCall(wait.name, {})
            if ToolRegistry(e.game.tools).validate(call):
                call = _wait_call(e.game)
            g = sets[e.game.name] = {
                "name": e.game.name,
                "tools": {t.name: {"description": t.description,
                                   "parameters": dict(t.parameters)} for t in e.game.tools},
                "fallback": call.as_wire(), "scenarios": []}
        g["scenarios"].append({"id": f"{i:05d}-{e.situation}", "tags": [e.situation, e.variant],
                               "observation": e.observation, "expect": {"tool": e.call.tool},
                               "observe": {"mask": e.mask}})
    return list(sets.values())


def write_scenarios(out: str | Path, n: int, seed: int = 0, *, per_game: int = 10) -> int:
    """Write ``scenario_sets`` as YAML files under ``out``; the number of files."""
    import yaml

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    sets = scenario_sets(n, seed, per_game=per_game)
    for s in sets:
        (out / f"{s['name']}.yaml").write_text(yaml.safe_dump(s, sort_keys=False))
    return len(sets)


def vocabulary() -> set[str]:
    """Every tool name, argument name and observation key the generator can produce (the
    vocabulary test compares it with the evaluation sets)."""
    words: set[str] = set()
    for role in ROLES:
        words.update(tool_names(role))
    for name, _ in W.EXTRA_TOOLS:
        words.update(styled([name], s) for s in STYLES)
    for group in (W.DEST_POS_ARGS, W.DEST_REF_ARGS, W.TAKE_ARGS, W.RUN_ARGS, W.RUN_POS_ARGS, W.RUN_DIR_ARGS,
                  W.TALK_ARGS,
                  W.TALK_TO_ARGS, W.WAIT_ARGS, W.PACE_ARGS, W.SELF_KEYS, W.NAME_KEYS, W.HP_KEYS,
                  W.SELF_POS_KEYS, W.WANT_KEYS, W.BAG_KEYS, W.THINGS_KEYS, W.ITEMS_KEYS,
                  W.BEINGS_KEYS, W.PEOPLE_KEYS, W.DANGER_KEYS, W.REACH_LIST_KEYS,
                  W.REACH_FLAG_KEYS, W.ENT_ID_KEYS, W.ENT_KIND_KEYS, W.ENT_POS_KEYS,
                  W.ENT_DIST_KEYS, W.HOSTILE_KEYS, W.SPEECH_KEYS, W.SPEAKER_KEYS, W.LINE_KEYS,
                  W.ADDRESS_KEYS, W.ORDER_KEYS, W.NOISE_KEYS, W.QUEST_KEYS,
                  W.QUEST_TITLE_KEYS, W.QUEST_TEXT_KEYS, W.DEST_PLACE_ARGS, W.HAZARD_KEYS,
                  W.CLOSING_KEYS, W.HAZARD_FLAG_KEYS, W.SELF_PLACE_KEYS, W.ENT_PLACE_KEYS,
                  W.SELF_REACH_KEYS, W.GOAL_VERB_KEYS, W.DESC_KEYS):
        words.update(group)
    for coords in W.COORD_KEYS:
        words.update(coords)
    words.update(("now", "max", "cur", "cap", "left", "full", "value", "top", "count"))
    words.update(W.ITEM_KINDS)  # an inventory may be a map keyed by kind
    return words


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="agent-arena gen", description=(
        "Write generated games as JSONL chat rows (TRL's conversational format) for training."))
    ap.add_argument("--n", type=int, default=20000, help="training rows (default 20000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="outputs/gamegen/train.jsonl")
    ap.add_argument("--val-out", default=None, help="default: OUT with .val.jsonl")
    ap.add_argument("--val-n", type=int, default=None, help="default: n/20, at least 100")
    ap.add_argument("--per-game", type=int, default=5, help="examples per invented game")
    ap.add_argument("--masked", type=float, default=0.5, help="share of rows with a mask")
    ap.add_argument("--memory", type=float, default=0.2, help="share of rows with memory lines")
    ap.add_argument("--scenarios", default=None, metavar="DIR",
                    help="instead: write N decisions of unseen generated games as eval scenario "
                         "files under DIR (a dev set for `agent-arena eval`)")
    a = ap.parse_args(argv)
    if a.scenarios:
        files = write_scenarios(a.scenarios, a.n, a.seed, per_game=a.per_game)
        print(json.dumps({"scenarios": a.scenarios, "files": files, "decisions": a.n}))
        return 0
    if a.n < 1 or a.per_game < 1 or not 0 <= a.masked <= 1 or not 0 <= a.memory <= 1:
        ap.error("--n and --per-game must be at least 1; --masked and --memory in 0..1")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    info = generate(a.out, a.n, a.seed, val_out=a.val_out, val_n=a.val_n, per_game=a.per_game,
                    masked_share=a.masked, memory_share=a.memory)
    print(json.dumps(info), file=sys.stdout)
    return 0


cli = main  # agent-arena gen (cli.py)


if __name__ == "__main__":
    raise SystemExit(main())
