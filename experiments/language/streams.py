"""A corpus as contiguous streams for truncated backpropagation through time (TBPTT).

The text is cut into ``B`` equal, contiguous pieces, one per batch row: row ``b`` of chunk ``k``
continues row ``b`` of chunk ``k - 1``, so a state carried from one chunk to the next (and
detached, so that backpropagation stops at the chunk's start) holds the context of everything the
row has read. Inputs and targets are the same streams shifted by one character: the model at step
``t`` predicts the character at ``t + 1``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def batchify(ids: np.ndarray, B: int) -> np.ndarray:
    """``(n, B)``: column ``b`` is ``ids[b n : (b + 1) n]`` with ``n = len(ids) // B``.

    The last ``len(ids) % B`` characters, which would make the rows unequal, are dropped.
    """
    n = len(ids) // B
    if n < 2:
        raise ValueError(f"{len(ids)} characters cannot make {B} streams of two or more")
    return np.ascontiguousarray(np.asarray(ids)[: n * B].reshape(B, n).T)


def chunks(streams: np.ndarray, T: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Consecutive ``(x, y)`` chunks of the streams: ``x = streams[i : i + T]`` and
    ``y = streams[i + 1 : i + T + 1]`` for ``i = 0, T, 2T, …``; the last chunk may be shorter.

    Every character but the first of each stream is a target exactly once.
    """
    n = len(streams)
    for start in range(0, n - 1, T):
        stop = min(start + T, n - 1)
        yield streams[start:stop], streams[start + 1 : stop + 1]
