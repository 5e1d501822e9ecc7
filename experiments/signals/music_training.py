"""Chapter 7's chorale runs: one seeded run of a network (tanh RNN, GRU or LSTM, equal parameter
counts) or of a baseline, scored by the negative log-likelihood per frame in nats on the
training, validation and test chorales (:mod:`.chorales`).

A network trains with Adam on mini-batches of whole chorales (each from a zero state), the
gradient's norm rescaled to at most ``clip`` as Chung et al. did, for ``epochs`` epochs; the epoch
with the lowest validation NLL is the model kept (early stopping as model selection). A baseline
is fitted on the training chorales for each setting of its grid and the setting with the lowest
validation NLL is kept. Test chorales are read once, at the end.

Every NLL here is the sum over all frames of a split of :func:`.music_models.frame_nll`, divided
by the number of frames: every frame counts once, whichever chorale it is in.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from experiments.signals import chorales
from experiments.signals.music_models import (
    KINDS,
    NoteFrequencies,
    PreviousFrameLogistic,
    RollModel,
    frame_nll,
    hidden_for_budget,
    sample,
    shifted,
)

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "model": "gru",  # "rnn", "gru", "lstm", or a baseline: "frequencies", "logistic"
    "budget": 20_000,  # parameters, the whole model counted (music_models.hidden_for_budget)
    "epochs": 50,
    "batch": 16,  # chorales per step
    "lr": 3e-2,  # with the batch and epochs, chosen on validation NLL (GRU, LSTM, tanh alike)
    "clip": 1.0,
    "primer": 8,  # frames of a test chorale before the sampled continuation
    "frames": 32,  # frames sampled
}
BASELINE_GRID = {"frequencies": (0.01, 0.1, 1.0, 10.0), "logistic": (0.1, 1.0, 10.0, 100.0)}
SAMPLE_SEED = 1000  # added to the run's seed for the sampler's generator


def describe(spec: Spec) -> str:
    """'chorales: gru, seed 0' or 'chorales: logistic baseline'."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] in BASELINE_GRID:
        return f"chorales: {spec['model']} baseline"
    return f"chorales: {spec['model']}, {spec['budget']} parameters, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here, as measured (the data runs parse the chorales before;
    PyTorch's CPU LSTM is about three times faster than its GRU at these sizes)."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "frequencies":
        return 0.5
    if spec["model"] == "logistic":
        return 13.0
    per_epoch = {"rnn": 0.11, "gru": 0.2, "lstm": 0.06}[spec["model"]]
    return spec["epochs"] * per_epoch * (spec["budget"] / 20_000) ** 0.5


def nll(model: Any, rolls: list[np.ndarray]) -> float:
    """A baseline's NLL per frame over ``rolls`` (frames-weighted)."""
    return float(np.concatenate([model.nll(r) for r in rolls]).mean())


def _baseline(spec: Spec, data: chorales.Chorales) -> dict[str, Any]:
    kind, grid = spec["model"], BASELINE_GRID[spec["model"]]
    build = NoteFrequencies if kind == "frequencies" else PreviousFrameLogistic
    train = data.of("train")
    fitted = {setting: build(setting).fit(train) for setting in grid}
    scores = {setting: nll(model, data.of("validation")) for setting, model in fitted.items()}
    best = min(grid, key=lambda setting: (scores[setting], grid.index(setting)))
    model = fitted[best]
    return {
        "setting": best,
        "validation_by_setting": {str(k): v for k, v in scores.items()},
        "train_nll": nll(model, train),
        "validation_nll": scores[best],
        "test_nll": nll(model, data.of("test")),
    }


def pad(rolls: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rolls as a float tensor ``(T, B, 88)`` padded with silence, and the mask ``(T, B)`` of real
    frames."""
    longest = max(len(r) for r in rolls)
    frames = torch.zeros(longest, len(rolls), chorales.KEYS)
    mask = torch.zeros(longest, len(rolls))
    for i, roll in enumerate(rolls):
        frames[: len(roll), i] = torch.from_numpy(roll.astype(np.float32))
        mask[: len(roll), i] = 1.0
    return frames, mask


def total_nll(model: RollModel, rolls: list[np.ndarray], batch: int = 64) -> tuple[float, int]:
    """A network's summed NLL over ``rolls`` and their number of frames."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(rolls), batch):
            frames, mask = pad(rolls[i : i + batch])
            logits, _ = model(shifted(frames))
            total += float((frame_nll(logits, frames) * mask).sum())
            count += int(mask.sum())
    model.train()
    return total, count


def network_nll(model: RollModel, rolls: list[np.ndarray]) -> float:
    """A network's NLL per frame over ``rolls`` (frames-weighted)."""
    total, count = total_nll(model, rolls)
    return total / count


def primer_chorale(data: chorales.Chorales, length: int) -> tuple[str, np.ndarray]:
    """The first test chorale (Riemenschneider order) of at least ``length`` frames."""
    return next((name, roll) for name, roll in zip(data.names_of("test"), data.of("test"),
                                                   strict=True) if len(roll) >= length)  # fmt: skip


def pitches(roll: np.ndarray) -> list[list[int]]:
    """The MIDI numbers on in each frame of a roll."""
    return [[int(k) + chorales.LOWEST for k in np.nonzero(frame)[0]] for frame in roll]


def train_network(spec: Spec, data: chorales.Chorales) -> tuple[RollModel, list[dict[str, Any]]]:
    """The model of the best validation epoch, and the curve (per epoch: the training loss
    averaged over the epoch's steps, and the validation NLL)."""
    torch.manual_seed(spec["seed"])
    rng = np.random.default_rng(spec["seed"])
    model = RollModel(spec["model"], hidden_for_budget(spec["model"], spec["budget"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    train, validation = data.of("train"), data.of("validation")
    curve, best, best_state = [], None, None
    for epoch in range(spec["epochs"]):
        total, count = 0.0, 0
        order = rng.permutation(len(train))
        for i in range(0, len(order), spec["batch"]):
            frames, mask = pad([train[j] for j in order[i : i + spec["batch"]]])
            logits, _ = model(shifted(frames))
            summed = (frame_nll(logits, frames) * mask).sum()
            loss = summed / mask.sum()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
            optimizer.step()
            total, count = total + float(summed.detach()), count + int(mask.sum())
        score = network_nll(model, validation)
        curve.append({"epoch": epoch + 1, "train_loss": total / count, "validation_nll": score})
        if best is None or score < best:
            best, best_state = score, {k: v.clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best_state)
    return model.eval(), curve


def _network(spec: Spec, data: chorales.Chorales) -> dict[str, Any]:
    model, curve = train_network(spec, data)
    name, roll = primer_chorale(data, spec["primer"] + spec["frames"])
    generator = torch.Generator().manual_seed(spec["seed"] + SAMPLE_SEED)
    primer = roll[: spec["primer"]]
    continued = sample(model, primer, spec["frames"], generator)
    free = sample(model, primer[:0], spec["frames"], generator)
    return {
        "hidden": model.recurrent.hidden_size,
        "parameters": sum(p.numel() for p in model.parameters()),
        "curve": curve,
        "best_epoch": min(curve, key=lambda c: c["validation_nll"])["epoch"],
        "train_nll": network_nll(model, data.of("train")),
        "validation_nll": network_nll(model, data.of("validation")),
        "test_nll": network_nll(model, data.of("test")),
        "sample": {
            "chorale": name,
            "primer": pitches(primer),
            "continuation": pitches(continued),
            "real": pitches(roll[spec["primer"] : spec["primer"] + spec["frames"]]),
            "free": pitches(free),
        },
    }


def train(spec: Spec) -> dict[str, Any]:
    """One run of the chorale experiments: its NLL per frame on each split, and how it got there."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] not in (*KINDS, *BASELINE_GRID):
        raise ValueError(f"unknown model {spec['model']!r}")
    started, cpu = time.perf_counter(), time.process_time()
    data = chorales.load()
    data_seconds = time.perf_counter() - started
    result = _baseline(spec, data) if spec["model"] in BASELINE_GRID else _network(spec, data)
    frames = {split: sum(len(r) for r in data.of(split)) for split in chorales.SPLITS}
    return {
        **result,
        "chorales": {split: len(data.of(split)) for split in chorales.SPLITS},
        "frames": frames,
        "data_seconds": data_seconds,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }
