"""Guards for hidden tests: prove that a from-scratch module does not use the built-in one."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

from .compare import CheckFailure

__all__ = [
    "NO_BUILTIN_RNN_REASON",
    "RNN_BUILTINS",
    "block_torch_ops",
    "builtin_recurrent_classes",
    "check_no_builtin_rnn_modules",
    "forbid_calls",
    "no_builtin_rnn",
]

# Every public route to PyTorch's fused RNN: the modules and the functions behind them.
RNN_BUILTINS = (
    "torch.nn.RNN.forward",
    "torch.nn.RNNCell.forward",
    "torch.rnn_tanh",
    "torch.rnn_tanh_cell",
    "torch.rnn_relu",
    "torch.rnn_relu_cell",
    "torch._VF.rnn_tanh",
    "torch._VF.rnn_tanh_cell",
    "torch._VF.rnn_relu",
    "torch._VF.rnn_relu_cell",
)


NO_BUILTIN_RNN_REASON = (
    "Compute h_t = tanh(x_t @ W_x + h_prev @ W_h + b) yourself: nn.RNN, nn.RNNCell and torch's "
    "rnn_tanh functions may only be used by the tests."
)


def no_builtin_rnn() -> contextlib.AbstractContextManager[None]:
    """``forbid_calls(RNN_BUILTINS, NO_BUILTIN_RNN_REASON)``: the hidden tests' guard."""
    return forbid_calls(RNN_BUILTINS, NO_BUILTIN_RNN_REASON)


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
            raise CheckFailure(f"Your code called {path}. {reason}")

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


def check_no_builtin_rnn_modules(module: Any, what: str = "RNNFromScratch") -> None:
    """Fail if ``module`` holds a built-in recurrent module (nn.RNN, nn.GRU, nn.LSTM, nn.*Cell)."""
    __tracebackhide__ = True
    import torch

    builtins = (torch.nn.RNNBase, torch.nn.modules.rnn.RNNCellBase)
    for name, submodule in module.named_modules():
        if isinstance(submodule, builtins):
            where = f"self.{name}" if name else "the module itself"
            raise CheckFailure(
                f"{what} contains a built-in recurrent module ({where} is an "
                f"nn.{type(submodule).__name__}). Write the recurrence yourself with nn.Parameter "
                f"weights; nn.RNN and nn.RNNCell are only allowed in the tests."
            )


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
                raise CheckFailure(f"Your code called torch's {name}. {reason}")
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
                raise CheckFailure(f"Your code called {path}. {reason}")
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
