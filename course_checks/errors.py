"""The exception of a check that found a wrong answer (here: compare and replay both raise it)."""

from __future__ import annotations

__all__ = [
    "CheckFailure",
]


class CheckFailure(AssertionError):
    """A test found a wrong answer; the message says what is wrong in plain words."""
