"""A small fake of Discord on 127.0.0.1: the REST calls the adapter makes, a gateway that
speaks zlib-stream compressed JSON (READY, then GUILD_CREATE with two servers), application
commands and their interactions, channel history (with scripted rate limits and refusals), and
a CDN for attachments. Written from Discord's public API documentation."""

from __future__ import annotations

import asyncio
import json
import time
import zlib

from aiohttp import WSMsgType, web

from tests.helpers import Recorder

BOT = {"id": "1000", "username": "dbslm", "discriminator": "0", "global_name": None, "avatar": None, "bot": True}
GUILD = "600"  # server A: channels 60 and 61, a role that may Manage Server
ADMIN_ROLE = "601"
GUILD_B = "800"  # server B: channels 80 and 81, its own admin role
ADMIN_ROLE_B = "801"
GUILDS = {GUILD: (("60", "61"), ADMIN_ROLE), GUILD_B: (("80", "81"), ADMIN_ROLE_B)}  # other channels are DMs
MANAGE_GUILD = 1 << 5
EPHEMERAL = 1 << 6
ROLES = {GUILD: 0, ADMIN_ROLE: MANAGE_GUILD, GUILD_B: 0, ADMIN_ROLE_B: MANAGE_GUILD}  # @everyone has the server's id
# application command option types (6 is a user, 11 an attachment)
OPTION_TYPES = {bool: 5, int: 4, float: 10, str: 3}
RATE_LIMITED = {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}


def user(uid: str, name: str, bot: bool = False) -> dict:
    return {"id": uid, "username": name, "discriminator": "0", "global_name": None, "avatar": None, "bot": bot}


class FakeDiscord:
    """Records channel messages in ``sent``, the synced commands in ``commands``, interaction
    callbacks in ``callbacks``, follow-ups in ``followups``, attachment downloads in ``downloads``
    and history requests in ``reads``.

    ``history`` holds each channel's past messages, newest first. ``history_faults`` scripts a
    channel's next history requests: 429 (rate limited for ``retry_after`` 0.2 s), 403 (Missing
    Access) or 200 (served), one status per request; once they are used up, requests are served.

    A follow-up records the flags it was sent with and whether Discord shows it to its caller
    alone: the first follow-up to a deferred response fills that response and keeps its
    visibility, whatever flags it carries, unless the response was deleted first.
    """

    def __init__(self) -> None:
        self.sent = Recorder()
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
        self._socket: web.WebSocketResponse | None = None
        self._compressor = zlib.compressobj()  # one zlib stream per gateway connection
        self._sequence = 0
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
        return _json({"url": self.url.replace("http", "ws", 1), "shards": 1, "session_start_limit": {
            "total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}})

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

    async def _read_history(self, request: web.Request) -> web.Response:
        """Up to ``limit`` messages older than ``before``, newest first, as Discord pages them."""
        channel, before = request.match_info["channel"], request.query.get("before")
        limit = int(request.query.get("limit", 50))
        faults = self.history_faults.get(channel, [])
        status = faults.pop(0) if faults else 200
        self.reads.add({"channel": channel, "before": before, "limit": limit, "status": status,
                        "at": time.monotonic()})
        if status == 429:  # with the headers Discord sends (discord.py needs Via to tell it from Cloudflare)
            reset = RATE_LIMITED["retry_after"]
            return _json(RATE_LIMITED, 429, {
                "Via": "1.1 google", "Retry-After": "1", "X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + reset:.3f}", "X-RateLimit-Reset-After": str(reset),
                "X-RateLimit-Bucket": "history", "X-RateLimit-Scope": "user"})
        if status == 403:
            return _json(MISSING_ACCESS, 403)
        older = [m for m in self.history.get(channel, []) if before is None or int(m["id"]) < int(before)]
        return _json(older[:limit])

    async def _sync_commands(self, request: web.Request) -> web.Response:
        """Store the commands as Discord returns them: with ids, and permissions as a string."""
        commands = [{**command, "id": f"70{number}", "application_id": request.match_info["application"],
                     "version": "1", "default_member_permissions": _string(command.get("default_member_permissions"))}
                    for number, command in enumerate(await request.json())]
        self.commands.add(commands)
        return _json(commands)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await request.json()
        flags = (body.get("data") or {}).get("flags", 0)
        token, interaction = request.match_info["token"], request.match_info["interaction"]
        self.callbacks.add({"interaction": interaction, "type": body["type"], "flags": flags})
        if body["type"] == 5:  # DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE
            self._deferred[token] = flags
        return _json({"interaction": {"id": interaction, "type": 2, "response_message_loading": True,
                                      "response_message_ephemeral": bool(flags & EPHEMERAL)},
                      "resource": {"type": body["type"]}})

    async def _delete_original(self, request: web.Request) -> web.Response:
        self.callbacks.add({"deleted": request.match_info["token"]})
        self._deferred.pop(request.match_info["token"], None)
        return web.Response(status=204)

    async def _followup(self, request: web.Request) -> web.Response:
        body = await request.json()
        token, flags = request.match_info["token"], body.get("flags", 0)
        shown = self._deferred.pop(token, flags)
        self.followups.add({"token": token, "content": body.get("content", ""), "flags": flags,
                            "ephemeral": bool(shown & EPHEMERAL)})
        return _json({**self.message(f"8{len(self.followups)}", self._channels[token], BOT, body.get("content", "")),
                      "webhook_id": request.match_info["application"], "flags": shown})

    async def _cdn(self, request: web.Request) -> web.Response:
        data = self._files.get(request.match_info["path"])
        self.downloads.add({"path": request.match_info["path"]})
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._socket, self._compressor = socket, zlib.compressobj()
        await self._send({"op": 10, "d": {"heartbeat_interval": 45000}})
        async for frame in socket:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 2:  # IDENTIFY
                await self.dispatch("READY", {"v": 10, "user": BOT, "session_id": "fake",
                                              "guilds": [{"id": g, "unavailable": True} for g in GUILDS],
                                              "resume_gateway_url": str(request.url), "private_channels": [],
                                              "application": {"id": BOT["id"], "flags": 0}})
                for guild_id in GUILDS:
                    await self.dispatch("GUILD_CREATE", guild(guild_id))
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
                mentions: list[dict] = (), roles: tuple[str, ...] = ()) -> dict:
        """A message object; in a guild, with its author's member object (``roles``)."""
        data = {"id": mid, "channel_id": channel, "author": author, "content": content, "timestamp":
                "2026-01-01T00:00:00+00:00", "edited_timestamp": None, "tts": False, "mention_everyone": False,
                "mentions": list(mentions), "mention_roles": [], "attachments": [], "embeds": [], "pinned": False,
                "type": 0, "flags": 0}
        if guild:
            data["guild_id"] = guild
            data["member"] = member(roles)
        return data

    async def delete(self, mid: str, channel: str, guild: str | None = GUILD) -> None:
        """Dispatch MESSAGE_DELETE: only ids, as Discord sends it."""
        await self.dispatch("MESSAGE_DELETE", {"id": mid, "channel_id": channel,
                                               **({"guild_id": guild} if guild else {})})

    async def delete_bulk(self, mids: list[str], channel: str, guild: str = GUILD) -> None:
        """Dispatch MESSAGE_DELETE_BULK (a moderator's purge)."""
        await self.dispatch("MESSAGE_DELETE_BULK", {"ids": mids, "channel_id": channel, "guild_id": guild})

    async def edit(self, message: dict, content: str) -> None:
        """Dispatch MESSAGE_UPDATE: ``message`` (as made by ``message``) with new content."""
        await self.dispatch("MESSAGE_UPDATE", {**message, "content": content,
                                               "edited_timestamp": "2026-01-01T00:01:00+00:00"})

    async def slash(self, name: str, author: dict, roles: tuple[str, ...] = (), channel: str = "60",
                    file: tuple[str, bytes] | None = None, **options: object) -> str:
        """Run ``/name`` in ``channel`` as ``author`` with ``roles`` (a channel of no server is a DM):
        an APPLICATION_COMMAND interaction with ``options`` (a user dict is a user option) and ``file``
        (served by the CDN) as its attachment option ``file``. The interaction's token."""
        number = len(self._channels) + 1
        users = {value["id"]: value for value in options.values() if isinstance(value, dict)}
        data: dict = {"id": "701", "name": name, "type": 1,  # a global command
                      "options": [{"name": key, "type": 6, "value": value["id"]} if isinstance(value, dict) else
                                  {"name": key, "type": OPTION_TYPES[type(value)], "value": value}
                                  for key, value in options.items()],
                      "resolved": {"users": users}}
        if file is not None:
            filename, content = file
            path = f"attachments/{channel}/{number}/{filename}"
            self._files[path] = content
            url = f"{self.url}/cdn/{path}"
            attachment = {"id": f"50{number}", "filename": filename, "size": len(content), "url": url,
                          "proxy_url": url}
            data["options"].append({"name": "file", "type": 11, "value": attachment["id"]})
            data["resolved"]["attachments"] = {attachment["id"]: attachment}
        token = f"token-{number}"
        self._channels[token] = channel
        server = next((g for g, (channels, _) in GUILDS.items() if channel in channels), None)
        if server is None:  # a DM
            where = {"user": author, "channel": {"id": channel, "type": 1, "recipients": [author]}}
        else:
            permissions = 0
            for role in (server, *roles):
                permissions |= ROLES[role]
            where = {"guild_id": server, "member": {**member(roles), "user": author, "permissions": str(permissions)},
                     "channel": {"id": channel, "type": 0, "guild_id": server, "name": f"c{channel}"}}
        await self.dispatch("INTERACTION_CREATE", {
            "id": f"40{number}", "application_id": BOT["id"], "type": 2, "data": data, "channel_id": channel,
            "token": token, "version": 1, "app_permissions": "0", "locale": "en-US",
            "attachment_size_limit": 10 << 20, **where})
        return token

    async def wait_for_messages(self, count: int) -> list[dict]:
        return await self.sent.wait_for(count)


def member(roles: tuple[str, ...]) -> dict:
    """A guild member object without its user."""
    return {"roles": list(roles), "joined_at": "2025-01-01T00:00:00+00:00", "deaf": False, "mute": False, "flags": 0}


def guild(guild_id: str) -> dict:
    """The GUILD_CREATE payload of a server: its roles and two text channels."""
    channels, admin_role = GUILDS[guild_id]
    return {"id": guild_id, "name": f"server {guild_id}", "owner_id": "1", "unavailable": False, "member_count": 3,
            "large": False, "features": [], "emojis": [], "stickers": [], "members": [], "voice_states": [],
            "presences": [], "threads": [], "stage_instances": [], "guild_scheduled_events": [],
            "joined_at": "2025-01-01T00:00:00+00:00",
            "roles": [{"id": role, "name": "@everyone" if role == guild_id else "admins",
                       "permissions": str(ROLES[role]),
                       "position": position, "color": 0, "hoist": False, "managed": False, "mentionable": False,
                       "flags": 0} for position, role in enumerate((guild_id, admin_role))],
            "channels": [{"id": channel, "type": 0, "name": f"c{channel}", "position": position, "guild_id": guild_id,
                          "permission_overwrites": [], "nsfw": False, "parent_id": None}
                         for position, channel in enumerate(channels)]}


def _string(value: object) -> str | None:
    return None if value is None else str(value)


def _json(data: dict | list, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with exactly the content type Discord sends (discord.py compares it as a string)."""
    return web.Response(status=status, body=json.dumps(data).encode(),
                        headers={"Content-Type": "application/json", **(headers or {})})
