"""How the tool is chosen, on the embedded model (real llama.cpp): scores, prefilled generation
under a schema, likelihood and description choice, the calibration prior.

The same choices with a scripted backend are in tests/unit/test_choice.py.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from agent_arena.backends.types import ChatRequest, Sampling
from agent_arena.calling import CallingConfig, decide_once
from agent_arena.tools import apply_mask
from support.choice_inputs import MSGS, REG, _call


@pytest.mark.llama
async def test_scores_rank_continuations_as_the_model_does(llama_backend):
    req = ChatRequest(messages=[{"role": "user", "content": "What is the capital of France?"}],
                      prefill="The capital of France is ")
    scores = await llama_backend.score(req, ["Paris", "Berlin"])
    assert scores.values[0] > scores.values[1] and all(v < 0 for v in scores.values)
    assert scores.prompt_tokens > 0
    again = await llama_backend.score(req, ["Paris", "Berlin"])  # the prompt cache is reused
    assert again.values == pytest.approx(scores.values, abs=1e-3)


@pytest.mark.llama
async def test_options_sharing_a_prefix_score_as_each_alone(llama_backend):
    """Options are decoded after the prefix they share with the one before (a trie walk): the
    scores must be those of each option scored on its own."""
    req = ChatRequest(messages=MSGS, prefill='{"tool": "')
    options = ['move_to", "arguments": {"target": [1, 0, 2]}}', 'idle", "arguments": {}}',
               'move_to", "arguments": {"target": [1, 0, 1]}}', 'move_to", "arguments": ',
               'move_to", "arguments": {"target": [12, 0, 1]}}']
    together = (await llama_backend.score(req, options)).values
    alone = [(await llama_backend.score(req, [o])).values[0] for o in options]
    assert together == pytest.approx(alone, abs=1e-2)
    assert len(set(round(v, 3) for v in together)) == len(options)


@pytest.mark.llama
async def test_a_prefilled_answer_continues_under_the_schema(llama_backend):
    schema = {"type": "object", "properties": {"item_id": {"enum": ["apple-3", "wood-1"]}},
              "required": ["item_id"], "additionalProperties": False}
    req = ChatRequest(messages=MSGS, prefill='{"tool": "pick_up", "arguments": ',
                      response_schema=schema, sampling=Sampling(temperature=0.0, max_tokens=32))
    response = await llama_backend.chat(req)
    assert json.loads(response.text)["item_id"] in ("apple-3", "wood-1")


@pytest.mark.llama
async def test_auto_choice_is_likelihood_with_a_mask_and_description_without(llama_backend):
    """The default (calling.choice=auto): measured best each way (docs/benchmarks.md)."""
    possible = apply_mask(REG.select(None), {"flee": False, "say": False})
    masked = await decide_once(llama_backend, MSGS, REG, None, CallingConfig(),
                               llama_backend.default_sampling, possible=possible)
    assert masked.status == "ok" and masked.strategy == "likelihood", masked
    plain = await decide_once(llama_backend, MSGS, REG, None, CallingConfig(),
                              llama_backend.default_sampling)
    assert plain.status == "ok" and plain.strategy == "description", plain
    assert plain.call.tool in REG.names() and REG.get(plain.call.tool).is_valid(
        plain.call.arguments)


@pytest.mark.llama
async def test_the_model_is_not_offered_what_is_not_in_view(llama_backend):
    """On the embedded model, no mask: a character that sees nothing but where it stands and
    what it carries neither walks nor picks up nor flees (the model liked walking here)."""
    obs = {"goal": "collect wood", "position": [11, 0, 0], "health": 100,
           "inventory": ["wood-2"], "in_reach": [], "visible": []}
    msgs = [MSGS[0], {"role": "user", "content": "Now:\ngoal: collect wood\nposition: "
                      "[11, 0, 0]\nhealth: 100\ninventory: [wood-2]\nin_reach: []\nvisible: []"}]
    out = await decide_once(llama_backend, msgs, REG, None, CallingConfig(),
                            llama_backend.default_sampling, observation=obs)
    assert out.status == "ok" and out.strategy == "description", out
    assert out.call.tool in ("say", "idle"), out.call


@pytest.mark.llama
async def test_the_calibration_prior_follows_the_examples_in_the_prompt(llama_backend):
    """The content-free prior is cached per prompt head; the nearest examples in that head change
    with the observation, so two heads with other examples need two priors."""
    def convo(example: str) -> list[dict[str, str]]:
        return [MSGS[0], {"role": "user", "content": f"Now:\n{example}"},
                {"role": "assistant", "content": _call("idle")}, MSGS[1]]

    possible = apply_mask(REG.select(None), {"flee": False, "say": False, "move_to": False})
    cfg = CallingConfig(choice="likelihood", calibrate=True)
    scored = []
    for example in ("goal: rest", "goal: collect wood", "goal: rest"):
        before = llama_backend.stats.get("scored", 0)
        out = await decide_once(llama_backend, convo(example), REG, None, cfg,
                                llama_backend.default_sampling, possible=possible)
        assert out.status == "ok" and out.strategy == "likelihood", out
        scored.append(llama_backend.stats["scored"] - before)
    assert scored == [2, 2, 1]  # observation + its own prior; the third head's prior is cached


@pytest.mark.llama
@pytest.mark.parametrize("calibrate", [False, True])
async def test_likelihood_choice_gives_a_call_inside_the_mask(llama_backend, calibrate):
    mask = {"pick_up": {"item_id": ["apple-3"]}, "flee": False, "say": False,
            "move_to": {"target": [[7, 0, 3]]}}
    possible = apply_mask(REG.select(None), mask)
    cfg = CallingConfig(choice="likelihood", calibrate=calibrate)
    out = await decide_once(llama_backend, MSGS, REG, None, cfg, llama_backend.default_sampling,
                            possible=possible)
    assert out.status == "ok" and out.strategy == "likelihood", out
    by_name = {s.name: s for s in possible}
    assert out.call.tool in by_name and by_name[out.call.tool].is_valid(out.call.arguments)
    assert out.prompt_tokens > 0
    assert out.completion_tokens == 0  # every possible call was scored whole: none generated
    # the scored request is the constrained one (for the journal), without the prefill
    assert out.request is not None and out.request.prefill is None
    assert dataclasses.asdict(out.request.sampling) == dataclasses.asdict(
        llama_backend.default_sampling)


@pytest.mark.llama
async def test_auto_choice_is_one_constrained_pass_when_an_adapter_is_served():
    """With the trained adapter the choosers did not beat one constrained pass (description,
    no masks: 35.6% vs 42.2% right tool on the design set, 37.8% vs 57.8% on the independent
    set; likelihood, masks: within 3 decisions of 90 on both; docs/benchmarks.md), so
    ``auto`` scores only for a bare model."""
    from agent_arena.backends.llama_cpp import LlamaCppBackend, LlamaCppConfig

    backend = LlamaCppBackend(LlamaCppConfig(seed=0, lora="npc"))
    # the adapter fits the weights it was trained on, the Q4_0 xllamacpp serves
    assert "Q4_0" in backend.model_path.name, backend.model_path
    backend.load()
    try:
        plain = await decide_once(backend, MSGS, REG, None, CallingConfig(),
                                  backend.default_sampling)
        assert plain.status == "ok" and plain.strategy == "constrained", plain
        possible = apply_mask(REG.select(None), {"flee": False, "say": False})
        masked = await decide_once(backend, MSGS, REG, None, CallingConfig(),
                                   backend.default_sampling, possible=possible)
        assert masked.status == "ok" and masked.strategy == "constrained", masked
        assert masked.call.tool in {t.name for t in possible}, masked
    finally:
        backend.unload()
