"""ZeroMQ authentication (ZAP through ``zmq.auth``): PLAIN for game clients, CURVE for Python.

Loopback binds may run without it; any other bind requires it (the server refuses to start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.asyncio
from zmq.auth.asyncio import AsyncioAuthenticator

from agent_arena.config.fields import setting
from agent_arena.errors import ConfigError

MECHANISMS = ("none", "plain", "curve")


@dataclass
class AuthConfig:
    """``server.auth`` (docs/security.md). PLAIN users: prefer users_file (lines
    "name:password") or AGENT_ARENA_PLAIN_USERS="name:password,..." over passwords in a file.
    CURVE without client_keys_dir (any client that knows the server's public key) needs
    curve_allow_any: true, explicitly."""

    mechanism: str = setting("none", "required for any non-loopback bind (docs/security.md)",
                             choices=MECHANISMS)
    users: Mapping[str, str] = setting(factory=dict, help="plain: {name: password}")
    users_file: str | None = setting(None, "plain: a file of name:password lines")
    server_secret_key_file: str | None = setting(None, "curve: the server's secret key (from "
                                                       "agent-arena keys)")
    client_keys_dir: str | None = setting(None, "curve: a folder of authorised client public "
                                                "keys")
    curve_allow_any: bool = setting(False, "curve without client_keys_dir must say so "
                                           "explicitly")
    allow_ips: list[str] = setting(factory=list, help="optional IP allow-list")

    @property
    def enabled(self) -> bool:
        return self.mechanism != "none"

    def plain_users(self) -> dict[str, str]:
        users = dict(self.users)
        if self.users_file:
            for line in Path(self.users_file).read_text().splitlines():
                line = line.strip()
                if line and not line.startswith("#") and ":" in line:
                    name, pw = line.split(":", 1)
                    users[name.strip()] = pw.strip()
        env = os.environ.get("AGENT_ARENA_PLAIN_USERS", "")
        for pair in filter(None, (p.strip() for p in env.split(","))):
            if ":" in pair:
                name, pw = pair.split(":", 1)
                users[name] = pw
        return users


class Authenticator:
    """Starts the ZAP handler on the context and configures a server socket for it."""

    def __init__(self, ctx: zmq.asyncio.Context, config: AuthConfig) -> None:
        if config.mechanism not in MECHANISMS:
            raise ConfigError(f"server.auth.mechanism={config.mechanism!r}; choose one of "
                              f"{', '.join(MECHANISMS)}")
        self.config = config
        self.ctx = ctx
        self.auth: AsyncioAuthenticator | None = None
        if config.mechanism == "plain" and not config.plain_users():
            raise ConfigError("server.auth.mechanism=plain needs users: set '++server.auth.users="
                              "{name: password}', server.auth.users_file, or "
                              "AGENT_ARENA_PLAIN_USERS=name:password")
        if config.mechanism == "curve" and not config.server_secret_key_file:
            raise ConfigError("server.auth.mechanism=curve needs server.auth.server_secret_key_file"
                              " (create one with `agent-arena keys DIR`)")
        if config.mechanism == "curve" and not config.client_keys_dir \
                and not config.curve_allow_any:
            raise ConfigError("server.auth.mechanism=curve without server.auth.client_keys_dir "
                              "would accept any client: set client_keys_dir to the folder of "
                              "authorised client public keys (`agent-arena keys DIR` makes one),"
                              " or say server.auth.curve_allow_any=true to allow any client")

    def start(self) -> None:
        self.auth = AsyncioAuthenticator(self.ctx)
        self.auth.start()
        if self.config.allow_ips:
            self.auth.allow(*self.config.allow_ips)
        if self.config.mechanism == "plain":
            self.auth.configure_plain(domain="*", passwords=self.config.plain_users())
        elif self.config.mechanism == "curve":
            location = self.config.client_keys_dir
            self.auth.configure_curve(
                domain="*", location=location if location else zmq.auth.CURVE_ALLOW_ANY)

    def apply(self, sock: zmq.Socket) -> None:
        if self.config.mechanism == "plain":
            sock.plain_server = True
        elif self.config.mechanism == "curve":
            public, secret = zmq.auth.load_certificate(self.config.server_secret_key_file)
            if secret is None:
                raise ConfigError(f"{self.config.server_secret_key_file} holds no secret key")
            sock.curve_secretkey = secret
            sock.curve_publickey = public
            sock.curve_server = True

    def stop(self) -> None:
        if self.auth is not None:
            self.auth.stop()
            self.auth = None
