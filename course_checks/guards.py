"""Guards for hidden tests: prove that a from-scratch module does not call the built-in one."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from .compare import CheckFailure

__all__ = ["RNN_BUILTINS", "forbid_calls"]

# Every public route to PyTorch's fused tanh-RNN: the modules and the functions behind them.
RNN_BUILTINS = (
    "torch.nn.RNN.forward",
    "torch.nn.RNNCell.forward",
    "torch.rnn_tanh",
    "torch.rnn_tanh_cell",
    "torch._VF.rnn_tanh",
    "torch._VF.rnn_tanh_cell",
)


@contextlib.contextmanager
def forbid_calls(targets: tuple[str, ...], reason: str) -> Iterator[None]:
    """Within the block, calling any of ``targets`` (dotted paths) raises :class:`CheckFailure`.

    Args:
        targets: dotted paths such as ``"torch.nn.RNN.forward"``; missing ones are skipped.
        reason: the plain-words explanation shown to the student.
    """
    patched: list[tuple[object, str, object]] = []

    def make_blocker(path: str):
        def blocker(*args, **kwargs):
            raise CheckFailure(f"Your code called {path}. {reason}")

        return blocker

    try:
        for path in targets:
            owner, attribute = _resolve_owner(path)
            if owner is None or not hasattr(owner, attribute):
                continue
            patched.append((owner, attribute, getattr(owner, attribute)))
            setattr(owner, attribute, make_blocker(path))
        yield
    finally:
        for owner, attribute, original in reversed(patched):
            setattr(owner, attribute, original)


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
