"""A small headless demo world that speaks the real protocol, as a game would."""

from agent_arena.world.demo import Decision, DemoSummary, run_demo
from agent_arena.world.sim import World

__all__ = ["Decision", "DemoSummary", "World", "run_demo"]
