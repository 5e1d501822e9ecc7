"""Chapter 7's spoken digits: isolated digits and digit strings synthesised by eSpeak NG
(:mod:`.espeak`) in many voices, with added noise, as log-mel features (:mod:`.features`).

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

from experiments.signals import arrays, espeak, features

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The accents of the wheel's English: training and validation hear five, the test three others.
TRAIN_ACCENTS = ("en", "en-us", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd")
TEST_ACCENTS = ("en-gb-scotland", "en-029", "en-us-nyc")
# Variants that sound like people (eSpeak NG also has robots, whispers and croaks), split 3 ways.
VARIANTS = {
    "train": ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "adam", "alex", "andy", "annie", "aunty",
              "benjamin", "david", "edward", "linda"),
    "validation": ("m5", "f4", "john", "max"),
    "test": ("m6", "m7", "f5", "michael", "steph", "travis"),
}  # fmt: skip
SPEED = (120, 220)  # words per minute, drawn uniformly
PITCH = (25, 75)
SNR_DB = (10.0, 30.0)
LEAD_SECONDS = (0.0, 0.15)  # noise before the speech starts
SPLIT_SEEDS = {"train": 1, "validation": 2, "test": 3}


@dataclass(frozen=True)
class Plan:
    """How many utterances a data set has: renditions of each item per voice of each split, and for
    digit strings, how many strings per voice and their lengths."""

    renditions: dict[str, int]
    strings: bool = False
    min_digits: int = 2
    max_digits: int = 5


DIGIT_PLAN = Plan(renditions={"train": 2, "validation": 1, "test": 2})
STRING_PLAN = Plan(renditions={"train": 12, "validation": 8, "test": 12}, strings=True)


def voices(split: str) -> list[str]:
    """The split's voices, ``accent+variant``."""
    accents = TEST_ACCENTS if split == "test" else TRAIN_ACCENTS
    return [f"{accent}+{variant}" for variant in VARIANTS[split] for accent in accents]


def utterances(split: str, plan: Plan) -> tuple[list[espeak.Utterance], list[list[int]], list[str]]:
    """The split's utterances in a fixed order, the digits each says, and its voice."""
    rng = np.random.default_rng([SPLIT_SEEDS[split], 7 if plan.strings else 5])
    said, labels, who = [], [], []
    for voice in voices(split):
        for _ in range(plan.renditions[split]):
            items = (
                [list(rng.integers(0, 10, rng.integers(plan.min_digits, plan.max_digits + 1)))]
                if plan.strings
                else [[d] for d in range(10)]
            )
            for digits in items:
                said.append(
                    espeak.Utterance(
                        " ".join(DIGITS[d] for d in digits),
                        voice,
                        speed=int(rng.integers(SPEED[0], SPEED[1] + 1)),
                        pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
                        seed=int(rng.integers(2**31)),
                    )
                )
                labels.append([int(d) for d in digits])
                who.append(voice)
    return said, labels, who


def add_noise(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The waveform in [−1, 1] after a random lead of noise, with white noise at a random SNR."""
    clean = samples.astype(np.float64) / 32768.0
    lead = int(rng.uniform(*LEAD_SECONDS) * espeak.SAMPLE_RATE)
    clean = np.concatenate([np.zeros(lead), clean])
    power = np.mean(clean**2) if clean.any() else 1e-8
    snr = rng.uniform(*SNR_DB)
    return clean + rng.normal(0.0, np.sqrt(power / 10 ** (snr / 10)), len(clean))


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
        *arrays.source_of(espeak, features),
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
