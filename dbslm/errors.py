"""The one exception type a user is meant to read."""


class DbslmError(Exception):
    """A problem with the user's input or environment, told in one line.

    The command line prints its message and exits non-zero; the bot replies with it.
    """


class DatabaseError(DbslmError):
    """The database failed a statement (busy, gone, full, a constraint): each backend turns its
    driver's errors into this one, so nothing above the store knows which driver it talks to."""
