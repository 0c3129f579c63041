"""The Discord adapter: discord.py's client with the message-content intent and slash commands.

DMs and mentions become bot messages; the commands are application (slash) commands (/correct,
/history, /stats, /forget, /help; /train with a file and /flush for Manage Server members) and
can also be typed as messages (/train with an attachment). Members with Manage Server are admins
of their server. A typing indicator shows while a reply to a message is generated; a slash
command is deferred and answered with follow-ups, refusals visible to the caller alone.
"""

from adapters.discord.adapter import DiscordAdapter, serve

__all__ = ["DiscordAdapter", "serve"]
