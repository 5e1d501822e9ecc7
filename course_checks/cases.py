"""What every sequence test case can say about itself: its sizes, and a description for messages."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

import numpy as np

SECRET_ENV = "GRU_COURSE_SECRET"
_adopted = ""


def adopt_secret() -> bool:
    """Take the grading run's secret out of the environment, before student code runs.

    For the grader's kernel (the zygote, right after it forks a kernel): the secret is kept in
    this module and removed from ``os.environ``, so that ``os.environ`` no longer shows it to the
    student's code (the static scan must still forbid reading this module's state). Returns
    whether there was a secret.
    """
    global _adopted
    secret = os.environ.pop(SECRET_ENV, "").strip()
    if secret:
        _adopted = secret
    return bool(secret)


def hidden_seed(n: int) -> int:
    """The seed a hidden test draws from: ``n`` mixed with this grading run's secret.

    The grader sets ``GRU_COURSE_SECRET`` (hex) in the kernel's and the re-check's environment,
    so that a hidden test's inputs are new in every grading run and the same in its kernel and
    its re-check; nothing in the released notebook tells them. BLAKE2b of the secret and ``n``
    gives a seed in ``[0, 2**32)``. Without the variable (an instructor's own run, the tests of
    the course) it is ``n`` itself. A secret that is not hex is used as text.
    """
    secret = _adopted or os.environ.get(SECRET_ENV, "").strip()
    if not secret:
        return int(n)
    try:
        key = bytes.fromhex(secret)
    except ValueError:
        key = secret.encode()
    digest = hashlib.blake2b(str(int(n)).encode(), key=key[:64], digest_size=8).digest()
    return int.from_bytes(digest, "big") % 2**32


class SequenceCase:
    """A mixin for test-case dataclasses with inputs ``x (T, B, D)`` and a state ``h0 (B, H)``."""

    x: np.ndarray
    h0: np.ndarray

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """``(T, B, D, H)``."""
        T, B, D = self.x.shape
        return T, B, D, self.h0.shape[1]

    def describe(self) -> str:
        """``"5 time steps, B=3, D=4, H=6"``, the sizes a failure message names."""
        T, B, D, H = self.sizes
        steps = "1 time step" if T == 1 else f"{T} time steps"
        return f"{steps}, B={B}, D={D}, H={H}"


def drawn(
    case: Any, factory: Callable[..., Any], seed: int | None, sizes: tuple[int | None, ...]
) -> Any:
    """``case``, or ``factory(seed, *sizes)``: a check draws its own case from a seed and sizes.

    Test cells pass ``seed=…, T=…, B=…, D=…, H=…`` rather than a case, so that the case (which may
    hold the reference's results) is made inside the check and never reaches the notebook.
    """
    if case is not None:
        return case
    if seed is None or None in sizes:
        raise TypeError("pass a case, or seed= and the sizes T=, B=, D=, H=")
    return factory(seed, *sizes)
