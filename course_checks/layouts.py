"""Calls of student code in a PyTorch exercise's layout (stacked weights, gate order), with
hints that name a slip of layout, and the message of a state cut from the graph."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from course_checks import replay
from course_checks.calls import _SIGNATURE_HINT, student_failure, unpack_hint, where_raised
from course_checks.errors import CheckFailure

__all__ = [
    "TorchLayout",
    "call_in_layout",
    "state_cut_message",
]


def state_cut_message(state: str, what: str) -> str:
    """Why ``<state>.grad`` is None when the outputs, already checked, do depend on ``state``.

    The outputs matched those of the built-in module started from the given state, so the
    state was used: what stops the gradient is a cut in the graph, not an ignored argument.
    """
    return (
        f"{state}.grad is None after loss.backward(), although the outputs of {what} match "
        f"those computed from the given {state}, so your forward uses its values: the state "
        f"leaves the graph somewhere. A .detach() or .data on the state (at the start, or at "
        f"every step), a copy built from its values (torch.tensor(...), .numpy()), or a new "
        f"tensor filled from it cut the gradient that must flow back through time to {state}. "
        f"Use the given tensor itself in torch operations."
    )


@dataclass(frozen=True)
class TorchLayout:
    """What the hints after an exception say about a PyTorch exercise's layout."""

    shapes: str  # the sentence about shapes that ends the hint after a shape error
    weights: str  # the stacked weights, e.g. "weight_ih (3H, D) and weight_hh (3H, H)"
    parameter: str  # a parameter that values are copied into, e.g. "self.cell.weight_ih"
    train: str  # the exercise's training function, e.g. "train"


def call_in_layout(
    layout: TorchLayout, function: Callable[..., Any], *args: Any, hint: str = "", **kwargs: Any
) -> Any:
    """:func:`call_gru` for another PyTorch exercise, whose hints describe ``layout``."""
    __tracebackhide__ = True
    return replay.through(
        function,
        args,
        kwargs,
        lambda a, k: _explained_call(function, a, k, hint, layout),
        _callable_name(function),
    )


def _explained_call(
    function: Callable[..., Any],
    args: tuple,
    kwargs: Mapping[str, Any],
    hint: str,
    layout: TorchLayout,
) -> Any:
    __tracebackhide__ = True
    name = _callable_name(function)
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise student_failure(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.",
            stub=True,
        ) from None
    except CheckFailure:
        raise
    except Exception as error:
        shapes = ", ".join(_describe(a) for a in (*args, *kwargs.values())) or "no arguments"
        hints = [h for h in (hint, _hint_for(error, layout)) if h]
        raise student_failure(
            f"{name} raised {type(error).__name__}: {error}\n"
            f"  It was called with: {shapes}.\n"
            + where_raised(error, function)
            + "  "
            + "\n  ".join(hints),
            error=error,
            function=function,
        ) from None


def _callable_name(function: Any) -> str:
    if isinstance(function, nn.Module):
        return f"{type(function).__name__}.forward"
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    return name or type(function).__name__


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    if isinstance(value, nn.Module):
        return type(value).__name__
    return repr(value) if isinstance(value, int | float | bool) else type(value).__name__


def _hint_for(error: Exception, layout: TorchLayout) -> str:
    """The likely mistake behind an exception, in the words of the exercise of ``layout``."""
    text = str(error)
    lowered = text.lower()
    if "leaf variable" in lowered and "in-place" in lowered:
        return (
            "An nn.Parameter was changed in place while autograd records: copy values into "
            "parameters inside `with torch.no_grad():`."
        )
    if "cannot assign" in lowered and "parameter" in lowered:
        return (
            "A registered nn.Parameter can only be replaced by another nn.Parameter: copy the "
            f"values in instead, {layout.parameter}.copy_(...) inside `with torch.no_grad():`."
        )
    if "unexpected keyword argument" in lowered or "positional argument" in lowered:
        return _SIGNATURE_HINT
    if "values to unpack" in lowered or "cannot unpack" in lowered:
        return unpack_hint(text)
    if any(f in lowered for f in ("dtype", "scalar type", "double != float", "float != double")):
        return (
            "float32 and float64 are mixed. The checks run in float64: create the parameters "
            "with the `dtype` argument (float64 by default) and every new tensor with the "
            "input's dtype and device, torch.zeros(..., dtype=x.dtype, device=x.device); a "
            f"tensor made without a dtype is float32. In {layout.train}, convert each batch to "
            "the model's dtype and device (x.to(parameter))."
        )
    product = re.search(r"\((\d+)x(\d+) and (\d+)x(\d+)\)", text)
    if product:
        _, inner, rows, columns = (int(g) for g in product.groups())
        if inner == columns and inner != rows:
            return (
                f"A weight of shape ({rows}, {columns}) is used without transposing it: PyTorch "
                f"stores one row per output unit, {layout.weights}, so the products are "
                f"x_t @ weight_ih.T and h @ weight_hh.T (transpose).\n  {layout.shapes}"
            )
        return layout.shapes
    if any(
        f in lowered
        for f in ("shape", "size of tensor", "must match the size", "mat1", "dimension", "index")
    ):
        return layout.shapes
    return "Read the error above, then re-run the cell that defines the function."
