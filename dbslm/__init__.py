"""dbslm: a chat bot whose whole language model lives in database tables."""

__version__ = "0.1.0"
