"""Checks of the two models of ``solutions/ex5_language/language_torch.ipynb``: the character
language model ``CharLM`` (Part 2) and the classifier of padded batches ``SequenceClassifier``
(Part 6).

Both are built from ``nn.Embedding``, ``nn.GRU`` and ``nn.Linear`` under the names the notebook
gives (``embedding``, ``gru``, ``head``): a probe builds the student's model, casts it to float64,
loads the weights of a seeded reference model into it by those names and runs it; the
comparisons with the reference run outside the probe, on the data it returned."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.compare import check_close, check_true, expect_tuple
from course_checks.ex5_language.torch_calls import call_language, describe
from course_checks.ex5_language.torch_references import reference_classifier, reference_lm
from course_checks.ex5_language.torch_wrong_answers import charlm_variants, classifier_variants
from course_checks.probes import attempt, outcome, run_probe

__all__ = ["check_charlm", "check_classifier", "classifier_batch", "lm_inputs"]

Shapes = Mapping[str, tuple[int, ...]]


def lm_inputs(seed: int, V: int, H: int, L: int, T: int, B: int) -> tuple[torch.Tensor, ...]:
    """Ids ``x (T, B)`` and a state ``h0 (L, B, H)`` (float64) drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.integers(0, V, size=(T, B)))
    return x, torch.from_numpy(rng.normal(scale=0.5, size=(L, B, H)))


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


def _loaded(model: nn.Module, reference: nn.Module) -> dict[str, Any]:
    """The facts about the student's ``model``, which gets ``reference``'s weights if it can."""
    facts: dict[str, Any] = {"module": isinstance(model, nn.Module), "type": describe(model)}
    if facts["module"]:
        facts["parameters"] = _shapes(model)
        if facts["parameters"] == _shapes(reference):
            model.double()
            model.load_state_dict(reference.state_dict())
    return facts


def _check_loaded(facts: Mapping[str, Any], expected: Shapes, what: str, layers: str) -> None:
    """Fail, naming the difference, unless the student's model has ``expected``'s parameters."""
    __tracebackhide__ = True
    check_true(
        facts["module"],
        f"{what} must create an nn.Module (a class that subclasses nn.Module); it made "
        f"{facts['type']}.",
    )
    got: Shapes = facts["parameters"]
    if dict(got) == dict(expected):
        return
    missing = [name for name in expected if name not in got]
    extra = [name for name in got if name not in expected]
    resized = [name for name in expected if name in got and got[name] != expected[name]]
    lines = [
        f"{what} does not have the parameters the test loads its weights into. It must hold "
        f"{layers}, under exactly these names."
    ]
    if missing:
        lines.append(f"  Missing: {', '.join(missing)}.")
    if extra:
        lines.append(f"  Not expected: {', '.join(extra)}.")
    for name in resized:
        lines.append(f"  {name} has shape {got[name]}; expected {expected[name]}.")
    if any("_l1" in name for name in missing):
        lines.append("  The GRU has one layer only: pass num_layers on to nn.GRU.")
    if any("_reverse" in name for name in missing):
        lines.append("  The GRU reads one direction only: pass bidirectional on to nn.GRU.")
    if "head.bias" in missing:
        lines.append("  The head has no bias: nn.Linear's default, bias=True, is wanted.")
    if "embedding.weight" in resized:
        lines.append("  nn.Embedding(V, embed) has one row of embed numbers per character.")
    if "head.weight" in resized:
        lines.append(
            "  The head maps the GRU's output (hidden numbers per direction) to one score per "
            "class or character: nn.Linear(hidden * directions, outputs)."
        )
    check_true(False, "\n".join(lines))


# ---------------------------------------------------------------------------- CharLM


def _probe_charlm(CharLM: Callable[..., Any], seed: int, sizes: dict[str, int]) -> dict:
    """The student's ``CharLM`` with the reference's weights, run with and without a state."""
    __tracebackhide__ = True
    V, E, H, L, T, B = (sizes[k] for k in ("V", "embed", "hidden", "num_layers", "T", "B"))
    torch.manual_seed(seed)
    model = call_language(CharLM, *((V, E, H) if L == 1 else (V, E, H, L)))
    reference = reference_lm(seed, V, E, H, L)
    facts = _loaded(model, reference)
    if facts.get("parameters") != _shapes(reference):
        return facts
    seen: list[tuple[int, ...]] = []
    model.embedding.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape)))
    x, h0 = lm_inputs(seed, V, H, L, T, B)
    model.eval()  # a dropout the student added changes nothing here
    with torch.no_grad():
        facts["without_state"] = attempt(call_language, model, x)
        facts["with_state"] = attempt(call_language, model, x, h0)
    facts["embedding_inputs"] = seen
    return facts


def check_charlm(
    CharLM: Callable[..., Any],
    seed: int,
    V: int,
    embed: int,
    hidden: int,
    T: int,
    B: int,
    num_layers: int = 1,
) -> float:
    """``CharLM(V, embed, hidden[, num_layers])`` computes the reference language model's logits
    ``(T, B, V)`` and state ``(num_layers, B, hidden)``, from ``h = None`` and from a given state.

    With ``num_layers=1`` the model is built without the argument (its default). Returns the
    largest difference from the reference.
    """
    __tracebackhide__ = True
    sizes = {"V": V, "embed": embed, "hidden": hidden, "num_layers": num_layers, "T": T, "B": B}
    facts = run_probe(_probe_charlm, CharLM, seed, sizes)
    built = f"CharLM({V}, {embed}, {hidden}" + (f", {num_layers})" if num_layers > 1 else ")")
    reference = reference_lm(seed, V, embed, hidden, num_layers)
    _check_loaded(
        facts,
        _shapes(reference),
        built,
        "self.embedding = nn.Embedding(V, embed), self.gru = nn.GRU(embed, hidden, num_layers) "
        "and self.head = nn.Linear(hidden, V)",
    )
    one_hot = [shape for shape in facts["embedding_inputs"] if len(shape) > 2]
    check_true(
        not one_hot,
        f"{built}.forward gave self.embedding a tensor of shape {one_hot[0] if one_hot else ()}, "
        f"one-hot vectors of the ids: nn.Embedding takes the ids (T, B) themselves and looks up "
        f"one row per id (the same numbers as a one-hot vector times the embedding matrix).",
    )
    x, h0 = lm_inputs(seed, V, hidden, num_layers, T, B)
    worst = 0.0
    for key, h in (("without_state", None), ("with_state", h0)):
        call = f"{built}.forward(x) with x of shape ({T}, {B})" + (
            f" and a given state h of shape ({num_layers}, {B}, {hidden})" if h is not None else ""
        )
        logits, h_n = expect_tuple(outcome(facts[key]), ("logits", "h_n"), f"{built}.forward")
        with torch.no_grad():
            want_logits, want_h = reference(x, h)
        _check_lm_shapes(logits, h_n, (T, B, V), (num_layers, B, hidden), call)
        check_close(
            f"the logits of {call}",
            logits,
            want_logits,
            mistakes=charlm_variants(reference, x, h),
            hint="forward runs the embedding, the GRU (from the state h) and the head on every "
            "step's output: logits = self.head(output).",
        )
        check_close(f"the state h_n of {call}", h_n, want_h, hint="return the GRU's own h_n.")
        worst = max(worst, float((logits - want_logits).abs().max()))
    return worst


def _check_lm_shapes(
    logits: Any, h_n: Any, logit_shape: tuple, state_shape: tuple, call: str
) -> None:
    __tracebackhide__ = True
    T, B, V = logit_shape
    L, _, H = state_shape
    for name, value in (("logits", logits), ("h_n", h_n)):
        check_true(
            isinstance(value, torch.Tensor),
            f"{call} returned {describe(value)} as {name}; it must return the pair of tensors "
            f"(logits, h_n).",
        )
    shape = tuple(logits.shape)
    check_true(
        shape == logit_shape or shape not in ((B, V), (L, B, V)),
        f"the logits of {call} have shape {shape}: the head was applied to the final state h_n "
        f"only. A language model predicts the next character at every step: apply the head to "
        f"the GRU's output, (T, B, H), to get logits of shape {logit_shape}.",
    )
    check_true(
        shape == logit_shape,
        f"the logits of {call} have shape {shape}; expected (T, B, V) = {logit_shape}.",
    )
    shape = tuple(h_n.shape)
    check_true(
        shape != (T, B, H) or shape == state_shape,
        f"the state returned by {call} has shape {shape}, the GRU's output: return its final "
        f"state h_n, (num_layers, B, H) = {state_shape}, the state to carry into the next chunk.",
    )
    check_true(
        shape != (L, T, H) or shape == state_shape,
        f"the state returned by {call} has shape {shape} = (num_layers, T, H): the GRU treats the "
        f"first axis as the batch (batch_first=True). The course's sequences are time-major.",
    )
    check_true(
        shape == state_shape,
        f"the state returned by {call} has shape {shape}; expected (num_layers, B, H) = "
        f"{state_shape}, the GRU's h_n.",
    )


# ---------------------------------------------------------------------------- classifier


def classifier_batch(seed: int, V: int, T: int, B: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded batch from ``seed``: ids ``x (T, B)`` in ``1 … V − 1``, 0 after each sequence's
    end, and the ``lengths (B,)``, unsorted, the longest ``T`` and at least one shorter."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, T + 1, size=B)
    first, second = rng.permutation(B)[:2]
    lengths[first], lengths[second] = T, rng.integers(1, max(2, T // 2) + 1)
    if np.all(np.diff(lengths) <= 0):  # sorted: the sorting mistakes would not show
        lengths = lengths[::-1].copy()
    x = rng.integers(1, V, size=(T, B))
    x[np.arange(T)[:, None] >= lengths[None, :]] = 0
    return torch.from_numpy(x), torch.from_numpy(lengths.astype(np.int64))


def _probe_classifier(Classifier: Callable[..., Any], seed: int, sizes: dict[str, Any]) -> dict:
    """The student's classifier with the reference's weights: the batch, the batch with more
    padding, and each sequence alone."""
    __tracebackhide__ = True
    V, E, H, C, two = (sizes[k] for k in ("V", "embed", "hidden", "classes", "bidirectional"))
    torch.manual_seed(seed)
    model = call_language(Classifier, *((V, E, H, C, True) if two else (V, E, H, C)))
    reference = reference_classifier(seed, V, E, H, C, two)
    facts = _loaded(model, reference)
    if facts.get("parameters") != _shapes(reference):
        return facts
    x, lengths = classifier_batch(seed, V, sizes["T"], sizes["B"])
    padded = torch.cat([x, torch.zeros(sizes["extra"], x.shape[1], dtype=x.dtype)])
    model.eval()  # a dropout the student added changes nothing here
    with torch.no_grad():
        facts["batch"] = attempt(call_language, model, x, lengths)
        facts["padded"] = attempt(call_language, model, padded, lengths)
        facts["alone"] = attempt(
            lambda: [
                call_language(model, x[: int(n), b : b + 1], lengths[b : b + 1])
                for b, n in enumerate(lengths)
            ]
        )
    return facts


def check_classifier(
    SequenceClassifier: Callable[..., Any],
    seed: int,
    V: int,
    embed: int,
    hidden: int,
    classes: int,
    T: int,
    B: int,
    extra: int,
    bidirectional: bool = False,
) -> float:
    """``SequenceClassifier(V, embed, hidden, classes[, bidirectional=True])`` gives the packed
    reference's logits ``(B, classes)`` on a padded batch, on the same batch with ``extra`` more
    padding characters, and on each sequence alone. Returns the largest difference."""
    __tracebackhide__ = True
    sizes = {"V": V, "embed": embed, "hidden": hidden, "classes": classes}
    sizes |= {"bidirectional": bidirectional, "T": T, "B": B, "extra": extra}
    facts = run_probe(_probe_classifier, SequenceClassifier, seed, sizes)
    built = f"SequenceClassifier({V}, {embed}, {hidden}, {classes}" + (
        ", bidirectional=True)" if bidirectional else ")"
    )
    reference = reference_classifier(seed, V, embed, hidden, classes, bidirectional)
    _check_loaded(
        facts,
        _shapes(reference),
        built,
        "self.embedding = nn.Embedding(V, embed), self.gru = nn.GRU(embed, hidden, "
        "bidirectional=bidirectional) and self.head = nn.Linear(hidden * directions, classes)",
    )
    x, lengths = classifier_batch(seed, V, T, B)
    padded = torch.cat([x, torch.zeros(extra, B, dtype=x.dtype)])
    shown = ", ".join(str(int(n)) for n in lengths)
    worst = 0.0
    for key, inputs, what in (
        ("batch", x, f"a batch of {B} sequences of lengths {shown}, padded to T = {T}"),
        (
            "padded",
            padded,
            f"the same batch with {extra} more padding characters (T = {T + extra})",
        ),
    ):
        logits = outcome(facts[key])
        check_true(
            isinstance(logits, torch.Tensor) and tuple(logits.shape) == (B, classes),
            f"{built}.forward on {what} returned {describe(logits)}; expected logits of shape "
            f"(B, classes) = {(B, classes)}, one row of scores per sequence.",
        )
        with torch.no_grad():
            expected = reference(inputs, lengths)
        check_close(
            f"the logits of {built} on {what}",
            logits,
            expected,
            mistakes=classifier_variants(reference, inputs, lengths),
            hint="the head reads each sequence's final state at its own length (for two "
            "directions: the forward one at the last real character and the backward one at "
            "the first, concatenated forward first).",
        )
        worst = max(worst, float((logits - expected).abs().max()))
    alone = outcome(facts["alone"])
    for b, (n, row) in enumerate(zip(lengths, alone, strict=True)):
        with torch.no_grad():
            expected = reference(x[: int(n), b : b + 1], lengths[b : b + 1])
        check_close(
            f"the logits of {built} on sequence {b} alone (length {int(n)}, no padding)",
            row,
            expected,
        )
    return worst
