"""The HTTP side: /metrics and the dashboard (page, one SSE stream), on the server's loop.

aiohttp runs in the same asyncio loop as the ZeroMQ server, so scrape-time reads of sessions
and in-flight decisions need no locks. Everything is read-only (GET only).

Access: a loopback listener answers only requests whose Host header names a loopback address
(a web page that rebinds its own domain to 127.0.0.1 cannot read it; other origins cannot read
it anyway, there are no CORS headers). With server.auth.mechanism=plain every request needs
HTTP Basic with one of the PLAIN users, on any host; ServerConfig refuses another host without.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import Any

from aiohttp import web

from agent_arena.dashboard.state import DashboardState
from agent_arena.errors import ConfigError
from agent_arena.metrics import ArenaMetrics
from agent_arena.server.config import is_loopback
from agent_arena.server.events import RunningServer

log = logging.getLogger("agent_arena.dashboard")

PUSH_S = 0.5  # a page gets at most one update per this, and only when something changed
KEEPALIVE_S = 15.0
STATIC = ("index.html", "dashboard.js", "dashboard.css")
_TYPES = {"html": "text/html", "js": "text/javascript", "css": "text/css"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Views:
    """The running listeners; ``urls`` maps "metrics" / "dashboard" to where they are."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.metrics: ArenaMetrics | None = None
        self.state: DashboardState | None = None
        self.urls: dict[str, str] = {}
        self.closing = asyncio.Event()
        self._runners: list[web.AppRunner] = []

    async def start(self) -> None:
        cfg = self.server.config
        if cfg.metrics_port is not None:
            self.metrics = ArenaMetrics(self.server)
            app = self._app(cfg.metrics_host)
            app.router.add_get("/metrics", self._metrics)
            self.urls["metrics"] = await self._listen(app, "metrics", cfg.metrics_host,
                                                      cfg.metrics_port) + "/metrics"
        if cfg.dashboard_port is not None:
            self.state = DashboardState(self.server)
            app = self._app(cfg.dashboard_host)
            app.router.add_get("/", self._page)
            for name in STATIC:
                app.router.add_get(f"/{name}", self._static)
            app.router.add_get("/api/state", self._state)
            app.router.add_get("/events", self._events)
            self.urls["dashboard"] = await self._listen(app, "dashboard", cfg.dashboard_host,
                                                        cfg.dashboard_port) + "/"
        for name, url in self.urls.items():
            log.info("dashboard: %s at %s", name, url)

    async def stop(self) -> None:
        self.closing.set()  # open event streams end within PUSH_S
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    # ---- plumbing ----------------------------------------------------------------------

    def _app(self, host: str) -> web.Application:
        auth = self.server.config.auth
        users = auth.plain_users() if auth.mechanism == "plain" else None
        local = is_loopback(f"tcp://{host}:0")
        return web.Application(middlewares=[_guard(users, local)])

    async def _listen(self, app: web.Application, view: str, host: str, port: int) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            await self.stop()
            raise ConfigError(f"server.{view}_port={port}: cannot listen on {host}:{port} "
                              f"({exc.strerror or exc}); choose another port") from exc
        self._runners.append(runner)
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in str(bound[0]) else bound[0]
        return f"http://{shown}:{bound[1]}"

    # ---- handlers ----------------------------------------------------------------------

    async def _metrics(self, request: web.Request) -> web.Response:
        assert self.metrics is not None
        body, content_type = self.metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _page(self, request: web.Request) -> web.Response:
        return _file("index.html")

    async def _static(self, request: web.Request) -> web.Response:
        return _file(request.path.lstrip("/"))

    async def _state(self, request: web.Request) -> web.Response:
        assert self.state is not None
        return web.json_response(self.state.update(0))

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: everything first, then what changed, every PUSH_S at most."""
        assert self.state is not None
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache",
                                           "X-Accel-Buffering": "no"})
        await resp.prepare(request)
        loop = asyncio.get_running_loop()
        since, quiet_since = -1, loop.time()
        try:
            while not self.closing.is_set():
                if self.state.seq != since:
                    data = self.state.update(max(since, 0))
                    since = data["seq"]
                    await resp.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                    quiet_since = loop.time()
                elif loop.time() - quiet_since > KEEPALIVE_S:
                    await resp.write(b": keep-alive\n\n")
                    quiet_since = loop.time()
                try:
                    await asyncio.wait_for(self.closing.wait(), PUSH_S)
                except asyncio.TimeoutError:
                    pass
        except (ConnectionResetError, ConnectionError):
            pass  # the page went away
        return resp


def _file(name: str) -> web.Response:
    text = resources.files("agent_arena.dashboard").joinpath("static", name).read_bytes()
    return web.Response(body=text, headers={
        "Content-Type": _TYPES[name.rsplit(".", 1)[1]] + "; charset=utf-8",
        "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'self'; style-src 'self'; img-src 'self'"})


_LOCAL_HOSTS = frozenset({"localhost", "::1"})


def _guard(users: dict[str, str] | None, local: bool) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET"])
        if local:
            host = request.url.host or ""
            if host not in _LOCAL_HOSTS and not host.startswith("127."):
                raise web.HTTPForbidden(text="this listener is for local pages only (Host: "
                                             f"{request.host!r})")
        if users is not None and not _authorised(request.headers.get("Authorization"), users):
            raise web.HTTPUnauthorized(headers={"WWW-Authenticate": 'Basic realm="agent-arena"'})
        return await handler(request)

    return guard


def _authorised(header: str | None, users: dict[str, str]) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        name, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    expected = users.get(name)
    return expected is not None and hmac.compare_digest(expected.encode(), password.encode())
