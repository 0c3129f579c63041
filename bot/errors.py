"""The bot's own one-line errors (a platform that refuses a token, say)."""


class BotError(Exception):
    """A problem the operator reads in one line; ``dbslm-bot`` exits with it."""
