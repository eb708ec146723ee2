"""The ZeroMQ server, split into one-way parts (app imports the three; they import none of
each other except through plain data):

    config.py      ServerConfig (every setting, its default and bounds)
    transport.py   the ROUTER socket: options, auth, envelopes, peer-gone events
    sessions.py    sessions per (user, identity): tools, fallback, agents, caps, eviction
    decisions.py   one decision: deadline, supersede, cancel, fallback, the one reply
    app.py         ArenaServer: wires them, handles each message type, start and stop
"""

from agent_arena.server.app import ArenaServer
from agent_arena.server.config import ServerConfig, is_loopback

__all__ = ["ArenaServer", "ServerConfig", "is_loopback"]
