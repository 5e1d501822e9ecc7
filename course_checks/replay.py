"""Record a student's answers in the kernel, replay them to the tests in the grader's own process.

A test cell that runs in the student's kernel can be fooled by code in that kernel (a patched
``numpy.allclose``, a replaced helper). So, when the grader runs a notebook, every call a test
makes to the student's code (through :func:`course_checks.call` and its siblings) is *recorded*:
the value it returned, the error it raised, and any array argument it changed, sent as a display
output of the test cell. The grader then runs the instructor's test cell again in a clean process
where no student code ever ran, with every such call *replayed* from the record instead of run.
The comparisons, the references and the inputs are all computed there, so the only thing a
submission controls is what its functions returned: points need answers that are right on the
grader's inputs.

Modes: ``normal`` (a student's JupyterLab: calls just run), ``record`` (the grader's kernel, set
by the environment variable ``GRU_COURSE_RECORD=1``) and ``replay`` (the grader's check, set by
:func:`replaying`). Only the outermost call is recorded: what a student's function does inside is
part of its answer. Values travel as tagged JSON with arrays in NumPy's ``.npy`` format, read back
with ``allow_pickle=False``, so a record is data, never code.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from . import student_output

RECORD_ENV = "GRU_COURSE_RECORD"
MIME_TYPE = "application/vnd.gru-course.call+json"
MAX_DEPTH = 4  # containers nested deeper than this are recorded as opaque values

_mode = "record" if os.environ.get(RECORD_ENV) == "1" else "normal"
_depth = 0
_pending: deque[dict] = deque()


class ReplayError(AssertionError):
    """The record does not fit the test being replayed: it is missing, extra or for other inputs."""


class Opaque:
    """Stands in for a returned value that is not data (an object of the student's own class)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object>"


class Stub:
    """A student's name in the replay process: only :func:`through` may use it."""

    def __init__(self, name: str) -> None:
        self.__name__ = self.__qualname__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise ReplayError(
            f"the test used {self.__name__} outside course_checks.call, so its answer was not "
            "recorded (a course bug: report it to the instructor)"
        )


def mode() -> str:
    """``"normal"``, ``"record"`` or ``"replay"``."""
    return _mode


def through(
    function: Callable[..., Any],
    args: tuple,
    kwargs: Mapping[str, Any],
    run: Callable[[], Any],
    what: str | None = None,
) -> Any:
    """Run ``run()`` (a call of the student's ``function``), recording or replaying it by mode.

    The call runs with its warnings and stderr caught (``student_output.caught``): they become a
    note on stdout, so that they never cost points. ``what`` names the student's code in that note
    (default: ``function``'s name).
    """
    global _depth
    __tracebackhide__ = True
    if _depth > 0:
        return run()
    if _mode == "normal":
        with student_output.caught(what or _name(function)):
            return run()
    if _mode == "replay":
        return _replay_next(function, args, kwargs)
    leaves = dict(_array_leaves(args, kwargs))
    before = {path: _digest(array) for path, array in leaves.items()}
    record: dict[str, Any] = {"call": _name(function), "args": _signature(args, kwargs)}
    _depth += 1
    try:
        with student_output.caught(what or _name(function)):
            result = run()
    except AssertionError as failure:  # call() turns every error of the student's into one
        record["error"] = [type(failure).__name__, str(failure)[:20000]]
        raise
    else:
        record["result"] = encode(result)
        return result
    finally:
        _depth -= 1
        if "error" in record or "result" in record:
            record["mutated"] = [
                [list(path), encode(array)]
                for path, array in leaves.items()
                if _digest(array) != before[path]
            ]
            _emit(record)


@contextlib.contextmanager
def replaying(records: list[dict]) -> Iterator[None]:
    """Within the block, calls of student code return what ``records`` say, in order.

    Raises:
        ReplayError: at the end, when records are left over (the kernel ran other calls).
    """
    global _mode, _depth
    saved = _mode
    _mode, _depth = "replay", 0
    _pending.clear()
    _pending.extend(records)
    try:
        yield
        if _pending:
            raise ReplayError(
                f"{len(_pending)} recorded call(s) of student code were not made by the test "
                f"(the first: {_pending[0].get('call', '?')})"
            )
    finally:
        _mode = saved
        _pending.clear()


def _replay_next(function: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> Any:
    from .compare import CheckFailure  # here: compare imports this module

    __tracebackhide__ = True
    if not _pending:
        raise ReplayError(f"no recorded answer for the call of {_name(function)}")
    record = _pending.popleft()
    if not isinstance(record, dict) or record.get("args") != _signature(args, kwargs):
        raise ReplayError(f"the recorded call does not match the call of {_name(function)}")
    leaves = dict(_array_leaves(args, kwargs))
    for path, value in record.get("mutated", []):
        target = leaves.get(tuple(path))
        new = decode(value)
        if target is None or not isinstance(new, np.ndarray) or new.shape != target.shape:
            raise ReplayError(f"a recorded change to an argument of {_name(function)} is invalid")
        np.copyto(target, new, casting="unsafe")
    if "error" in record:
        kind, message = record["error"]
        raise CheckFailure(str(message)) if kind == "CheckFailure" else AssertionError(str(message))
    if "result" not in record:
        raise ReplayError(f"the record of {_name(function)} holds no result")
    return decode(record["result"])


def _emit(record: dict) -> None:
    from IPython.display import display

    display({MIME_TYPE: record}, raw=True)


# --------------------------------------------------------------------------- values as data


def encode(value: Any, depth: int = 0) -> dict[str, Any]:
    """``value`` as tagged JSON: scalars, arrays, tensors and containers of them; else opaque."""
    try:
        return _encode(value, depth)
    except Exception:  # an odd object of the student's (a huge int, a broken subclass)
        return _opaque(value)


def _encode(value: Any, depth: int) -> dict[str, Any]:
    if value is None:
        return {"t": "none"}
    if isinstance(value, bool):
        return {"t": "bool", "v": bool(value)}
    if isinstance(value, str):
        return {"t": "str", "v": str(value)[:20000]}
    if isinstance(value, np.ndarray | np.generic) and value.dtype.kind in "biufc":
        return {"t": "ndarray" if isinstance(value, np.ndarray) else "npscalar", "v": _npy(value)}
    if isinstance(value, int):
        return {"t": "int", "v": str(value)}
    if isinstance(value, float):
        return {"t": "float", "v": value.hex()}
    if is_tensor(value) and depth < MAX_DEPTH:
        try:
            array = value.detach().cpu().numpy()
        except (TypeError, RuntimeError):  # e.g. bfloat16 has no NumPy dtype
            return _opaque(value)
        return {"t": "tensor", "v": _npy(array), "grad": bool(value.requires_grad)}
    if isinstance(value, tuple | list) and depth < MAX_DEPTH:
        tag = "tuple" if isinstance(value, tuple) else "list"
        return {"t": tag, "v": [_encode(item, depth + 1) for item in value]}
    if isinstance(value, dict) and depth < MAX_DEPTH:
        items = [[_encode(k, depth + 1), _encode(v, depth + 1)] for k, v in value.items()]
        return {"t": "dict", "v": items}
    return _opaque(value)


def decode(data: Any) -> Any:
    """The value :func:`encode` described; raises :class:`ReplayError` on anything malformed."""
    try:
        return _decode(data)
    except ReplayError:
        raise
    except Exception as error:  # malformed records come from the kernel: never trust their shape
        raise ReplayError(f"a recorded value is malformed ({type(error).__name__})") from None


def _decode(data: dict[str, Any]) -> Any:
    tag, value = data["t"], data.get("v")
    if tag == "none":
        return None
    if tag in ("bool", "str"):
        if type(value).__name__ != tag:
            raise ReplayError("a recorded scalar has the wrong type")
        return value
    if tag == "int":
        return int(str(value)[:4000])
    if tag == "float":
        return float.fromhex(str(value))
    if tag == "ndarray":
        return _from_npy(value)
    if tag == "npscalar":
        return _from_npy(value)[()]
    if tag == "tensor":
        import torch

        tensor = torch.from_numpy(_from_npy(value))
        return (
            tensor.requires_grad_(True)
            if data.get("grad") is True and tensor.is_floating_point()
            else tensor
        )
    if tag in ("tuple", "list"):
        items = [_decode(item) for item in value]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        return {_decode(k): _decode(v) for k, v in value}
    if tag == "opaque":
        name = str(value)[:100] if str(value).isidentifier() else "Opaque"
        return type(name, (Opaque,), {})()
    raise ReplayError(f"unknown recorded type {tag!r}")


def _opaque(value: Any) -> dict[str, Any]:
    return {"t": "opaque", "v": type(value).__name__}


def _npy(array: np.ndarray | np.generic) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _from_npy(text: str) -> np.ndarray:
    array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    if array.dtype.kind not in "biufc":
        raise ReplayError("a recorded array has a non-numeric dtype")
    return array


def is_tensor(value: Any) -> bool:
    """Whether ``value`` is a torch tensor, without importing torch."""
    return type(value).__module__.startswith("torch") and hasattr(value, "detach")


# ------------------------------------------------------------------------ arguments and names


def _array_leaves(args: tuple, kwargs: Mapping[str, Any]) -> Iterator[tuple[tuple, np.ndarray]]:
    """``(path, array)`` for every NumPy array among the arguments, in lists and dicts too."""

    def walk(value: Any, path: tuple, depth: int) -> Iterator[tuple[tuple, np.ndarray]]:
        if isinstance(value, np.ndarray):
            yield path, value
        elif isinstance(value, tuple | list) and depth < MAX_DEPTH:
            for index, item in enumerate(value):
                yield from walk(item, (*path, index), depth + 1)
        elif isinstance(value, dict) and depth < MAX_DEPTH:
            for key, item in value.items():
                if isinstance(key, str | int):
                    yield from walk(item, (*path, key), depth + 1)

    for index, arg in enumerate(args):
        yield from walk(arg, ("a", index), 0)
    for key, arg in kwargs.items():
        yield from walk(arg, ("k", key), 0)


def _digest(array: np.ndarray) -> str:
    data = np.ascontiguousarray(array)
    return hashlib.blake2b(
        data.tobytes() + str((data.shape, data.dtype)).encode(), digest_size=16
    ).hexdigest()


def _signature(args: tuple, kwargs: Mapping[str, Any]) -> list[str]:
    """The arguments' types and shapes: what the record and the replayed call must agree on."""

    def describe(value: Any) -> str:
        shape = getattr(value, "shape", None)
        if isinstance(value, np.ndarray) or is_tensor(value):
            return f"{type(value).__name__}{tuple(shape)}"
        if callable(value):
            return "callable"
        if isinstance(value, dict):
            return "dict(" + ",".join(f"{k}:{describe(v)}" for k, v in value.items()) + ")"
        if isinstance(value, tuple | list):
            return f"{type(value).__name__}(" + ",".join(map(describe, value)) + ")"
        return type(value).__name__

    return [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]


def _name(function: Any) -> str:
    return str(getattr(function, "__name__", type(function).__name__))
