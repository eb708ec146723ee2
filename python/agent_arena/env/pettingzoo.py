"""PettingZoo's Parallel API over the agents of one game: one call per agent per tick.

Observations are turns (``TurnSpace``: prompt messages, tools narrowed by the mask, the raw
observation, reward, done, error); actions are ``{"tool", "arguments"}`` maps. A refused call
(invalid, with the schema error in ``infos[agent]["error"]`` and the observation's ``error``)
gives no reward and leaves that agent's decision open; the agents whose calls were taken are
then returned as they stand (``infos[agent]["pending"]``), since the game's tick waits for
every agent (up to the deadline, when it gets the fallback call).
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils.env import ParallelEnv

from agent_arena.env.arena import Arena, ArenaConfig
from agent_arena.env.spaces import ToolCallSpace, TurnSpace


class ArenaParallelEnv(ParallelEnv[str, dict[str, Any], dict[str, Any]]):
    metadata = {"name": "agent_arena_v0", "render_modes": []}

    def __init__(self, config: ArenaConfig | None = None, arena: Arena | None = None) -> None:
        self.arena = arena or Arena(config)
        self._own = arena is None
        self.possible_agents = list(self.arena.possible_agents)
        self.agents: list[str] = []
        self._turns: dict[str, dict[str, Any]] = {}
        self.episode_id: str | None = None
        self._obs_spaces: dict[str, TurnSpace] = {}
        self._act_spaces: dict[str, ToolCallSpace] = {}

    def observation_space(self, agent: str) -> TurnSpace:
        space = self._obs_spaces.get(agent)
        if space is None:  # one space object per agent, for life (PettingZoo checks)
            space = self._obs_spaces[agent] = TurnSpace()
        return space

    def action_space(self, agent: str) -> ToolCallSpace:
        space = self._act_spaces.get(agent)
        if space is None:
            space = self._act_spaces[agent] = ToolCallSpace(lambda: self._turns.get(agent))
        return space

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        options = options or {}
        if seed is not None:
            for agent in self.possible_agents:
                self.action_space(agent).seed(seed)
        self.episode_id, turns = self.arena.reset(seed, options.get("episode_id"))
        self._turns = dict(turns)
        self.agents = [a for a in self.possible_agents if not turns[a]["done"]]
        return turns, {a: {"episode_id": self.episode_id} for a in turns}

    def step(self, actions: dict[str, dict[str, Any]]) -> tuple[
            dict[str, dict[str, Any]], dict[str, float], dict[str, bool], dict[str, bool],
            dict[str, dict[str, Any]]]:
        live = list(self.agents)
        outcomes = self.arena.act_all({a: actions[a] for a in live if a in actions})
        obs, rewards, terminated, truncated, infos = {}, {}, {}, {}, {}
        for a in live:
            out = outcomes.get(a)
            turn = out.turn if out is not None else self._turns[a]
            fresh = out is not None and out.accepted and not turn.get("pending")
            self._turns[a] = turn
            obs[a] = turn
            rewards[a] = float(turn["reward"]) if fresh else 0.0
            terminated[a] = bool(turn["done"])
            truncated[a] = False
            infos[a] = {"accepted": bool(out and out.accepted), "error": out and out.error,
                        "pending": bool(turn.get("pending")), "episode_id": self.episode_id}
        self.agents = [a for a in live if not terminated[a]]
        return obs, rewards, terminated, truncated, infos

    def close(self) -> None:
        if self._own:
            self.arena.close()
