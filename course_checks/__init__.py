"""Helpers that the exercises' test cells call, so that a failing test explains itself.

Import in a notebook with ``from course_checks import check_close, call, rel_error``.
"""

from .compare import CheckFailure, as_numpy, call, check_close, check_true, rel_error
from .guards import RNN_BUILTINS, forbid_calls

__all__ = [
    "RNN_BUILTINS",
    "CheckFailure",
    "as_numpy",
    "call",
    "check_close",
    "check_true",
    "forbid_calls",
    "rel_error",
]
