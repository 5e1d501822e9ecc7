"""Chapter 7's Bach chorales as piano rolls: the four-part chorales that music21's corpus ships,
each transposed to C (major or minor) and sampled on a grid of quarter notes over the 88 keys of
the piano, as Boulanger-Lewandowski, Bengio and Vincent (2012) prepared their JSB Chorales.

The recipe, one decision at a time:

- **Which chorales.** music21's Riemenschneider list (371 numbers, :func:`chorale_names`) names
  fewer distinct files, since some numbers point at the same file; scores with other than four
  parts (those with instrumental parts, and a five-voice one) are left out, and so is a chorale
  whose transposed roll equals one kept before it (the same harmonisation under two BWV
  numbers). Repeats are not expanded; fermatas add no time.
- **Key.** music21's key analysis (``score.analyze("key")``) gives the tonic; the roll is shifted
  by the fewest semitones (−6 to +5) that put it on C. Only MIDI numbers move, so spelling does not
  matter; the mode is kept as a label.
- **Frames.** Frame ``t`` is the quarter note starting ``t`` quarters after the score's first
  onset (the pickup included). A key is on at frame ``t`` when one of the four voices sounds
  there: a note from offset ``o`` lasting ``d`` is on for every whole ``t`` with ``o ≤ t < o + d``.
  So a held or tied note is on in every frame it spans (the roll cannot tell it from a repeated
  note), and a quaver on the off-beat that ends by the next beat is not in the roll at all.
  Two voices on one pitch are one key.
- **Split.** By a hash of the file's name (SHA-256, not Python's salted ``hash``): 60 % training,
  20 % validation, 20 % test, stable when chorales are added or removed. Boulanger-Lewandowski et
  al.'s split (Allan and Williams's, over 382 MIDI files) is published only as rolls without names,
  so it cannot be rebuilt from BWV numbers.

Parsing takes tens of seconds, so it is cached (:mod:`.arrays`) in two halves that two workers can
parse at once (:func:`prepare`); a run reads both with :func:`load`.
"""

from __future__ import annotations

import hashlib
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from experiments.signals import arrays

LOWEST, HIGHEST = 21, 108  # A0 and C8, the piano's range, as MIDI numbers
KEYS = HIGHEST - LOWEST + 1
HALVES = 2
SPLITS = ("train", "validation", "test")
TRAIN_PERCENT, VALIDATION_PERCENT = 60, 20


def music21_version() -> str:
    """The installed music21's version (its corpus comes with it)."""
    import music21

    return music21.__version__


def music21_version_file() -> Path:
    """A file whose bytes change with music21's release (and so with its corpus), for the runner's
    fingerprint; found without importing music21, which takes a while."""
    import importlib.util

    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("music21 is not installed (it is pinned in requirements.txt)")
    return Path(spec.origin).resolve().parent / "_version.py"


def chorale_names() -> list[str]:
    """The corpus names of the Riemenschneider list, in its order, each file once."""
    from music21 import corpus

    return list(dict.fromkeys(corpus.chorales.Iterator(returnType="filename")))


def riemenschneider_count() -> int:
    """How many numbers the Riemenschneider list has (files can repeat in it)."""
    from music21 import corpus

    return len(list(corpus.chorales.Iterator(returnType="filename")))


def transposition(tonic_pitch_class: int) -> int:
    """The shift in semitones, −6 to +5, that moves ``tonic_pitch_class`` to C."""
    return (-tonic_pitch_class + 6) % 12 - 6


def notes_of(score: Any) -> list[tuple[float, float, int]]:
    """(offset, duration, MIDI number) of every sounding note of a music21 stream, in quarters."""
    found = []
    for element in score.flatten().notes:
        for pitch in element.pitches:
            found.append((float(element.offset), float(element.quarterLength), pitch.midi))
    return found


def roll_of(notes: list[tuple[float, float, int]], shift: int = 0) -> np.ndarray:
    """The (T, 88) bool piano roll of ``notes`` moved by ``shift`` semitones: key ``p − 21`` is on
    at frame ``t`` when a note of pitch ``p`` sounds at quarter ``t`` (``o ≤ t < o + d``)."""
    eps = 1e-9  # offsets are binary fractions or thirds: guard the ceiling against rounding
    end = max((o + d for o, d, _ in notes), default=0.0)
    roll = np.zeros((math.ceil(end - eps), KEYS), dtype=bool)
    for offset, duration, pitch in notes:
        key = pitch + shift - LOWEST
        if not 0 <= key < KEYS:
            raise ValueError(f"MIDI pitch {pitch + shift} is outside the piano")
        roll[math.ceil(offset - eps) : math.ceil(offset + duration - eps), key] = True
    return roll


def split_of(name: str) -> str:
    """'train', 'validation' or 'test', from the SHA-256 of the chorale's name."""
    bucket = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 100
    if bucket < TRAIN_PERCENT:
        return "train"
    return "validation" if bucket < TRAIN_PERCENT + VALIDATION_PERCENT else "test"


def _parse_half(half: int) -> arrays.Arrays:
    """Every chorale of one half (every other name), four-part ones as rolls, others listed."""
    from music21 import corpus

    kept: list[tuple[str, np.ndarray, Any]] = []  # name, roll, music21's key
    left_out: dict[str, str] = {}
    for name in chorale_names()[half::HALVES]:
        score = corpus.parse(name, forceSource=True)  # forceSource: no pickle read or written
        if len(score.parts) != 4:
            left_out[name] = f"{len(score.parts)} parts"
            continue
        key = score.analyze("key")
        kept.append((name, roll_of(notes_of(score), transposition(key.tonic.pitchClass)), key))
    tonics = np.array([key.tonic.pitchClass for _, _, key in kept], dtype=np.int64)
    return {
        "rolls": np.concatenate([roll for _, roll, _ in kept]),
        "lengths": np.array([len(roll) for _, roll, _ in kept], dtype=np.int64),
        "names": np.array([name for name, _, _ in kept]),
        "tonics": tonics,
        "minor": np.array([key.mode == "minor" for _, _, key in kept], dtype=bool),
        "shifts": (-tonics + 6) % 12 - 6,  # transposition(), element by element
        "left_out": np.array(list(left_out), dtype=str),
        "reasons": np.array(list(left_out.values()), dtype=str),
    }


def half(index: int) -> arrays.Arrays:
    """One half of the parsed corpus, from the cache or parsed now."""
    parts = [*arrays.source_of(sys.modules[__name__]), f"music21 {music21_version()}",
             f"half {index} of {HALVES}"]  # fmt: skip
    return arrays.cached(f"chorales-{index}", parts, lambda: _parse_half(index))


@dataclass(frozen=True)
class Chorales:
    """The chorales kept, in Riemenschneider order: names, rolls, split, key information; and the
    names left out with the reason."""

    names: list[str]
    rolls: list[np.ndarray]
    splits: list[str]
    tonics: list[int]
    minor: list[bool]
    shifts: list[int]
    left_out: dict[str, str]

    def of(self, split: str) -> list[np.ndarray]:
        """The rolls of one split."""
        return [r for r, s in zip(self.rolls, self.splits, strict=True) if s == split]

    def names_of(self, split: str) -> list[str]:
        return [n for n, s in zip(self.names, self.splits, strict=True) if s == split]


def load() -> Chorales:
    """Both halves, back in Riemenschneider order, duplicates (equal rolls) dropped after their
    first occurrence, each chorale assigned to its split."""
    order = {name: i for i, name in enumerate(chorale_names())}
    found: dict[str, tuple] = {}
    left_out: dict[str, str] = {}
    for index in range(HALVES):
        data = half(index)
        bounds = np.concatenate([[0], np.cumsum(data["lengths"])])
        for i, name in enumerate(data["names"].tolist()):
            roll = data["rolls"][bounds[i] : bounds[i + 1]]
            found[name] = (roll, int(data["tonics"][i]), bool(data["minor"][i]),
                           int(data["shifts"][i]))  # fmt: skip
        left_out.update(zip(data["left_out"].tolist(), data["reasons"].tolist(), strict=True))
    kept: dict[str, tuple] = {}
    seen: dict[bytes, str] = {}
    for name in sorted(found, key=order.__getitem__):
        roll = found[name][0]
        digest = hashlib.sha256(np.packbits(roll).tobytes() + str(roll.shape).encode()).digest()
        if digest in seen:
            left_out[name] = f"same roll as {seen[digest]}"
            continue
        seen[digest] = name
        kept[name] = found[name]
    names = list(kept)
    return Chorales(
        names=names,
        rolls=[kept[n][0] for n in names],
        splits=[split_of(n) for n in names],
        tonics=[kept[n][1] for n in names],
        minor=[kept[n][2] for n in names],
        shifts=[kept[n][3] for n in names],
        left_out=dict(sorted(left_out.items(), key=lambda item: order[item[0]])),
    )


def prepare(spec: dict[str, Any]) -> dict[str, Any]:
    """The data run of one half (``spec["half"]``): parse and cache it, report what it holds. Two
    such runs in parallel halve the parsing's wall-clock for the training runs that follow."""
    started, cpu = time.perf_counter(), time.process_time()
    data = half(int(spec["half"]))
    return {
        "chorales": len(data["names"]),
        "frames": int(data["lengths"].sum()),
        "left_out": len(data["left_out"]),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }


def describe_data(spec: dict[str, Any]) -> str:
    """'chorales: parse half 0 of 2'."""
    return f"chorales: parse half {spec['half']} of {HALVES}"


def data_cost(spec: dict[str, Any]) -> float:
    """Rough one-thread seconds here: about 0.09 s a chorale, 175 chorales a half."""
    return 16.0
