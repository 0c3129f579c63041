"""A small fake of Discord on 127.0.0.1: the REST calls the adapter makes and a gateway that
speaks zlib-stream compressed JSON. Written from Discord's public API documentation."""

from __future__ import annotations

import asyncio
import json
import zlib

from aiohttp import WSMsgType, web

from tests.recorder import Recorder

BOT = {"id": "1000", "username": "dbslm", "discriminator": "0", "global_name": None, "avatar": None, "bot": True}


def user(uid: str, name: str, bot: bool = False) -> dict:
    return {"id": uid, "username": name, "discriminator": "0", "global_name": None, "avatar": None, "bot": bot}


class FakeDiscord:
    def __init__(self) -> None:
        self.sent = Recorder()
        self._socket: web.WebSocketResponse | None = None
        self._compressor = zlib.compressobj()
        self._sequence = 0
        self.ready = asyncio.Event()
        self.app = web.Application()
        self.app.router.add_get("/api/v10/users/@me", self._me)
        self.app.router.add_get("/api/v10/oauth2/applications/@me", self._application)
        self.app.router.add_post("/api/v10/channels/{channel}/messages", self._create_message)
        self.app.router.add_post("/api/v10/channels/{channel}/typing", self._typing)
        self.app.router.add_get("/", self._gateway)

    async def _me(self, request: web.Request) -> web.Response:
        return _json(BOT)

    async def _application(self, request: web.Request) -> web.Response:
        return _json({"id": BOT["id"], "name": "dbslm", "icon": None, "description": "", "bot_public": False,
                      "bot_require_code_grant": False, "owner": user("1", "owner"), "verify_key": "00",
                      "flags": 0, "summary": ""})

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _create_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = request.match_info["channel"]
        self.sent.add({"channel": channel, "content": body.get("content", "")})
        return _json(self.message(f"9{len(self.sent)}", channel, BOT, body.get("content", "")))

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket = socket
        await self._send({"op": 10, "d": {"heartbeat_interval": 45000}})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 2:  # IDENTIFY
                await self.dispatch("READY", {"v": 10, "user": BOT, "guilds": [], "session_id": "fake",
                                              "resume_gateway_url": str(request.url), "private_channels": [],
                                              "application": {"id": "1000", "flags": 0}})
                self.ready.set()
            elif payload["op"] == 1:  # heartbeat
                await self._send({"op": 11})
        return socket

    async def _send(self, payload: dict) -> None:
        data = self._compressor.compress(json.dumps(payload).encode()) + self._compressor.flush(zlib.Z_SYNC_FLUSH)
        await self._socket.send_bytes(data)

    async def dispatch(self, event: str, data: dict) -> None:
        self._sequence += 1
        await self._send({"op": 0, "s": self._sequence, "t": event, "d": data})

    @staticmethod
    def message(mid: str, channel: str, author: dict, content: str, guild: str | None = None,
                mentions: list[dict] = ()) -> dict:
        data = {"id": mid, "channel_id": channel, "author": author, "content": content, "timestamp":
                "2026-01-01T00:00:00+00:00", "edited_timestamp": None, "tts": False, "mention_everyone": False,
                "mentions": list(mentions), "mention_roles": [], "attachments": [], "embeds": [], "pinned": False,
                "type": 0, "flags": 0}
        if guild:
            data["guild_id"] = guild
        return data

    async def wait_for_messages(self, count: int) -> list[dict]:
        return await self.sent.wait_for(count)


def _json(data: dict) -> web.Response:
    """JSON with exactly the content type Discord sends (discord.py compares it as a string)."""
    return web.Response(body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})
