"""Checks of the training part of ``solutions/ex6_seq2seq/seq2seq_torch.ipynb``: the
teacher-forced loss (``sequence_loss``, Part 5) and the model the notebook trains on dates with
the student's functions (Part 7).

``sequence_loss`` is tested on a small float64 reference model with the notebook's ``Seq2Seq``
interface, not the student's modules, so that a mistake in a module does not count here too; the
model logs the tokens fed at every step, which tells the test what the function fed the decoder.
The trained model is decoded greedily by the reference decoding (not the student's) on sources
written in formats it never saw in training (``dates.py``'s test split), and its exact-match
accuracy must reach ``THRESHOLD`` for sources of one date and of two."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks import dates
from course_checks.compare import check_close, check_true
from course_checks.errors import CheckFailure
from course_checks.ex6_seq2seq.torch_calls import call_seq2seq, describe, failure_text
from course_checks.ex6_seq2seq.torch_references import (
    END,
    V_SOURCE,
    V_TARGET,
    date_batch,
    decoder_inputs,
    random_batch,
    reference_greedy,
    reference_model,
    reference_sequence_loss,
)
from course_checks.ex6_seq2seq.torch_wrong_answers import LOSS_VARIANTS
from course_checks.probes import attempt, notebook_value, outcome, run_probe

__all__ = [
    "COUNTS",
    "EVALUATION",
    "THRESHOLD",
    "TRAINING",
    "accuracy_by_count",
    "check_sequence_loss",
    "check_trained",
    "reference_training",
    "training_batches",
]

# The notebook's training run (its given cell states the same numbers): sources of one date or
# two, two of three with two dates (the harder case needs more examples).
TRAINING = {"embed": 16, "hidden": 24, "size": 16, "batch": 32, "steps": 200, "lr": 0.02}
TRAINING["max_norm"] = 1.0
COUNTS = (1, 2, 2)  # date_pairs draws the number of dates of each source from these
TRAINING_SEED = 0  # the training pairs' seed
# How the trained model is judged: exact matches among this many held-out sources of each count.
EVALUATION = {"n": 200, "counts": (1, 2), "split": "test", "seed": 1}
# The least share of exact matches the trained model must reach for each number of dates: set
# with a margin below the reference's worst seed (tests/course_checks/ex6_seq2seq), far above the
# same model without attention.
THRESHOLD = 0.4


def training_batches(seed: int = TRAINING_SEED) -> list[tuple[torch.Tensor, ...]]:
    """The notebook's training batches: ``steps`` batches ``(src, lengths, tgt)`` of ``batch``
    training-format pairs each."""
    size, steps = TRAINING["batch"], TRAINING["steps"]
    pairs = dates.date_pairs("train", size * steps, seed, dates=COUNTS)
    return [
        date_batch(
            pairs.sources[i * size : (i + 1) * size], pairs.targets[i * size : (i + 1) * size]
        )
        for i in range(steps)
    ]


def reference_training(seed: int, *, attention: bool = True) -> tuple[nn.Module, list[float]]:
    """The notebook's training run with the reference modules from initial weights ``seed``:
    the model (float32, CPU) and its losses. ``attention=False``: the decoder is given the
    encoder's summary at every step instead of a context (the model otherwise the same)."""
    sizes = {
        "V_src": V_SOURCE,
        "V_tgt": V_TARGET,
        "embed": TRAINING["embed"],
        "hidden": TRAINING["hidden"],
        "size": TRAINING["size"],
    }
    model = reference_model(seed, sizes, attention=attention, dtype=torch.float32)
    optimizer = torch.optim.Adam(model.parameters(), lr=TRAINING["lr"])
    losses = []
    for src, lengths, tgt in training_batches():
        loss = reference_sequence_loss(model, src, lengths, tgt)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), TRAINING["max_norm"])
        optimizer.step()
        losses.append(loss.item())
        model.log.clear()
    return model, losses


# ------------------------------------------------------------------------- sequence_loss


def _loss_model(seed: int) -> nn.Module:
    sizes = {"V_src": 11, "V_tgt": 9, "embed": 4, "hidden": 3, "size": 4}
    return reference_model(seed, sizes, scale=2.0)


def _loss_batch(seed: int, S: int, T: int, B: int) -> tuple[torch.Tensor, ...]:
    return random_batch(seed, 11, 9, S, T, B)


def _probe_loss(sequence_loss: Callable[..., Any], seed: int, sizes: dict[str, int]) -> dict:
    """The student's loss, the gradients of the model's parameters after its backward(), and the
    tokens it fed the decoder at every step."""
    __tracebackhide__ = True
    model = _loss_model(seed)
    src, lengths, tgt = _loss_batch(seed, sizes["S"], sizes["T"], sizes["B"])
    facts: dict[str, Any] = {}
    result = attempt(call_seq2seq, sequence_loss, model, src, lengths, tgt)
    facts["fed"] = [entry["y_prev"] for entry in model.log]
    if "failure" in result:
        facts["loss"] = result
        return facts
    loss = result["value"]
    facts["type"] = describe(loss)
    facts["tensor"] = isinstance(loss, torch.Tensor)
    facts["graph"] = isinstance(loss, torch.Tensor) and loss.requires_grad
    if facts["tensor"]:
        facts["loss"] = {"value": loss.detach().clone()}
    if facts["graph"] and loss.numel() == 1:
        try:
            loss.backward()
            facts["grads"] = {n: p.grad for n, p in model.named_parameters()}
        except Exception as error:  # reported after the value is compared
            facts["backward error"] = f"{type(error).__name__}: {error}"
    return facts


def _reference_loss(seed: int, sizes: Mapping[str, int], **switches: Any) -> dict[str, Any]:
    model = _loss_model(seed)
    src, lengths, tgt = _loss_batch(seed, sizes["S"], sizes["T"], sizes["B"])
    loss = reference_sequence_loss(model, src, lengths, tgt, **switches)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    return {"loss": loss.detach(), "grads": grads, "fed": [e["y_prev"] for e in model.log]}


def check_sequence_loss(
    sequence_loss: Callable[..., Any], seed: int, *, S: int = 6, T: int = 5, B: int = 4
) -> float:
    """``sequence_loss(model, src, lengths, tgt)`` on a small float64 reference model and a padded
    batch: the reference's teacher-forced loss (the decoder fed START then ``tgt[:-1]``, the mean
    cross-entropy over the real target tokens), with a graph whose gradients are the reference's.
    Returns the loss."""
    __tracebackhide__ = True
    sizes = {"S": S, "T": T, "B": B}
    facts = run_probe(_probe_loss, sequence_loss, seed, sizes)
    _, lengths, tgt = _loss_batch(seed, S, T, B)
    real = int((tgt != 0).sum())
    call = (
        f"sequence_loss(model, src, lengths, tgt) on a batch of {B} sources of lengths "
        f"{', '.join(str(int(n)) for n in lengths)} and targets of {T} steps ({real} real "
        f"tokens, the rest padding)"
    )
    check_true(
        "loss" in facts,
        f"{call} returned {facts.get('type')}; return the loss as a "
        f"tensor (one number), from which loss.backward() can run.",
    )
    loss = outcome(facts["loss"])
    check_true(
        loss.numel() == 1,
        f"{call} returned {describe(loss)}; return the mean loss over the real tokens, one "
        f"number (F.cross_entropy reduces for you).",
    )
    expected = _reference_loss(seed, sizes)
    wrong = {
        text: _reference_loss(seed, sizes, **switches) for text, switches in LOSS_VARIANTS.items()
    }
    fed = facts["fed"]
    steps = [f"step {t}: {y.tolist()}" for t, y in enumerate(fed[:3])]
    inputs = decoder_inputs(tgt)
    teacher = len(fed) == T and all(torch.equal(y, inputs[t]) for t, y in enumerate(fed))
    if not teacher:
        named = [
            text
            for text, run in wrong.items()
            if len(run["fed"]) == len(fed)
            and all(torch.equal(a, b) for a, b in zip(run["fed"], fed, strict=True))
        ]
        check_true(
            False,
            f"{call} fed the decoder other tokens than teacher forcing does (START, then "
            f"tgt[0], …, tgt[T − 2], one step each, {T} steps).\n  expected at step 0: "
            f"{inputs[0].tolist()}, at step 1: {inputs[1].tolist()}\n  fed: "
            + ("; ".join(steps) if steps else "nothing (model.step was never called)")
            + (f" ({len(fed)} steps)\n" if fed else "\n")
            + (
                f"  Likely mistake: {named[0]}."
                if named
                else "  At step t the decoder reads the target's token t − 1 (START at step 0), "
                "whatever it predicted."
            ),
        )
    check_close(
        f"the loss of {call}",
        loss.reshape(()),
        expected["loss"],
        atol=1e-8,
        mistakes={text: run["loss"] for text, run in wrong.items()},
        hint="stack the T steps' logits into (T, B, V) and take F.cross_entropy(logits.reshape(-1, "
        "V), tgt.reshape(-1), ignore_index=0): the mean over the real target tokens.",
    )
    check_true(
        facts["graph"],
        f"{call} returned a loss without a graph (requires_grad is False): compute it from the "
        f"model's logits without torch.no_grad(), .detach() or .item(), so that loss.backward() "
        f"reaches the model's parameters.",
    )
    check_true(
        "backward error" not in facts,
        f"loss.backward() on the loss of {call} raised {facts.get('backward error', '')}.",
    )
    for name, value in expected["grads"].items():
        got = facts["grads"].get(name)
        check_true(
            got is not None,
            f"after loss.backward() on the loss of {call}, the parameter {name} has no "
            f"gradient: the loss must be computed from the model's outputs.",
        )
        check_close(
            f"the gradient of {name} after loss.backward() on the loss of {call}",
            got,
            value,
            atol=1e-8,
            hint="the loss must be the model's own computation, from its logits.",
        )
    return float(loss)


# --------------------------------------------------------------------------- the trained model


def accuracy_by_count(
    model: nn.Module,
    *,
    split: str = "test",
    n: int = EVALUATION["n"],
    seed: int = 1,
    counts: tuple[int, ...] = EVALUATION["counts"],
) -> dict[int, float]:
    """The share of ``n`` held-out sources of each count whose greedy output (the reference
    decoding) is their ISO form exactly, on the model's device."""
    device = next(model.parameters()).device
    shares = {}
    for count in counts:
        pairs = dates.date_pairs(split, n, seed + 1000 * count, dates=(count,))
        src, lengths, _ = date_batch(pairs.sources, pairs.targets)
        rows = reference_greedy(model, src.to(device), lengths.to(device), 11 * count + 1)
        right = [
            dates.decode_target([*row, END]) == t
            for row, t in zip(rows, pairs.targets, strict=True)
        ]
        shares[count] = float(np.mean(right))
    return shares


def _probe_trained(model: Any, losses: Any, split: str, seed: int) -> dict[str, Any]:
    """The trained model's accuracies (the reference decoding, wrapped so that the model's own
    code is called through call) and the losses it trained with."""
    __tracebackhide__ = True
    model = notebook_value(model) if isinstance(model, str) else model
    losses = notebook_value(losses) if isinstance(losses, str) else losses
    facts: dict[str, Any] = {"module": isinstance(model, nn.Module)}
    if isinstance(losses, list | tuple):  # as Python floats: a tensor's graph stays here
        losses = [float(v.detach()) if isinstance(v, torch.Tensor) else v for v in losses]
    facts["losses"] = losses
    if facts["module"]:
        facts["parameters"] = {n: tuple(p.shape) for n, p in model.named_parameters()}
        facts["accuracy"] = attempt(_accuracy_explained, model, split, seed)
    return facts


def _accuracy_explained(model: nn.Module, split: str, seed: int) -> dict[int, float]:
    __tracebackhide__ = True

    class Explained(nn.Module):  # the student's model, called through call_seq2seq
        def encode(self, src: torch.Tensor, lengths: torch.Tensor) -> Any:
            return call_seq2seq(model.encode, src, lengths)

        def step(self, *args: Any) -> Any:
            return call_seq2seq(model.step, *args)

    explained = Explained()
    explained.add_module("model", model)
    was_training = model.training
    model.eval()
    try:
        return accuracy_by_count(explained, split=split, seed=seed)
    except CheckFailure:
        raise
    except Exception as error:  # the model's outputs do not fit the decoding
        raise CheckFailure(
            f"the reference decoding could not read the model's outputs ({type(error).__name__})"
        ) from None
    finally:
        model.train(was_training)


def _expected_parameters() -> dict[str, tuple[int, ...]]:
    sizes = {
        "V_src": V_SOURCE,
        "V_tgt": V_TARGET,
        "embed": TRAINING["embed"],
        "hidden": TRAINING["hidden"],
        "size": TRAINING["size"],
    }
    reference = reference_model(0, sizes, dtype=torch.float32)
    return {n: tuple(p.shape) for n, p in reference.named_parameters()}


def check_trained(
    model: Any, losses: Any, steps: int, split: str = "test", seed: int = EVALUATION["seed"]
) -> dict[int, float]:
    """The trained model's exact-match accuracy on ``EVALUATION["n"]`` held-out sources of one
    date and of two (formats of ``split``, drawn from ``seed``) each reaches ``THRESHOLD``.

    ``model`` and ``losses`` are the names of the notebook's variables (``"model"``,
    ``"losses"``), looked up by the probe: the grader's re-check has only what the kernel
    recorded. Returns the accuracies by number of dates.
    """
    __tracebackhide__ = True
    facts = run_probe(_probe_trained, model, losses, split, seed)
    what = f"the trained model {model}" if isinstance(model, str) else "the trained model"
    check_true(
        facts["module"],
        f"{what} does not exist or is not a module: run the training cell above first.",
    )
    losses = facts["losses"]
    check_true(
        isinstance(losses, list | tuple) and len(losses) == steps,
        f"The training cell did not run to its end ({steps} steps), so {what} is not trained: "
        f"the cell stopped with an error, or was not run. Run it and read the error it shows; "
        f"the tests of Encoder, AdditiveAttention, Decoder and sequence_loss say what to fix.",
    )
    expected = _expected_parameters()
    got = {k: tuple(v) for k, v in facts["parameters"].items()}
    check_true(
        got == expected,
        f"{what} does not have the parameters of the model the training cell builds (the sizes "
        f"it states): the tests of Encoder, AdditiveAttention and Decoder say what to fix.",
    )
    accuracy = facts["accuracy"]
    if "failure" in accuracy:
        check_true(
            False,
            f"{what} could not be decoded greedily; the tests of Encoder, AdditiveAttention and "
            f"Decoder say what to fix. The error:\n" + failure_text(accuracy["failure"]),
        )
    shares = {int(k): float(v) for k, v in outcome(accuracy).items()}
    finite = [float(v) for v in losses if isinstance(v, float | int) and math.isfinite(v)]
    first = float(np.mean(finite[:20])) if finite else float("nan")
    last = float(np.mean(finite[-20:])) if finite else float("nan")
    shown = ", ".join(
        f"{shares[c]:.0%} of the sources of {c} date{'s' if c > 1 else ''}" for c in sorted(shares)
    )
    check_true(
        all(value >= THRESHOLD for value in shares.values()),
        f"{what} rewrites {shown} exactly, in date formats it never saw ({split} split, "
        f"{EVALUATION['n']} sources of each); it must reach {THRESHOLD:.0%} for each number of "
        f"dates. Its training loss went from {first:.3f} to {last:.3f} (mean of the first and "
        f"last 20 steps). The training uses your Encoder, AdditiveAttention, Decoder and "
        f"sequence_loss: if one of their tests fails, its message says what to fix; if they all "
        f"pass, run the notebook again from the top, with the training cell as given.",
    )
    return shares
