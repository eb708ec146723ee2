"""The game as an environment for RL trainers (docs/env.md): the external backend parks each
decision until a client acts; wrappers for OpenEnv, PettingZoo and TRL sit on ``Arena``.

Only ``arena`` is imported here: the wrappers import their frameworks (pip install
'agent-arena[env]').
"""

from agent_arena.env.arena import Arena, ArenaConfig, StepOutcome

__all__ = ["Arena", "ArenaConfig", "StepOutcome"]
