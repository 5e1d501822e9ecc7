"""Guards for hidden tests: prove that a from-scratch module does not use the built-in one."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from course_checks.errors import CheckFailure

__all__ = [
    "RECURRENT_DECOMPOSITIONS",
    "RECURRENT_OPERATORS",
    "BuiltinGuard",
    "block_recurrent_kernels",
    "block_torch_ops",
    "builtin_recurrent_classes",
    "float_recurrent_classes",
    "forbid_calls",
    "no_builtin_recurrent",
]

# Every operator of torch's built-in recurrent kernels, by its ``aten`` name: the fused layers and
# cells (float, quantized) and the backends' kernels behind them. Blocked at the dispatcher, so
# that no Python-level name reaches them (``torch._C._VariableFunctions`` inside
# ``torch._C.DisableTorchFunction()``, ``torch.ops.aten.<op>.<overload>``, ``torch._VF``).
RECURRENT_OPERATORS = (
    "rnn_tanh",
    "rnn_tanh_cell",
    "rnn_relu",
    "rnn_relu_cell",
    "gru",
    "gru_cell",
    "lstm",
    "lstm_cell",
    "_thnn_fused_gru_cell",
    "_thnn_fused_lstm_cell",
    "quantized_gru",
    "quantized_gru_cell",
    "quantized_lstm",
    "quantized_lstm_cell",
    "quantized_rnn_tanh_cell",
    "quantized_rnn_relu_cell",
    "mkldnn_rnn_layer",
    "_cudnn_rnn",
    "miopen_rnn",
    "_lstm_mps",
)

# The dispatch keys at which an operator's own kernels can sit. A raising kernel is registered at
# each of them that holds one: CompositeImplicitAutograd for the composite operators (it fills
# every backend's slot, so it also wins under inference_mode), and Autograd and the backends for
# the kernels written per device.
_DISPATCH_KEYS = (
    "CompositeImplicitAutograd",
    "CompositeExplicitAutograd",
    "Autograd",
    "CPU",
    "CUDA",
    "MPS",
    "QuantizedCPU",
    "Meta",
)

# torch's Python decompositions of the recurrent operators (torch._decomp.decompositions): plain
# torch code a student could call directly, and what the Python dispatcher (enabled by
# torch.compile, or by hand) runs for these operators instead of their kernels.
RECURRENT_DECOMPOSITIONS = (
    "rnn_tanh_input",
    "rnn_relu_input",
    "rnn_tanh_data",
    "rnn_relu_data",
    "gru_impl",
    "gru_impl_data",
    "lstm_impl",
    "lstm_data_impl",
    "one_layer_rnn",
    "one_layer_rnn_data",
    "one_layer_lstm",
    "one_layer_lstm_data",
    "mkldnn_one_layer_lstm",
    "rnn_cell",
    "rnn_cell_data",
    "gru_cell",
    "gru_cell_data",
    "lstm_cell",
    "_rnn_helper",
)

_guard_state: dict[str, Any] = {"reason": None, "called": None}


def no_builtin_recurrent(
    targets: tuple[str, ...], reason: str
) -> contextlib.AbstractContextManager[None]:
    """The hidden tests' guard, shared by every exercise: no built-in recurrent code may run.

    Two layers. :func:`forbid_calls` replaces the Python-level ``targets``
    (``torch.nn.GRU.forward``, ``torch.gru_cell``), so that the message names what the student
    wrote; and
    :func:`block_recurrent_kernels` blocks every recurrent operator at torch's dispatcher, which
    every route reaches whatever name it was called by.
    """
    stack = contextlib.ExitStack()
    stack.enter_context(block_recurrent_kernels(reason))
    stack.enter_context(forbid_calls(targets, reason))
    return stack


@contextlib.contextmanager
def block_recurrent_kernels(reason: str) -> Iterator[None]:
    """Within the block, every operator of :data:`RECURRENT_OPERATORS` raises :class:`CheckFailure`.

    A ``torch.library.Library("aten", "IMPL")`` registers a raising kernel for each overload at
    each dispatch key where it has a kernel; ``_destroy()`` afterwards restores torch's own.
    Nothing at the Python level (``torch._C.DisableTorchFunction``, ``torch._C._VariableFunctions``,
    ``torch.ops.aten``) goes around the dispatcher. torch's Python decompositions of the same
    operators (:data:`RECURRENT_DECOMPOSITIONS`) get a raising body for the block too. torch warns
    once when a kernel is overridden: the warning is caught here, so that it never reaches the
    student's stderr. And since student code may catch the failure and carry on, the block also
    fails at its end when a blocked kernel was called inside it. Costs about 2 ms per block.
    Nested blocks keep the outermost one's kernels.
    """
    __tracebackhide__ = True
    if _guard_state["reason"] is not None:  # already inside a block
        yield
        return
    import warnings

    import torch

    _guard_state.update(reason=reason, called=None)
    library = None
    swapped: list[tuple[Any, Any]] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Overriding a previously registered kernel"
            library = torch.library.Library("aten", "IMPL")
            for name in RECURRENT_OPERATORS:
                packet = getattr(torch.ops.aten, name, None)
                if packet is None:
                    continue
                for overload in packet.overloads():
                    qualified = name if overload == "default" else f"{name}.{overload}"
                    for key in _DISPATCH_KEYS:
                        if _has_kernel(f"aten::{qualified}", key):
                            library.impl(qualified, _raising_kernel(qualified), key)
        swapped = _swap_decompositions()
        yield
    finally:
        for function, code in reversed(swapped):
            function.__code__ = code
        if library is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                library._destroy()
        called = _guard_state["called"]
        _guard_state.update(reason=None, called=None)
    if called is not None:  # the student's code caught the failure and went on
        raise CheckFailure(called)


def _has_kernel(operator: str, key: str) -> bool:
    import torch

    return bool(torch._C._dispatch_has_kernel_for_dispatch_key(operator, key))


def _blocked_message(operator: str, reason: str | None) -> str:
    return f"Your code called torch's built-in recurrent kernel aten::{operator}. {reason or ''}"


def _blocked(operator: str) -> CheckFailure:
    """The failure a blocked operator raises, noted so that the guard fails even if it is caught."""
    return _noted(_blocked_message(operator, _guard_state["reason"]))


def _noted(message: str) -> CheckFailure:
    """``CheckFailure(message)``, remembered by the active guard (the first one counts)."""
    if _guard_state["reason"] is not None and _guard_state["called"] is None:
        _guard_state["called"] = message
    return CheckFailure(message)


def _raising_kernel(operator: str):
    def kernel(*args: Any, **kwargs: Any) -> Any:
        raise _blocked(operator)

    return kernel


def _decomposition_blocker(*args: Any, **kwargs: Any) -> Any:
    # Runs as the body of a torch decomposition (in that function's globals): import by name.
    import sys

    from course_checks import guards

    raise guards._blocked(sys._getframe().f_code.co_name)


def _swap_decompositions() -> list[tuple[Any, Any]]:
    """Give each of torch's recurrent decompositions a raising body; ``(function, old code)``."""
    try:
        import torch._decomp.decompositions as decompositions
    except ImportError:
        return []
    swapped = []
    blocker = _decomposition_blocker.__code__
    for name in RECURRENT_DECOMPOSITIONS:
        function = getattr(decompositions, name, None)
        code = getattr(function, "__code__", None)
        if code is None or function.__closure__ is not None:
            continue
        function.__code__ = blocker.replace(co_name=name, co_qualname=name)
        swapped.append((function, code))
    return swapped


@contextlib.contextmanager
def forbid_calls(targets: tuple[str, ...], reason: str) -> Iterator[None]:
    """Within the block, calling any of ``targets`` (dotted paths) raises :class:`CheckFailure`.

    Two nets catch a call. Each target is replaced by a blocker where it lives, so that
    ``torch.nn.RNN.forward`` fails however the module was built. And since a student may reach a
    torch function by another name (``from torch import rnn_tanh_cell`` before the block,
    ``torch._C._VariableFunctions.rnn_tanh_cell``), a torch function mode also blocks any torch
    function whose name is the last part of a function target: every torch function that takes
    tensors passes through the active mode, whatever name it was called by.

    Args:
        targets: dotted paths such as ``"torch.nn.RNN.forward"``; missing ones are skipped.
        reason: the plain-words explanation shown to the student.
    """
    patched: list[tuple[object, str, object]] = []
    function_names: dict[str, str] = {}

    def make_blocker(path: str):
        def blocker(*args, **kwargs):
            raise _noted(f"Your code called {path}. {reason}")

        return blocker

    try:
        for path in targets:
            owner, attribute = _resolve_owner(path)
            if owner is None or not hasattr(owner, attribute):
                continue
            if not isinstance(owner, type):  # a module-level function, not a method
                function_names.setdefault(attribute, path)
            original = getattr(owner, attribute)
            try:
                setattr(owner, attribute, make_blocker(path))
            except (AttributeError, TypeError):
                continue  # read-only (a C module's function): the function mode still blocks it
            patched.append((owner, attribute, original))
        with _block_torch_functions(function_names, reason):
            yield
    finally:
        # Restore every patch, even if one restore fails, so no built-in stays broken.
        for owner, attribute, original in reversed(patched):
            with contextlib.suppress(AttributeError, TypeError):
                setattr(owner, attribute, original)


@contextlib.contextmanager
def block_torch_ops(names: frozenset[str], reason: str) -> Iterator[None]:
    """Within the block, any torch function or ``torch.ops.aten`` overload in ``names`` raises.

    :func:`forbid_calls` matches the names of its targets; this blocks operators by name too,
    including those no public target leads to (``_thnn_fused_gru_cell``) and the overloads of
    ``torch.ops.aten``, named ``gru.input`` or ``gru_cell.default``, by the part before the dot.
    """
    from torch.overrides import TorchFunctionMode

    class _Blocker(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            name = str(getattr(func, "__name__", ""))
            if name.split(".")[0] in names:
                raise _noted(f"Your code called torch's {name}. {reason}")
            return func(*args, **(kwargs or {}))

    with _Blocker():
        yield


def builtin_recurrent_classes() -> tuple[type, ...]:
    """PyTorch's recurrent modules and cells, float and dynamically quantized."""
    import torch
    from torch.ao.nn.quantized.dynamic.modules import rnn as quantized_rnn

    return (
        torch.nn.RNNBase,
        torch.nn.modules.rnn.RNNCellBase,
        quantized_rnn.RNNBase,
        quantized_rnn.RNNCellBase,
    )


@contextlib.contextmanager
def _block_torch_functions(names: dict[str, str], reason: str) -> Iterator[None]:
    """A torch function mode that raises when a torch function named in ``names`` is called."""
    if not names:
        yield
        return
    from torch.overrides import TorchFunctionMode

    class _Blocker(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            # aten overloads are named "gru_cell.default", "rnn_tanh.input": match the base name.
            path = names.get(getattr(func, "__name__", "").split(".")[0])
            if path is not None:
                raise _noted(f"Your code called {path}. {reason}")
            return func(*args, **(kwargs or {}))

    with _Blocker():
        yield


def _resolve_owner(path: str) -> tuple[object | None, str]:
    """Split ``a.b.C.f`` into the object ``a.b.C`` and the attribute name ``f``."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for name in parts[split:-1]:
                obj = getattr(obj, name)
        except AttributeError:
            return None, parts[-1]
        return obj, parts[-1]
    return None, parts[-1]


def float_recurrent_classes() -> tuple[type, ...]:
    """PyTorch's float recurrent modules and cells (``nn.RNN``, ``nn.GRUCell``, …)."""
    import torch

    return (torch.nn.RNNBase, torch.nn.modules.rnn.RNNCellBase)


@dataclass(frozen=True)
class BuiltinGuard:
    """The hidden tests' guard against one exercise's built-in layer: configuration per cell type.

    ``targets`` are the Python-level routes to the layer (:func:`forbid_calls`); ``operators``
    the ``torch.ops.aten`` names also blocked by name (:func:`block_torch_ops`), besides every
    recurrent kernel, blocked at the dispatcher; ``reason`` is what a blocked call says. ``module``
    is how the tests name the student's class, ``instead`` the advice when it holds a built-in
    module of ``classes``; with ``require_module``, anything but an ``nn.Module`` fails first.
    """

    targets: tuple[str, ...]
    reason: str
    module: str
    instead: str
    operators: frozenset[str] = frozenset()
    classes: Callable[[], tuple[type, ...]] = builtin_recurrent_classes
    require_module: bool = True

    def block(self) -> contextlib.AbstractContextManager[None]:
        """Within the block, any route to the built-in layer raises :class:`CheckFailure`."""
        stack = contextlib.ExitStack()
        stack.enter_context(no_builtin_recurrent(self.targets, self.reason))
        if self.operators:
            stack.enter_context(block_torch_ops(self.operators, self.reason))
        return stack

    def guarded(self, on: bool) -> contextlib.AbstractContextManager[None]:
        """:meth:`block` where ``on`` (the hidden tests), else nothing."""
        return self.block() if on else contextlib.nullcontext()

    def check_modules(self, module: Any, what: str = "") -> None:
        """Fail if ``module`` is or holds a built-in recurrent module (``nn.GRU``, …)."""
        __tracebackhide__ = True
        what = what or self.module
        if self.require_module:
            import torch

            if not isinstance(module, torch.nn.Module):
                raise CheckFailure(f"{what} must be an nn.Module; got a {type(module).__name__}.")
        for name, submodule in module.named_modules():
            if isinstance(submodule, self.classes()):
                where = f"self.{name}" if name else "the module itself"
                raise CheckFailure(
                    f"{what} contains a built-in recurrent module ({where} is an "
                    f"nn.{type(submodule).__name__}). {self.instead}"
                )
