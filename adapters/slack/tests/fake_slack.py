"""A small fake of Slack on 127.0.0.1: the Web API methods the adapter calls, Socket Mode, files.

Written from Slack's public documentation: Web API calls carry their token as a bearer token;
apps.connections.open (app-level token) returns a websocket URL, where the server says ``hello``,
sends envelopes ``{envelope_id, type, payload, accepts_response_payload}`` and expects each to be
acknowledged with ``{envelope_id}``; a file's ``url_private`` needs the bot token to download;
conversations.history pages newest first with ``response_metadata.next_cursor``; a rate-limited
call is answered HTTP 429 with a ``Retry-After`` header; oauth.v2.access (the app's client id and
secret as HTTP basic auth) exchanges an installer's code, once, for a bot token of their workspace.
Two workspaces (T1, T2), each with its own admins; each bot token belongs to one. Records every Web
API call, and what the bot posts (with the token it used), acknowledges and downloads.
What it sends is loaded from payloads/ (JSON as Slack sends it), each test's ids and text filled in.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from tests.helpers import Payloads, Recorder

ADMIN = "UADMIN"  # an admin of T1, but not of T2
ADMIN2 = "UADMIN2"  # an admin of T2
BOT_TOKEN = "xoxb-fake-bot-token"  # T1's, for a bot of one workspace
APP_TOKEN = "xapp-fake-app-token"
CLIENT_ID, CLIENT_SECRET = "1234.5678", "fake-client-secret"  # the app's, for installing it anywhere
CLIENT_CREDENTIALS = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()  # as HTTP basic auth
BOT_USER, BOT_ID = "UBOT", "BBOT"
payload = Payloads(Path(__file__).parent / "payloads")


async def serve_app(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free loopback port; returns its runner and base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}"


_TS = itertools.count(1)


def fresh_ts() -> str:
    """A message timestamp no other message of the run has."""
    return f"{1000 + next(_TS)}.000100"


def event_body(
    kind: str, text: str, user: str = "U1", channel: str = "C1", team: str = "T1", **extra: Any
) -> dict[str, Any]:
    """An Events API ``event_callback`` body around one event, ``message`` or ``app_mention``
    (a fresh ``ts`` unless given)."""
    ts = extra.pop("ts", None) or fresh_ts()
    return wrapped(payload(kind, user=user, text=text, ts=ts, channel=channel, event_ts=ts, **extra), team)


def changed_body(old: dict[str, Any], text: str, team: str = "T1") -> dict[str, Any]:
    """The ``message_changed`` event of the message event ``old`` edited to ``text``."""
    ts = fresh_ts()
    before = {k: old[k] for k in ("type", "user", "text", "ts")}
    return wrapped(
        payload(
            "message_changed",
            channel=old["channel"],
            ts=ts,
            event_ts=ts,
            previous_message=before,
            message={**before, "text": text, "edited": {"user": old["user"], "ts": ts}},
        ),
        team,
    )


def deleted_body(old: dict[str, Any], team: str = "T1") -> dict[str, Any]:
    """The ``message_deleted`` event of the message event ``old``."""
    ts = fresh_ts()
    return wrapped(
        payload(
            "message_deleted",
            channel=old["channel"],
            ts=ts,
            event_ts=ts,
            deleted_ts=old["ts"],
            previous_message={k: old[k] for k in ("type", "user", "text", "ts")},
        ),
        team,
    )


def wrapped(event: dict[str, Any], team: str) -> dict[str, Any]:
    """The ``event_callback`` body that delivers ``event`` to the bot installed in the workspace ``team``."""
    body = payload(
        "event_callback", team_id=team, context_team_id=team, event_id=f"Ev{time.monotonic_ns()}", event=event
    )
    body["authorizations"][0] |= {"team_id": team, "user_id": BOT_USER}
    return body


def command_body(name: str, text: str, user: str = "U1", channel: str = "C1", team: str = "T1") -> dict[str, str]:
    """A slash command's payload (form fields over HTTP, a JSON object in Socket Mode)."""
    return payload(
        "slash_command",
        team_id=team,
        channel_id=channel,
        user_id=user,
        command=name,
        text=text,
        response_url="http://127.0.0.1:9/unused",
        trigger_id=f"{next(_TS)}.trigger",
    )


class FakeSlack:
    def __init__(self) -> None:
        self.calls = Recorder()  # every Web API call: its method, arguments (no token) and HTTP status
        self.posted = Recorder()  # chat.postMessage and chat.postEphemeral calls, with "method"
        self.acks = Recorder()  # Socket Mode acks, with how many posts had arrived before each
        self.downloads = Recorder()  # file downloads, with the Authorization header they carried
        self.connected = asyncio.Event()
        self.stall: dict[str, float] = {}  # Web API method -> seconds it takes to answer
        self.url = ""
        self.admins = {"T1": {ADMIN}, "T2": {ADMIN2}}  # users.info's is_admin, per workspace
        self.outside: set[str] = set()  # channels the bot is no member of: not_in_channel
        self.history: dict[str, list[dict[str, Any]]] = {}  # channel -> its messages, newest first
        self.page_size = 200  # conversations.history serves at most this many a page
        self.readable_pages: dict[str, int] = {}  # channel -> pages served before not_in_channel
        self.rate_limited: set[str] = set()  # methods answered once with HTTP 429, Retry-After: 1
        self.tokens = {BOT_TOKEN: "T1"}  # bot token -> its workspace
        self._codes: dict[str, str] = {}  # an installer's OAuth code -> their workspace
        self._pages: dict[str, int] = {}
        self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
        self._sockets: list[web.WebSocketResponse] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._call)
        self.app.router.add_get("/link/", self._socket)
        self.app.router.add_post("/respond/{channel}", self._respond)
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
        file = self.file(f"F{next(self._ids)}", name, len(data))
        self._files[file["id"]] = (file, data)
        return file

    def file(self, file_id: str, name: str, size: int) -> dict[str, Any]:
        """The file object of a file of this fake (only an uploaded one can be downloaded)."""
        url = f"{self.url}/files-pri/{file_id}/{name}"
        return payload(
            "file",
            id=file_id,
            name=name,
            title=name,
            size=size,
            url_private=url,
            url_private_download=url + "?download=1",
        )

    def grant(self, team: str) -> str:
        """The code Slack sends an installer of the app into ``team`` back with (to /slack/oauth_redirect)."""
        code = f"code-{team}-{next(self._ids)}"
        self._codes[code] = team
        return code

    async def push(self, kind: str, body: dict[str, Any]) -> str:
        """Send one envelope (events_api, slash_commands) over the bot's websocket; returns its id.
        A slash command gets a ``response_url`` of this fake."""
        envelope_id = f"env-{next(self._ids)}"
        if kind == "slash_commands":
            body = {**body, "response_url": f"{self.url}/respond/{body['channel_id']}"}
        await self._sockets[-1].send_json(payload(f"envelope_{kind}", envelope_id=envelope_id, payload=body))
        return envelope_id

    async def _call(self, request: web.Request) -> web.Response:
        form: dict = dict(request.query)
        if request.content_type == "application/json":
            form.update(await request.json())
        else:
            form.update(await request.post())
        method = request.match_info["method"]
        await asyncio.sleep(self.stall.get(method, 0))
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        authorized = token == APP_TOKEN if method == "apps.connections.open" else token in self.tokens
        if method == "oauth.v2.access":
            authorized = request.headers.get("Authorization") == f"Basic {CLIENT_CREDENTIALS}"
        if authorized and method in self.rate_limited:
            self.rate_limited.discard(method)
            self.calls.add({"method": method, **form, "status": 429})
            return web.json_response(payload("error", error="ratelimited"), status=429, headers={"Retry-After": "1"})
        self.calls.add({"method": method, **form, "status": 200})
        if not authorized:
            return web.json_response(payload("error", error="invalid_auth"))
        if method == "conversations.history":
            return web.json_response(self._history(form["channel"], int(form.get("limit", 100)), form.get("cursor")))
        if method == "auth.test":
            return web.json_response(payload("auth_test", user_id=BOT_USER, bot_id=BOT_ID, team_id=self.tokens[token]))
        if method == "oauth.v2.access":
            return web.json_response(self._installed(form.get("code", "")))
        if method == "apps.connections.open":
            return web.json_response(
                payload("apps_connections_open", url=f"ws://{request.host}/link/?ticket=t{next(self._ids)}")
            )
        if method == "users.info":
            team, who = form.get("team_id", "T1"), form["user"]
            answer = payload("users_info")
            answer["user"] |= {"id": who, "team_id": team, "is_admin": who in self.admins.get(team, set())}
            return web.json_response(answer)
        if method == "files.info":
            return web.json_response(payload("files_info", file=self._files[form["file"]][0]))
        if method in ("chat.postMessage", "chat.postEphemeral") and form["channel"] in self.outside:
            return web.json_response(payload("error", error="not_in_channel"))
        if method in ("chat.postMessage", "chat.postEphemeral"):
            self.posted.add({"method": method, **{k: str(v) for k, v in form.items()}, "token": token})
            return web.json_response(self._posted(method, form))
        return web.json_response(payload("error", error="unknown_method"))

    def _installed(self, code: str) -> dict[str, Any]:
        """oauth.v2.access's answer to a code: a new bot token of the code's workspace, or invalid_code."""
        team = self._codes.pop(code, None)
        if team is None:
            return payload("error", error="invalid_code")
        token = f"xoxb-{team}-{next(self._ids)}"
        self.tokens[token] = team
        return payload(
            "oauth_v2_access",
            access_token=token,
            bot_user_id=BOT_USER,
            team={"id": team, "name": f"Workspace {team}"},
            authed_user={"id": ADMIN if team == "T1" else ADMIN2},
        )

    @staticmethod
    def _posted(method: str, form: dict[str, Any]) -> dict[str, Any]:
        """chat.postMessage's answer (the message as posted) or chat.postEphemeral's."""
        ts = fresh_ts()
        if method == "chat.postEphemeral":
            return payload("chat_post_ephemeral", message_ts=ts)
        answer = payload("chat_post_message", channel=form["channel"], ts=ts)
        answer["message"] |= {"user": BOT_USER, "bot_id": BOT_ID, "text": str(form.get("text", "")), "ts": ts}
        return answer

    def _history(self, channel: str, limit: int, cursor: str | None) -> dict[str, Any]:
        """One page of a channel's history, or not_in_channel past its readable pages."""
        served = self._pages.get(channel, 0)
        if channel in self.outside or served >= self.readable_pages.get(channel, served + 1):
            return payload("error", error="not_in_channel")
        self._pages[channel] = served + 1
        start = int(cursor or 0)
        end = start + min(limit, self.page_size)
        more = end < len(self.history.get(channel, []))
        return payload(
            "conversations_history",
            messages=self.history.get(channel, [])[start:end],
            has_more=more,
            response_metadata={"next_cursor": str(end) if more else ""},
        )

    async def _respond(self, request: web.Request) -> web.Response:
        """A slash command's response_url: posts as ``response_url`` with their response_type."""
        body = await request.json()
        self.posted.add(
            {
                "method": "response_url",
                "channel": request.match_info["channel"],
                "text": body["text"],
                "response_type": body.get("response_type", "ephemeral"),
            }
        )
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(payload("hello"))
        self.connected.set()
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                self.acks.add({**json.loads(frame.data), "posts_before": len(self.posted)})
        return socket

    async def _download(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        self.downloads.add({"file": request.match_info["id"], "authorization": authorization})
        if authorization.removeprefix("Bearer ") not in self.tokens:
            return web.Response(status=403, text="sign in to download this file")
        if request.match_info["id"] not in self._files:
            return web.Response(status=404)
        return web.Response(body=self._files[request.match_info["id"]][1], content_type="text/plain")
