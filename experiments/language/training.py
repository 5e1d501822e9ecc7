"""One run of Chapter 5's character language model, from a plain-dict specification.

Training is truncated BPTT over contiguous streams (:mod:`experiments.language.streams`): the
state is carried from chunk to chunk and detached, the loss is the mean cross-entropy over the
chunk's characters, the gradient norm is clipped, and the text starts again (with a fresh state)
when a pass ends. Every ``eval_every`` steps the model is scored on the validation text, in bits
per character; the checkpoint with the best validation score is kept, and the test text is read
once, by that checkpoint. Seeded, one CPU thread: a specification gives the same result on a
given machine.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from experiments.language import corpora, streams, weights
from experiments.language.models import CharLM
from experiments.language.ngram import encode

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "corpus": "python_source",
    "embed": 32,
    "hidden": 256,
    "layers": 1,
    "dropout": 0.0,  # nn.GRU's, between layers
    "recurrent_dropout": 0.0,  # variational, on the recurrent connection (one layer)
    "optimizer": "adam",
    "lr": 3e-3,
    "momentum": 0.0,
    "steps": 1000,
    "batch": 32,
    "bptt": 64,
    "clip": 1.0,
    "eval_every": 250,
    "eval_streams": 64,
    "eval_chars": None,  # if set, the validation and test texts' first this many characters
    "train_chars": None,  # if set, the training text's first this many characters
    "keep_weights": False,  # if set, the chosen checkpoint's weights are part of the result
    "train_eval_chars": 0,  # the chosen checkpoint also scores this many training characters
}

OPTIMIZERS = {
    "sgd": lambda params, spec: torch.optim.SGD(params, lr=spec["lr"], momentum=spec["momentum"]),
    "rmsprop": lambda params, spec: torch.optim.RMSprop(params, lr=spec["lr"]),
    "adam": lambda params, spec: torch.optim.Adam(params, lr=spec["lr"]),
}


def describe(spec: Spec) -> str:
    """'language model on python_docs, H = 256, adam lr 0.003, seed 1' (for the runner's
    messages)."""
    spec = {**DEFAULTS, **spec}
    return (
        f"language model on {spec['corpus']}, H = {spec['hidden']}, {spec['optimizer']} "
        f"lr {spec['lr']:g}, seed {spec['seed']}"
    )


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here (a step of B = 32 by 64 characters: 17 ms plus 0.75 µs per
    H², per layer; the hand-written recurrent dropout layer is a Python loop, 2.5 times slower),
    for the runner to start long runs first and to estimate the time left."""
    spec = {**DEFAULTS, **spec}
    step = (0.017 + 7.5e-7 * spec["hidden"] ** 2) * spec["layers"]
    step *= spec["batch"] * spec["bptt"] / 2048 * (2.5 if spec["recurrent_dropout"] else 1.0)
    return spec["steps"] * step


def texts(spec: Spec) -> dict[str, np.ndarray]:
    """The specification's corpus as character ids, by split (the evaluation texts cut to
    ``eval_chars`` and the training text to ``train_chars``, where set: for tests, and for the
    small training set on which dropout's effect is measured)."""
    spec = {**DEFAULTS, **spec}
    corpus = corpora.load(spec["corpus"])
    ids = {split: encode(corpus.texts[split], corpora.ALPHABET) for split in corpora.SPLITS}
    if spec["eval_chars"] is not None:
        for split in ("valid", "test"):
            ids[split] = ids[split][: spec["eval_chars"]]
    if spec["train_chars"] is not None:
        ids["train"] = ids["train"][: spec["train_chars"]]
    return ids


def stream_targets(length: int, B: int) -> np.ndarray:
    """The positions of a text of ``length`` characters that :func:`bits_per_character` scores
    with ``B`` streams: every character of a stream but its first (so that an n-gram baseline can
    be scored on exactly the same characters)."""
    n = length // B
    return (np.arange(B)[:, None] * n + np.arange(1, n)[None, :]).ravel()


@torch.no_grad()
def bits_per_character(model: CharLM, ids: np.ndarray, B: int, T: int = 256) -> float:
    """Mean ``-log2 P`` of the characters at :func:`stream_targets`, reading ``ids`` as ``B``
    streams with the state carried across chunks."""
    was_training = model.training
    model.eval()
    total, count, h = 0.0, 0, None
    for x, y in streams.chunks(streams.batchify(ids, B), T):
        logits, h = model(torch.from_numpy(x), h)
        total += float(
            F.cross_entropy(logits.flatten(0, 1), torch.from_numpy(y).flatten(), reduction="sum")
        )
        count += y.size
    model.train(was_training)
    return total / count / math.log(2)


def tbptt_step(
    model: CharLM,
    optimizer: torch.optim.Optimizer,
    piece: tuple[np.ndarray, np.ndarray],
    h: torch.Tensor | None,
    clip: float,
) -> tuple[float, torch.Tensor]:
    """One step of truncated BPTT on a chunk ``(x, y)``: the mean cross-entropy (nats) and the
    state to carry into the next chunk, detached so that the next gradient stops here."""
    x, y = (torch.from_numpy(a) for a in piece)
    logits, h = model(x, h)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)  # after backward: it reads .grad
    optimizer.step()
    return float(loss.detach()), h.detach()


def build(spec: Spec) -> CharLM:
    """The (untrained, seeded) model of a specification."""
    spec = {**DEFAULTS, **spec}
    torch.manual_seed(spec["seed"])
    return CharLM(
        len(corpora.ALPHABET),
        spec["embed"],
        spec["hidden"],
        spec["layers"],
        spec["dropout"],
        spec["recurrent_dropout"],
    )


def trained(result: dict[str, Any]) -> CharLM:
    """The model of a result kept with ``keep_weights``, in evaluation mode."""
    if "weights" not in result:
        raise ValueError("this run did not keep its weights (set keep_weights in its spec)")
    model = build(result["spec"])
    model.load_state_dict(weights.unpack(result["weights"]))
    return model.eval()


def train(spec: Spec) -> dict[str, Any]:
    """Train the model of ``spec``; its validation history, and the chosen checkpoint's scores.

    Returns ``valid_bpc`` and ``test_bpc`` (the checkpoint with the best validation score),
    ``best_step``, ``history`` (``[step, validation bpc]``), ``train_bpc`` (the mean training loss
    of each evaluation interval, in bits, dropout active), ``train_eval_bpc`` (with
    ``train_eval_chars``: that many training characters scored like the validation text),
    ``steps``, ``parameters``, ``seconds`` and ``cpu_seconds``; with ``keep_weights``, also
    ``weights`` (:func:`trained` rebuilds the model).
    """
    spec = {**DEFAULTS, **spec}
    started, started_cpu = time.perf_counter(), time.process_time()
    ids = texts(spec)
    model = build(spec)
    optimizer = OPTIMIZERS[spec["optimizer"]](model.parameters(), spec)
    # Each run starts its streams at a seeded offset, so seeds differ in data order too.
    offset = int(np.random.default_rng(spec["seed"]).integers(len(ids["train"]) // 2))
    train_streams = streams.batchify(np.roll(ids["train"], -offset), spec["batch"])
    history: list[list[float]] = []
    train_bpc: list[float] = []
    interval: list[float] = []
    best: tuple[float, int, dict] | None = None
    step, h, pieces = 0, None, iter(())
    while step < spec["steps"]:
        piece = next(pieces, None)
        if piece is None:  # a pass ends: start again from a fresh state
            pieces, h = streams.chunks(train_streams, spec["bptt"]), None
            continue
        loss, h = tbptt_step(model, optimizer, piece, h, spec["clip"])
        step += 1
        interval.append(loss / math.log(2))
        if step % spec["eval_every"] == 0 or step == spec["steps"]:
            score = bits_per_character(model, ids["valid"], spec["eval_streams"])
            history.append([step, score])
            train_bpc.append(float(np.mean(interval)))
            interval = []
            if best is None or score < best[0]:
                best = (score, step, copy.deepcopy(model.state_dict()))
    assert best is not None
    model.load_state_dict(best[2])
    kept = {"weights": weights.pack(model.state_dict())} if spec["keep_weights"] else {}
    return kept | {
        "valid_bpc": best[0],
        "test_bpc": bits_per_character(model, ids["test"], spec["eval_streams"]),
        # the training text scored as the validation text is (evaluation mode: no dropout)
        "train_eval_bpc": bits_per_character(
            model, ids["train"][: spec["train_eval_chars"]], spec["eval_streams"]
        )
        if spec["train_eval_chars"]
        else None,
        "best_step": best[1],
        "history": history,
        "train_bpc": train_bpc,
        "steps": step,
        "parameters": sum(p.numel() for p in model.parameters()),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - started_cpu,
    }
