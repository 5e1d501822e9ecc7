"""Calls of the student's code in Exercise 5's PyTorch notebook, explained in its own shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from course_checks.calls import call_with_shapes
from course_checks.compare import check_true
from course_checks.errors import CheckFailure
from course_checks.probes import outcome

__all__ = ["SHAPES", "call_language", "describe", "failure_text", "integer_ids"]

SHAPES = (
    "Shapes: sequences are time-major: character ids x and y are (T, B) integer tensors, the "
    "logits (T, B, V) and a GRU's state h (num_layers, B, H). F.cross_entropy takes scores "
    "(N, V) and targets (N,): flatten both the same way, logits.reshape(-1, V) and "
    "y.reshape(-1)."
)


_GENERIC_HINT = "Read the error above, then re-run the cell that defines the function."
_SIZE_WORDS = ("size", "shape", "dimension", "target", "batch")


def call_language(function: Callable[..., Any], *args: Any) -> Any:
    """:func:`~course_checks.calls.call` with this exercise's sentence about shapes, also after
    the errors of F.cross_entropy and nn.GRU about sizes that the core's hints do not know."""
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


def integer_ids(value: Any, what: str, shape: tuple[int, ...]) -> torch.Tensor:
    """``value`` as a tensor of character ids of ``shape``; fails with a message otherwise."""
    __tracebackhide__ = True
    check_true(
        isinstance(value, torch.Tensor),
        f"{what} must be a torch tensor of character ids; it is {describe(value)}.",
    )
    check_true(
        not value.is_floating_point() and not value.is_complex() and value.dtype != torch.bool,
        f"{what} has dtype {value.dtype}; character ids are integers (torch.long), which "
        f"nn.Embedding and F.cross_entropy need. Keep the dtype of the ids you are given.",
    )
    if tuple(value.shape) != shape:
        swapped = len(shape) == 2 and tuple(value.shape) == shape[::-1]
        check_true(
            False,
            f"{what} has shape {tuple(value.shape)}; expected {shape}"
            + (
                ": the axes are swapped. Time comes first, then the B streams (n, B)."
                if swapped
                else "."
            ),
        )
    return value


def failure_text(message: str) -> str:
    """What may be shown of a failure a probe kept as data: ``probes.outcome``'s message (in the
    grader's re-check, only the lines it can vouch for)."""
    try:
        outcome({"failure": message})
    except CheckFailure as failure:
        return str(failure)
    return ""
