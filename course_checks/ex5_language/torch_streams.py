"""Checks of Part 1 of ``solutions/ex5_language/language_torch.ipynb``: the streams of truncated
backpropagation through time, ``batchify(ids, B)`` and ``get_chunk(streams, i, bptt)``.

The ids are the positions ``0, 1, 2, …`` in the public tests, so that a message can say which
characters landed where, and random ids in the hidden ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from course_checks.compare import check_close, check_true, expect_tuple
from course_checks.ex5_language.torch_calls import call_language, integer_ids
from course_checks.ex5_language.torch_references import reference_batchify, reference_get_chunk
from course_checks.ex5_language.torch_wrong_answers import BATCHIFY_VARIANTS, CHUNK_VARIANTS
from course_checks.probes import run_probe

__all__ = ["check_batchify", "check_get_chunk", "chunk_starts", "text_ids"]


def text_ids(seed: int | None, length: int) -> torch.Tensor:
    """``length`` ids: the positions ``0 … length − 1`` (``seed=None``), else random ids."""
    if seed is None:
        return torch.arange(length)
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 98, size=length))


def chunk_starts(n: int, bptt: int) -> list[int]:
    """The rows where the chunks of ``n``-row streams start: ``0, bptt, 2 bptt, …`` below n − 1."""
    return list(range(0, n - 1, bptt))


def _probe_batchify(batchify: Callable[..., Any], seed: int | None, length: int, B: int) -> Any:
    __tracebackhide__ = True
    return call_language(batchify, text_ids(seed, length), B)


def check_batchify(
    batchify: Callable[..., Any], length: int, B: int, seed: int | None = None
) -> list[list[int]]:
    """``batchify(ids, B)`` of ``length`` ids is the ``(n, B)`` tensor of contiguous streams.

    Returns the streams, row by row, as lists."""
    __tracebackhide__ = True
    got = run_probe(_probe_batchify, batchify, seed, length, B)
    ids = text_ids(seed, length)
    n = length // B
    expected = reference_batchify(ids, B)
    got = integer_ids(got, f"batchify(ids, B={B}) of {length} ids", (n, B))
    settings = f"batchify(ids, B={B}) of {length} ids (n = {length} // {B} = {n} rows)"
    check_close(
        f"the streams of {settings}",
        got,
        expected,
        atol=0,
        dtype=None,
        mistakes={
            text: reference_batchify(ids, B, **switches)
            for text, switches in BATCHIFY_VARIANTS.items()
        },
        hint="column b is one contiguous piece of the text, ids[b * n : (b + 1) * n], read from "
        "top to bottom; the last len(ids) % B characters are dropped.",
    )
    return got.tolist()


def _probe_get_chunk(
    get_chunk: Callable[..., Any], seed: int | None, n: int, B: int, bptt: int
) -> list[Any]:
    __tracebackhide__ = True
    streams = reference_batchify(text_ids(seed, n * B), B)
    return [call_language(get_chunk, streams, i, bptt) for i in chunk_starts(n, bptt)]


def check_get_chunk(
    get_chunk: Callable[..., Any], n: int, B: int, bptt: int, seed: int | None = None
) -> list[tuple[list, list]]:
    """Every chunk ``get_chunk(streams, i, bptt)`` of ``(n, B)`` streams, the last one shorter.

    Returns the chunks' ``(x, y)``, each stream by stream (``x.T``) as lists."""
    __tracebackhide__ = True
    check_true((n - 1) % bptt != 0, "a course bug: the test's streams need a shorter last chunk")
    results = run_probe(_probe_get_chunk, get_chunk, seed, n, B, bptt)
    streams = reference_batchify(text_ids(seed, n * B), B)
    chunks = []
    for i, result in zip(chunk_starts(n, bptt), results, strict=True):
        call = f"get_chunk(streams, i={i}, bptt={bptt}) of ({n}, {B}) streams"
        x, y = expect_tuple(result, ("x", "y"), call)
        want_x, want_y = reference_get_chunk(streams, i, bptt)
        L = len(want_x)
        last = f"; this is the last chunk, which is shorter: L = {n} − 1 − {i} = {L}"
        for name, value in (("x", x), ("y", y)):
            if isinstance(value, torch.Tensor) and tuple(value.shape) != (L, B) and bptt > L:
                rows = value.shape[0] if value.dim() else 0
                check_true(
                    False,
                    f"{name} of {call} has {rows} rows; expected L = min(bptt, n − 1 − i) = {L}"
                    f"{last}. The last row of the streams has no next character to predict, so "
                    f"the last chunk stops one row before the end: x = streams[i : i + L] and "
                    f"y = streams[i + 1 : i + 1 + L], both (L, B).",
                )
            integer_ids(value, f"{name} of {call}", (L, B))
        if torch.equal(x, want_y) and torch.equal(y, want_x):
            check_true(False, f"{call} returned (y, x): return the inputs first, (x, y).")
        check_close(
            f"x, the inputs of {call}",
            x,
            want_x,
            atol=0,
            dtype=None,
            hint="x is the rows i to i + L − 1 of the streams, streams[i : i + L].",
        )
        check_close(
            f"y, the targets of {call}",
            y,
            want_y,
            atol=0,
            dtype=None,
            mistakes={
                text: reference_get_chunk(streams, i, bptt, **switches)[1]
                for text, switches in CHUNK_VARIANTS.items()
            },
            hint="y is x one row later, streams[i + 1 : i + 1 + L]: at every step the target is "
            "the next character of the same stream.",
        )
        chunks.append((x.T.tolist(), y.T.tolist()))
    return chunks
