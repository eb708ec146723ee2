"""How the tool is chosen: forced calls, likelihood choice, candidates + vote, grounded arguments.

The vote and forced-call logic is unit-tested with a scripted backend (server logic only); the
likelihood choice, scoring and prefilled generation on the embedded model are in
tests/integration/test_choice_llama.py.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from agent_arena.backends.scripted import ScriptedBackend
from agent_arena.backends.types import Capabilities, ChatRequest, Sampling, Scores
from agent_arena.calling import CallingConfig, decide_once, enumerate_calls, forced_arguments
from agent_arena.errors import ConfigError
from agent_arena.tools import apply_mask
from support.choice_inputs import MSGS, REG, _call

# ---- forced calls -----------------------------------------------------------------------------


def test_forced_arguments():
    specs = {s.name: s for s in REG.select(None)}
    assert forced_arguments(specs["idle"]) == {}
    assert forced_arguments(specs["pick_up"]) is None
    one = {s.name: s for s in apply_mask(REG.select(None), {"pick_up": {"item_id": ["a-1"]}})}
    assert forced_arguments(one["pick_up"]) == {"item_id": "a-1"}
    two = {s.name: s for s in apply_mask(REG.select(None), {"pick_up": {"item_id": ["a", "b"]}})}
    assert forced_arguments(two["pick_up"]) is None


def test_the_calls_a_mask_leaves_are_enumerated_when_few():
    specs = {s.name: s for s in REG.select(None)}
    assert enumerate_calls(specs["idle"]) == [{}]
    assert enumerate_calls(specs["pick_up"]) is None  # any string: not enumerable
    two = {s.name: s for s in apply_mask(REG.select(None), {"pick_up": {"item_id": ["a", "b"]}})}
    assert enumerate_calls(two["pick_up"]) == [{"item_id": "a"}, {"item_id": "b"}]
    assert enumerate_calls(two["pick_up"], limit=1) is None  # too many to score one by one


async def test_one_possible_call_is_answered_without_the_model():
    backend = ScriptedBackend(answer=_call("say", text="never asked"))
    possible = apply_mask(REG.select(None), {"move_to": False, "pick_up": False, "say": False,
                                             "flee": False})
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(), Sampling(),
                            possible=possible)
    assert out.status == "ok" and out.call.tool == "idle" and out.call.arguments == {}
    assert out.strategy == "forced" and out.attempts == 0 and not backend.requests


# ---- candidates and the vote --------------------------------------------------------------------


async def test_candidates_vote_on_the_tool_then_the_arguments():
    answers = [_call("move_to", target=[1, 0, 1]), _call("pick_up", item_id="apple-3"),
               _call("pick_up", item_id="apple-3"), "not json", _call("pick_up", item_id="x")]
    backend = ScriptedBackend(responses=answers)
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(candidates=5),
                            Sampling(seed=10))
    assert out.status == "ok" and out.call.as_wire() == {"tool": "pick_up",
                                                         "arguments": {"item_id": "apple-3"}}
    assert out.votes == {"move_to": 1, "pick_up": 3} and out.candidates == 5
    seeds = sorted(r.sampling.seed for r in backend.requests)
    assert seeds == [11, 12, 13, 14, 15]  # distinct samples of one request
    assert out.completion_tokens == sum(len(a) // 4 for a in answers)  # every sample's cost


async def test_no_valid_candidate_re_asks_with_the_problem():
    backend = ScriptedBackend(responses=["nope"] * 3 + [_call("idle")])
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(candidates=3), Sampling())
    assert out.status == "ok" and out.call.tool == "idle" and out.attempts == 2
    assert len(backend.requests) == 4 and "invalid" in backend.requests[-1].messages[-1]["content"]


def test_mistyped_choice_settings_are_refused():
    with pytest.raises(ConfigError, match="calling.choice"):
        CallingConfig(choice="likelyhood")
    with pytest.raises(ConfigError, match="calling.candidates"):
        CallingConfig(candidates=0)


async def test_likelihood_on_a_backend_without_scores_generates_as_before():
    backend = ScriptedBackend(answer=_call("pick_up", item_id="apple-3"))
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(choice="likelihood"),
                            Sampling())
    assert out.status == "ok" and out.strategy == "constrained" and len(backend.requests) == 1


async def test_auto_choice_generates_without_a_mask_or_scores():
    backend = ScriptedBackend(answer=_call("pick_up", item_id="apple-3"))
    possible = apply_mask(REG.select(None), {"flee": False})
    for kw in ({}, {"possible": possible}):  # a scripted backend has no scores
        out = await decide_once(backend, MSGS, REG, None, CallingConfig(), Sampling(), **kw)
        assert out.status == "ok" and out.strategy == "constrained", out


class ScoringBackend(ScriptedBackend):
    """Scores each option by a table of substrings (first match wins); logs what it scored."""

    def __init__(self, table: dict[str, float], **kw) -> None:
        super().__init__(**kw)
        self.table = table
        self.scored: list[list[str]] = []
        self.asked: list[ChatRequest] = []  # the request of each score call

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True, scores=True)

    async def score(self, request, options) -> Scores:
        self.scored.append(list(options))
        self.asked.append(request)
        return Scores([next((v for k, v in self.table.items() if k in o), -9.0)
                       for o in options], 1)


async def test_likelihood_scores_whole_calls_when_the_mask_leaves_few():
    """pick_up(b) beats pick_up(a) and idle on the model's score of the whole call: the
    arguments come from the winning option, nothing is generated."""
    backend = ScoringBackend({'"b"': -1.0, '"a"': -3.0, "idle": -2.0},
                             answer=json.dumps({"item_id": "a"}))
    possible = apply_mask(REG.select(None), {"flee": False, "say": False, "move_to": False,
                                             "pick_up": {"item_id": ["a", "b"]}})
    for choice in ("likelihood", "auto"):  # the server passes the observation too
        backend.scored.clear()
        out = await decide_once(backend, MSGS, REG, None,
                                CallingConfig(choice=choice, calibrate=False), Sampling(),
                                possible=possible, observation={"in_reach": ["a", "b"]})
        assert out.status == "ok" and out.strategy == "likelihood", out
        assert out.call.as_wire() == {"tool": "pick_up", "arguments": {"item_id": "b"}}
    assert not backend.requests and out.completion_tokens == 0
    assert backend.scored == [['pick_up", "arguments": {"item_id": "a"}}',
                               'pick_up", "arguments": {"item_id": "b"}}',
                               'idle", "arguments": {}}']]


async def test_likelihood_chooses_the_tool_by_all_its_calls_then_the_best_call():
    """Two pick-ups at -1.1 and -1.3 together are likelier than one walk at -1.0: the tool is
    pick_up (log-sum-exp -0.50), and of its calls the likelier one."""
    backend = ScoringBackend({'"a"': -1.3, '"b"': -1.1, "move_to": -1.0, "idle": -5.0})
    possible = apply_mask(REG.select(None), {"flee": False, "say": False,
                                             "move_to": {"target": [[1, 0, 1]]},
                                             "pick_up": {"item_id": ["a", "b"]}})
    out = await decide_once(backend, MSGS, REG, None,
                            CallingConfig(choice="likelihood", calibrate=False), Sampling(),
                            possible=possible)
    assert out.call.as_wire() == {"tool": "pick_up", "arguments": {"item_id": "b"}}, out


async def test_likelihood_generates_the_arguments_a_mask_leaves_open():
    backend = ScoringBackend({"pick_up": -1.0}, answer=json.dumps({"item_id": "apple-3"}))
    possible = apply_mask(REG.select(None), {"flee": False, "say": False, "move_to": False})
    out = await decide_once(backend, MSGS, REG, None,
                            CallingConfig(choice="likelihood", calibrate=False), Sampling(),
                            possible=possible)
    assert out.call.as_wire() == {"tool": "pick_up", "arguments": {"item_id": "apple-3"}}, out
    assert backend.scored == [['pick_up", "arguments": ', 'idle", "arguments": {}}']]
    assert backend.requests[0].prefill == '{"tool": "pick_up", "arguments": '


async def test_without_a_mask_the_tool_is_chosen_by_its_description():
    """No mask: each tool's description (its first sentence) is scored as the answer to "what
    should the character do now?" after the observation, then the arguments are generated
    right after the chosen one (the same short prompt, prefilled with the call's start)."""
    backend = ScoringBackend({"Pick up": -1.0, "Walk": -2.0},
                             answer=json.dumps({"item_id": "apple-3"}))
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(calibrate=False), Sampling())
    assert out.status == "ok" and out.strategy == "description", out
    assert out.call.as_wire() == {"tool": "pick_up", "arguments": {"item_id": "apple-3"}}
    assert backend.scored == [[" Walk to a position.", " Pick up an item that is in reach.",
                               " Say something to characters nearby.", " Run away from a threat.",
                               " Wait."]]
    (args,) = backend.requests  # one generation: the arguments, continuing what was scored
    assert args.prefill == ('The character should: Pick up an item that is in reach.\n'
                            '{"tool": "pick_up", "arguments": ')
    assert args.messages[-1]["content"].startswith(MSGS[-1]["content"])


async def test_asking_for_candidates_votes_instead_of_scoring():
    """calling.candidates=N asks for N samples and a vote: auto honours it, mask or none."""
    backend = ScoringBackend({"Wait": -0.5, "idle": -0.5},
                             answer=_call("pick_up", item_id="apple-3"))
    possible = apply_mask(REG.select(None), {"flee": False})
    for kw in ({}, {"possible": possible}):
        out = await decide_once(backend, MSGS, REG, None, CallingConfig(candidates=3),
                                Sampling(), **kw)
        assert out.status == "ok" and out.votes == {"pick_up": 3}, out
    assert not backend.scored


async def test_a_described_tool_without_arguments_needs_no_generation():
    backend = ScoringBackend({"Wait": -0.5})
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(calibrate=False), Sampling())
    assert out.call.as_wire() == {"tool": "idle", "arguments": {}} and not backend.requests


async def test_the_description_prior_is_a_turn_about_nothing():
    """Calibrated: the same descriptions are scored once more after an empty observation (and
    cached); a long description is not penalised for its length alone."""
    class Prompted(ScoringBackend):
        async def score(self, request, options):
            self.scored.append(list(options))
            empty = "(nothing)" in str(request.messages[-1]["content"])
            # the model likes "Run away" everywhere; after this observation "Pick up" more
            return Scores([-1.0 if "Run" in o else (-3.0 if empty else -1.5) if "Pick" in o
                           else -4.0 for o in options], 1)

    backend = Prompted({}, answer=json.dumps({"item_id": "apple-3"}))
    for _ in range(2):
        out = await decide_once(backend, MSGS, REG, None, CallingConfig(), Sampling())
        assert out.call.tool == "pick_up", out
    assert len(backend.scored) == 3  # observation, prior, observation (prior cached)


class OneCacheBackend(ScriptedBackend):
    """Scores like a one-prompt-cache backend and logs each step; its turn is a lock."""

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.log: list[str] = []
        self.lock = asyncio.Lock()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(json_schema=True, scores=True)

    def turn(self) -> asyncio.Lock:
        return self.lock

    async def score(self, request, options) -> Scores:
        self.log.append("score " + str(request.messages[-1]["content"]))
        await asyncio.sleep(0)  # another decision could step in here
        return Scores([0.0 if o.startswith("pick_up") else -1.0 for o in options], 1)

    async def chat(self, request):
        self.log.append("chat " + str(request.messages[-1]["content"]))
        await asyncio.sleep(0)
        return await super().chat(request)


async def test_a_likelihood_decision_keeps_the_backend_for_all_its_steps():
    """Score, prior and arguments of one decision run back to back: on one prompt cache, other
    agents' steps in between re-evaluate each other's prompts."""
    backend = OneCacheBackend(answer=json.dumps({"item_id": "apple-3"}))
    possible = apply_mask(REG.select(None), {"flee": False, "say": False, "move_to": False})
    cfg = CallingConfig(choice="likelihood", calibrate=True)

    async def one(name: str):
        msgs = [MSGS[0], {"role": "user", "content": name}]
        return await decide_once(backend, msgs, REG, None, cfg, Sampling(), possible=possible)

    outs = await asyncio.gather(one("A"), one("B"))
    assert all(o.status == "ok" and o.call.tool == "pick_up" for o in outs), outs
    prior = "score Now:\n(nothing)"  # computed once, then cached for the same head
    assert backend.log in (["score A", prior, "chat A", "score B", "chat B"],
                           ["score B", prior, "chat B", "score A", "chat A"]), backend.log


# ---- grounded arguments (no mask) ---------------------------------------------------------------


def test_ids_and_positions_are_grounded_in_what_the_observation_shows():
    from agent_arena.grounding import ground, observed

    obs = {"hp": "88/100", "nearby": [{"name": "mushroom_4", "at": {"x": 3, "y": 0, "z": 3}}],
           "around": "eggs E1 at [14, 3], 14 m away", "quest": "gather 3 mushrooms"}
    assert observed(obs).ids == ["mushroom_4", "E1"]
    assert observed(obs).points == [[3, 0, 3], [14.0, 3.0]]
    specs = {s.name: s for s in REG.select(None)}
    assert ground(specs["pick_up"], obs).parameters["properties"]["item_id"]["enum"] == [
        "mushroom_4", "E1"]
    assert ground(specs["move_to"], obs).parameters["properties"]["target"]["enum"] == [[3, 0, 3]]
    assert ground(specs["say"], obs) is specs["say"]  # free text stays open
    assert ground(specs["idle"], {}) is specs["idle"]


def test_where_the_character_stands_and_what_it_carries_are_not_in_view():
    """Its own position is no place to walk to and what it carries no thing to pick up: a
    tool left with nothing in view to act on is not possible now (None)."""
    from agent_arena.grounding import ground, observed
    from agent_arena.tools import ToolSpec

    specs = {s.name: s for s in REG.select(None)}
    for obs in ({"position": [3, 0, 3], "inventory": ["wood-2"], "visible": []},
                {"self": {"pos": {"x": 1, "y": 0, "z": 2}, "carrying": ["cell_1"]}},
                {"me": {"spot": [0, 0]}, "goal": "rest"}, {"deck_position": [0, 0, 0]}):
        seen = observed(obs)
        assert not seen.ids and not seen.points, seen
        assert ground(specs["move_to"], obs) is None and ground(specs["pick_up"], obs) is None
        assert ground(specs["say"], obs) is specs["say"] and ground(specs["idle"], obs)
    obs = {"position": [3, 0, 3], "home": [0, 0, 0], "inventory": ["wood-2"],
           "visible": [{"id": "apple-1", "position": [9, 0, 5]}]}
    assert observed(obs).here == [[3, 0, 3]] and observed(obs).held == ["wood-2"]
    assert ground(specs["move_to"], obs).parameters["properties"]["target"]["enum"] == [
        [0, 0, 0], [9, 0, 5]]  # a place named otherwise (home) is one to go to
    assert ground(specs["pick_up"], obs).parameters["properties"]["item_id"]["enum"] == [
        "apple-1"]
    drop = ToolSpec(name="drop", description="Drop an item you carry.",
                    parameters={"type": "object", "properties": {"item_id": {"type": "string"}},
                                "required": ["item_id"]})
    assert ground(drop, obs).parameters["properties"]["item_id"]["enum"] == ["apple-1", "wood-2"]


async def test_without_a_mask_a_tool_with_nothing_in_view_is_not_chosen():
    """The model likes walking best, but nothing is in view to walk to: the next tool wins."""
    backend = ScoringBackend({"Walk": -0.5, "Pick up": -1.0, "Wait": -2.0})
    obs = {"goal": "collect apple", "position": [3, 0, 3], "inventory": ["wood-2"],
           "visible": []}
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(calibrate=False), Sampling(),
                            observation=obs)
    assert out.call is not None and out.call.as_wire() == {"tool": "idle", "arguments": {}}, out


async def test_without_a_mask_the_arguments_are_chosen_among_the_ids_seen():
    """The long run-on id a small model copies from the rendered observation cannot be
    written: the chosen tool's grounded calls are scored whole, none generated."""
    backend = ScoringBackend({"Pick up": -1.0, '"apple-3"}': -0.5, '"wood-1"}': -2.0})
    obs = {"goal": "collect apple", "in_reach": ["apple-3"], "visible": [{"id": "wood-1"}]}
    out = await decide_once(backend, MSGS, REG, None, CallingConfig(calibrate=False), Sampling(),
                            observation=obs)
    assert out.call.as_wire() == {"tool": "pick_up", "arguments": {"item_id": "apple-3"}}, out
    assert not backend.requests and backend.scored[-1] == ['{"item_id": "apple-3"}}',
                                                           '{"item_id": "wood-1"}}']
    # the arguments continue the very prompt the tool was chosen in (its observation text)
    chose, argued = backend.asked
    assert argued.messages == chose.messages, argued
    assert chose.messages[-1]["content"].startswith(MSGS[-1]["content"]), chose
