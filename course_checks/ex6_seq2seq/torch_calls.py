"""Calls of the student's code in Exercise 6's PyTorch notebook, explained in its own shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from course_checks.calls import call_with_shapes
from course_checks.errors import CheckFailure
from course_checks.probes import outcome

__all__ = ["SHAPES", "call_seq2seq", "describe", "failure_text"]

SHAPES = (
    "Shapes: sequences are time-major: the sources src are (S, B) ids padded with 0, their "
    "lengths (B,); the annotations (S, B, 2H), the summary (B, 2H); a decoder state s is "
    "(B, hidden), the previous tokens y_prev (B,), the logits of one step (B, V), the weights "
    "alpha (S, B) and the context (B, 2H). nn.Linear acts on the last axis; torch.cat the "
    "vectors of one step along dim=-1; softmax the scores over the source positions, dim=0."
)

_GENERIC_HINT = "Read the error above, then re-run the cell that defines the function."
_SIZE_WORDS = ("size", "shape", "dimension", "target", "batch", "expected")


def call_seq2seq(function: Callable[..., Any], *args: Any) -> Any:
    """:func:`~course_checks.calls.call` with this exercise's sentence about shapes, also after
    the errors of nn.GRU, nn.Linear and F.cross_entropy about sizes that the core's hints do not
    know."""
    __tracebackhide__ = True
    try:
        return call_with_shapes(SHAPES, function, *args)
    except CheckFailure as failure:
        message = str(failure)
        first = message.split("\n", 1)[0].lower()
        if message.endswith(_GENERIC_HINT) and any(word in first for word in _SIZE_WORDS):
            raise CheckFailure(message[: -len(_GENERIC_HINT)] + SHAPES) from None
        raise


def describe(value: Any) -> str:
    """``"a tensor of shape (3, 4) and dtype torch.int64"``, ``"a list of 2 items"``, ``"None"``."""
    if value is None:
        return "None"
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
    if isinstance(value, tuple | list):
        return f"a {type(value).__name__} of {len(value)} items"
    shape = getattr(value, "shape", None)
    return f"a {type(value).__name__}" + (f" of shape {tuple(shape)}" if shape is not None else "")


def failure_text(message: str) -> str:
    """What may be shown of a failure a probe kept as data: ``probes.outcome``'s message (in the
    grader's re-check, only the lines it can vouch for)."""
    try:
        outcome({"failure": message})
    except CheckFailure as failure:
        return str(failure)
    return ""
