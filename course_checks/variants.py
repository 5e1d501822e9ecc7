"""What the wrong-answer tables share."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = [
    "merge_identical",
]

Array = np.ndarray


def merge_identical(mistakes: Mapping[str, Array]) -> dict[str, Array]:
    """Merge the mistakes that produce the same value on these inputs into one entry.

    ``check_close`` names the first mistake whose value matches; when several mistakes give the
    same value (e.g. with ``h_prev = 0`` every mistake in the recurrent term coincides), the
    merged description lists all of them, joined by "; or: ", so that none is named wrongly.
    """
    groups: dict[object, list[str]] = {}
    values: dict[object, Array] = {}
    for text, value in mistakes.items():
        array = np.asarray(value, dtype=np.float64)
        if np.all(np.isfinite(array)):
            # Rounding scales by 1e9: a finite value above 1.8e299 (a wrong exp(Σ loss)) becomes
            # inf there, as before, but without the warning, which would cost the test cell.
            with np.errstate(over="ignore"):
                key: object = (array.shape, (np.round(array, 9) + 0.0).tobytes())
        else:
            key = text  # NaN or inf: never merged
        groups.setdefault(key, []).append(text)
        values.setdefault(key, value)
    return {"; or: ".join(texts): values[key] for key, texts in groups.items()}
