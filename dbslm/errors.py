"""The one exception type a user is meant to read."""


class DbslmError(Exception):
    """A problem with the user's input or environment, told in one line.

    The command line prints its message and exits non-zero; the bot replies with it.
    """
