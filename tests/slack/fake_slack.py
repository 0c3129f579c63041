"""A small fake of Slack's Web API on 127.0.0.1: records what the bot posts.

Written from Slack's public API documentation for the methods the adapter calls.
"""

from __future__ import annotations

from aiohttp import web

from tests.recorder import Recorder

ADMIN = "UADMIN"


class FakeSlackAPI:
    def __init__(self) -> None:
        self.posted = Recorder()
        self.app = web.Application()
        self.app.router.add_route("*", "/api/{method}", self._call)

    async def _call(self, request: web.Request) -> web.Response:
        form: dict = dict(request.query)
        if request.content_type == "application/json":
            form.update(await request.json())
        else:
            form.update(await request.post())
        method = request.match_info["method"]
        if method == "auth.test":
            return web.json_response({"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"})
        if method == "users.info":
            return web.json_response({"ok": True, "user": {"id": form["user"], "is_admin": form["user"] == ADMIN}})
        if method == "chat.postMessage":
            self.posted.add({k: str(v) for k, v in form.items()})
            return web.json_response({"ok": True, "channel": form["channel"], "ts": "1.0"})
        return web.json_response({"ok": False, "error": "unknown_method"})

    async def wait_for_posts(self, count: int) -> list[dict[str, str]]:
        return await self.posted.wait_for(count)
