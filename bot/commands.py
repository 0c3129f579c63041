"""The commands, the same on every platform, each acting on the caller's community model.

Everyone: /help /correct /history /stats /forget /optout /optin. Admins: /train /flush
/listen /chance /ban /corrections /approve /reject, and /forget @user. Refusals and errors
are sent with ``private=True``: platforms that can show a reply to its caller alone
(ephemeral messages) do so.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime

from bot.communities import Communities
from bot.community_commands import CommunityCommands
from bot.events import Attachment, Message, Send
from bot.registry import BY_NAME, UsageError, checked, help_text, parse
from bot.rules import heard, unpinging
from bot.settings import BotSettings
from bot.uploads import Uploads
from dbslm.errors import DbslmError
from dbslm.listening.backfill import HistoryPage, backfill
from dbslm.listening.listener import Listener
from dbslm.listening.pairing import Heard

log = logging.getLogger(__name__)
FORGET_CONFIRM_SECONDS = 120
SHOWN_CORRECTIONS = 20
SIFTED_AT_ONCE = 100  # history messages sifted between two turns of the event loop
Handler = Callable[..., Awaitable[None]]  # (message, send, **its arguments)


class Commands:
    def __init__(
        self,
        communities: Communities,
        listener: Listener,
        settings: BotSettings,
        conversation_for: Callable[[Message], Awaitable[int]],
    ) -> None:
        self.communities = communities
        self.listener = listener
        self.settings = settings
        self.conversation_for = conversation_for
        self.uploads = Uploads(settings.max_upload_mb)
        self.community = CommunityCommands(communities)
        self._forget_requests: dict[str, float] = {}
        self._background: set[asyncio.Task] = set()
        self._resumable: set[asyncio.Task] = set()
        self.handlers: dict[str, Handler] = {  # one for each command of bot.registry
            "/help": self.help,
            "/correct": self.correct,
            "/history": self.history,
            "/stats": self.stats,
            "/forget": self.forget,
            "/train": self.train,
            "/flush": self.flush,
            "/listen": self.community.listen,
            "/chance": self.community.chance,
            "/optout": self.community.optout,
            "/optin": self.community.optin,
            "/ban": self.community.ban,
            "/corrections": self.corrections,
            "/approve": self.approve,
            "/reject": self.reject,
        }

    def is_admin(self, message: Message) -> bool:
        return message.is_admin or message.user_key in self.settings.admins

    async def run(self, message: Message, send: Send) -> None:
        """Run the command ``message`` holds: its arguments typed by the platform, or parsed
        from its text."""
        name, _, rest = message.text.strip().partition(" ")
        command = BY_NAME.get(name.lower())
        if command is None:
            await send(f"I don't know the command {name[:40]}. {help_text()}", private=True)
            return
        if command.admin and not self.is_admin(message):
            await send(f"Only admins can use {command.slash}.", private=True)
            return
        try:
            arguments = parse(command, rest) if message.arguments is None else checked(command, dict(message.arguments))
            await self.handlers[command.slash](message, send, **arguments)
        except (DbslmError, UsageError) as exc:
            await send(str(exc), private=True)

    async def help(self, message: Message, send: Send) -> None:
        await send(help_text())

    async def correct(self, message: Message, send: Send, text: str) -> None:
        engine = await self.communities.engine(message)
        conversation = await self.conversation_for(message)
        correction = await engine.record_correction(conversation, text, user_id=message.user_key)
        await send(unpinging((await engine.acknowledge(conversation, text, correction)).text))

    async def corrections(self, message: Message, send: Send) -> None:
        pending = await (await self.communities.engine(message)).pending_corrections()
        if not pending:
            await send("No corrections are waiting for approval here.")
            return
        lines = [
            f"#{c.id} from {c.user_id}: \u201c{c.prompt[:200]}\u201d \u2192 \u201c{c.corrected[:200]}\u201d"
            for c in pending[:SHOWN_CORRECTIONS]
        ]
        more = f"\n(and {len(pending) - SHOWN_CORRECTIONS} more)" if len(pending) > SHOWN_CORRECTIONS else ""
        await send("Waiting for approval (/approve <id> or /reject <id>):\n" + "\n".join(lines) + more)

    async def approve(self, message: Message, send: Send, number: int) -> None:
        if not await (await self.communities.engine(message)).approve_correction(number):
            raise DbslmError(f"There is no correction #{number} waiting for approval here: see /corrections.")
        await send(f"Approved correction #{number}: it applies in every conversation, and I learned it.")

    async def reject(self, message: Message, send: Send, number: int) -> None:
        if not await (await self.communities.engine(message)).reject_correction(number):
            raise DbslmError(f"There is no correction #{number} waiting for approval here: see /corrections.")
        await send(f"Rejected correction #{number}: it no longer applies anywhere.")

    async def history(self, message: Message, send: Send, n: int) -> None:
        engine = await self.communities.engine(message)
        messages = await engine.history(await self.conversation_for(message), n)
        await send("\n".join(f"[{m.role}] {m.text}" for m in messages) or "We have not talked here yet.")

    async def stats(self, message: Message, send: Send) -> None:
        engine = await self.communities.engine(message)
        stats = await engine.stats()
        model_id = await engine.model_id()
        listened = await self.communities.channels.listened_channels(model_id)
        opted_out = len(await self.communities.opted_out(engine))
        state = await self.communities.channel(engine, message)
        here = (
            f" This channel: {'listening' if state.listening else 'not listening'}, reply chance {state.chance:.0%}."
            if not message.is_dm
            else ""
        )
        aside = await engine.learning.heard.set_aside_count(model_id)
        unlearnable = f", {aside} messages set aside as unlearnable" if aside else ""
        community = f"{listened} listened channels, {opted_out} opted out{unlearnable}.{here}"
        if not stats["trained"]:
            await send(f"Model {stats['model']!r} has learned nothing of its own yet; {community}")
            return
        grams = ", ".join(f"{n}-grams {c:,}" for n, c in sorted(stats["ngrams"].items()))
        built = (
            datetime.fromtimestamp(stats["built_at"], UTC).strftime("%Y-%m-%d %H:%M UTC")
            if stats["built_at"]
            else "unknown"
        )
        await send(
            f"Model {stats['model']!r}: {stats['tokens']:,} tokens learned; order {stats['order']}, "
            f"{grams}; last rebuilt {built}. {community}"
        )

    async def forget(self, message: Message, send: Send, user: str | None, confirm: bool) -> None:
        if user is not None:
            await self._forget_member(message, f"{message.platform}:{user}", send)
            return
        asked = self._forget_requests.pop(message.user_key, None)
        if not confirm or asked is None or time.monotonic() - asked > FORGET_CONFIRM_SECONDS:
            self._forget_requests[message.user_key] = time.monotonic()
            await send(
                "This deletes every message, correction and conversation of yours that I keep, and "
                "unlearns what I learned from you. Send /forget confirm within two minutes to go ahead."
            )
            return
        removed = await self.communities.forget_user(message.user_key, await self.communities.engine(message))
        await send(
            "Done: I deleted " + _removed(removed) + ". I will not learn from your messages here from now "
            "on; /optin lets me again."
        )

    async def _forget_member(self, message: Message, user_key: str, send: Send) -> None:
        if not self.is_admin(message):
            await send("Only admins can make me forget someone else.", private=True)
            return
        if message.is_dm:
            await send("Forget a member from a channel of their server.", private=True)
            return
        engine = await self.communities.engine(message)
        removed = await engine.forget_user(user_key, only_this_model=True)
        await self.communities.set_opted_out(engine, user_key, True)
        await send(
            f"Done: for this community I deleted {_removed(removed)} of <@{user_key.split(':', 1)[1]}>, "
            "and I will not learn from them here unless they send /optin."
        )

    async def train(self, message: Message, send: Send, history: int | None, text: str | None) -> None:
        if history is not None:
            if text or message.attachments:
                await send("Give /train a file or text, or history, not both.", private=True)
                return
            await self._train_history(message, history, send)
            return
        uploads = list(message.attachments) + ([Attachment("message.txt", text.encode("utf-8"))] if text else [])
        if not uploads:
            await send("Attach a .txt, .json, .ndjson or .yml file to /train, or put the text after it.", private=True)
            return
        for upload in uploads:
            refusal = self.uploads.refusal(upload)
            if refusal:
                await send(refusal, private=True)
                return
        self._spawn(self.uploads.train(await self.communities.engine(message), uploads, message.user_key, send), send)
        await send(f"Training on {', '.join(u.name for u in uploads)} in the background; I keep answering meanwhile.")

    async def _train_history(self, message: Message, limit: int, send: Send) -> None:
        if message.is_dm or message.history is None:
            await send(
                "/train history reads a server channel's past messages; it works in channels I can read.", private=True
            )
            return
        self._spawn(self._backfill(message, limit, send), send, stop_at_shutdown=True)
        await send(
            f"Reading up to {limit:,} past messages of this channel in the background; I learn those the "
            "listening rules allow (no bots, commands, opted-out people or banned words)."
        )

    async def _backfill(self, message: Message, limit: int, send: Send) -> None:
        """Learn up to ``limit`` past messages of the command's channel, from where a backfill
        before stopped."""
        engine = await self.communities.engine(message)
        read = message.history

        async def heard_page(cursor: str | None) -> HistoryPage[Heard]:
            page = await read(cursor)
            opted_out, banned = await self.communities.opted_out(engine), engine.banned_words  # as of this page
            sifted: list[Heard] = []
            for start in range(0, len(page.messages), SIFTED_AT_ONCE):
                if start:  # a page of 1,000 holds the loop for ms: the queueing's statements and replies go between
                    await asyncio.sleep(0)
                sifted += [heard(m, opted_out, banned) for m in page.messages[start : start + SIFTED_AT_ONCE]]
            return HistoryPage(sifted, page.cursor)

        async def save_cursor(cursor: str | None) -> None:
            await self.communities.update_channel(engine, message, backfill_cursor=cursor)

        cursor = (await self.communities.channel(engine, message)).backfill_cursor
        await backfill(self.listener, engine.learning, heard_page, cursor, save_cursor, limit, send)

    def _spawn(self, work: Coroutine[None, None, None], send: Send, *, stop_at_shutdown: bool = False) -> None:
        """Run a long command in the background; a failure is reported where it was asked.
        ``stop_at_shutdown``: cancelled at shutdown instead of awaited (a resumable backfill)."""

        async def run() -> None:
            try:
                await work
            except DbslmError as exc:
                await send(f"That failed: {exc}. What was complete before stays; no half-written build went live.")
            except Exception:  # a background task: report it here, or nobody sees it
                log.exception("a background command failed")
                await send(
                    "That failed with an internal error; no half-written build went live. "
                    "The bot's log has the details."
                )

        task = asyncio.create_task(run())
        (self._resumable if stop_at_shutdown else self._background).add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(self._resumable.discard)

    async def flush(self, message: Message, send: Send, n: int | None) -> None:
        if self.settings.cold_url is None:
            await send(
                "No MariaDB is configured for cold storage: set DBSLM_MARIADB_HOST (and its user, "
                "password and database) to use /flush.",
                private=True,
            )
            return
        engine = await self.communities.engine(message)
        report = await engine.flush(self.settings.cold_url, n or self.settings.flush_batch)
        await send(
            f"Moved {report.contexts:,} cold contexts ({report.rows:,} n-grams) to MariaDB; "
            "I answer from them as before."
        )

    async def wait_for_training(self, stop_backfills: bool = False) -> None:
        """Let background trainings and backfills finish; at shutdown (``stop_backfills``) a
        backfill is stopped instead: it resumes from its saved cursor when asked again."""
        if stop_backfills:
            for task in self._resumable:
                task.cancel()
        if self._background or self._resumable:
            await asyncio.gather(*self._background, *self._resumable, return_exceptions=True)


def _removed(removed: dict[str, int]) -> str:
    """The rows removed per table, in words ("nothing" when there were none)."""
    return ", ".join(f"{n:,} {table.replace('_', ' ')}" for table, n in removed.items() if n) or "nothing"
