"""The Discord adapter: discord.py's sharded client with the message-content intent and slash
commands; a process runs every shard or those BOT_SHARD_IDS names, and prints the bot's invite link.

Every server message the bot sees goes to the core, which learns those of listened channels and
answers DMs, mentions, commands and, with a channel's reply chance, other messages; edits are
relearned and deletions unlearned. The commands are application (slash) commands and can also be
typed as messages (/train with an attachment, /forget <@member>); /train history reads the
channel's past messages a page at a time. Members with Manage Server are admins of their server.
A typing indicator shows while a reply to a message is generated; a slash command is deferred
and answered with follow-ups, refusals visible to the caller alone.
"""

from adapters.discord.adapter import DiscordAdapter, serve

__all__ = ["DiscordAdapter", "serve"]
