"""Comparisons that explain themselves: which quantity, expected vs. got, and the likely mistake.

Test cells in the exercises call these instead of bare ``assert``. A failure raises
:class:`CheckFailure` (an ``AssertionError``, so nbgrader counts it as a failed test) whose message is
written for a student: it names the quantity, shows expected and actual shapes and values, and, when
the wrong answer matches a known mistake, says which one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "CheckFailure",
    "as_numpy",
    "call",
    "check_close",
    "check_gradient",
    "check_true",
    "expect_keys",
    "expect_tuple",
    "rel_error",
]


class CheckFailure(AssertionError):
    """A test found a wrong answer; the message says what is wrong in plain words."""


def as_numpy(value: Any) -> Any:
    """Return ``value`` as a NumPy array when it is a torch tensor, else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def rel_error(a: Any, b: Any) -> float:
    """The course's relative error: ``max |a − b| / max(1e-8, |a| + |b|)``, element-wise (CS231n)."""
    a = np.asarray(as_numpy(a), dtype=np.float64)
    b = np.asarray(as_numpy(b), dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student's function, turning the usual first errors into explanations.

    ``NotImplementedError`` means the stub is still there; any other exception is re-raised as a
    :class:`CheckFailure` that names the function and the shapes it was given, since most errors
    at this stage are shape errors from a transposed weight or a wrong axis.
    """
    __tracebackhide__ = True
    name = _callable_name(function)
    try:
        return function(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailure(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
        ) from None
    except CheckFailure:
        raise
    except Exception as error:
        shapes = ", ".join(_describe_argument(a) for a in args)
        raise CheckFailure(
            f"{name} raised {type(error).__name__}: {error}\n"
            f"  It was called with: {shapes}.\n"
            f"  {_hint_for_exception(error)}"
        ) from None


def check_true(condition: bool, message: str) -> None:
    """Fail with ``message`` (plain words) unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise CheckFailure(message)


def check_close(
    name: str,
    got: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    mistakes: Mapping[str, Any] | None = None,
    hint: str = "",
    dtype: Any = np.float64,
    kind: str | None = None,
) -> None:
    """Check that ``got`` equals ``expected`` to ``atol`` (max absolute difference).

    Args:
        name: the quantity in words, e.g. ``"h_t from rnn_cell_forward"``.
        got: the student's value (NumPy array, torch tensor or scalar).
        expected: the reference value.
        atol: largest allowed absolute difference (the course uses 1e-6 in float64).
        mistakes: maps a description of a likely mistake to the value that mistake produces;
            when ``got`` matches one, the message names it.
        hint: a sentence added to a value mismatch that no catalogued mistake explains.
        dtype: the dtype the answer must have (float64 by default); ``None`` skips the check.
        kind: ``"numpy"`` or ``"torch"`` to require that container type; ``None`` accepts both.
    """
    __tracebackhide__ = True
    problem = _explain_mismatch(name, got, expected, atol, mistakes or {}, hint, dtype, kind)
    if problem:
        raise CheckFailure(problem)


def _explain_mismatch(
    name: str,
    got: Any,
    expected: Any,
    atol: float,
    mistakes: Mapping[str, Any],
    hint: str,
    dtype: Any,
    kind: str | None,
) -> str:
    """Return the plain-words explanation of why ``got`` is wrong, or ``""`` if it is right."""
    if got is None:
        return f"{name}: your function returned None. Did you forget the `return` statement?"
    if kind == "numpy" and not isinstance(got, np.ndarray):
        return f"{name}: expected a NumPy array, got {type(got).__name__}."
    if kind == "torch" and not _is_tensor(got):
        return f"{name}: expected a torch tensor, got {type(got).__name__}."
    if isinstance(got, tuple | list) and not isinstance(expected, tuple | list):
        return (
            f"{name}: expected a single array of shape {np.shape(as_numpy(expected))}, "
            f"got a {type(got).__name__} of {len(got)} items. Return only this quantity."
        )
    got_array = np.asarray(as_numpy(got))
    expected_array = np.asarray(as_numpy(expected), dtype=np.float64)
    matched = _matching_mistake(got_array, expected_array, mistakes, atol)
    if matched:
        return (
            f"{name} is wrong.\n"
            f"  expected: {_summary(expected_array)}\n"
            f"  got:      {_summary(got_array)}\n"
            f"  Likely mistake: {matched}. Your result is exactly what that mistake produces."
        )
    if not np.issubdtype(got_array.dtype, np.number):
        return f"{name}: expected numbers, got an array of dtype {got_array.dtype}."
    if got_array.shape != expected_array.shape:
        return (
            f"{name} has the wrong shape.\n"
            f"  expected shape: {expected_array.shape}\n"
            f"  got shape:      {got_array.shape}\n"
            f"  {_shape_hint(got_array.shape, expected_array.shape)}"
        )
    if dtype is not None and got_array.dtype != np.dtype(dtype):
        return (
            f"{name} has dtype {got_array.dtype}, expected {np.dtype(dtype)}. The checks run in "
            f"float64 (a gradient check needs it); do not cast to float32 or create float32 "
            f"tensors."
        )
    if not np.all(np.isfinite(got_array)):
        count = int(np.sum(~np.isfinite(got_array)))
        return (
            f"{name} contains {count} NaN or infinite value(s).\n"
            f"  got: {_summary(got_array)}\n"
            f"  An overflow in exp() or a division by zero is the usual cause."
        )
    difference = np.abs(got_array - expected_array)
    if difference.size and float(difference.max()) > atol:
        where = np.unravel_index(int(np.argmax(difference)), difference.shape)
        where_text = str(tuple(int(i) for i in where)) if where else "()"
        shape_text = f"the right shape {got_array.shape}" if got_array.ndim else "a number"
        lines = [
            f"{name} has {shape_text} but the wrong value(s).",
            f"  expected: {_summary(expected_array)}",
            f"  got:      {_summary(got_array)}",
            f"  largest difference {float(difference.max()):.3g} at index {where_text} "
            f"(tolerance {atol:g}); {int(np.sum(difference > atol))} of {difference.size} "
            f"entries differ.",
        ]
        if hint:
            lines.append(f"  Hint: {hint}")
        return "\n".join(lines)
    return ""


def _is_tensor(value: Any) -> bool:
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


def _matching_mistake(
    got: np.ndarray, expected: np.ndarray, mistakes: Mapping[str, Any], atol: float
) -> str:
    """Return the first mistake whose output ``got`` reproduces (and the right answer does not)."""
    if not np.issubdtype(got.dtype, np.number):
        return ""
    got64 = got.astype(np.float64, copy=False)
    for description, wrong in mistakes.items():
        wrong_array = np.asarray(as_numpy(wrong), dtype=np.float64)
        if wrong_array.shape != got64.shape:
            continue
        if wrong_array.shape == expected.shape and np.allclose(wrong_array, expected, atol=atol):
            continue  # this mistake is invisible on these inputs; it cannot explain anything
        # float32 answers are compared with a float32-sized tolerance so the mistake is still named.
        tolerance = max(atol, 1e-4 if got.dtype == np.float32 else 0.0)
        if np.allclose(got64, wrong_array, atol=tolerance, rtol=0.0):
            return description
    return ""


def _shape_hint(got: tuple[int, ...], expected: tuple[int, ...]) -> str:
    if got == expected[::-1] and len(got) == 2:
        return "The axes are swapped: a weight was probably used transposed (W instead of W.T)."
    if sorted(got) == sorted(expected):
        return "Same sizes in another order: check which axis is time, batch and features."
    if got == expected[1:]:
        return f"The first axis (size {expected[0]}) is missing: return every step, not one."
    if len(got) == len(expected) + 1 and got[1:] == expected:
        return "There is an extra leading axis: return one step's value, not a stack of steps."
    return "Check which matrix multiplies which, and which axis you sum or stack over."


def _summary(array: np.ndarray, limit: int = 6) -> str:
    """A short one-line description: shape and the first few values."""
    flat = np.ravel(array)
    shown = ", ".join(f"{v:.4g}" for v in flat[:limit].astype(np.float64))
    more = ", …" if flat.size > limit else ""
    return f"shape {array.shape}, values [{shown}{more}]"


def _describe_argument(value: Any) -> str:
    value = as_numpy(value)
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    return type(value).__name__


def _hint_for_exception(error: Exception) -> str:
    text = str(error)
    if "matmul" in text or "shapes" in text or "mat1 and mat2" in text or "size" in text:
        return (
            "This is usually a shape mismatch: x_t is (B, D), h is (B, H), W_x is (D, H) and "
            "W_h is (H, H); check the order of the matrix products and any transposes."
        )
    return "Read the error above, then re-run the cell that defines the function."
