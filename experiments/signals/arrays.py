"""A cache of prepared data sets as NumPy arrays, for data preparation too slow to repeat in every
run (synthesising speech, parsing the chorales).

Results of runs are small JSON documents (:mod:`experiments.runner`); a data set is arrays of
megabytes, stored once as ``<cache>/data/<name>-<fingerprint>.npz`` and read by every run that
needs it. The fingerprint hashes whatever the data depend on (the builder's source, the versions
of the tools, the parameters), so a change rebuilds it and an unchanged build reads it in
milliseconds. Writes are atomic: two workers that build the same data at once both succeed and
leave one complete file.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from experiments.cache import cache_dir

Arrays = dict[str, np.ndarray]


def fingerprint(parts: Iterable[str | bytes]) -> str:
    """A short hash of the parts, in order."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()[:24]


def source_of(*modules: object) -> list[bytes]:
    """The source bytes of modules, for a fingerprint."""
    return [Path(module.__file__).read_bytes() for module in modules]  # type: ignore[attr-defined]


def data_dir() -> Path:
    """Where prepared data live: ``data/`` inside the experiments' result cache."""
    return cache_dir() / "data"


def cached(name: str, parts: Iterable[str | bytes], build: Callable[[], Arrays]) -> Arrays:
    """The arrays ``build()`` returns, from ``data/<name>-<fingerprint of parts>.npz`` if present,
    else built and stored there."""
    path = data_dir() / f"{name}-{fingerprint(parts)}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as stored:
            return {key: stored[key] for key in stored.files}
    arrays = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_bytes(buffer.getvalue())
    temporary.replace(path)  # atomic: a reader never sees half a file
    return arrays
