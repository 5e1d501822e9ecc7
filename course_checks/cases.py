"""What every sequence test case can say about itself: its sizes, and a description for messages."""

from __future__ import annotations

import numpy as np


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
