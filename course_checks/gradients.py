"""What the NumPy backward-pass checks share: the instructor's finite differences, a retry on a
square case, and a note on the other gradients."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_checks.calls import crash_target
from course_checks.compare import as_numpy
from course_checks.errors import CheckFailure

__all__ = [
    "backward_on_own_terms",
    "numerical_gradient",
    "others_note",
]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5
) -> np.ndarray:
    """The instructor's centered differences of ``f`` at ``x`` (float64; ``x`` restored).

    A gradient check compares a student's backward pass with these, never with the student's own
    finite differences: two answers of the student's that agree (both zero) prove nothing.
    """
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def backward_on_own_terms(
    run: Callable[[Any], Any],
    what: str,
    own: tuple[str, ...],
    names: tuple[str, ...],
    case: Any,
    square: Callable[[Any], Any],
) -> tuple[Any, Any]:
    """``(run(case), case)``; after an error on a line that computes another gradient, a retry.

    ``run`` calls the student's backward pass on a case. When it raises and the line that raised
    (:func:`~course_checks.compare.crash_target`) assigns to one of ``names`` that is not in
    ``own`` (the quantities this test checks), the batch size may be what trips that line (an
    axis slip between the batch, input and hidden axes): the pass runs again on ``square(case)``,
    the same case with ``B = D = H``, and this test checks its own quantities there. The error
    is that other gradient's test's to report. Anything else is raised as it is.
    """
    __tracebackhide__ = True
    try:
        return run(case), case
    except CheckFailure as failure:
        target = crash_target(str(failure))
        if target is not None and target not in names and "d" + target in names:
            target = "d" + target  # grads["W_xr"] += … computes dW_xr
        _, B, D, H = case.sizes
        if target not in names or target in own or B == D == H:
            raise
        retry = square(case)
        try:
            result = run(retry)
        except CheckFailure:
            raise failure from None
        print(
            f"{what} raised an error on a case with B={B}, D={D}, H={H}, on the line that "
            f"computes {target} (its own test reports it); {', '.join(own)} is checked on the "
            f"same case with B = D = H = {H} instead, where that line runs."
        )
        return result, retry


def others_note(
    what: str, grads: Mapping[str, Any], expected: Mapping[str, np.ndarray], own: tuple[str, ...]
) -> str:
    """Which of the other gradients that ``what`` returned match PyTorch's, and which do not."""
    right, wrong = [], []
    for key, value in expected.items():
        if key in own:
            continue
        try:
            got = np.asarray(as_numpy(grads.get(key)), dtype=np.float64)
        except (TypeError, ValueError):
            wrong.append(key)
            continue
        good = got.shape == value.shape and bool(np.allclose(got, value, atol=1e-6, rtol=0))
        (right if good else wrong).append(key)
    if not wrong:
        return f"The other gradients of {what} ({', '.join(right)}) match PyTorch's on this case."
    return (
        f"Of the other gradients of {what}, "
        + (f"{', '.join(right)} match PyTorch's and " if right else "")
        + f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not, on this case."
    )
