"""The one exception type that carries a message meant for a person."""

from __future__ import annotations


class CqkgError(Exception):
    """An error meant for a person: the message names the file, node, query or URL at fault.

    `exit_code` follows the CLI's convention: 1 = the data or the store says no (violations,
    an occupied graph), 2 = the input could not be read or the request makes no sense.

    >>> raise CqkgError("seeds/x.ttl:3: invalid Turtle", exit_code=2)
    Traceback (most recent call last):
    cqkg.errors.CqkgError: seeds/x.ttl:3: invalid Turtle
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.exit_code = exit_code
