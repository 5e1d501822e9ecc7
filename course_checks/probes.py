"""Probes: the part of a test that runs the student's objects, and returns only data.

Tests of PyTorch modules build the student's objects, set their parameters, run forward and
backward, move them to a device or train them: objects the grader cannot record. So such a test is
split in two. A *probe* does everything that touches the student's code and returns data (tensors,
arrays, numbers, strings, and tuples, lists and dicts of them); :func:`run_probe` runs it as one
recorded call (``course_checks.replay``), so that when the grader re-checks the test in its own
process the probe's data comes from the record. The check functions then compare that data with
references they compute themselves, outside the probe, which is what the re-check repeats. (Like
any recorded answer, a probe's data is the submission's to shape, since the probe runs in its
kernel; what the re-check guarantees is that the data is judged by untouched comparisons.)

A structural problem a probe meets while it works (a stub, a wrong return type, a built-in GRU)
is raised as :class:`~course_checks.compare.CheckFailure` and recorded as such. A probe that runs
several steps may keep a failure as data (:func:`attempt`), for the check to raise with
:func:`outcome` where it would have been found, so that a test reports problems in its own order.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from typing import Any

import numpy as np

from course_checks import replay
from course_checks.compare import as_numpy, check_true, uniform_spread
from course_checks.errors import CheckFailure

__all__ = [
    "attempt",
    "backward",
    "digest",
    "notebook_value",
    "outcome",
    "parameter_facts",
    "recorded_gradients",
    "replaced_names",
    "run_probe",
]


def run_probe(probe: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``probe(*args, **kwargs)``, recorded in the grader's kernel and replayed in its re-check.

    Pass the student's class or function first and plain data (seeds, sizes, flags, names) after:
    the arguments' types and shapes must be the same in the kernel and in the re-check. Return
    data at most four containers deep (``replay.MAX_DEPTH``): deeper values are recorded opaque.
    """
    __tracebackhide__ = True
    what = _student_name(args[0]) if args else None
    return replay.through(probe, args, kwargs, lambda a, k: probe(*a, **k), what)


def _student_name(value: Any) -> str | None:
    """``RNNFromScratch`` or ``train``: the student's code that a probe runs (for warning notes)."""
    if isinstance(value, str):
        return None
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    return str(name) if name else type(value).__name__


def attempt(function: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``{"value": function(...)}``, or ``{"failure": message}`` when it raises a CheckFailure."""
    try:
        return {"value": function(*args, **kwargs)}
    except CheckFailure as failure:
        return {"failure": str(failure)}


def outcome(step: Mapping[str, Any]) -> Any:
    """The value of an :func:`attempt`, or its failure raised again."""
    __tracebackhide__ = True
    if "failure" in step:
        raise CheckFailure(_kernel_text(step["failure"]))
    return step["value"]


def _kernel_text(text: Any) -> str:
    """A message the probe wrote in the kernel; in the grader's re-check, not quoted."""
    if replay.mode() == "replay":
        kept = replay.vouched_lines(text)
        return kept or (
            "The test failed on your code when it ran in your notebook (see its output there)."
        )
    return str(text)


def backward(loss: Callable[[], Any], tensors: Mapping[str, Any]) -> dict[str, Any]:
    """Backpropagate ``loss()`` and collect each tensor's ``.grad`` by name, as data.

    Returns ``{"requires_grad": False}`` when the loss does not require grad,
    ``{"requires_grad": True, "grads": {name: grad or None}}`` after ``backward()``, and
    ``{"error": text}`` when computing the loss or backpropagating raised (wrong shapes, which
    the comparisons of the values report first, or an error in the student's graph).
    """
    try:
        value = loss()
        if not getattr(value, "requires_grad", False):
            return {"requires_grad": False}
        value.backward()
    except Exception as error:  # reported by recorded_gradients, after the values are compared
        return {"error": f"{type(error).__name__}: {error}"}
    return {"requires_grad": True, "grads": {name: t.grad for name, t in tensors.items()}}


def recorded_gradients(result: Mapping[str, Any], no_grad_message: str) -> Mapping[str, Any]:
    """The gradients a :func:`backward` collected; fails when there are none to compare."""
    __tracebackhide__ = True
    if "error" in result:
        raise CheckFailure(
            f"Backpropagating through your code raised {_kernel_text(result['error'])}"
        )
    check_true(result.get("requires_grad") is True, no_grad_message)
    return result["grads"]


def parameter_facts(module: Any, names: Sequence[str]) -> dict[str, Any]:
    """What the parameter checks judge about ``module``'s attributes ``names``, as data.

    ``facts[name]`` for each of ``names``: the attribute's type name, whether it is a tensor and
    a registered ``nn.Parameter``, and for a tensor its shape, dtype and spread
    (:func:`~course_checks.compare.uniform_spread`); ``facts["registered"]``: the shape of every
    registered parameter, by name. (Flat, so that a probe's result can hold it: the record keeps
    containers only four levels deep.)
    """
    import torch

    registered = dict(module.named_parameters())
    facts: dict[str, Any] = {"registered": {name: tuple(p.shape) for name, p in registered.items()}}
    for name in names:
        value = getattr(module, name, None)
        fact: dict[str, Any] = {"type": type(value).__name__, "tensor": False, "registered": False}
        if isinstance(value, torch.Tensor):
            fact["tensor"] = True
            fact["registered"] = (
                isinstance(value, torch.nn.Parameter) and registered.get(name) is value
            )
            fact["shape"] = tuple(value.shape)
            fact["dtype"] = str(value.dtype)
            fact["spread"] = uniform_spread(value) if value.numel() else None
        facts[name] = fact
    return facts


def notebook_value(name: str) -> Any:
    """The notebook's global ``name``, or ``None``: objects that a given cell made from answers.

    A test passes the variable's *name* to its probe, not the object: in the grader's re-check the
    given cell that makes the object cannot run, and a name is the same argument in both places.
    """
    import __main__

    return getattr(__main__, name, None)


@contextlib.contextmanager
def replaced_names(
    namespace: MutableMapping[str, Any], values: Mapping[str, Any]
) -> Iterator[None]:
    """Within the block, the names of ``values`` in ``namespace`` are bound to those values.

    A probe of a student's function that calls the notebook's other functions (``train`` calls
    ``adding_problem``) binds the reference ones in the function's globals for the call, so that
    a mistake in one function does not count against the next. Restored afterwards.
    """
    missing = object()
    saved = {name: namespace.get(name, missing) for name in values}
    namespace.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value


def digest(value: Any) -> str:
    """A fingerprint of a tensor's or an array's values, shape and dtype (others: the type)."""
    try:
        array = as_numpy(value)
    except (TypeError, RuntimeError):  # no NumPy dtype (bfloat16), or not on a CPU-readable device
        array = None
    if not isinstance(array, np.ndarray):
        return f"<{type(value).__name__}>"
    data = np.ascontiguousarray(array)
    described = data.tobytes() + str((data.shape, data.dtype)).encode()
    return hashlib.blake2b(described, digest_size=16).hexdigest()
