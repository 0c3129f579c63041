"""A small fake of Discord on 127.0.0.1: the REST calls the adapter makes, a sharded gateway
that speaks zlib-stream compressed JSON (on each shard's connection READY, then GUILD_CREATE
with its servers), application commands and their interactions, channel history (with scripted
rate limits and refusals), and a CDN for attachments. Written from Discord's public API documentation; what it sends is
loaded from payloads/ (JSON as Discord sends it) with the ids and text of each test filled in."""

from __future__ import annotations

import asyncio
import json
import time
import zlib
from pathlib import Path

from aiohttp import WSMsgType, web

from tests.helpers import Payloads, Recorder

payload = Payloads(Path(__file__).parent / "payloads")


def user(uid: str, name: str, bot: bool = False) -> dict:
    """A user object (Discord marks only bots' as such)."""
    return payload("user", id=uid, username=name, **({"bot": True} if bot else {}))


BOT = user("1000", "dbslm", bot=True)
# server ids are snowflakes: of two shards, server A's is on shard 0 and server B's on shard 1
GUILD = str(600 << 22)  # server A: channels 60 and 61, a role that may Manage Server
ADMIN_ROLE = "601"
GUILD_B = str(801 << 22)  # server B: channels 80 and 81, its own admin role
ADMIN_ROLE_B = "801"
GUILDS = {GUILD: (("60", "61"), ADMIN_ROLE), GUILD_B: (("80", "81"), ADMIN_ROLE_B)}  # other channels are DMs
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6
ROLES = {GUILD: 0, ADMIN_ROLE: MANAGE_GUILD, GUILD_B: 0, ADMIN_ROLE_B: MANAGE_GUILD}  # @everyone has the server's id
# application command option types (6 is a user, 11 an attachment)
OPTION_TYPES = {bool: 5, int: 4, float: 10, str: 3}


class FakeDiscord:
    """Records channel messages in ``sent``, the synced commands in ``commands``, interaction
    callbacks in ``callbacks``, follow-ups in ``followups``, attachment downloads in ``downloads``,
    history requests in ``reads`` and the ``[shard_id, shard_count]`` of each IDENTIFY in
    ``identified``.

    GET /gateway/bot recommends ``shards`` shards. Each gateway connection gets the servers of its
    shard, and an event goes to the shard of its server as Discord routes them, ``(server id >> 22)
    % shard count`` (DMs to shard 0); ``ready`` is set once every shard has its servers.

    ``history`` holds each channel's past messages, newest first. ``history_faults`` scripts a
    channel's next history requests: 429 (rate limited for ``retry_after`` 0.2 s), 403 (Missing
    Access) or 200 (served), one status per request; once they are used up, requests are served.

    A follow-up records the flags it was sent with and whether Discord shows it to its caller
    alone: the first follow-up to a deferred response fills that response and keeps its
    visibility, whatever flags it carries, unless the response was deleted first.
    """

    def __init__(self, shards: int = 1) -> None:
        self.shards = shards
        self.sent = Recorder()
        self.identified = Recorder()
        self.commands = Recorder()
        self.callbacks = Recorder()
        self.followups = Recorder()
        self.downloads = Recorder()
        self.reads = Recorder()
        self.history: dict[str, list[dict]] = {}
        self.history_faults: dict[str, list[int]] = {}
        self.url = ""
        self._files: dict[str, bytes] = {}
        self._deferred: dict[str, int] = {}  # interaction token -> flags of its unfilled deferred response
        self._channels: dict[str, str] = {}  # interaction token -> its channel
        self._connections: dict[int, Connection] = {}  # shard id -> its gateway connection
        self._shard_count = 1  # as the bot identified
        self._runner: web.AppRunner | None = None
        self.ready = asyncio.Event()
        self.app = web.Application()
        api = "/api/v10"
        self.app.router.add_get(f"{api}/gateway/bot", self._gateway_bot)
        self.app.router.add_get(f"{api}/users/@me", self._me)
        self.app.router.add_get(f"{api}/oauth2/applications/@me", self._application)
        self.app.router.add_post(api + "/channels/{channel}/messages", self._create_message)
        self.app.router.add_get(api + "/channels/{channel}/messages", self._read_history)
        self.app.router.add_post(api + "/channels/{channel}/typing", self._typing)
        self.app.router.add_put(api + "/applications/{application}/commands", self._sync_commands)
        self.app.router.add_post(api + "/interactions/{interaction}/{token}/callback", self._callback)
        self.app.router.add_post(api + "/webhooks/{application}/{token}", self._followup)
        self.app.router.add_delete(api + "/webhooks/{application}/{token}/messages/@original", self._delete_original)
        self.app.router.add_get("/cdn/{path:.+}", self._cdn)
        self.app.router.add_get("/", self._gateway)

    async def start(self) -> str:
        """Listen on a free loopback port; returns the REST API's base URL (``DISCORD_API_URL``)."""
        self._runner = web.AppRunner(self.app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
        return self.api_url

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v10"

    async def close(self) -> None:
        await self._runner.cleanup()

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        """Where the gateway is (this fake serves it at its root)."""
        return _json(payload("gateway_bot", url=self.url.replace("http", "ws", 1), shards=self.shards))

    async def _me(self, request: web.Request) -> web.Response:
        return _json(current_user())

    async def _application(self, request: web.Request) -> web.Response:
        return _json(payload("application", id=BOT["id"], name=BOT["username"]))

    async def _typing(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _create_message(self, request: web.Request) -> web.Response:
        body = await request.json()
        channel = request.match_info["channel"]
        self.sent.add({"channel": channel, "content": body.get("content", "")})
        return _json(self.message(f"9{len(self.sent)}", channel, BOT, body.get("content", "")))

    async def _read_history(self, request: web.Request) -> web.Response:
        """Up to ``limit`` messages older than ``before``, newest first, as Discord pages them."""
        channel, before = request.match_info["channel"], request.query.get("before")
        limit = int(request.query.get("limit", 50))
        faults = self.history_faults.get(channel, [])
        status = faults.pop(0) if faults else 200
        self.reads.add({"channel": channel, "before": before, "limit": limit, "status": status, "at": time.monotonic()})
        if status == 429:  # with the headers Discord sends (discord.py needs Via to tell it from Cloudflare)
            limited = payload("rate_limited")
            reset = limited["retry_after"]
            return _json(
                limited,
                429,
                {
                    "Via": "1.1 google",
                    "Retry-After": "1",
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + reset:.3f}",
                    "X-RateLimit-Reset-After": str(reset),
                    "X-RateLimit-Bucket": "history",
                    "X-RateLimit-Scope": "user",
                },
            )
        if status == 403:
            return _json(payload("missing_access"), 403)
        older = [m for m in self.history.get(channel, []) if before is None or int(m["id"]) < int(before)]
        return _json(older[:limit])

    async def _sync_commands(self, request: web.Request) -> web.Response:
        """Store the commands as Discord returns them: with ids, and permissions as a string."""
        commands = [
            {
                **command,
                "id": f"70{number}",
                "application_id": request.match_info["application"],
                "version": "1",
                "default_member_permissions": _string(command.get("default_member_permissions")),
            }
            for number, command in enumerate(await request.json())
        ]
        self.commands.add(commands)
        return _json(commands)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        flags = (body.get("data") or {}).get("flags", 0)
        token, interaction = request.match_info["token"], request.match_info["interaction"]
        self.callbacks.add({"interaction": interaction, "type": body["type"], "flags": flags})
        if body["type"] == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            self._deferred[token] = flags
        response = payload("interaction_callback", resource={"type": body["type"]})
        response["interaction"] |= {"id": interaction, "response_message_ephemeral": bool(flags & EPHEMERAL)}
        return _json(response)

    async def _delete_original(self, request: web.Request) -> web.Response:
        self.callbacks.add({"deleted": request.match_info["token"]})
        self._deferred.pop(request.match_info["token"], None)
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        token, flags = request.match_info["token"], body.get("flags", 0)
        shown = self._deferred.pop(token, flags)
        self.followups.add(
            {"token": token, "content": body.get("content", ""), "flags": flags, "ephemeral": bool(shown & EPHEMERAL)}
        )
        return _json(
            {
                **self.message(f"8{len(self.followups)}", self._channels[token], BOT, body.get("content", "")),
                "webhook_id": request.match_info["application"],
                "flags": shown,
            }
        )

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self._files.get(request.match_info["path"])
        self.downloads.add({"path": request.match_info["path"]})
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        connection = Connection(socket)
        await connection.send(payload("hello"))
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            received = json.loads(frame.data)
            if received["op"] == 2:  # IDENTIFY
                shard_id, self._shard_count = received["d"].get("shard", [0, 1])
                self.identified.add([shard_id, self._shard_count])
                self._connections[shard_id] = connection
                servers = [g for g in GUILDS if self.shard_of(g) == shard_id]
                await connection.dispatch(
                    "READY",
                    payload(
                        "ready",
                        user=current_user(),
                        guilds=[{"id": g, "unavailable": True} for g in servers],
                        resume_gateway_url=str(request.url),
                        application={"id": BOT["id"], "flags": 0},
                        shard=[shard_id, self._shard_count],
                    ),
                )
                for guild_id in servers:
                    await connection.dispatch("GUILD_CREATE", guild(guild_id))
                if len(self._connections) == self._shard_count:
                    self.ready.set()
            elif received["op"] == 1:  # heartbeat
                await connection.send(payload("heartbeat_ack"))
        return socket

    def shard_of(self, guild_id: str | None) -> int:
        """The shard that gets a server's events (DMs are shard 0's)."""
        return (int(guild_id) >> 22) % self._shard_count if guild_id else 0

    async def dispatch(self, event: str, data: dict) -> None:
        """Send an event to the shard of its server."""
        await self._connections[self.shard_of(data.get("guild_id"))].dispatch(event, data)

    @staticmethod
    def message(
        mid: str,
        channel: str,
        author: dict,
        content: str,
        guild: str | None = None,
        mentions: list[dict] = (),
        roles: tuple[str, ...] = (),
    ) -> dict:
        """A message object; in a guild, as MESSAGE_CREATE carries it: with the guild's id and its
        author's member object (``roles``)."""
        data = payload("message", id=mid, channel_id=channel, author=author, content=content, mentions=list(mentions))
        if guild:
            data |= {"guild_id": guild, "member": member(roles)}
        return data

    async def delete(self, mid: str, channel: str, guild: str = GUILD) -> None:
        """Dispatch MESSAGE_DELETE: only ids, as Discord sends it."""
        await self.dispatch("MESSAGE_DELETE", payload("message_delete", id=mid, channel_id=channel, guild_id=guild))

    async def delete_bulk(self, mids: list[str], channel: str, guild: str = GUILD) -> None:
        """Dispatch MESSAGE_DELETE_BULK (a moderator's purge)."""
        await self.dispatch(
            "MESSAGE_DELETE_BULK", payload("message_delete_bulk", ids=mids, channel_id=channel, guild_id=guild)
        )

    async def edit(self, message: dict, content: str) -> None:
        """Dispatch MESSAGE_UPDATE: ``message`` (as made by ``message``) with new content."""
        await self.dispatch(
            "MESSAGE_UPDATE", {**message, "content": content, "edited_timestamp": "2026-01-01T00:01:00+00:00"}
        )

    async def slash(
        self,
        name: str,
        author: dict,
        roles: tuple[str, ...] = (),
        channel: str = "60",
        file: tuple[str, bytes] | None = None,
        **options: object,
    ) -> str:
        """Run ``/name`` in ``channel`` as ``author`` with ``roles`` (a channel of no server is a DM):
        an APPLICATION_COMMAND interaction with ``options`` (a user dict is a user option) and ``file``
        (served by the CDN) as its attachment option ``file``. The interaction's token."""
        number = len(self._channels) + 1
        token = f"token-{number}"
        self._channels[token] = channel
        server = next((g for g, (channels, _) in GUILDS.items() if channel in channels), None)
        if server is None:  # a DM
            interaction = payload("interaction_create_dm", user=author)
            interaction["channel"] |= {"id": channel, "recipients": [author]}
        else:
            permissions = 0
            for role in (server, *roles):
                permissions |= ROLES[role]
            interaction = payload("interaction_create", guild_id=server)
            interaction["guild"]["id"] = server
            interaction["member"] |= {**member(roles), "user": author, "permissions": str(permissions)}
            interaction["channel"] |= {
                "id": channel,
                "guild_id": server,
                "name": f"c{channel}",
                "permissions": str(permissions),
            }
            interaction["authorizing_integration_owners"] = {"0": server}
        users = {value["id"]: value for value in options.values() if isinstance(value, dict)}
        data = interaction["data"] | {
            "id": "701",
            "name": name,  # a global command
            "options": [
                {"name": key, "type": 6, "value": value["id"]}
                if isinstance(value, dict)
                else {"name": key, "type": OPTION_TYPES[type(value)], "value": value}
                for key, value in options.items()
            ],
            "resolved": {"users": users},
        }
        if file is not None:
            filename, content = file
            path = f"attachments/{channel}/{number}/{filename}"
            self._files[path] = content
            url = f"{self.url}/cdn/{path}"
            attachment = payload(
                "attachment", id=f"50{number}", filename=filename, size=len(content), url=url, proxy_url=url
            )
            data["options"].append({"name": "file", "type": 11, "value": attachment["id"]})
            data["resolved"]["attachments"] = {attachment["id"]: attachment}
        await self.dispatch(
            "INTERACTION_CREATE",
            interaction
            | {"id": f"40{number}", "application_id": BOT["id"], "data": data, "channel_id": channel, "token": token},
        )
        return token

    async def wait_for_messages(self, count: int) -> list[dict]:
        return await self.sent.wait_for(count)


class Connection:
    """One shard's gateway connection: its socket, zlib stream and sequence numbers."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self.socket = socket
        self.compressor = zlib.compressobj()
        self.sequence = 0

    async def send(self, frame: dict) -> None:
        data = self.compressor.compress(json.dumps(frame).encode()) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        await self.socket.send_bytes(data)

    async def dispatch(self, event: str, data: dict) -> None:
        self.sequence += 1
        await self.send({"op": 0, "s": self.sequence, "t": event, "d": data})


def current_user() -> dict:
    """The bot's own user object, as GET /users/@me and READY carry it."""
    return payload("current_user", id=BOT["id"], username=BOT["username"])


def member(roles: tuple[str, ...]) -> dict:
    """A guild member object without its user."""
    return payload("member", roles=list(roles))


def guild(guild_id: str) -> dict:
    """The GUILD_CREATE payload of a server: its roles (@everyone, admins), two text channels and
    the bot's own member object."""
    channels, admin_role = GUILDS[guild_id]
    data = payload("guild_create", id=guild_id, name=f"server {guild_id}")
    data["roles"] = [
        {**role, "id": rid, "permissions": str(ROLES[rid])} for role, rid in zip(data["roles"], (guild_id, admin_role))
    ]
    data["channels"] = [{**channel, "id": cid, "name": f"c{cid}"} for channel, cid in zip(data["channels"], channels)]
    data["members"] = [{**data["members"][0], "user": BOT}]
    return data


def _string(value: object) -> str | None:
    return None if value is None else str(value)


def _json(data: dict | list, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with exactly the content type Discord sends (discord.py compares it as a string)."""
    return web.Response(
        status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )
