"""Chapter 7's spoken digits: isolated digits and digit strings synthesised by eSpeak NG
(:mod:`.espeak`) in many voices, with added noise, as log-mel features (:mod:`.features`). The
voices, the splits and the utterances of each (the plan) are :mod:`course_checks.speech`'s (which
Exercise 7b will share); this module builds and caches the chapter's data sets from them.

A *voice* is an English accent of eSpeak NG (a language file) with a voice variant (a speaker's
settings: pitch, formants, breathiness). Training, validation and test use disjoint variants, and
the test voices also use accents that training never hears, so test accuracy measures transfer to
unseen voices. Each utterance gets its own speed, pitch and noise (white, at a signal-to-noise
ratio drawn per utterance), drawn from a generator seeded by the split and the utterance's number.
Synthesis takes tens of seconds, so the features are cached (:mod:`.arrays`).
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_checks import speech as shared
from course_checks.speech import (
    DIGIT_PLAN,
    DIGITS,
    LEAD_SECONDS,
    PITCH,
    SNR_DB,
    SPEED,
    SPLIT_SEEDS,
    STRING_PLAN,
    TEST_ACCENTS,
    TRAIN_ACCENTS,
    VARIANTS,
    Plan,
    add_noise,
    utterances,
    voices,
)
from experiments.signals import arrays, espeak, features

__all__ = [
    "DIGITS",
    "DIGIT_PLAN",
    "LEAD_SECONDS",
    "PITCH",
    "PLANS",
    "SNR_DB",
    "SPEED",
    "SPLIT_SEEDS",
    "STRING_PLAN",
    "TEST_ACCENTS",
    "TRAIN_ACCENTS",
    "VARIANTS",
    "Plan",
    "Split",
    "add_noise",
    "load",
    "prepare",
    "utterances",
    "voices",
]


def _build(plan: Plan) -> arrays.Arrays:
    out: dict[str, list[np.ndarray]] = {}
    for split in SPLIT_SEEDS:
        said, labels, who = utterances(split, plan)
        audio = espeak.synthesise(said)
        rng = np.random.default_rng([SPLIT_SEEDS[split], 11])
        feats = [features.log_mel(add_noise(a, rng), espeak.SAMPLE_RATE) for a in audio]
        out[f"{split}_features"] = [np.concatenate(feats).astype(np.float32)]
        out[f"{split}_lengths"] = [np.array([len(f) for f in feats])]
        out[f"{split}_labels"] = [np.concatenate([np.array(x) for x in labels])]
        out[f"{split}_label_lengths"] = [np.array([len(x) for x in labels])]
        out[f"{split}_voices"] = [np.array(who)]
        out[f"{split}_seconds"] = [np.array([len(a) / espeak.SAMPLE_RATE for a in audio])]
    return {key: value[0] for key, value in out.items()}


@dataclass(frozen=True)
class Split:
    """One split of a data set: variable-length log-mel features and digit labels."""

    features: list[np.ndarray]  # (T_i, n_mels) each
    labels: list[list[int]]
    voices: list[str]
    seconds: np.ndarray

    def __len__(self) -> int:
        return len(self.features)


def load(plan: Plan = DIGIT_PLAN) -> dict[str, Split]:
    """The data set of ``plan`` (from the cache, or synthesised), by split."""
    parts = [
        *arrays.source_of(shared, espeak, features),
        Path(__file__).read_bytes(),
        espeak.version(),
        np.__version__,
        repr(plan),
    ]
    stored = arrays.cached("strings" if plan.strings else "digits", parts, lambda: _build(plan))
    splits = {}
    for split in SPLIT_SEEDS:
        ends = np.cumsum(stored[f"{split}_lengths"])[:-1]
        label_ends = np.cumsum(stored[f"{split}_label_lengths"])[:-1]
        splits[split] = Split(
            features=np.split(stored[f"{split}_features"], ends),
            labels=[list(map(int, x)) for x in np.split(stored[f"{split}_labels"], label_ends)],
            voices=[str(v) for v in stored[f"{split}_voices"]],
            seconds=stored[f"{split}_seconds"],
        )
    return splits


PLANS = {"digits": DIGIT_PLAN, "strings": STRING_PLAN}


def prepare(spec: dict) -> dict:
    """The data stage's run: synthesise (or read) a data set, and summarise it, with its time
    (the synthesis runs in child processes, whose CPU time is counted too)."""
    started, cpu = time.perf_counter(), _cpu_seconds()
    splits = load(PLANS[spec["plan"]])
    summary: dict = {
        split: {
            "utterances": len(data),
            "voices": len(set(data.voices)),
            "seconds": float(data.seconds.sum()),
            "frames": int(sum(len(f) for f in data.features)),
        }
        for split, data in splits.items()
    }
    return {**summary, "seconds": time.perf_counter() - started,
            "cpu_seconds": _cpu_seconds() - cpu}  # fmt: skip


def _cpu_seconds() -> float:
    """This process's CPU time and that of its finished children (the synthesiser's)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def describe_data(spec: dict) -> str:
    return f"speech data: {spec['plan']}"


def data_cost(spec: dict) -> float:
    """One-thread seconds here: about 10 ms of synthesis and features per utterance."""
    plan = PLANS[spec["plan"]]
    count = sum(len(utterances(s, plan)[0]) for s in SPLIT_SEEDS)
    return 0.01 * count
