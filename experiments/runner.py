"""Run many training specifications in parallel worker processes, with an on-disk result cache.

A result is cached under a key made of the specification and a fingerprint of the modules that
compute results and of the PyTorch and NumPy versions: change a task, a model or the training loop
and every result is recomputed; edit the chapter's prose or add runs to the protocol and no existing
result is. The cache lives in ``_build/.experiments`` (next to Jupyter Book's execution cache), or
in ``$GRU_EXPERIMENT_CACHE``.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

import numpy
import torch

from experiments.training import DEFAULTS, Spec, train

PACKAGE = Path(__file__).resolve().parent
DEFAULT_CACHE = PACKAGE.parent / "_build" / ".experiments"


# The modules a result depends on; the runner, the protocol and the tables only choose, schedule
# and summarise runs, so editing them retrains nothing.
RESULT_MODULES = ("tasks.py", "models.py", "training.py")
# Specification fields that label a run without changing it (the LSTM is its own equal-parameter
# reference, so its two sizings are one run).
LABELS = ("sizing",)


@cache
def code_fingerprint() -> str:
    """A hash of the modules results depend on and of the PyTorch and NumPy versions."""
    digest = hashlib.sha256(f"torch {torch.__version__} numpy {numpy.__version__}".encode())
    for name in RESULT_MODULES:
        digest.update(name.encode() + (PACKAGE / name).read_bytes())
    return digest.hexdigest()


def cache_key(spec: Spec) -> str:
    """The cache key of a specification: its defaults filled in and its labels left out, so that
    equal runs share a key."""
    full = {key: value for key, value in {**DEFAULTS, **spec}.items() if key not in LABELS}
    return hashlib.sha256(
        (code_fingerprint() + json.dumps(full, sort_keys=True)).encode()
    ).hexdigest()[:32]


def cache_dir() -> Path:
    return Path(os.environ.get("GRU_EXPERIMENT_CACHE", DEFAULT_CACHE))


def _train_one_thread(spec: Spec) -> dict[str, Any]:
    torch.set_num_threads(1)  # small models: one thread per run, one run per core
    return train(spec)


def _cost(spec: Spec) -> float:
    """A rough cost estimate (steps × sequence length), to start the longest runs first."""
    args = spec.get("task_args", {})
    length = args.get("length") or 2 * args.get("train_max", 0) or 64
    return spec.get("steps", DEFAULTS["steps"]) * length


def run_all(specs: Iterable[Spec], workers: int | None = None) -> list[dict[str, Any]]:
    """The result of every specification, in order: from the cache, or trained and cached.

    Missing results are trained in ``workers`` processes (default: one per CPU), each on one
    thread, longest first. Each result is the spec's :func:`experiments.training.train` output
    with the spec itself under ``"spec"``. Specifications that differ only in labels (``sizing``)
    share one run.
    """
    specs = list(specs)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    keys = [cache_key(spec) for spec in specs]
    found: dict[str, dict[str, Any]] = {}
    missing: dict[str, Spec] = {}  # one training run per distinct key
    for key, spec in zip(keys, specs, strict=True):
        path = folder / f"{key}.json"
        if key in found or key in missing:
            continue
        if path.is_file():
            found[key] = json.loads(path.read_text())
        else:
            missing[key] = spec
    if missing:
        order = sorted(missing, key=lambda key: -_cost(missing[key]))
        workers = workers or os.cpu_count() or 1
        # spawn: the notebook's kernel has already used PyTorch's thread pools, which fork breaks
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, len(order)), mp_context=context) as pool:
            futures = {key: pool.submit(_train_one_thread, missing[key]) for key in order}
            for key, future in futures.items():
                result = future.result()
                path = folder / f"{key}.json"
                temporary = path.with_suffix(f".{os.getpid()}.tmp")
                temporary.write_text(json.dumps(result))
                temporary.replace(path)  # atomic: a killed build never leaves half a result
                found[key] = result
    return [{**found[key], "spec": spec} for key, spec in zip(keys, specs, strict=True)]


def seconds_per_step(spec: Spec, steps: int = 20, repeats: int = 3) -> float:
    """Median wall-clock of one training step (forward, backward, Adam) on one thread, here.

    Runs in this process, after :func:`run_all`'s workers have finished, so nothing else of the
    build competes for the CPU. Not cached: a timing describes the machine that built the page.
    """
    from experiments.training import build, flushed_denormals

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        spec = {**DEFAULTS, **spec}
        task, model = build(spec)
        optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
        batch = task.train_batch(numpy.random.default_rng(0), spec["batch"])
        timings = []
        with flushed_denormals():  # as in training
            for _ in range(repeats):
                started = time.perf_counter()
                for _ in range(steps):
                    loss = task.loss(model(batch.x), batch)
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                timings.append((time.perf_counter() - started) / steps)
        return sorted(timings)[len(timings) // 2]
    finally:
        torch.set_num_threads(threads)
