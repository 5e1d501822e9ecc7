"""Chapter 6's controlled task: an encoder–decoder, with or without attention, trained to rewrite
dates as ISO 8601 (:mod:`course_checks.dates`) and measured on formats it never saw.

A run trains on sources of 1 to ``max(dates)`` dates (each step's batch has one number of dates,
drawn at random, so that padding stays small), then decodes held-out test-split sources of every
number of dates greedily and with beam search, and records each example's source length and
whether each decoding got it exactly right. An attention run also records the weights of a few
examples, for the chapter's heatmaps.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from course_checks import dates
from experiments.seq2seq.batches import pad, train_step
from experiments.seq2seq.decoding import beam_search, greedy
from experiments.seq2seq.models import Seq2Seq

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "attention": True,
    "dates": [1, 2, 3],
    "embed": 16,
    "hidden": 48,
    "batch": 32,
    "steps": 1000,
    "lr": 3e-3,
    "clip": 1.0,
    "pool": 3000,  # training examples per number of dates, drawn once
    "test": 200,  # held-out examples per number of dates
    "beam": 4,
    "length_alpha": 1.0,
    "heatmaps": 4,  # attention weights kept for the first few test examples of the most dates
}
START, END = (dates.TARGET_ALPHABET.index(c) for c in (dates.START, dates.END))


def describe(spec: Spec) -> str:
    """'dates: attention, H 48, seed 0'."""
    spec = {**DEFAULTS, **spec}
    kind = "attention" if spec["attention"] else "no attention"
    return f"dates: {kind}, H {spec['hidden']}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here: a step costs about its target length times the source
    length (attention) or the target length alone, and the decoding of the test examples."""
    spec = {**DEFAULTS, **spec}
    mean_dates = float(np.mean(spec["dates"]))
    per_step = 12e-3 * mean_dates * (1.7 if spec["attention"] else 1.0) * spec["hidden"] / 48
    return spec["steps"] * per_step * spec["batch"] / 32 + 2e-2 * spec["test"]


def encode(pairs: dates.DatePairs) -> tuple[torch.Tensor, torch.Tensor]:
    """The padded sources and targets (start and end tokens included) of ``pairs``."""
    return (pad([dates.encode_source(s) for s in pairs.sources]),
            pad([dates.encode_target(t) for t in pairs.targets]))  # fmt: skip


def train_model(spec: Spec) -> tuple[Seq2Seq, list[float]]:
    """The trained model and its training losses (one per step)."""
    spec = {**DEFAULTS, **spec}
    rng = np.random.default_rng(spec["seed"])
    pools = {}
    for count in spec["dates"]:
        pairs = dates.date_pairs("train", spec["pool"], seed=1000 * spec["seed"] + count,
                                 dates=(count,))  # fmt: skip
        pools[count] = encode(pairs)
    torch.manual_seed(spec["seed"])
    model = Seq2Seq(len(dates.SOURCE_ALPHABET), len(dates.TARGET_ALPHABET), spec["embed"],
                    spec["hidden"], attention=spec["attention"])  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    losses = []
    for _ in range(spec["steps"]):
        count = spec["dates"][int(rng.integers(len(spec["dates"])))]
        src, tgt = pools[count]
        pick = torch.from_numpy(rng.integers(0, src.shape[1], spec["batch"]))
        src, tgt = src[:, pick], tgt[:, pick]
        src = src[: int((src != 0).sum(0).max())]  # drop rows that are padding everywhere
        losses.append(train_step(model, optimizer, src, tgt, spec["clip"]))
    return model.eval(), losses


def evaluate(model: Seq2Seq, spec: Spec) -> dict[str, Any]:
    """Per held-out example: number of dates, source length, greedy and beam exact matches; and
    the weights of the first examples of the most dates (attention only)."""
    spec = {**DEFAULTS, **spec}
    rows: dict[str, list] = {"dates": [], "length": [], "greedy": [], "beam": []}
    heatmaps = []
    for count in spec["dates"]:
        pairs = dates.date_pairs("test", spec["test"], seed=77 + count, dates=(count,))
        src, _ = encode(pairs)
        max_len = 11 * count + 2
        found, weights = greedy(model, src, START, END, max_len)
        beamed = beam_search(model, src, START, END, max_len, spec["beam"], spec["length_alpha"])
        for i, target in enumerate(pairs.targets):
            rows["dates"].append(count)
            rows["length"].append(len(pairs.sources[i]))
            rows["greedy"].append(dates.decode_target(found[i] + [END]) == target)
            rows["beam"].append(dates.decode_target(beamed[i] + [END]) == target)
        if weights and count == max(spec["dates"]):
            stacked = torch.stack(weights)  # (steps, S, B)
            for i in range(min(spec["heatmaps"], len(pairs))):
                n_in, n_out = len(pairs.sources[i]), len(found[i]) + 1
                heatmaps.append({
                    "source": pairs.sources[i],
                    "output": dates.decode_target(found[i] + [END]),
                    "target": pairs.targets[i],
                    "weights": stacked[:n_out, :n_in, i].tolist(),
                })  # fmt: skip
    return {**rows, "heatmaps": heatmaps}


def train(spec: Spec) -> dict[str, Any]:
    """Train, then measure: the runner's entry point."""
    started, started_cpu = time.perf_counter(), time.process_time()
    model, losses = train_model(spec)
    result = evaluate(model, spec)
    result["losses"] = losses
    result["parameters"] = sum(p.numel() for p in model.parameters())
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - started_cpu
    return result
