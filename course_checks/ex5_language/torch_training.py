"""Checks of the training part of ``solutions/ex5_language/language_torch.ipynb``: one step of
truncated BPTT (``train_step``), bits per character (``evaluate_bpc``) and the trained language
model against an n-gram baseline.

``train_step`` and ``evaluate_bpc`` are tested on a small float64 reference model
(``torch_references.ReferenceCharLM``), not the student's ``CharLM``, so that a mistake in the
model does not count here too; the reference model logs how it was called (with a state or not,
in which mode, with a graph or not), which tells a test what the function did. The trained model
is scored by the reference evaluation on held-out topics, against an add-k trigram counted on the
same training text."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

import numpy as np
import torch

from course_checks.compare import check_close, check_true
from course_checks.errors import CheckFailure
from course_checks.ex5_language.text import ALPHABET, load_text
from course_checks.ex5_language.torch_calls import call_language, describe, failure_text
from course_checks.ex5_language.torch_references import (
    add_k_log_probs,
    reference_batchify,
    reference_evaluate_bpc,
    reference_get_chunk,
    reference_lm,
    reference_train_step,
    stream_positions,
)
from course_checks.ex5_language.torch_wrong_answers import EVALUATE_VARIANTS, STEP_VARIANTS
from course_checks.probes import (
    attempt,
    digest,
    notebook_value,
    outcome,
    replaced_names,
    run_probe,
)

__all__ = [
    "BASELINE",
    "TRAINING",
    "baseline_bits",
    "check_evaluate_bpc",
    "check_lm_trained",
    "check_lm_training",
    "check_train_step",
    "random_streams",
]

# The notebook's training run (its given cell states the same numbers) and its baseline.
TRAINING = {"embed": 32, "hidden": 128, "batch": 32, "bptt": 64, "steps": 250, "lr": 0.01}
TRAINING["max_norm"] = 1.0
BASELINE = {"order": 3, "k": 0.05}  # an add-k character trigram
EVALUATION = {"B": 16, "bptt": 256}  # how the held-out text is read


def random_streams(seed: int, n: int, B: int, V: int) -> torch.Tensor:
    """``(n, B)`` streams of random ids in ``0 … V − 1``."""
    ids = np.random.default_rng(seed + 7).integers(0, V, size=n * B)
    return reference_batchify(torch.from_numpy(ids), B)


# --------------------------------------------------------------------------- train_step


def _probe_train_step(train_step: Callable[..., Any], seed: int, sizes: dict[str, Any]) -> dict:
    """What the student's ``train_step`` returns over consecutive chunks, carrying its state,
    and the parameters it leaves after each."""
    __tracebackhide__ = True
    model = reference_lm(seed, sizes["V"], sizes["embed"], sizes["hidden"])
    optimizer = torch.optim.SGD(model.parameters(), lr=sizes["lr"])
    streams = random_streams(seed, sizes["n"], sizes["B"], sizes["V"])
    facts: dict[str, Any] = {}
    h = None
    for k in range(sizes["steps"]):
        x, y = reference_get_chunk(streams, k * sizes["bptt"], sizes["bptt"])
        step = attempt(call_language, train_step, model, optimizer, x, y, h, sizes["max_norm"])
        if "failure" in step:
            facts[f"failure {k}"] = step["failure"]
            break
        value = step["value"]
        if not (isinstance(value, tuple | list) and len(value) == 2):
            facts[f"returned {k}"] = describe(value)
            break
        loss, h = value
        facts[f"loss {k}"] = loss
        facts[f"state {k}"] = h
        facts[f"attached {k}"] = isinstance(h, torch.Tensor) and h.grad_fn is not None
        facts[f"parameters {k}"] = {n: p.detach().clone() for n, p in model.named_parameters()}
    return facts


def _reference_steps(seed: int, sizes: Mapping[str, Any], **switches: Any) -> dict[str, list]:
    """The losses, states and parameters of the reference ``train_step`` (with ``switches``)."""
    model = reference_lm(seed, sizes["V"], sizes["embed"], sizes["hidden"])
    optimizer = torch.optim.SGD(model.parameters(), lr=sizes["lr"])
    streams = random_streams(seed, sizes["n"], sizes["B"], sizes["V"])
    run: dict[str, list] = {"losses": [], "states": [], "parameters": []}
    h = None
    for k in range(sizes["steps"]):
        x, y = reference_get_chunk(streams, k * sizes["bptt"], sizes["bptt"])
        loss, h = reference_train_step(model, optimizer, x, y, h, sizes["max_norm"], **switches)
        run["losses"].append(loss)
        run["states"].append(h.detach().clone())
        run["parameters"].append({n: p.detach().clone() for n, p in model.named_parameters()})
    return run


def check_train_step(
    train_step: Callable[..., Any],
    seed: int,
    *,
    steps: int = 3,
    bptt: int = 4,
    B: int = 3,
    V: int = 7,
    hidden: int = 5,
    lr: float = 0.5,
    max_norm: float = 0.1,
) -> list[float]:
    """``steps`` calls of ``train_step`` on consecutive chunks of random streams, with a small
    float64 reference model and SGD, each call given the state the previous one returned.

    The losses, the states and the parameters after each call must equal the reference step's;
    a small ``max_norm`` keeps clipping active. Returns the losses.
    """
    __tracebackhide__ = True
    sizes = {"V": V, "embed": 4, "hidden": hidden, "B": B, "bptt": bptt, "steps": steps}
    sizes |= {"n": steps * bptt + 1, "lr": lr, "max_norm": max_norm}
    facts = run_probe(_probe_train_step, train_step, seed, sizes)
    expected = _reference_steps(seed, sizes)
    wrong = {
        text: _reference_steps(seed, sizes, **switches) for text, switches in STEP_VARIANTS.items()
    }
    settings = f"(SGD lr={lr}, max_norm={max_norm}, chunks of ({bptt}, {B}), seed={seed})"
    losses: list[float] = []
    for k in range(steps):
        call = f"train_step on chunk {k + 1} {settings}"
        if f"failure {k}" in facts:
            check_true(
                k == 0 or not facts[f"attached {k - 1}"],
                f"{call} failed because the state that the call on chunk {k} returned is still "
                f"attached to that chunk's graph (it has a grad_fn): the backward pass of chunk "
                f"{k + 1} ran into chunk {k}'s graph, which its own backward pass had freed. "
                f"Return the state detached, h_n.detach(): truncated BPTT carries the state's "
                f"values into the next chunk, but the gradient stops at the chunk's start.",
            )
            outcome({"failure": facts[f"failure {k}"]})
        check_true(
            f"returned {k}" not in facts,
            f"{call} returned {facts.get(f'returned {k}')}; it must return the pair (loss, h): "
            f"the loss as a Python float and the state to carry into the next chunk.",
        )
        loss, state = facts[f"loss {k}"], facts[f"state {k}"]
        check_true(
            isinstance(loss, float | int) and not isinstance(loss, bool),
            f"{call} returned the loss as {describe(loss)}; return a Python float, loss.item() "
            f"(a tensor would also keep the chunk's whole graph alive).",
        )
        check_true(
            isinstance(state, torch.Tensor),
            f"{call} returned the state as {describe(state)}; return the model's final state h_n "
            f"(detached), the state the next chunk starts from.",
        )
        losses.append(float(loss))
        check_close(
            f"the losses returned by train_step on chunk{f's 1 to {k + 1}' if k else ' 1'} "
            f"{settings}, compared with the reference",
            np.asarray(losses),
            np.asarray(expected["losses"][: k + 1]),
            atol=1e-8,
            mistakes={t: np.asarray(run["losses"][: k + 1]) for t, run in wrong.items()},
            hint="the loss is the mean cross-entropy over the chunk's T·B characters, "
            "F.cross_entropy(logits.reshape(-1, V), y.reshape(-1)), computed from the state h.",
        )
        check_close(
            f"the state returned by {call}",
            state,
            expected["states"][k],
            atol=1e-8,
            mistakes={t: run["states"][k] for t, run in wrong.items()},
            hint="return the model's final state h_n (detached), the state at the chunk's end.",
        )
        for name, value in expected["parameters"][k].items():
            check_close(
                f"the parameter {name} after {call}",
                facts[f"parameters {k}"][name],
                value,
                atol=1e-8,
                mistakes={t: run["parameters"][k][name] for t, run in wrong.items()},
                hint="zero_grad(), backward(), clip_grad_norm_(model.parameters(), max_norm), "
                "then step(), in this order.",
            )
    return losses


# --------------------------------------------------------------------------- evaluate_bpc


def _probe_evaluate(evaluate_bpc: Callable[..., Any], seed: int, sizes: dict[str, Any]) -> dict:
    """What ``evaluate_bpc`` returns from a model in training mode and from one in evaluation
    mode, how it called the model, and what it left behind."""
    __tracebackhide__ = True
    model = reference_lm(seed, sizes["V"], sizes["embed"], sizes["hidden"], 2, dropout=0.5)
    streams = random_streams(seed, sizes["n"], sizes["B"], sizes["V"])
    before = [digest(p) for p in model.parameters()]
    facts: dict[str, Any] = {}
    # The reference get_chunk stands in for the notebook's, so that a mistake there does not
    # count here too.
    namespace = getattr(evaluate_bpc, "__globals__", {})
    for mode in ("train", "eval"):
        model.train(mode == "train")
        model.log.clear()
        with replaced_names(namespace, {"get_chunk": reference_get_chunk}):
            value = attempt(call_language, evaluate_bpc, model, streams, sizes["bptt"])
        facts[f"{mode} value"] = value
        facts[f"{mode} calls"] = list(model.log)
        facts[f"{mode} left training"] = model.training
    facts["changed"] = before != [digest(p) for p in model.parameters()]
    facts["gradients"] = any(p.grad is not None for p in model.parameters())
    return facts


def check_evaluate_bpc(
    evaluate_bpc: Callable[..., Any],
    seed: int,
    *,
    n: int = 23,
    B: int = 3,
    bptt: int = 5,
    V: int = 9,
    hidden: int = 6,
) -> float:
    """``evaluate_bpc(model, streams, bptt)`` of ``(n, B)`` random streams (the last chunk
    shorter) with a small two-layer float64 reference model that has dropout: the reference's
    bits per character, read without a graph, in evaluation mode, the mode then restored."""
    __tracebackhide__ = True
    check_true((n - 1) % bptt != 0, "a course bug: the test's streams need a shorter last chunk")
    sizes = {"V": V, "embed": 4, "hidden": hidden, "n": n, "B": B, "bptt": bptt}
    facts = run_probe(_probe_evaluate, evaluate_bpc, seed, sizes)
    model = reference_lm(seed, V, 4, hidden, 2, dropout=0.5)
    streams = random_streams(seed, n, B, V)
    expected = reference_evaluate_bpc(model, streams, bptt)
    call = f"evaluate_bpc(model, streams, bptt={bptt}) of ({n}, {B}) streams"
    value = outcome(facts["train value"])
    check_true(
        isinstance(value, float | int) and not isinstance(value, bool),
        f"{call} returned {describe(value)}; return the bits per character as a Python float.",
    )
    calls = facts["train calls"] + facts["eval calls"]
    check_true(bool(calls), f"{call} never called the model.")
    check_true(
        not any(entry["graph"] for entry in calls),
        f"{call} ran the model with autograd recording a graph: evaluation needs no gradient, "
        f"so run it inside `with torch.no_grad():` (faster, and it leaves the model's graph "
        f"and gradients alone).",
    )
    check_true(
        not facts["gradients"] and not facts["changed"],
        f"{call} computed gradients or changed the model's parameters: it only measures the "
        f"model (no backward(), no optimizer).",
    )
    check_true(
        not any(entry["training"] for entry in calls),
        f"{call} ran the model in training mode, so its dropout was active and the score is "
        f"random: call model.eval() first.",
    )
    check_true(
        facts["train left training"],
        f"{call} left a model that was in training mode in evaluation mode: restore the mode it "
        f"had, was_training = model.training before, model.train(was_training) after.",
    )
    check_true(
        not facts["eval left training"],
        f"{call} left a model that was in evaluation mode in training mode: restore the mode it "
        f"had (model.train(was_training)), not always training mode.",
    )
    chunks = len(range(0, n - 1, bptt))
    shorter = (n - 1) - (chunks - 1) * bptt
    check_close(
        f"the bits per character of {call} ({chunks} chunks, the last of {shorter} rows)",
        float(value),
        expected,
        atol=1e-8,
        dtype=None,
        mistakes={
            text: reference_evaluate_bpc(model, streams, bptt, **switches)
            for text, switches in EVALUATE_VARIANTS.items()
        },
        hint="carry the state from chunk to chunk, add up the summed cross-entropies "
        "(reduction='sum') and the numbers of characters, then divide: total nats / total "
        "characters / ln 2.",
    )
    again = outcome(facts["eval value"])
    check_close(
        f"{call} of the same model in evaluation mode",
        float(again) if isinstance(again, float | int) else again,
        expected,
        atol=1e-8,
        dtype=None,
    )
    return float(value)


# --------------------------------------------------------------------------- the trained model


@cache
def baseline_bits(split: str, B: int = EVALUATION["B"]) -> float:
    """The add-k trigram's bits per character on ``split``'s text, counted on the training text
    and scored on the characters the model is scored on (``stream_positions``)."""
    text = load_text()
    held_out = text.ids(split)
    log_p = add_k_log_probs(text.ids("train"), held_out, BASELINE["order"], BASELINE["k"],
                            len(ALPHABET))  # fmt: skip
    return float(-np.mean(log_p[stream_positions(len(held_out), B)]) / math.log(2))


def _bits(model: Any, split: str) -> Any:
    """The reference bits per character of ``model`` on ``split``, its forward explained."""
    __tracebackhide__ = True
    parameter = next(model.parameters())
    ids = torch.from_numpy(load_text().ids(split))
    streams = reference_batchify(ids, EVALUATION["B"]).to(parameter.device)

    class Explained(torch.nn.Module):  # the student's model, called through call_language
        def forward(self, x: torch.Tensor, h: Any = None) -> Any:
            __tracebackhide__ = True
            result = call_language(model, x, h)
            T, B = x.shape
            check_true(
                isinstance(result, tuple | list)
                and len(result) == 2
                and isinstance(result[0], torch.Tensor)
                and tuple(result[0].shape) == (T, B, len(ALPHABET)),
                f"the trained model's forward must return (logits, h_n), the logits of shape "
                f"(T, B, V); on ids of shape {(T, B)} it returned {describe(result)}"
                + (
                    f" whose first item is {describe(result[0])}"
                    if isinstance(result, tuple | list) and result
                    else ""
                )
                + ". The test of CharLM says what to fix.",
            )
            return result

    explained = Explained().train(model.training)
    explained.add_module("model", model)
    try:
        return reference_evaluate_bpc(explained, streams, EVALUATION["bptt"])
    except CheckFailure:
        raise
    except Exception as error:  # the model's outputs do not fit the evaluation
        raise CheckFailure(
            f"the trained model could not be evaluated ({type(error).__name__}); the test of "
            f"CharLM says what to fix."
        ) from None


def _probe_trained(model: Any, losses: Any, split: str) -> dict[str, Any]:
    """The trained model's bits per character on ``split`` and the losses it trained with."""
    __tracebackhide__ = True
    model = notebook_value(model) if isinstance(model, str) else model
    losses = notebook_value(losses) if isinstance(losses, str) else losses
    facts: dict[str, Any] = {"module": isinstance(model, torch.nn.Module)}
    if isinstance(losses, list | tuple):  # as Python floats: a tensor's graph stays here
        losses = [float(v.detach()) if isinstance(v, torch.Tensor) else v for v in losses]
    facts["losses"] = losses
    if facts["module"]:
        facts["bits"] = attempt(_bits, model, split)
    return facts


def _judge_trained(facts: Mapping[str, Any], steps: int, split: str, what: str) -> float:
    __tracebackhide__ = True
    check_true(
        facts["module"],
        f"{what} does not exist or is not a module: run the training cell above first.",
    )
    losses = facts["losses"]
    check_true(
        isinstance(losses, list | tuple) and len(losses) == steps,
        f"The training cell did not run to its end ({steps} steps), so {what} is not trained: "
        f"the cell stopped with an error, or was not run. Run it and read the error it shows; "
        f"the tests of batchify, get_chunk, CharLM and train_step say what to fix.",
    )
    bits = outcome(facts["bits"])
    baseline = baseline_bits(split)
    topics = ", ".join(load_text().topics[split])
    finite = [float(v) for v in losses if isinstance(v, float | int) and math.isfinite(v)]
    first = float(np.mean(finite[:20])) / math.log(2) if finite else float("nan")
    last = float(np.mean(finite[-20:])) / math.log(2) if finite else float("nan")
    check_true(
        math.isfinite(bits) and bits < baseline,
        f"{what} scores {bits:.3f} bits per character on the held-out topics ({topics}); the "
        f"add-k trigram counted on the same training text (k = {BASELINE['k']}) scores "
        f"{baseline:.3f}, and the model must do better. Its training loss went from "
        f"{first:.3f} to {last:.3f} bits per character (first and last 20 steps). The training "
        f"uses your CharLM, batchify, get_chunk and train_step: if one of their tests fails, "
        f"its message says what to fix; if they all pass, run the notebook again from the top, "
        f"with the training cell as given.",
    )
    return bits


def check_lm_trained(model: Any, losses: Any, steps: int, split: str = "valid") -> tuple:
    """The trained language model beats the add-k trigram on the held-out topics of ``split``.

    ``model`` and ``losses`` are the names of the notebook's variables (``"lm"``,
    ``"lm_losses"``), looked up by the probe: the grader's re-check has only what the kernel
    recorded. Returns ``(model's bits per character, the baseline's)``.
    """
    __tracebackhide__ = True
    facts = run_probe(_probe_trained, model, losses, split)
    what = f"the trained model {model}" if isinstance(model, str) else "the trained model"
    return _judge_trained(facts, steps, split, what), baseline_bits(split)


def _train(
    CharLM: Callable[..., Any],
    batchify: Callable[..., Any],
    get_chunk: Callable[..., Any],
    train_step: Callable[..., Any],
    seed: int,
    device: str,
) -> tuple[torch.nn.Module, list[float]]:
    """The training cell's run (``TRAINING``), from ``seed``: the model and its losses."""
    __tracebackhide__ = True
    settings = TRAINING
    torch.manual_seed(seed)
    model = call_language(CharLM, len(ALPHABET), settings["embed"], settings["hidden"])
    check_true(isinstance(model, torch.nn.Module), "CharLM must create an nn.Module.")
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings["lr"])
    ids = torch.from_numpy(load_text().ids("train"))
    streams = call_language(batchify, ids, settings["batch"]).to(device)
    losses, h, i = [], None, 0
    for _ in range(settings["steps"]):
        if i >= len(streams) - 1:  # a pass ends: start again, from a fresh state
            i, h = 0, None
        x, y = call_language(get_chunk, streams, i, settings["bptt"])
        attached = isinstance(h, torch.Tensor) and h.grad_fn is not None
        try:
            loss, h = call_language(train_step, model, optimizer, x, y, h, settings["max_norm"])
        except CheckFailure:
            check_true(
                not attached,
                "train_step failed on a chunk whose state, returned by the call before, is still "
                "attached to the graph of the chunk before: return h_n.detach() (the test of "
                "train_step says more).",
            )
            raise
        losses.append(float(loss.detach()) if isinstance(loss, torch.Tensor) else loss)
        i += settings["bptt"]
    return model, losses


def _probe_training(
    CharLM: Callable[..., Any],
    batchify: Callable[..., Any],
    get_chunk: Callable[..., Any],
    train_step: Callable[..., Any],
    seed: int,
    device: str,
    split: str,
) -> dict[str, Any]:
    """The notebook's training run again, with another seed: its losses and its score."""
    __tracebackhide__ = True
    run = attempt(_train, CharLM, batchify, get_chunk, train_step, seed, device)
    if "failure" in run:
        return {"module": True, "losses": None, "failure": run["failure"]}
    model, losses = run["value"]
    return {"module": True, "losses": losses, "bits": attempt(_bits, model, split)}


def check_lm_training(
    CharLM: Callable[..., Any],
    batchify: Callable[..., Any],
    get_chunk: Callable[..., Any],
    train_step: Callable[..., Any],
    seed: int,
    device: str = "cpu",
    split: str = "test",
) -> tuple:
    """The notebook's training run (``TRAINING``) from ``seed``, with the student's functions,
    beats the add-k trigram on the topics of ``split``. Returns (bits, baseline)."""
    __tracebackhide__ = True
    facts = run_probe(_probe_training, CharLM, batchify, get_chunk, train_step, seed, device, split)
    what = f"a model trained as in the training cell from the seed {seed}"
    if "failure" in facts:
        check_true(
            False,
            f"The training cell's run, repeated from the seed {seed}, stopped with an error. The "
            f"tests of batchify, get_chunk, CharLM and train_step say what to fix. The error:\n"
            + failure_text(facts["failure"]),
        )
    return _judge_trained(facts, TRAINING["steps"], split, what), baseline_bits(split)
