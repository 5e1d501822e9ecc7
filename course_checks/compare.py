"""Comparisons that explain themselves: which quantity, expected vs. got, and the likely mistake.

Test cells in the exercises call these instead of bare ``assert``. A failure raises
:class:`CheckFailure` (an ``AssertionError``, so nbgrader counts it as a failed test) whose
message is written for a student: it names the quantity, shows expected and actual shapes and
values, and, when the wrong answer matches a known mistake, says which one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from course_checks import replay
from course_checks.errors import CheckFailure

__all__ = [
    "as_numpy",
    "check_block_order",
    "check_close",
    "check_gradient",
    "check_true",
    "check_uniform_init",
    "check_uniform_spread",
    "expect_keys",
    "expect_tuple",
    "rel_error",
    "uniform_spread",
    "worst_entry",
]


def as_numpy(value: Any) -> Any:
    """Return ``value`` as a NumPy array when it is a torch tensor, else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def rel_error(a: Any, b: Any) -> float:
    """The course's relative error of two arrays, ``‖a − b‖ / max(1e-12, ‖a‖ + ‖b‖)``.

    Frobenius norms, one number per array (NOTATION.md). An element-wise maximum
    ``max |a − b| / (|a| + |b|)`` would let a single tiny entry, where finite differences lose
    their relative precision, reject a correct gradient; :func:`worst_entry` gives the entry
    that differs most, as a diagnostic.
    """
    a = np.asarray(as_numpy(a), dtype=np.float64)
    b = np.asarray(as_numpy(b), dtype=np.float64)
    difference = float(np.linalg.norm(np.ravel(a - b)))
    scale = float(np.linalg.norm(np.ravel(a)) + np.linalg.norm(np.ravel(b)))
    return difference / max(1e-12, scale)


def worst_entry(a: Any, b: Any) -> tuple[tuple[int, ...], float, float]:
    """``(index, a[index], b[index])`` where ``|a − b|`` is largest (arrays of the same shape)."""
    a = np.asarray(as_numpy(a), dtype=np.float64)
    b = np.asarray(as_numpy(b), dtype=np.float64)
    difference = np.abs(a - b)
    if not difference.size:
        return (), float("nan"), float("nan")
    flat = int(np.nanargmax(difference)) if np.any(~np.isnan(difference)) else 0
    index = tuple(int(i) for i in np.unravel_index(flat, difference.shape))
    return index, float(a[index]), float(b[index])


def check_true(condition: bool, message: str) -> None:
    """Fail with ``message`` (plain words) unless ``condition`` holds."""
    __tracebackhide__ = True
    if not condition:
        raise CheckFailure(message)


def expect_keys(value: Any, keys: Sequence[str], what: str) -> Mapping[str, Any]:
    """Check that ``value`` is a dict holding every one of ``keys``, and return it.

    Args:
        value: what the student's function returned.
        keys: the names the dict must hold, e.g. ``("dx", "dh0", "dW_x", "dW_h", "db")``.
        what: the function in words, e.g. ``"rnn_backward"``.
    """
    __tracebackhide__ = True
    if value is None:
        raise CheckFailure(f"{what} returned None. Did you forget the `return` statement?")
    if not isinstance(value, Mapping):
        raise CheckFailure(
            f"{what} must return a dict with the keys {', '.join(keys)}; "
            f"it returned a {type(value).__name__}."
        )
    missing = [key for key in keys if key not in value]
    if missing:
        raise CheckFailure(
            f"{what} returned a dict without the key(s) {', '.join(missing)}. "
            f"Its keys are {', '.join(map(str, value)) or 'none'}; expected {', '.join(keys)} "
            f"(spelled exactly so)."
        )
    return value


def expect_tuple(value: Any, names: Sequence[str], what: str) -> tuple[Any, ...]:
    """Check that ``value`` is a tuple (or list) of ``len(names)`` items, and return it as a tuple.

    Args:
        value: what the student's function returned.
        names: the items in words, e.g. ``("hs", "h_T")``, used in the message.
        what: the function in words, e.g. ``"RNNFromScratch.forward"``.
    """
    __tracebackhide__ = True
    wanted = f"({', '.join(names)})"
    if value is None:
        raise CheckFailure(f"{what} returned None; it must return {wanted}.")
    if not isinstance(value, tuple | list):
        raise CheckFailure(
            f"{what} must return a tuple {wanted}; it returned a single "
            f"{type(value).__name__}{_shape_text(value)}."
        )
    if len(value) != len(names):
        raise CheckFailure(
            f"{what} must return {len(names)} items {wanted}; it returned {len(value)}."
        )
    return tuple(value)


def uniform_spread(value: Any) -> tuple[float, float, float, int]:
    """``(min, max, std, count)`` of a tensor's or an array's values: what an init check judges."""
    array = np.asarray(as_numpy(value), dtype=np.float64)
    return float(array.min()), float(array.max()), float(array.std()), int(array.size)


def check_uniform_init(name: str, value: Any, bound: float, like: str) -> None:
    """Check that parameter ``self.<name>`` was initialised uniform on ``[-bound, bound]``.

    Args:
        name: the attribute name, for the message.
        value: the parameter's values (tensor or array).
        bound: ``1/sqrt(H)``, PyTorch's bound for recurrent layers.
        like: the built-in module whose initialisation is expected, e.g. ``"nn.RNN"``.
    """
    __tracebackhide__ = True
    check_uniform_spread(name, uniform_spread(value), bound, like)


def check_uniform_spread(
    name: str, spread: tuple[float, float, float, int], bound: float, like: str
) -> None:
    """:func:`check_uniform_init` on the :func:`uniform_spread` of the values."""
    __tracebackhide__ = True
    low, high, std, size = spread
    check_true(
        std > 0 if size > 1 else True,
        f"self.{name} is initialised to the constant {low:.3g}; initialise it at random, "
        f"uniform on [-1/sqrt(H), 1/sqrt(H)] like {like} (with equal weights every hidden "
        f"unit computes the same thing).",
    )
    check_true(
        -bound - 1e-12 <= low and high <= bound + 1e-12,
        f"self.{name} has values in [{low:.3g}, {high:.3g}]; initialise it like {like}, "
        f"uniform on [-1/sqrt(H), 1/sqrt(H)] = [{-bound:.3g}, {bound:.3g}] "
        f"(torch.empty(...).uniform_(-bound, bound)).",
    )
    if size >= 200:  # enough samples to see the spread of a uniform distribution
        check_true(
            low < -bound / 2 and high > bound / 2,
            f"self.{name} only covers [{low:.3g}, {high:.3g}]; initialise it uniform on the "
            f"whole interval [-1/sqrt(H), 1/sqrt(H)] = [{-bound:.3g}, {bound:.3g}].",
        )


def check_block_order(
    params: Mapping[str, Any],
    expected: Mapping[str, np.ndarray],
    readings: Mapping[str, Mapping[str, np.ndarray]],
    sizes: str,
) -> None:
    """Fail, naming the order, when every parameter is PyTorch's block read in one wrong order.

    ``readings`` maps a description of a wrong order to the parameters it gives; the per-
    parameter messages cannot tell orders apart (several orders put the same block in one
    place), the whole answer can.
    """
    __tracebackhide__ = True

    def same(a: Any, b: np.ndarray) -> bool:
        try:
            a = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-12, rtol=0))

    if all(same(params[name], expected[name]) for name in expected):
        return
    for text, reading in readings.items():
        if all(same(params[name], reading[name]) for name in reading):
            wrong = [name for name in expected if not same(params[name], expected[name])]
            raise CheckFailure(
                f"split_torch_weights ({sizes}): {text}. Every parameter is one of PyTorch's "
                f"blocks, but {', '.join(wrong)} come from the wrong rows."
            )


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
    nan_matches: bool = False,
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
        nan_matches: a NaN of the answer matches a NaN of a mistake at the same entry, so that
            a numerically unstable formula (``inf / inf``) is named by the NaNs it produces
            (infinities of the same sign always match).
    """
    __tracebackhide__ = True
    problem = _explain_mismatch(
        name, got, expected, atol, mistakes or {}, hint, dtype, kind, nan_matches
    )
    if problem:
        raise CheckFailure(problem)


def check_gradient(
    name: str,
    analytic: Any,
    numeric: Any,
    *,
    threshold: float = 1e-7,
    analytic_mistakes: Mapping[str, Any] | None = None,
    numeric_mistakes: Mapping[str, Any] | None = None,
) -> float:
    """Gradient check: print ``rel_error(analytic, numeric)``; fail unless it is below threshold.

    When the two disagree, the message says which side reproduces a known mistake: the analytic
    gradient (the student's backward pass) or the numerical one (their finite differences).

    Args:
        name: the gradient in words, e.g. ``"dW_h"``.
        analytic: the backward pass's gradient.
        numeric: the finite-difference gradient of the same loss.
        threshold: the largest relative error accepted (the course uses 1e-7 in float64).
        analytic_mistakes: known wrong backward passes: description → the gradient each produces.
        numeric_mistakes: known wrong finite differences: description → the gradient each produces.

    Returns:
        The relative error, so that a notebook can collect and show all of them.
    """
    __tracebackhide__ = True
    if analytic is None or numeric is None:
        side = "rnn_backward's" if analytic is None else "numerical_gradient's"
        raise CheckFailure(f"Gradient check for {name}: {side} value is None.")
    a = np.asarray(as_numpy(analytic))
    n = np.asarray(as_numpy(numeric))
    explanations = _gradient_suspects(a, n, analytic_mistakes or {}, numeric_mistakes or {})
    if a.shape != n.shape:
        raise CheckFailure(
            f"Gradient check for {name}: the analytic gradient has shape {a.shape} but the "
            f"numerical gradient has shape {n.shape} (the shape of the array it differentiates)."
            + explanations
        )
    error = rel_error(a, n)
    print(f"{name}: relative error {error:.1e}")
    if not error < threshold:  # `not <` so that NaN fails too
        index, a_i, n_i = worst_entry(a, n)
        digits = _digits_to_tell(a, n)
        float32 = [side for side, v in (("analytic", a), ("numerical", n)) if v.dtype == np.float32]
        raise CheckFailure(
            f"Gradient check for {name} failed: relative error {error:.2e} = "
            f"‖analytic − numerical‖ / (‖analytic‖ + ‖numerical‖), which must be below "
            f"{threshold:g}.\n"
            f"  analytic:  {_summary(a, digits=digits)}\n"
            f"  numerical: {_summary(n, digits=digits)}\n"
            f"  largest difference at index {index}: analytic {a_i:.{digits}g}, numerical "
            f"{n_i:.{digits}g} (difference {abs(a_i - n_i):.3g})."
            + (
                f"\n  The {' and the '.join(float32)} gradient is float32: keep the whole "
                f"computation, and the array you store the gradient in, in float64."
                if float32
                else ""
            )
            + (
                explanations
                or "\n  Either the backward pass or the numerical gradient is wrong; the "
                "test cells of each function say which."
            )
        )
    return error


def _gradient_suspects(
    analytic: np.ndarray,
    numeric: np.ndarray,
    analytic_mistakes: Mapping[str, Any],
    numeric_mistakes: Mapping[str, Any],
) -> str:
    """Name the known mistakes reproduced by either side of a gradient check ("" if none)."""
    lines = []
    # Here each side is compared with the other side's value as "expected": a mistake that
    # coincides with a correct answer cannot be told apart from it, so it is not named. Gradients
    # match by the course's relative error, below the check's own threshold.
    found = _matching_mistakes(analytic, numeric, analytic_mistakes, relative=1e-7)
    if found:
        lines.append("\n  " + _likely(found, "Likely mistake in the backward pass"))
    found = _matching_mistakes(numeric, analytic, numeric_mistakes, relative=1e-7)
    if found:
        lines.append("\n  " + _likely(found, "Likely mistake in the numerical gradient"))
    return "".join(lines)


def _explain_mismatch(
    name: str,
    got: Any,
    expected: Any,
    atol: float,
    mistakes: Mapping[str, Any],
    hint: str,
    dtype: Any,
    kind: str | None,
    nan_matches: bool = False,
) -> str:
    """Return the plain-words explanation of why ``got`` is wrong, or ``""`` if it is right."""
    if got is None:
        return f"{name}: your function returned None. Did you forget the `return` statement?"
    if isinstance(got, tuple | list) and not isinstance(expected, tuple | list):
        if got and all(hasattr(item, "shape") for item in got):
            stack = "torch.stack" if replay.is_tensor(got[0]) else "np.stack"
            return (
                f"{name}: expected one array of shape {np.shape(as_numpy(expected))}, got a "
                f"{type(got).__name__} of {len(got)} arrays of shape "
                f"{tuple(np.shape(as_numpy(got[0])))}. Stack them into one array with "
                f"{stack}(..., dim=0 / axis=0)."
            )
        return (
            f"{name}: expected a single array of shape {np.shape(as_numpy(expected))}, "
            f"got a {type(got).__name__} of {len(got)} items. Return only this quantity."
        )
    if kind == "numpy" and not isinstance(got, np.ndarray):
        return f"{name}: expected a NumPy array, got {type(got).__name__}."
    if kind == "torch" and not replay.is_tensor(got):
        return f"{name}: expected a torch tensor, got {type(got).__name__}."
    got_array = np.asarray(as_numpy(got))
    expected_array = np.asarray(as_numpy(expected), dtype=np.float64)
    if _float32_rounding(got_array, expected_array, atol) and dtype is not None:
        return (
            f"{name} has dtype float32, expected {np.dtype(dtype)}: it equals the expected "
            f"value to float32's precision (largest difference "
            f"{float(np.max(np.abs(got_array - expected_array))):.2g}), but the checks run in "
            f"float64 (a gradient check needs it). Create arrays and tensors in float64 "
            f"(NumPy's default; np.zeros(shape) without dtype=np.float32) and do not cast."
        )
    matched = _matching_mistakes(got_array, expected_array, mistakes, atol, equal_nan=nan_matches)
    if matched:
        return (
            f"{name} is wrong.\n"
            f"  expected: {_summary(expected_array)}\n"
            f"  got:      {_summary(got_array)}\n"
            + _difference_line(got_array, expected_array)
            + "  "
            + _likely(matched, "Likely mistake")
            + (" Your result is exactly what that mistake produces." if len(matched) == 1 else "")
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
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(got_array))[0])
        return (
            f"{name} contains {count} NaN or infinite value(s), the first at index {first}.\n"
            f"  got: {_summary(got_array)}\n"
            f"  NaN and inf come from an overflow (exp of a large number), a division by zero, "
            f"or an input that already held one."
        )
    difference = np.abs(got_array - expected_array)
    if difference.size and float(difference.max()) > atol:
        digits = _digits_to_tell(got_array, expected_array)
        shape_text = f"the right shape {got_array.shape}" if got_array.ndim else "a number"
        wrong = np.argwhere(difference > atol)
        first = tuple(int(i) for i in wrong[0]) if wrong.size else ()
        lines = [
            f"{name} has {shape_text} but the wrong value(s).",
            f"  expected: {_summary(expected_array, digits=digits)}",
            f"  got:      {_summary(got_array, digits=digits)}",
            _difference_line(got_array, expected_array).rstrip("\n"),
            f"  {len(wrong)} of {difference.size} entries differ by more than the tolerance "
            f"{atol:g}"
            + (
                f"; the first is at index {first}: expected "
                f"{float(expected_array[first]):.{digits}g}, got "
                f"{float(got_array[first]):.{digits}g}."
                if got_array.ndim
                else "."
            ),
        ]
        if hint:
            lines.append(f"  Hint: {hint}")
        return "\n".join(lines)
    return ""


def _matching_mistakes(
    got: np.ndarray,
    expected: np.ndarray,
    mistakes: Mapping[str, Any],
    atol: float = 1e-6,
    *,
    relative: float | None = None,
    equal_nan: bool = False,
) -> list[str]:
    """Every mistake whose output ``got`` reproduces (and the right answer does not), in order.

    Values match to ``atol`` (absolute; float32 answers to a float32-sized tolerance), or, with
    ``relative``, to a :func:`rel_error` below it; with ``equal_nan``, NaNs at the same entries
    match too. A mistake that is within the same tolerance of
    the right answer is invisible on these inputs and explains nothing, so it is never named.
    Descriptions merged by ``merge_identical`` ("A; or: B") come back as separate items.
    """
    if not np.issubdtype(got.dtype, np.number):
        return []
    got64 = got.astype(np.float64, copy=False)
    # float32 answers are compared with a float32-sized tolerance so the mistake is still named.
    tolerance = max(atol, 1e-4 if got.dtype == np.float32 else 0.0)

    def close(a: np.ndarray, b: np.ndarray) -> bool:
        if a.shape != b.shape:
            return False
        if relative is not None:
            return bool(rel_error(a, b) < relative)
        return bool(np.allclose(a, b, atol=tolerance, rtol=0.0, equal_nan=equal_nan))

    found: list[str] = []
    for description, wrong in mistakes.items():
        wrong_array = np.asarray(as_numpy(wrong), dtype=np.float64)
        if wrong_array.shape != got64.shape or close(wrong_array, expected):
            continue
        if close(got64, wrong_array):
            for item in str(description).split("; or: "):
                if item not in found:
                    found.append(item)
    return found


def _likely(found: list[str], label: str) -> str:
    """``"Likely mistake: A."``, or the list of mistakes that give the same values here."""
    if len(found) == 1:
        return f"{label}: {found[0]}."
    shown = found[:4]
    more = f"\n    (and {len(found) - 4} more)" if len(found) > 4 else ""
    items = "".join(f"\n    - {text}" for text in shown)
    return f"{label}, one of these (they give the same values on these inputs):{items}{more}"


def _float32_rounding(got: np.ndarray, expected: np.ndarray, atol: float) -> bool:
    """Whether ``got`` is float32 and equals ``expected`` to float32 rounding, not to ``atol``."""
    if got.dtype != np.float32 or got.shape != expected.shape or not got.size:
        return False
    if not np.all(np.isfinite(got)):
        return False
    difference = np.abs(got.astype(np.float64) - expected)
    rounding = 4 * np.finfo(np.float32).eps * np.maximum(np.abs(expected), 1e-30) + 1e-38
    return bool(np.max(difference) > atol and np.all(difference <= np.maximum(rounding, atol)))


def _digits_to_tell(a: np.ndarray, b: np.ndarray) -> int:
    """Significant digits that show the largest difference of ``a`` and ``b`` (4 to 17)."""
    try:
        a64 = np.ravel(np.asarray(a, dtype=np.float64))
        b64 = np.ravel(np.asarray(b, dtype=np.float64))
        both = np.concatenate([a64, b64])
        finite = np.isfinite(a64 - b64) if a64.shape == b64.shape else np.zeros(0, bool)
        if not finite.any():
            return 4
        difference = float(np.max(np.abs(a64 - b64)[finite]))
        scale = float(np.max(np.abs(both[np.isfinite(both)])))
    except (ValueError, TypeError):
        return 4
    if not (math.isfinite(difference) and math.isfinite(scale)) or difference <= 0 or scale <= 0:
        return 4
    ratio = scale / difference
    if not math.isfinite(ratio):  # a subnormal difference: the values agree to every digit shown
        return 17
    return int(min(17, max(4, math.ceil(math.log10(ratio)) + 2)))


def _difference_line(got: np.ndarray, expected: np.ndarray) -> str:
    """``"  largest difference 3e-08 at index (0, 2): expected …, got …\n"`` ("" if no shape)."""
    try:
        got64 = np.asarray(got, dtype=np.float64)
        if got64.shape != expected.shape or not got64.size:
            return ""
        difference = np.abs(got64 - expected)
        if not np.any(np.isfinite(difference)):
            return ""
    except (ValueError, TypeError):
        return ""
    digits = _digits_to_tell(got64, expected)
    index, got_i, expected_i = worst_entry(got64, expected)
    where = f" at index {index}" if index else ""
    return (
        f"  largest difference {abs(got_i - expected_i):.3g}{where}: expected "
        f"{expected_i:.{digits}g}, got {got_i:.{digits}g}\n"
    )


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


def _summary(array: np.ndarray, limit: int = 6, digits: int = 4) -> str:
    """A short one-line description: shape and the first few values, to ``digits`` digits."""
    flat = np.ravel(array)
    shown = ", ".join(f"{v:.{digits}g}" for v in flat[:limit].astype(np.float64))
    more = ", …" if flat.size > limit else ""
    return f"shape {array.shape}, values [{shown}{more}]"


def _shape_text(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f" of shape {tuple(shape)}" if shape is not None else ""
