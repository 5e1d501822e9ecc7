"""Calls of the student's code that explain themselves: a stub, an exception or a wrong return type
becomes a message that names the function, the line that raised and the likely slip (shapes,
dtypes, a transposed pair); a call is recorded by ``course_checks.replay`` for the grader's
re-check."""

from __future__ import annotations

import linecache
import re
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from course_checks import replay
from course_checks.compare import as_numpy
from course_checks.errors import CheckFailure

__all__ = [
    "call",
    "call_in_place",
    "call_with_shapes",
    "changed_arguments",
    "crash_target",
    "student_failure",
    "unpack_hint",
]


def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a student's function, turning the usual first errors into explanations.

    ``NotImplementedError`` means the stub is still there; any other exception is re-raised as a
    :class:`CheckFailure` that names the function and the shapes it was given, since most errors
    at this stage are shape errors from a transposed weight or a wrong axis. When the grader
    runs the notebook, the call is recorded, and replayed when it re-checks the test (``replay``).
    """
    __tracebackhide__ = True
    return replay.through(function, args, kwargs, _explaining(function), _callable_name(function))


def call_in_place(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """:func:`call` for a function whose contract is to change an argument (and restore it).

    The function gets the arguments themselves, not copies (``numerical_gradient`` probes
    ``x`` in place, and its ``f`` reads ``x``); :func:`changed_arguments` then names those that
    differ after the call, in the kernel and, from the record, in the grader's re-check.
    """
    __tracebackhide__ = True
    return replay.through(
        function, args, kwargs, _explaining(function), _callable_name(function), in_place=True
    )


def changed_arguments(function: Callable[..., Any]) -> list[str]:
    """The names of the arguments that the last :func:`call` of ``function`` changed in place."""
    return [replay.argument_name(function, key) for key in sorted(replay.last_changed(), key=str)]


def _explaining(function: Callable[..., Any]) -> Callable[[tuple, Mapping[str, Any]], Any]:
    def run(args: tuple, kwargs: Mapping[str, Any]) -> Any:
        __tracebackhide__ = True
        return _explained_call(function, args, kwargs)

    return run


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
        raise student_failure(
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code.",
            stub=True,
        ) from None
    except CheckFailure:
        raise
    except Exception as error:
        shapes = ", ".join(_describe_argument(a) for a in args) or "no arguments"
        raise student_failure(
            f"{name} raised {type(error).__name__}: {error}\n"
            f"  It was called with: {shapes}.\n"
            + where_raised(error, function)
            + f"  {_hint_for_exception(error)}",
            error=error,
            function=function,
        ) from None


def student_failure(
    message: str, *, error: BaseException | None = None, function: Any = None, stub: bool = False
) -> CheckFailure:
    """A :class:`CheckFailure` for an error of student code, with the parts a re-check may show.

    The grader's re-check never shows the kernel's text (``replay.replayed_message``): it
    names the exception's class if it is a built-in one, and quotes the line that raised if
    that line is one of the student's own. Those two parts travel as attributes.
    """
    failure = CheckFailure(message)
    failure.student_exception = type(error).__name__ if error is not None else ""  # type: ignore[attr-defined]
    failure.student_line = _raising_line(error, function) if error is not None else ""  # type: ignore[attr-defined]
    failure.stub = stub  # type: ignore[attr-defined]
    return failure


def _raising_line(error: BaseException, function: Any) -> str:
    found = _RAISED_LINE.search(where_raised(error, function))
    return found.group("source").strip() if found else ""


def where_raised(error: BaseException, function: Any) -> str:
    """``"  The error came from this line of your rnn_backward (line 17 of its cell): `…`\n"``.

    The deepest frame of the traceback that runs code of the cell where ``function`` (a function,
    a class or a module instance: its methods) was defined, so that only the student's own code
    is quoted, never a test's. ``""`` when there is no such frame or no source.
    """
    files = _code_files(function)
    if not files:
        return ""
    found, inside = None, ""
    traceback = error.__traceback__
    while traceback is not None:
        code = traceback.tb_frame.f_code
        if code.co_filename in files:
            found, inside = (code.co_filename, traceback.tb_lineno, code.co_name), ""
        elif found is not None and not inside and _in_notebook(code.co_filename):
            inside = code.co_name  # a function of another cell, named only
        traceback = traceback.tb_next
    if found is None:
        return ""
    filename, line, function_name = found
    source = linecache.getline(filename, line).strip()
    if not source:
        return ""
    called = f" (the error was raised inside {inside}, which this line calls)" if inside else ""
    return (
        f"  The error came from this line of your {function_name} (line {line} of its "
        f"cell){called}:\n      {source}\n"
    )


def _in_notebook(filename: str) -> bool:
    """Whether ``filename`` is a notebook cell's (IPython names them so)."""
    return "ipykernel_" in filename or filename.startswith("<ipython-input")


_RAISED_LINE = re.compile(r"The error came from this line of your [^\n]*:\n\s+(?P<source>[^\n]+)")


_ASSIGNED = re.compile(
    r"^(?P<name>[A-Za-z_]\w*)\s*(?:\[\s*(?P<key>[^\]]*)\])?\s*(?:[-+*/@]?=)(?!=)"
)


def crash_target(message: str) -> str | None:
    """The name that the student's line which raised assigns to, read from a failure message.

    ``"db"`` for ``db += da.sum(axis=1)``, ``"W_xr"`` for ``grads["W_xr"] += …`` (a string key
    is the name), ``None`` when the message holds no quoted line (:func:`where_raised`) or the
    line assigns nothing. A check can then charge the crash to the test of that quantity only.
    It reads the message, not the exception, so that the grader's re-check, which replays the
    message, decides the same way.
    """
    first = message.split("\n", 1)[0]
    if " raised " not in first:
        return None
    found = _RAISED_LINE.search(message)
    if not found:
        return None
    assigned = _ASSIGNED.match(found.group("source").strip())
    if not assigned:
        return None
    key = (assigned.group("key") or "").strip()
    if len(key) >= 2 and key[0] == key[-1] and key[0] in "'\"":
        return key[1:-1]
    return assigned.group("name")


def _code_files(function: Any) -> set[str]:
    """The files (notebook cells) of ``function``'s code, or of the methods of its class."""
    target = getattr(function, "__func__", function)
    code = getattr(target, "__code__", None)
    if code is not None:
        return {code.co_filename}
    cls = target if isinstance(target, type) else type(target)
    files = set()
    for klass in cls.__mro__:
        if klass.__module__ in ("builtins",) or klass.__module__.startswith("torch"):
            continue
        for value in vars(klass).values():
            value = getattr(value, "__func__", value)
            code = getattr(value, "__code__", None)
            if code is not None:
                files.add(code.co_filename)
    return files


def _callable_name(function: Any) -> str:
    """``rnn_forward``, ``RNNFromScratch`` (a class) or ``RNNFromScratch.forward`` (a module)."""
    name = getattr(function, "__qualname__", None) or getattr(function, "__name__", None)
    if name is None or "<lambda>" in name:
        owner = type(function).__name__
        return f"{owner}.forward" if hasattr(function, "forward") else owner
    return name


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
    if "unexpected keyword argument" in lowered or "positional argument" in lowered:
        return _SIGNATURE_HINT
    if "values to unpack" in lowered or "cannot unpack" in lowered:
        return unpack_hint(text)
    if any(fragment in lowered for fragment in _DTYPE_ERRORS):
        return (
            "float32 and float64 are mixed. The checks run in float64: create parameters with "
            "dtype=torch.float64 and new tensors with the input's dtype and device "
            "(torch.zeros(..., dtype=x.dtype, device=x.device)); a tensor made without a dtype "
            "is float32."
        )
    if any(fragment in lowered for fragment in _SHAPE_ERRORS):
        hints = [_broadcast_hint(text)] if _broadcast_hint(text) else []
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


_SIGNATURE_HINT = (
    "The test calls your function or class with the arguments its given signature names (the "
    "`def` line and docstring that come with the exercise): keep the signature as given, with "
    "every argument and default, and write your code in its body."
)


def unpack_hint(text: str) -> str:
    """What Python's "not enough values to unpack (expected 3, got 2)" means, in its numbers."""
    counts = re.search(r"expected (\d+), got (\d+)", text)
    too_many = re.search(r"too many values to unpack \(expected (\d+)", text)
    single = re.search(r"cannot unpack non-iterable (\w+)", text)
    if counts:
        what = f"a value that holds {counts.group(2)} item(s) into {counts.group(1)} names"
    elif too_many:
        what = (
            f"a value that holds more than {too_many.group(1)} items into {too_many.group(1)} names"
        )
    elif single:
        what = f"a single {single.group(1)} (not a tuple) into several names"
    else:
        what = "a value into a different number of names than it holds"
    return (
        f"The line unpacks {what}: `a, b = f(...)` needs f to return exactly two items. Check "
        f"what the value on the right of that line is (the docstring of the function that "
        f"returns it says); unpacking an array splits it along its first axis."
    )


def _broadcast_hint(text: str) -> str:
    """For NumPy's "could not be broadcast together with shapes (2,4) (3,)": what it means."""
    found = re.search(r"broadcast[^(]*((?:\([\d, ]*\)\s*)+)", text)
    if not found:
        return ""
    shapes = re.findall(r"\([\d, ]*\)", found.group(1))
    if len(shapes) < 2:
        return ""
    shapes = [shape.replace(" ", "") for shape in shapes]
    listed = ", ".join(shapes[:-1]) + " and " + shapes[-1]
    return (
        f"Arrays of shapes {listed} are combined element-wise (+, -, *, / or an assignment into "
        f"a slice) where the error was raised; that needs equal shapes, or shapes NumPy can "
        f"broadcast (a bias of shape (H,) broadcasts over the rows of a (B, H) array). One of "
        f"them has the wrong shape: a wrong axis in a sum, a missing or extra transpose, or a "
        f"wrong slice."
    )


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
