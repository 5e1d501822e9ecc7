"""Record a student's answers in the kernel, replay them to the tests in the grader's own process.

A test cell that runs in the student's kernel can be fooled by code in that kernel (a patched
``numpy.allclose``, a replaced helper). So, when the grader runs a notebook, every call a test
makes to the student's code (through :func:`course_checks.call` and its siblings) is *recorded*:
the value it returned, the error it raised (as parts the re-check validates, never its text),
and which of its arguments it changed, sent as a display output of the test cell. (Student code
gets copies of the arrays and tensors it is given, so a change never reaches the test; a
function whose contract is to change an argument is called with ``call_in_place``.) The grader
then runs the instructor's test cell again in a clean process where no student code ever ran,
with every such call *replayed* from the record instead of run.
The comparisons, the references and the inputs are all computed there, so the only thing a
submission controls is what its functions returned: points need answers that are right on the
grader's inputs. A recorded error is raised again there with a message made only of what the
re-check can vouch for (:func:`replayed_message`), and texts the student's functions returned
come back as :class:`RecordedText`, described by length: a re-check's message never quotes the
kernel.

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
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from course_checks import student_output
from course_checks.errors import CheckFailure

RECORD_ENV = "GRU_COURSE_RECORD"
MIME_TYPE = "application/vnd.gru-course.call+json"
MAX_DEPTH = 4  # containers nested deeper than this are recorded as opaque values

_mode = "record" if os.environ.get(RECORD_ENV) == "1" else "normal"
_depth = 0
_pending: deque[dict] = deque()
_last_changed: frozenset[tuple[str, Any]] = frozenset()
_student_lines: frozenset[str] = frozenset()
_student_words: frozenset[str] = frozenset()
_last_numbers: frozenset[str] = frozenset()


class ReplayError(AssertionError):
    """The record does not fit the test being replayed: it is missing, extra or for other inputs."""


class Opaque:
    """Stands in for a returned value that is not data (an object of the student's own class)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} object>"


class RecordedText(str):
    """A text the kernel recorded (a student's function returned it): shown by length only.

    ``str()``, ``format()`` and ``repr()`` of it give ``"a text of N characters"``, so that no
    message of the re-check quotes it, while comparisons with the expected keys still work.
    """

    def _described(self) -> str:
        return f"<a text of {len(self)} characters>"

    __str__ = __repr__ = _described

    def __format__(self, spec: str) -> str:
        return self._described()


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
    run: Callable[[tuple, Mapping[str, Any]], Any],
    what: str | None = None,
    *,
    in_place: bool = False,
) -> Any:
    """Run ``run(args, kwargs)`` (a call of the student's ``function``), recorded or replayed.

    The student's code gets deep copies of the arrays and tensors among the arguments (in
    tuples, lists and dicts too), so that nothing it does to them can change what the test
    computes afterwards; an argument it changed is named in a note on stdout and in
    :func:`last_changed`. With ``in_place`` (a function whose contract is to change an argument
    and restore it, like ``numerical_gradient``) it gets the originals, and :func:`last_changed`
    names those that differ after the call. Either way the record holds which arguments changed,
    never their new values: the replay changes nothing, and answers :func:`last_changed` from the
    record.

    The call runs with its warnings and stderr caught (``student_output.caught``): they become a
    note on stdout, so that they never cost points. ``what`` names the student's code in that note
    (default: ``function``'s name).
    """
    global _depth, _last_changed
    __tracebackhide__ = True
    if _depth > 0:
        return run(args, kwargs)
    _last_changed = frozenset()
    if _mode == "replay":
        return _replay_next(function, args, kwargs, what)
    given_args, given_kwargs = (args, kwargs) if in_place else _copied(args, kwargs)
    before = _fingerprints(args, kwargs)
    record: dict[str, Any] = {"call": _name(function), "args": _signature(args, kwargs)}
    _depth += 1
    try:
        with student_output.caught(what or _name(function)):
            result = run(given_args, given_kwargs)
    except AssertionError as failure:  # call() turns every error of the student's into one
        record["error"] = [type(failure).__name__, str(failure)[:20000], _error_parts(failure)]
        raise
    else:
        record["result"] = encode(result)
        return result
    finally:
        _depth -= 1
        after = _fingerprints(given_args, given_kwargs)
        changed = sorted((k for k in before if after.get(k) != before[k]), key=str)
        _last_changed = frozenset(changed)
        if changed and not in_place:
            _note_changes(function, what, changed)
        if _mode == "record" and ("error" in record or "result" in record):
            record["changed"] = [list(key) for key in changed]
            _emit(record)


def last_changed() -> frozenset[tuple[str, Any]]:
    """The arguments the last :func:`through` call changed: ``("a", position)``, ``("k", name)``.

    In the grader's re-check, what the kernel recorded.
    """
    return _last_changed


def _note_changes(function: Any, what: str | None, changed: list[tuple[str, Any]]) -> None:
    names = ", ".join(argument_name(function, key) for key in changed)
    print(
        f"Note: {what or _name(function)} changed its input {names} in place. The test gave it "
        f"a copy, so this does not change the result; but a function should leave the arrays it "
        f"is given unchanged unless its docstring says otherwise."
    )


def argument_name(function: Any, key: tuple[str, Any]) -> str:
    """``x`` for ``("a", 1)`` of ``rnn_forward(x0, x, …)``: the parameter's name, else its place."""
    kind, where = key
    if kind == "k":
        return str(where)
    if _mode != "replay":
        import inspect

        with contextlib.suppress(TypeError, ValueError):
            parameters = list(inspect.signature(function).parameters.values())
            if where < len(parameters) and parameters[where].kind in (
                inspect.Parameter.POSITIONAL_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                return parameters[where].name
    return f"number {where + 1}"


def _copied(args: tuple, kwargs: Mapping[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """Deep copies of the arrays and tensors among the arguments (containers rebuilt)."""

    def copy(value: Any, depth: int) -> Any:
        if isinstance(value, np.ndarray):
            return value.copy()
        if is_tensor(value):
            return value.clone()  # differentiable: gradients still reach the original
        if depth < MAX_DEPTH and type(value) in (tuple, list):
            return type(value)(copy(item, depth + 1) for item in value)
        if depth < MAX_DEPTH and type(value) is dict:
            return {key: copy(item, depth + 1) for key, item in value.items()}
        return value

    return tuple(copy(a, 0) for a in args), {k: copy(v, 0) for k, v in kwargs.items()}


def _fingerprints(args: tuple, kwargs: Mapping[str, Any]) -> dict[tuple[str, Any], str | None]:
    """One fingerprint per argument, of the data in it (arrays, tensors, containers of them)."""

    def parts(value: Any, depth: int) -> Iterator[str]:
        if isinstance(value, np.ndarray):
            yield _digest(value)
        elif is_tensor(value):
            try:
                yield _digest(value.detach().cpu().numpy())
            except (TypeError, RuntimeError):
                yield f"tensor{tuple(value.shape)}"
        elif depth < MAX_DEPTH and type(value) in (tuple, list, dict):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            yield f"{type(value).__name__}{len(value)}("
            for key, item in items:
                yield repr(key) if isinstance(key, str | int) else type(key).__name__
                yield from parts(item, depth + 1)
            yield ")"
        elif isinstance(value, bool | int | float | str | type(None)):
            yield repr(value)[:200]
        else:
            yield type(value).__name__

    keys = [("a", i) for i in range(len(args))] + [("k", k) for k in kwargs]
    values = [*args, *kwargs.values()]
    return {key: "|".join(parts(value, 0)) for key, value in zip(keys, values, strict=True)}


def _error_parts(failure: AssertionError) -> dict[str, Any]:
    """What the re-check may show of a student's error: validated there (``_replayed_message``)."""
    return {
        "exception": str(getattr(failure, "student_exception", "") or "")[:100],
        "line": str(getattr(failure, "student_line", "") or "")[:500],
        "stub": bool(getattr(failure, "stub", False)),
    }


@contextlib.contextmanager
def replaying(records: list[dict], student_sources: Sequence[str] = ()) -> Iterator[None]:
    """Within the block, calls of student code return what ``records`` say, in order.

    A recorded error is raised again with a message built only from parts that the replay
    validates (:func:`replayed_message`): the function's name as the test calls it, the
    exception's class when it is one of Python's built-in exceptions, and the line that raised
    when it is, exactly, a line of ``student_sources`` (the sources of the student's cells). No
    text of the kernel's is shown: the student's code chose it.

    Raises:
        ReplayError: at the end, when records are left over (the kernel ran other calls).
    """
    global _mode, _depth, _student_lines, _student_words
    saved = _mode
    _mode, _depth = "replay", 0
    _student_lines = frozenset(
        line.strip() for source in student_sources for line in str(source).splitlines()
    ) - {""}
    _student_words = frozenset(_WORD.findall("\n".join(map(str, student_sources))))
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
        _student_lines = frozenset()
        _student_words = frozenset()


def _replay_next(
    function: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any], what: str | None = None
) -> Any:
    __tracebackhide__ = True
    if not _pending:
        raise ReplayError(f"no recorded answer for the call of {_name(function)}")
    record = _pending.popleft()
    if not isinstance(record, dict) or record.get("args") != _signature(args, kwargs):
        raise ReplayError(f"the recorded call does not match the call of {_name(function)}")
    global _last_changed, _last_numbers
    _last_numbers = _numbers_of(args, kwargs)
    keys = {("a", i) for i in range(len(args))} | {("k", k) for k in kwargs}
    changed = set()
    for key in record.get("changed", []):
        if not isinstance(key, list) or len(key) != 2 or tuple(key) not in keys:
            raise ReplayError(f"a recorded change to an argument of {_name(function)} is invalid")
        changed.add(tuple(key))
    _last_changed = frozenset(changed)
    if "error" in record:
        error = record["error"]
        if not isinstance(error, list) or len(error) < 2:
            raise ReplayError(f"the recorded error of {_name(function)} is malformed")
        parts = error[2] if len(error) > 2 and isinstance(error[2], dict) else {}
        recorded = error[1] if isinstance(error[1], str) else ""
        raise CheckFailure(
            replayed_message(what or _name(function), parts, recorded, _last_numbers)
        )
    if "result" not in record:
        raise ReplayError(f"the record of {_name(function)} holds no result")
    return decode(record["result"], trusted=False)


def replayed_message(
    name: str,
    parts: Mapping[str, Any],
    recorded: str = "",
    numbers: frozenset[str] = frozenset(),
) -> str:
    """The re-check's message for a recorded error, from validated parts only.

    ``name`` comes from the re-check itself. For an error of the student's code: the exception's
    class when it is one of Python's built-in exceptions, else "an exception of your own class";
    the arguments, described from the re-check's own; the line that raised, in the form
    :func:`~course_checks.compare.where_raised` gives, when it is exactly one of the student's own
    lines (so that the checks that read it decide as in the kernel). Of the rest of the
    ``recorded`` message (the course's hints, or a check's message from inside a probe) only
    the lines that :func:`vouched_lines` accepts are kept.
    """
    import builtins

    if parts.get("stub") is True:
        return (
            f"{name} is not implemented yet: replace `raise NotImplementedError()` with your code."
        )
    kind = str(parts.get("exception", ""))
    if not kind:  # a failure of the course's checks inside the call (a probe's)
        kept = vouched_lines(recorded, numbers)
        return kept or f"{name} failed a check of the test when it ran in your notebook."
    known = getattr(builtins, kind, None) if kind.isidentifier() else None
    exception = (
        kind
        if isinstance(known, type) and issubclass(known, BaseException)
        else "an exception of your own class"
    )
    message = f"{name} raised {exception} (its message is in your notebook's output).\n"
    line = str(parts.get("line", "")).strip()
    if line and line in _student_lines:
        message += f"  The error came from this line of your {name}:\n      {line}\n"
    hints = vouched_lines(_hint_lines(recorded), numbers)
    return message + (f"{hints}\n" if hints else "")


def _hint_lines(message: str) -> str:
    """The course's hints at the end of ``calls.call``'s message about a student's error.

    They follow the line that describes the arguments; what comes before it (the exception's
    message, which may hold several lines) is the kernel's text, and the line that raised is
    quoted from the student's cell, so both are left out.
    """
    lines = str.__str__(message).split("\n") if isinstance(message, str) else []
    starts = [i for i, line in enumerate(lines) if line.lstrip().startswith("It was called with:")]
    if not starts:
        return ""
    kept, skip_next = [], False
    for line in lines[starts[-1] + 1 :]:
        if skip_next:
            skip_next = False
            continue
        if line.lstrip().startswith("The error came from this line"):
            skip_next = True
            continue
        kept.append(line)
    return "\n".join(kept)


_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NUMBER = re.compile(r"(?<![A-Za-z_0-9.])\d+(?:\.\d+)?(?:e[-+]?\d+)?")
_course_words: frozenset[str] | None = None


def vouched_lines(text: Any, numbers: frozenset[str] | None = None) -> str:
    """The lines of a kernel's ``text`` that the re-check can vouch for, the others left out.

    A line is kept when every word in it is a word of the course's own checks (their message
    templates: ``course_checks``' sources) or of the student's own cells, and every number in it
    is one the re-check knows (``numbers``: the sizes of the call's arguments, by default those
    of the last call replayed) or 0 or 1. So the
    course's sentences survive, with the shapes they name, and no text of the kernel's (an
    exception's message, a string a student's function returned) can carry anything out.
    """
    vocabulary = _course_vocabulary() | _student_words
    allowed = (_last_numbers if numbers is None else numbers) | {"0", "1"}
    kept = []
    for line in str.__str__(text).split("\n") if isinstance(text, str) else []:
        if not line.strip():
            continue
        words = _WORD.findall(_NUMBER.sub(" ", line))
        if all(word in vocabulary for word in words) and all(
            number in allowed for number in _NUMBER.findall(line)
        ):
            kept.append(line)
    return "\n".join(kept)


def _course_vocabulary() -> frozenset[str]:
    global _course_words
    if _course_words is None:
        from pathlib import Path

        words: set[str] = set()
        for path in sorted(Path(__file__).parent.rglob("*.py")):  # the core and every assignment
            words.update(_WORD.findall(path.read_text(encoding="utf-8")))
        _course_words = frozenset(words)
    return _course_words


def _numbers_of(args: tuple, kwargs: Mapping[str, Any]) -> frozenset[str]:
    """The sizes the re-check knows for a call: its ints, its arrays' dimensions, and 2, 3 or 4
    times one of them or the product of two (stacked gates, flattened axes)."""
    found: set[str] = set()

    def walk(value: Any, depth: int) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int) and 0 <= value < 10**6:
            found.add(str(value))
        elif isinstance(value, np.ndarray) or is_tensor(value):
            found.update(str(int(n)) for n in value.shape)
        elif isinstance(value, tuple | list) and depth < MAX_DEPTH:
            for item in value:
                walk(item, depth + 1)
        elif isinstance(value, dict) and depth < MAX_DEPTH:
            for item in value.values():
                walk(item, depth + 1)
        elif hasattr(value, "__dataclass_fields__") and depth < MAX_DEPTH:
            for field in value.__dataclass_fields__:
                walk(getattr(value, field, None), depth + 1)

    for value in (*args, *kwargs.values()):
        walk(value, 0)
    sizes = [int(n) for n in found if int(n) <= 10**4]
    # PyTorch's stacked weights have 3H (GRU) or 4H (LSTM) rows; flattened arrays, T * B rows.
    found.update(str(k * n) for n in sizes for k in (2, 3, 4))
    found.update(str(n * m) for n in sizes for m in sizes)
    return frozenset(found)


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


def decode(data: Any, trusted: bool = True) -> Any:
    """The value :func:`encode` described; raises :class:`ReplayError` on anything malformed.

    With ``trusted=False`` (the re-check's answers), texts come back as :class:`RecordedText`
    and opaque objects under one fixed class name, so that a message can describe them by type
    and length without quoting what the kernel wrote.
    """
    try:
        return _decode(data, trusted)
    except ReplayError:
        raise
    except Exception as error:  # malformed records come from the kernel: never trust their shape
        raise ReplayError(f"a recorded value is malformed ({type(error).__name__})") from None


def _decode(data: dict[str, Any], trusted: bool = True) -> Any:
    tag, value = data["t"], data.get("v")
    if tag == "none":
        return None
    if tag in ("bool", "str"):
        if type(value).__name__ != tag:
            raise ReplayError("a recorded scalar has the wrong type")
        return value if trusted or tag == "bool" else RecordedText(value)
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
        items = [_decode(item, trusted) for item in value]
        return tuple(items) if tag == "tuple" else items
    if tag == "dict":
        return {_decode(k, trusted): _decode(v, trusted) for k, v in value}
    if tag == "opaque":
        name = str(value)[:100] if str(value).isidentifier() and trusted else "Opaque"
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
            keys = [str.__str__(k) if isinstance(k, str) else repr(k) for k in value]
            items = zip(keys, value.values(), strict=True)
            return "dict(" + ",".join(f"{k}:{describe(v)}" for k, v in items) + ")"
        if isinstance(value, tuple | list):
            return f"{type(value).__name__}(" + ",".join(map(describe, value)) + ")"
        return "str" if isinstance(value, str) else type(value).__name__

    return [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]


def _name(function: Any) -> str:
    return str(getattr(function, "__name__", type(function).__name__))
