"""Run many training specifications in parallel worker processes, with an on-disk result cache.

A result is cached under a key made of the specification and a fingerprint of the modules that
compute results and of the PyTorch and NumPy versions: change a task, a model or the training loop
and every result is recomputed; edit the chapter's prose or add runs to the protocol and no existing
result is. The cache lives in ``_build/.experiments`` (next to Jupyter Book's execution cache), or
in ``$GRU_EXPERIMENT_CACHE``.

Training is a build step of its own, ``python -m experiments`` (:func:`train_protocol`), which
``make book`` runs before ``jupyter-book build``: no training ever runs under a notebook cell's
time limit. The chapter only reads results (:func:`load_protocol`) and fails with a message naming
that command if one is missing.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy
import torch
from tqdm import tqdm

from course_checks import adding, dates
from course_checks import speech as shared_speech
from experiments.cache import cache_dir
from experiments.language import baselines as language_baselines
from experiments.language import classification as language_classification
from experiments.language import training as language_training
from experiments.language import truncation as language_truncation
from experiments.seq2seq import date_training, translation
from experiments.seq2seq.ding import DICTIONARY
from experiments.signals import anomaly as signal_anomaly
from experiments.signals import chorales as signal_chorales
from experiments.signals import (
    forecast_baselines,
    forecasting,
    music_training,
    speech,
    speech_training,
)
from experiments.signals import series as signal_series
from experiments.training import DEFAULTS, Spec, train

PACKAGE = Path(__file__).resolve().parent


# The modules a result depends on; the runner, the protocol and the tables only choose, schedule
# and summarise runs, so editing them retrains nothing.
RESULT_MODULES = ("tasks.py", "models.py", "training.py")
# Code outside the package that results depend on: the adding problem, shared with the checks.
SHARED_MODULES = (Path(adding.__file__).resolve(),)
# Specification fields that label a run without changing it (the LSTM is its own equal-parameter
# reference, so its two sizings are one run; a label names a run for the chapter's tables).
LABELS = ("sizing", "stage", "label")


# Chapter 5's runs depend on these instead (one tuple per kind of run); their text comes from the
# standard library, so the Python release is part of their fingerprint too (but for the synthetic
# truncation task's).
LANGUAGE_MODULES = (
    "language/corpora.py",
    "language/models.py",
    "language/streams.py",
    "language/training.py",
    "language/weights.py",
)
NGRAM_MODULES = (
    "language/corpora.py",
    "language/ngram.py",
    "language/baselines.py",
    "language/training.py",
)
CLASSIFICATION_MODULES = (
    "language/corpora.py",
    "language/docstrings.py",
    "language/models.py",
    "language/classification.py",
    "language/weights.py",
)
# Chapter 6's: the date task is shared with Exercise 6's checks; the translation pairs come from
# the installed dictionary, whose bytes are part of the fingerprint.
SEQ2SEQ_MODULES = ("seq2seq/models.py", "seq2seq/batches.py", "seq2seq/decoding.py")
DATE_MODULES = (*SEQ2SEQ_MODULES, "seq2seq/date_training.py")
TRANSLATION_MODULES = (*SEQ2SEQ_MODULES, "seq2seq/bleu.py", "seq2seq/ding.py",
                       "seq2seq/translation.py")  # fmt: skip
# Chapter 7's: the speech data depend on the synthesiser's wheel (its version is in the data's
# fingerprint, see signals/speech.py), the chorales on music21's corpus (its version file).
SPEECH_DATA_MODULES = ("signals/arrays.py", "signals/espeak.py", "signals/features.py",
                       "signals/speech.py")  # fmt: skip
SPEECH_MODULES = (*SPEECH_DATA_MODULES, "signals/speech_models.py", "signals/speech_training.py",
                  "signals/vowels.py")  # fmt: skip
# The synthesis, the log-mel and the voice plan themselves, shared with Exercise 7.
SPEECH_SOURCE = Path(shared_speech.__file__).resolve()
CHORALE_MODULES = ("signals/arrays.py", "signals/chorales.py")
MUSIC_MODULES = (*CHORALE_MODULES, "signals/music_models.py", "signals/music_training.py")
MUSIC21 = signal_chorales.music21_version_file()
FORECAST_BASE_MODULES = ("signals/series.py", "signals/forecast_baselines.py")
FORECAST_MODULES = (*FORECAST_BASE_MODULES, "signals/forecasting.py")
ANOMALY_MODULES = ("signals/series.py", "signals/forecasting.py", "signals/anomaly.py")
TRUNCATION_MODULES = (
    "language/models.py",
    "language/streams.py",
    "language/training.py",
    "language/truncation.py",
)


@dataclass(frozen=True)
class Trainer:
    """One kind of run: how it trains, the defaults filled in before a spec is hashed, what its
    results depend on (modules of the package, files outside it, the Python release or not), and
    how the runner names it and estimates its cost (comparable among runs of one kind only: the
    protocols give each kind stages of its own)."""

    train: Callable[[Spec], dict[str, Any]]
    defaults: Spec
    modules: tuple[str, ...]
    describe: Callable[[Spec], str]
    cost: Callable[[Spec], float]
    shared: tuple[Path, ...] = ()
    python_release: bool = False


def _kind(spec: Spec) -> str:
    kind = spec.get("trainer", "sequence")
    if kind not in TRAINERS:
        raise ValueError(f"unknown trainer {kind!r}: one of {sorted(TRAINERS)}")
    return kind


def _trainer(spec: Spec) -> Trainer:
    return TRAINERS[_kind(spec)]


@cache
def code_fingerprint(kind: str = "sequence") -> str:
    """A hash of the modules a kind of run's results depend on and of the PyTorch and NumPy
    versions (and the Python release, where its data comes from the standard library)."""
    trainer = TRAINERS[kind]
    digest = hashlib.sha256(f"torch {torch.__version__} numpy {numpy.__version__}".encode())
    if trainer.python_release:
        digest.update(f"python {sys.version}".encode())
    for name in trainer.modules:
        digest.update(name.encode() + (PACKAGE / name).read_bytes())
    for path in trainer.shared:
        # A missing file (the dictionary not installed) fingerprints as missing; its trainer
        # then fails with the command that installs it.
        digest.update(path.name.encode() + (path.read_bytes() if path.exists() else b"missing"))
    return digest.hexdigest()


def cache_key(spec: Spec) -> str:
    """The cache key of a specification: its defaults filled in and its labels left out, so that
    equal runs share a key."""
    kind = _kind(spec)
    full = {k: v for k, v in {**TRAINERS[kind].defaults, **spec}.items() if k not in LABELS}
    digest = hashlib.sha256((code_fingerprint(kind) + json.dumps(full, sort_keys=True)).encode())
    return digest.hexdigest()[:32]


def _train_one_thread(spec: Spec) -> dict[str, Any]:
    torch.set_num_threads(1)  # small models: one thread per run, one run per core
    return _trainer(spec).train(spec)


def _stop_now(pool: ProcessPoolExecutor) -> None:
    """End the workers at once (Ctrl-C); the runs that finished are already stored.

    The workers got the SIGINT too, but the executor has already handed each of them its next
    run, which it would train to the end before exiting: seconds on an idle machine, half a
    minute on a busy one. Python 3.11 has no public call for this (3.14's
    ``terminate_workers``), hence ``_processes``.
    """
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _cost(spec: Spec) -> float:
    """A rough cost estimate (steps × sequence length), to start the longest runs first."""
    args = spec.get("task_args", {})
    length = args.get("length") or 2 * args.get("train_max", 0) or 64
    return spec.get("steps", DEFAULTS["steps"]) * length


class MissingResults(RuntimeError):
    """Results the book reads are not in the cache: the training step has not run."""


class TrainingFailed(RuntimeError):
    """One or more training runs raised; the results of the others are kept in the cache."""


# What a reader of an error runs to train the missing results.
TRAIN_COMMAND = "`make book` (or `.venv/bin/python -m experiments`)"


def _split(specs: list[Spec], folder: Path) -> tuple[list[str], dict[str, Any], dict[str, Spec]]:
    """Each spec's key, the cached results by key, and one spec per key not cached."""
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
    return keys, found, missing


def _store(folder: Path, key: str, result: dict[str, Any]) -> None:
    path = folder / f"{key}.json"
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(result))
    temporary.replace(path)  # atomic: an interrupted build never leaves half a result


def _describe(spec: Spec) -> str:
    """'gru on adding {'length': 100}, H = 32, seed 1'."""
    return (
        f"{spec['model']} on {spec['task']} {spec.get('task_args', {})}, H = {spec['hidden']}, "
        f"seed {spec['seed']}"
    )


TRAINERS = {
    "sequence": Trainer(train, DEFAULTS, RESULT_MODULES, _describe, _cost, SHARED_MODULES),
    "language": Trainer(
        language_training.train,
        language_training.DEFAULTS,
        LANGUAGE_MODULES,
        language_training.describe,
        language_training.cost,
        python_release=True,
    ),
    "ngram": Trainer(
        language_baselines.train,
        {},
        NGRAM_MODULES,
        language_baselines.describe,
        language_baselines.cost,
        python_release=True,
    ),
    "classification": Trainer(
        language_classification.train,
        language_classification.DEFAULTS,
        CLASSIFICATION_MODULES,
        language_classification.describe,
        language_classification.cost,
        python_release=True,
    ),
    "truncation": Trainer(
        language_truncation.train,
        language_truncation.DEFAULTS,
        TRUNCATION_MODULES,
        language_truncation.describe,
        language_truncation.cost,
    ),
    "dates": Trainer(
        date_training.train,
        date_training.DEFAULTS,
        DATE_MODULES,
        date_training.describe,
        date_training.cost,
        shared=(Path(dates.__file__).resolve(),),
    ),
    "translation": Trainer(
        translation.train,
        translation.DEFAULTS,
        TRANSLATION_MODULES,
        translation.describe,
        translation.cost,
        shared=(DICTIONARY,),
    ),
    "speech data": Trainer(
        speech.prepare,
        {},
        SPEECH_DATA_MODULES,
        speech.describe_data,
        speech.data_cost,
        shared=(SPEECH_SOURCE,),
    ),
    "speech": Trainer(
        speech_training.train,
        speech_training.DEFAULTS,
        SPEECH_MODULES,
        speech_training.describe,
        speech_training.cost,
        shared=(SPEECH_SOURCE,),
    ),
    "chorales": Trainer(
        signal_chorales.prepare,
        {},
        CHORALE_MODULES,
        signal_chorales.describe_data,
        signal_chorales.data_cost,
        shared=(MUSIC21,),
    ),
    "music": Trainer(
        music_training.train,
        music_training.DEFAULTS,
        MUSIC_MODULES,
        music_training.describe,
        music_training.cost,
        shared=(MUSIC21,),
    ),
    "forecast baselines": Trainer(
        forecast_baselines.train,
        {},
        FORECAST_BASE_MODULES,
        forecast_baselines.describe,
        forecast_baselines.cost,
        shared=signal_series.data_files(),
    ),
    "forecast": Trainer(
        forecasting.train,
        forecasting.DEFAULTS,
        FORECAST_MODULES,
        forecasting.describe,
        forecasting.cost,
        shared=signal_series.data_files(),
    ),
    "anomaly": Trainer(
        signal_anomaly.train,
        signal_anomaly.DEFAULTS,
        ANOMALY_MODULES,
        signal_anomaly.describe,
        signal_anomaly.cost,
        shared=signal_series.data_files(aeon=True),
    ),
}


class _Progress:
    """A tqdm bar of runs done / total, with the time left estimated from the runs' costs
    (the longest runs start first, so a count-based estimate would be far too pessimistic)."""

    def __init__(self, costs: dict[str, float], label: str, enabled: bool) -> None:
        self.costs, self.total_cost, self.done_cost = costs, sum(costs.values()), 0.0
        self.started = time.monotonic()
        self.bar = tqdm(
            total=len(costs),
            desc=label,
            unit="run",
            file=sys.stderr,
            disable=not enabled,
            bar_format="{desc}: {n_fmt}/{total_fmt} runs |{bar}| {elapsed} elapsed{postfix}",
        )

    def advance(self, key: str) -> None:
        self.done_cost += self.costs[key]
        elapsed = time.monotonic() - self.started
        left = elapsed * (self.total_cost - self.done_cost) / max(self.done_cost, 1e-9)
        self.bar.set_postfix_str(f"about {tqdm.format_interval(left)} left", refresh=False)
        self.bar.update()

    def close(self) -> None:
        self.bar.close()


def run_all(
    specs: Iterable[Spec],
    workers: int | None = None,
    progress: bool = False,
    label: str = "training",
) -> list[dict[str, Any]]:
    """The result of every specification, in order: from the cache, or trained and cached.

    Missing results are trained in ``workers`` processes (default: one per CPU), each on one
    thread, longest first; each result is stored as soon as its run finishes, so an interrupted
    call resumes where it stopped. With ``progress``, a bar on stderr shows runs done / total and
    the time left. Each result is the spec's :func:`experiments.training.train` output with the
    spec itself under ``"spec"``. Specifications that differ only in labels (``sizing``) share one
    run. Raises :class:`TrainingFailed`, naming each failed run, after every other run finished.
    """
    specs = list(specs)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    keys, found, missing = _split(specs, folder)
    if missing:
        order = sorted(missing, key=lambda key: -_trainer(missing[key]).cost(missing[key]))
        workers = workers or os.cpu_count() or 1
        bar = _Progress(
            {key: _trainer(missing[key]).cost(missing[key]) for key in order}, label, progress
        )
        failures: list[str] = []
        # spawn: a notebook's kernel may have used PyTorch's thread pools, which fork breaks
        context = multiprocessing.get_context("spawn")
        pool = ProcessPoolExecutor(min(workers, len(order)), mp_context=context)
        try:
            futures = {pool.submit(_train_one_thread, missing[key]): key for key in order}
            for future in as_completed(futures):
                key = futures[future]
                try:
                    result = future.result()
                except BrokenProcessPool:
                    raise TrainingFailed(
                        "a training worker died (out of memory, or killed); the finished runs "
                        f"are kept in {folder}: run {TRAIN_COMMAND} again to resume"
                    ) from None
                except Exception as error:  # reported below, with its run
                    failures.append(
                        f"{_trainer(missing[key]).describe(missing[key])}: "
                        f"{type(error).__name__}: {error}"
                    )
                else:
                    _store(folder, key, result)
                    found[key] = result
                bar.advance(key)
        except KeyboardInterrupt:
            _stop_now(pool)
            raise
        finally:
            bar.close()
            pool.shutdown(wait=True, cancel_futures=True)
        if failures:
            listed = "\n  ".join(failures[:10])
            more = f"\n  … and {len(failures) - 10} more" if len(failures) > 10 else ""
            raise TrainingFailed(
                f"{len(failures)} of {len(order)} training runs failed:\n  {listed}{more}\n"
                f"The other runs are kept in {folder}; fix the cause and run {TRAIN_COMMAND} again."
            )
    return [{**found[key], "spec": spec} for key, spec in zip(keys, specs, strict=True)]


def load_all(specs: Iterable[Spec]) -> list[dict[str, Any]]:
    """The cached result of every specification, in order; never trains.

    Raises :class:`MissingResults`, naming the command that trains them, if any is missing.
    """
    specs = list(specs)
    keys, found, missing = _split(specs, cache_dir())
    if missing:
        first = next(iter(missing.values()))
        example = _trainer(first).describe(first)
        raise MissingResults(
            f"{len(missing)} of {len(set(keys))} training runs are not in {cache_dir()} "
            f"(for example {example}): run {TRAIN_COMMAND} to train them, then build again."
        )
    return [{**found[key], "spec": spec} for key, spec in zip(keys, specs, strict=True)]


# The book's protocols, by name: the module whose ``STAGES`` choose its runs (Chapter 4's, then
# Chapter 5's). Each kind of run estimates its cost in its own units, so a protocol's stages keep
# to the kinds of one chapter, and the protocols train one after the other.
PROTOCOLS = {
    "gru_vs_lstm": "experiments.suite",
    "language": "experiments.language.protocol",
    "seq2seq": "experiments.seq2seq.protocol",
    "signals": "experiments.signals.protocol",
}


def _protocol(
    name: str,
    get: Callable[[list[Spec], int, int], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    import importlib  # the protocols choose runs; importing them here avoids a cycle

    stages = importlib.import_module(PROTOCOLS[name]).STAGES
    done: list[dict[str, Any]] = []
    for number, stage in enumerate(stages, 1):
        done += get(stage(done), number, len(stages))
    return done


def train_protocol(workers: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Train (or read from the cache) every run of every protocol of the book, stage by stage
    (:data:`PROTOCOLS`): what ``python -m experiments`` does before the book is built."""
    done: list[dict[str, Any]] = []
    for name in PROTOCOLS:
        done += _protocol(
            name,
            lambda specs, number, stages, name=name: run_all(
                specs, workers, progress, label=f"experiments ({name}), stage {number}/{stages}"
            ),
        )
    return done


def load_protocol(name: str = "gru_vs_lstm") -> list[dict[str, Any]]:
    """Every result of one protocol of the book (:data:`PROTOCOLS`), stage by stage, from the
    cache only (what a chapter reads); raises :class:`MissingResults` if the training step has not
    run."""
    return _protocol(name, lambda specs, number, stages: load_all(specs))


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
