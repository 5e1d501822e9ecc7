"""What truncated BPTT can learn: a dependency longer than the truncation, measured.

The text is a stream of records ``K f₁ … f_L ? K``: a key ``K`` (one of :data:`KEYS`), ``L``
random filler characters, a cue ``?``, and the key again. After the cue the next character is
the record's key, which only a model that kept it for ``L + 1`` steps can predict; everything
else is chance (fillers) or counting (the cue). Trained with truncated BPTT at length ``bptt``,
the loss at the key's second appearance reaches back to its first only when both lie in one chunk:
never if ``bptt < L + 2``. The state is still carried across chunks, so the information could
flow forward; what is missing is the gradient that would teach the model to keep it.

:func:`train` reads the same number of characters per stream at every ``bptt`` and reports the
accuracy of the key's prediction after the cue on held-out records (chance: ``1 / len(KEYS)``).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch

from experiments.language import streams
from experiments.language.models import CharLM
from experiments.language.training import tbptt_step

Spec = dict[str, Any]

KEYS = "ABCD"
FILLERS = "abcdefgh"
CUE = "?"
ALPHABET = KEYS + FILLERS + CUE

DEFAULTS: Spec = {
    "distance": 12,  # L, the fillers between a key and its cue
    "bptt": 64,
    "chars": 60_000,  # characters read per stream, whatever the truncation length
    "batch": 32,
    "embed": 8,
    "hidden": 32,
    "lr": 1e-2,
    "clip": 1.0,
    "records": 2_000,  # held-out records scored at the end
}


def records(rng: np.random.Generator, n: int, distance: int) -> np.ndarray:
    """``n`` records as one stream of character ids (indices into :data:`ALPHABET`)."""
    keys = rng.integers(len(KEYS), size=n)
    fillers = len(KEYS) + rng.integers(len(FILLERS), size=(n, distance))
    cue = np.full((n, 1), ALPHABET.index(CUE))
    return np.concatenate([keys[:, None], fillers, cue, keys[:, None]], axis=1).ravel()


@torch.no_grad()
def key_accuracy(model: CharLM, ids: np.ndarray, distance: int) -> tuple[float, float]:
    """Accuracy and bits of the prediction made at every cue, reading ``ids`` as one stream."""
    logits, _ = model(torch.from_numpy(ids)[:, None])
    width = distance + 3
    cues = np.arange(distance + 1, len(ids) - 1, width)  # the cue of every record
    predicted = logits[cues, 0]
    targets = torch.from_numpy(ids[cues + 1])
    accuracy = float((predicted.argmax(-1) == targets).float().mean())
    bits = float(torch.nn.functional.cross_entropy(predicted, targets)) / math.log(2)
    return accuracy, bits


def describe(spec: Spec) -> str:
    """'truncation: distance 20, bptt 8, seed 0'."""
    spec = {**DEFAULTS, **spec}
    return f"truncation: distance {spec['distance']}, bptt {spec['bptt']}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here: a fixed cost per step plus one per character read."""
    spec = {**DEFAULTS, **spec}
    steps = spec["chars"] / spec["bptt"]
    return steps * (1.5e-3 + 0.15e-3 * spec["bptt"])


def train(spec: Spec) -> dict[str, Any]:
    """Train on fresh records with truncation ``bptt``; the held-out key accuracy and bits."""
    spec = {**DEFAULTS, **spec}
    started = time.perf_counter()
    rng = np.random.default_rng(spec["seed"])
    width = spec["distance"] + 3
    n = spec["batch"] * spec["chars"] // width + spec["batch"]
    train_streams = streams.batchify(records(rng, n, spec["distance"]), spec["batch"])
    torch.manual_seed(spec["seed"])
    model = CharLM(len(ALPHABET), spec["embed"], spec["hidden"])
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    h = None
    for piece in streams.chunks(train_streams[: spec["chars"] + 1], spec["bptt"]):
        _, h = tbptt_step(model, optimizer, piece, h, spec["clip"])
    rng = np.random.default_rng(10_000 + spec["seed"])  # held-out records, never trained on
    held_out = records(rng, spec["records"], spec["distance"])
    accuracy, bits = key_accuracy(model.eval(), held_out, spec["distance"])
    return {
        "accuracy": accuracy,
        "bits": bits,
        "chance": 1 / len(KEYS),
        "seconds": time.perf_counter() - started,
    }
