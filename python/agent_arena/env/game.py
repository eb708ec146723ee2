"""The demo world as a game for trainers: episodes, rewards and resets over the real protocol.

A game in its own right, talking to the bridge through ``ArenaClient`` over a socket exactly
as a Godot game would: it waits for the server's ``reset`` request, builds a world for the
seed, answers ``reset`` with the episode id, then plays ticks (observe every agent, carry
out the calls, report each result with its reward) until the episode's last tick, when every
agent gets a final ``observe`` with ``done``. Rewards are the game's own: +1 for picking up an
item of the agent's goal kind (tool_result.reward), minus the health lost since the agent's
last observation / 100 (observe.reward).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent_arena.client import ArenaClient
from agent_arena.tools import ToolCall, ToolRegistry
from agent_arena.world.sim import World


@dataclass(frozen=True)
class GameConfig:
    agents: int = 2
    max_ticks: int = 20  # ticks per episode; then every agent observes with done
    deadline_ms: int = 300_000  # per decision: long enough for a trainer's generation
    size: float = 12.0
    masks: bool = True


def agent_names(n: int) -> list[str]:
    """The demo world's agent ids for ``n`` agents (known before the first episode)."""
    return list(World.generate(n).agents)


def goal_reward(world: World, agent_id: str, tool: str, ok: bool,
                arguments: Mapping[str, Any]) -> float:
    """+1 for an item of the agent's goal kind picked up (checked after execute)."""
    if tool != "pick_up" or not ok:
        return 0.0
    item = str(arguments.get("item_id", ""))
    return 1.0 if item.startswith(world.agents[agent_id].goal) else 0.0


class DemoGame:
    def __init__(self, endpoint: str, tools: Sequence[Mapping[str, Any]],
                 config: GameConfig | None = None) -> None:
        self.endpoint = endpoint
        self.tools = list(tools)
        self.config = config or GameConfig()
        self.check = ToolRegistry(self.tools)  # the game's own copy of the schemas
        self.world: World | None = None
        self.episode_id: str | None = None
        self.episodes = 0
        self._requested: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._episode: asyncio.Task[None] | None = None

    async def run(self) -> None:
        """Until cancelled: one episode per reset request (a new request cuts the current
        episode short)."""
        async with ArenaClient(self.endpoint, name="agent-arena env demo world",
                               on_reset=self._on_reset) as client:
            await client.hello(tools=self.tools)
            while True:
                req = await self._requested.get()
                while not self._requested.empty():  # only the newest request counts
                    req = self._requested.get_nowait()
                episode = self._episode = asyncio.ensure_future(self._play(client, req))
                try:
                    # wait() does not raise the episode's own cancel (a newer reset), only ours
                    await asyncio.wait({episode})
                finally:
                    episode.cancel()
                if not episode.cancelled() and episode.exception() is not None:
                    raise episode.exception()  # type: ignore[misc]

    def _on_reset(self, message: dict[str, Any]) -> None:
        self._requested.put_nowait(message)
        if self._episode is not None and not self._episode.done():
            self._episode.cancel()  # nothing of the old world is sent after this

    async def _play(self, client: ArenaClient, req: Mapping[str, Any]) -> None:
        cfg = self.config
        seed = req.get("seed")
        world = self.world = World.generate(cfg.agents, size=cfg.size,
                                            seed=7 if seed is None else int(seed))
        self.episode_id = req.get("episode_id")
        self.episodes += 1
        # the game's reset: the server forgets the agents' memory and old decisions
        await client.reset(episode_id=self.episode_id)
        health = {aid: a.health for aid, a in world.agents.items()}
        for tick in range(cfg.max_ticks + 1):
            last = tick == cfg.max_ticks
            replies = await asyncio.gather(*(
                client.observe(aid, tick, world.observe(aid), deadline_ms=cfg.deadline_ms,
                               mask=world.mask(aid) if cfg.masks else None,
                               reward=(a.health - health[aid]) / 100.0, done=last)
                for aid, a in world.agents.items()))
            health = {aid: a.health for aid, a in world.agents.items()}
            if last:
                return  # the episode is over: wait for the next reset request
            for reply in replies:
                await self._act(client, world, tick, reply)
            world.step()

    async def _act(self, client: ArenaClient, world: World, tick: int,
                   reply: Mapping[str, Any]) -> None:
        call = reply.get("call")
        if call is None or self.check.validate(ToolCall(call["tool"], call["arguments"])):
            return
        aid = reply["agent_id"]
        ok, result = world.execute(aid, call["tool"], call["arguments"])
        reward = goal_reward(world, aid, call["tool"], ok, call["arguments"])
        await client.tool_result(aid, tick, call["tool"], ok, result, reward=reward)
