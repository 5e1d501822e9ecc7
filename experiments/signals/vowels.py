"""Real recordings: the Japanese Vowels speaker set (Kudo, Toyama and Shimbo 1999; UCI, CC BY 4.0),
as the UCR/UEA archive's variable-length ``.ts`` files inside the aeon 1.6.0 wheel, which `make
signals` downloads (hash-checked) and nobody installs.

Nine men each say the vowels /ae/ in succession; each utterance is 7 to 29 frames of 12 LPC cepstral
coefficients, and the task is to name the speaker. The archive's test utterances were recorded
apart from the training ones (24 to 88 per speaker). Validation: every fifth training utterance of
each speaker.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np

from experiments.signals.speech import Split

WHEEL = Path(sys.prefix) / "share" / "gru-course" / "wheels" / "aeon-1.6.0-py3-none-any.whl"
MEMBER = "aeon/datasets/data/JapaneseVowels/JapaneseVowels_{}.ts"
MAX_BYTES = 2_000_000  # the files are 0.5 and 0.6 MB


def parse_ts(text: str) -> tuple[list[np.ndarray], list[int]]:
    """The cases of a multivariate ``.ts`` file: (T_i, dimensions) arrays and integer labels.

    After ``@data`` each line is one case: dimensions separated by ``:``, values by ``,``, the
    class label last.
    """
    lines = iter(text.splitlines())
    for line in lines:
        if line.strip().lower() == "@data":
            break
    cases, labels = [], []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        *dimensions, label = line.strip().split(":")
        cases.append(np.array([[float(v) for v in d.split(",")] for d in dimensions]).T)
        labels.append(int(label))
    return cases, labels


def _read(split: str) -> str:
    if not WHEEL.is_file():
        raise FileNotFoundError(f"{WHEEL} is missing: run `make signals` (it downloads it once)")
    with zipfile.ZipFile(WHEEL) as wheel:
        info = wheel.getinfo(MEMBER.format(split))
        if info.file_size > MAX_BYTES:
            raise ValueError(f"{info.filename} is {info.file_size} bytes, more than expected")
        return wheel.read(info).decode()


def load() -> dict[str, Split]:
    """Train, validation and test splits; labels are speakers 0–8, ``voices`` their names."""
    train_cases, train_labels = parse_ts(_read("TRAIN"))
    test_cases, test_labels = parse_ts(_read("TEST"))
    seen: dict[int, int] = {}
    held_out = []
    for label in train_labels:
        seen[label] = seen.get(label, 0) + 1
        held_out.append(seen[label] % 5 == 0)

    def split(cases: list[np.ndarray], labels: list[int], keep: list[bool]) -> Split:
        chosen = [i for i, k in enumerate(keep) if k]
        return Split(
            features=[cases[i].astype(np.float32) for i in chosen],
            labels=[[labels[i] - 1] for i in chosen],
            voices=[f"speaker {labels[i]}" for i in chosen],
            seconds=np.array([len(cases[i]) for i in chosen], dtype=float),  # frames, here
        )

    return {
        "train": split(train_cases, train_labels, [not h for h in held_out]),
        "validation": split(train_cases, train_labels, held_out),
        "test": split(test_cases, test_labels, [True] * len(test_cases)),
    }
