"""A small fake of Slack on 127.0.0.1: the Web API methods the adapter calls, Socket Mode, files.

Written from Slack's public documentation: Web API calls carry their token as a bearer token;
apps.connections.open (app-level token) returns a websocket URL, where the server says ``hello``,
sends envelopes ``{envelope_id, type, payload, accepts_response_payload}`` and expects each to be
acknowledged with ``{envelope_id}``; a file's ``url_private`` needs the bot token to download.
Records what the bot posts, acknowledges and downloads.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

from aiohttp import WSMsgType, web

from tests.recorder import Recorder

ADMIN = "UADMIN"
BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free loopback port; returns its runner and base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


def event_body(kind: str, text: str, user: str = "U1", channel: str = "C1", **extra: Any) -> dict[str, Any]:
    """An Events API ``event_callback`` body around one event."""
    inner = {"type": kind, "user": user, "text": text, "ts": "1.1", "channel": channel, "event_ts": "1.1", **extra}
    return {"token": "t", "team_id": "T1", "api_app_id": "A1", "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}", "event_time": 1, "event": inner}


def command_body(name: str, text: str, user: str = "U1", channel: str = "C1") -> dict[str, str]:
    """A slash command's payload (form fields over HTTP, a JSON object in Socket Mode)."""
    return {"token": "t", "team_id": "T1", "channel_id": channel, "user_id": user, "command": name,
            "text": text, "response_url": "http://127.0.0.1:9/unused", "trigger_id": "1"}


class FakeSlack:
    def __init__(self) -> None:
        self.posted = Recorder()  # chat.postMessage and chat.postEphemeral calls, with "method"
        self.acks = Recorder()  # Socket Mode acks, with how many posts had arrived before each
        self.downloads = Recorder()  # file downloads, with the Authorization header they carried
        self.connected = asyncio.Event()
        self.stall: dict[str, float] = {}  # Web API method -> seconds it takes to answer
        self.url = ""
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._call)
        self.app.router.add_get("/link/", self._socket)
        self.app.router.add_get("/files-pri/{id}/{name}", self._download)

    async def start(self) -> str:
        """Listen on loopback; returns the Web API base URL (``SLACK_API_URL``)."""
        self._runner, self.url = await serve_app(self.app)
        return self.url + "/api/"

    async def close(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Store a file; returns its file object as a ``files`` entry of a message event carries it."""
        file_id = f"F{next(self._ids)}"
        url = f"{self.url}/files-pri/{file_id}/{name}"
        file = {"id": file_id, "name": name, "size": len(data), "mimetype": "text/plain", "url_private": url,
                "url_private_download": url + "?download=1"}
        self._files[file_id] = (file, data)
        return file

    async def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send one envelope (events_api, slash_commands) over the bot's websocket; returns its id."""
        envelope_id = f"env-{next(self._ids)}"
        await self._sockets[-1].send_json({"envelope_id": envelope_id, "type": kind, "payload": payload,
                                           "accepts_response_payload": kind != "events_api"})
        return envelope_id

    async def _call(self, request: web.Request) -> web.Response:
        form: dict = dict(request.query)
        if request.content_type == "application/json":
            form.update(await request.json())
        else:
            form.update(await request.post())
        method = request.match_info["method"]
        await asyncio.sleep(self.stall.get(method, 0))
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"})
        if method == "apps.connections.open":
            return web.json_response({"ok": True, "url": f"ws://{request.host}/link/?ticket=t{next(self._ids)}"})
        if method == "users.info":
            return web.json_response({"ok": True, "user": {"id": form["user"], "is_admin": form["user"] == ADMIN}})
        if method == "files.info":
            return web.json_response({"ok": True, "file": self._files[form["file"]][0]})
        if method in ("chat.postMessage", "chat.postEphemeral"):
            self.posted.add({"method": method, **{k: str(v) for k, v in form.items()}})
            return web.json_response({"ok": True, "channel": form["channel"], "ts": "1.0", "message_ts": "1.0"})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        self.connected.set()
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                self.acks.add({**json.loads(frame.data), "posts_before": len(self.posted)})
        return socket

    async def _download(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        self.downloads.add({"file": request.match_info["id"], "authorization": authorization})
        if authorization != f"Bearer {BOT_TOKEN}":
            return web.Response(status=403, text="sign in to download this file")
        if request.match_info["id"] not in self._files:
            return web.Response(status=404)
        return web.Response(body=self._files[request.match_info["id"]][1], content_type="text/plain")
