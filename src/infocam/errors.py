"""Errors that mean "the input is wrong", as opposed to a bug in infocam.

The command line turns an :class:`InputError` into a one-line message and
exit code 2, with no traceback. Library callers can catch it as a
``ValueError``.
"""

from __future__ import annotations

__all__ = ["InputError", "where"]


class InputError(ValueError):
    """Bad input from the user: a file, a line, an argument or a setting.

    The message always names what is wrong (the argument, or ``file:line``).
    """


def where(path: object, line: int | None = None) -> str:
    """Format a location as ``path`` or ``path:line`` for error messages."""
    return f"{path}:{line}" if line is not None else f"{path}"
