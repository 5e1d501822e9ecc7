"""Comparisons that explain themselves: which quantity, expected vs. got, and the likely mistake.

Test cells in the exercises call these instead of bare ``assert``. A failure raises
:class:`CheckFailure` (an ``AssertionError``, so nbgrader counts it as a failed test) whose
message is written for a student: it names the quantity, shows expected and actual shapes and
values, and, when the wrong answer matches a known mistake, says which one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import replay

__all__ = [
    "CheckFailure",
    "as_numpy",
    "call",
    "call_with_shapes",
    "check_close",
    "check_gradient",
    "check_true",
    "check_uniform_init",
    "check_uniform_spread",
    "expect_keys",
    "expect_tuple",
    "rel_error",
    "uniform_spread",
]


class CheckFailure(AssertionError):
    """A test found a wrong answer; the message says what is wrong in plain words."""


def as_numpy(value: Any) -> Any:
    """Return ``value`` as a NumPy array when it is a torch tensor, else unchanged."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        return value.detach().cpu().numpy()
    return value


def rel_error(a: Any, b: Any) -> float:
    """The course's relative error, ``max |a − b| / max(1e-8, |a| + |b|)`` element-wise (CS231n)."""
    a = np.asarray(as_numpy(a), dtype=np.float64)
    b = np.asarray(as_numpy(b), dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student's function, turning the usual first errors into explanations.

    ``NotImplementedError`` means the stub is still there; any other exception is re-raised as a
    :class:`CheckFailure` that names the function and the shapes it was given, since most errors
    at this stage are shape errors from a transposed weight or a wrong axis. When the grader
    runs the notebook, the call is recorded, and replayed when it re-checks the test (``replay``).
    """
    __tracebackhide__ = True
    return replay.through(function, args, kwargs, lambda: _explained_call(function, args, kwargs))


def call_with_shapes(shapes: str, function: Callable[..., Any], *args: Any) -> Any:
    """:func:`call`, with ``shapes`` in place of the vanilla RNN's sentence about shapes.

    After a shape error, :func:`call`'s hint ends with a sentence that names the RNN's parameters
    (``W_x``, ``W_h``, ``b``); an exercise with other parameters passes its own sentence, which
    starts like it: ``"Shapes: sequences are time-major, …"``.
    """
    __tracebackhide__ = True
    try:
        return call(function, *args)
    except CheckFailure as failure:
        message = str(failure)
        start = message.find(_RNN_SHAPES_START)
        if start < 0:
            raise
        raise CheckFailure(message[:start] + shapes) from None


def _explained_call(function: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> Any:
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
        shapes = ", ".join(_describe_argument(a) for a in args) or "no arguments"
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
        raise CheckFailure(
            f"Gradient check for {name} failed: relative error {error:.2e} between your analytic "
            f"gradient and your numerical gradient (it must be below {threshold:g}).\n"
            f"  analytic:  {_summary(a)}\n"
            f"  numerical: {_summary(n)}"
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
    # coincides with a correct answer cannot be told apart from it, so it is not named.
    found = _matching_mistake(analytic, numeric, analytic_mistakes, 1e-7)
    if found:
        lines.append(f"\n  Likely mistake in the backward pass: {found}.")
    found = _matching_mistake(numeric, analytic, numeric_mistakes, 1e-7)
    if found:
        lines.append(f"\n  Likely mistake in the numerical gradient: {found}.")
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


def _callable_name(function: Any) -> str:
    """``rnn_forward``, ``RNNFromScratch`` (a class) or ``RNNFromScratch.forward`` (a module)."""
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if name is None or "<lambda>" in name:
        owner = type(function).__name__
        return f"{owner}.forward" if hasattr(function, "forward") else owner
    return name


def _shape_text(value: Any) -> str:
    shape = getattr(value, "shape", None)
    return f" of shape {tuple(shape)}" if shape is not None else ""


def _describe_argument(value: Any) -> str:
    array = as_numpy(value)
    if isinstance(array, np.ndarray):
        return f"{'tensor' if replay.is_tensor(value) else 'array'}{array.shape} {array.dtype}"
    return type(value).__name__


# Fragments of NumPy's and PyTorch's error messages, and what they usually mean in these exercises.
_SHAPE_ERRORS = (
    "broadcast",
    "shapes",
    "mat1 and mat2",
    "must match the size",
    "size of tensor",
    "core dimension",
    "matmul",
    "out of bounds",
    "aligned",
    "inconsistent",
)
_DTYPE_ERRORS = ("dtype", "scalar type", "double != float", "float != double")
_RNN_SHAPES_START = "Shapes: sequences are time-major"  # call_with_shapes replaces from here on


def _hint_for_exception(error: Exception) -> str:
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
            "values in instead, `self.W_x.copy_(...)` inside `with torch.no_grad():`."
        )
    if any(fragment in lowered for fragment in _DTYPE_ERRORS):
        return (
            "float32 and float64 are mixed. The checks run in float64: create parameters with "
            "dtype=torch.float64 and new tensors with the input's dtype and device "
            "(torch.zeros(..., dtype=x.dtype, device=x.device)); a tensor made without a dtype "
            "is float32."
        )
    if any(fragment in lowered for fragment in _SHAPE_ERRORS):
        hints = []
        transposed = _transposed_pair(text)
        if transposed:
            hints.append(
                f"The shapes {transposed[0]} and {transposed[1]} are transposes of each other: a "
                f"weight or a gradient is probably used transposed (W where W.T is needed, or "
                f"the other way round)."
            )
        if "size of tensor a" in lowered:
            hints.append(
                "PyTorch stores nn.RNN's weights transposed: weight_ih_l0 is (H, D) and "
                "weight_hh_l0 is (H, H), while this course's W_x is (D, H)."
            )
        hints.append(
            _RNN_SHAPES_START + ", x is (T, B, D), so x[t] is one time step of "
            "shape (B, D); a state h is (B, H); W_x is (D, H), W_h is (H, H) and b is (H,). "
            "Check the order of the matrix products, any transposes (.T), and which axis is time."
        )
        return "\n  ".join(hints)
    return "Read the error above, then re-run the cell that defines the function."


def _transposed_pair(text: str) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """Two 2-D shapes quoted in an error message that are each other's transpose, if any."""
    shapes = [
        tuple(int(n) for n in re.findall(r"\d+", group))
        for group in re.findall(r"[(\[](\d+,\s*\d+)[)\]]", text)
    ]
    for first in shapes:
        for second in shapes:
            if first != second and first == second[::-1]:
                return first, second
    return None
