"""Checks of Part 5 of ``solutions/ex5_language/language_torch.ipynb``: sampling with a
temperature, ``sample(model, prompt_ids, length, temperature, seed)``.

The notebook states the protocol exactly (the prompt read first; at each step
``p = softmax(u / τ)`` of the last logits and one draw ``torch.multinomial(p, 1,
generator=generator)`` from one generator seeded with ``seed``; ``τ = 0`` the argmax, without a
draw), so a seeded answer can be compared id for id with the reference's. The model is a small
float64 reference language model whose head is scaled up, so that its next-character
distributions are far from uniform and the temperature matters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from course_checks.compare import check_true
from course_checks.ex5_language.torch_calls import call_language, describe, failure_text
from course_checks.ex5_language.torch_references import reference_lm, reference_sample
from course_checks.ex5_language.torch_wrong_answers import SAMPLE_VARIANTS
from course_checks.probes import attempt, outcome, run_probe

__all__ = ["check_sample", "sampling_cases"]

_SIZES = {"V": 11, "embed": 5, "hidden": 8, "scale": 4.0}


def _model(seed: int) -> torch.nn.Module:
    return reference_lm(seed, _SIZES["V"], _SIZES["embed"], _SIZES["hidden"], scale=_SIZES["scale"])


def sampling_cases(seed: int) -> list[tuple[str, float, int]]:
    """``(what, temperature, seed)`` of each sample a test draws: greedy, the temperatures 1,
    0.5 and 2, a temperature close to 0, and the first case again with the same seed."""
    return [
        ("greedy", 0.0, seed),
        ("τ = 1", 1.0, seed + 1),
        ("τ = 0.5", 0.5, seed + 2),
        ("τ = 2", 2.0, seed + 3),
        ("τ = 0.001, close to 0", 1e-3, seed + 4),
        ("τ = 1 again, with the same seed", 1.0, seed + 1),
    ]


def _prompt(seed: int, size: int) -> list[int]:
    return [int(i) for i in np.random.default_rng(seed).integers(0, _SIZES["V"], size=size)]


def _probe_sample(sample: Callable[..., Any], seed: int, size: int, length: int) -> dict:
    """Each case's sample, and how the model was called for it (the inputs' lengths, whether a
    state came in)."""
    __tracebackhide__ = True
    model = _model(seed).eval()
    prompt = _prompt(seed, size)
    facts: dict[str, Any] = {}
    for index, (_, temperature, draw_seed) in enumerate(sampling_cases(seed)):
        model.log.clear()
        result = attempt(call_language, sample, model, list(prompt), length, temperature, draw_seed)
        if "value" in result and isinstance(result["value"], torch.Tensor):
            result["value"] = result["value"].detach().cpu()
        facts[f"sample {index}"] = result
        facts[f"calls {index}"] = [(entry["T"], entry["state"]) for entry in model.log]
    return facts


def _as_ids(value: Any) -> list[int] | None:
    """A list of ids from a list, tuple, array or tensor of integers; None for anything else."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.ndim != 1 or value.dtype.kind not in "iu":
            return None
        return [int(v) for v in value]
    if isinstance(value, list | tuple) and all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) for v in value
    ):
        return [int(v) for v in value]
    return None


def check_sample(sample: Callable[..., Any], seed: int, *, prompt: int = 4, length: int = 12):
    """Seeded samples of ``length`` ids after a prompt of ``prompt`` ids, at the temperatures of
    :func:`sampling_cases`, equal the reference's id for id. Returns the samples."""
    __tracebackhide__ = True
    facts = run_probe(_probe_sample, sample, seed, prompt, length)
    model = _model(seed).eval()
    prompt_ids = _prompt(seed, prompt)
    cases = sampling_cases(seed)
    answers = {index: _as_ids(facts[f"sample {index}"].get("value")) for index in range(len(cases))}
    samples = []
    for index, (what, temperature, draw_seed) in enumerate(cases):
        call = (
            f"sample(model, prompt_ids, length={length}, temperature={temperature:g}, "
            f"seed={draw_seed}) ({what}), with a prompt of {prompt} ids"
        )
        result = facts[f"sample {index}"]
        if "failure" in result and temperature == 0:
            check_true(
                False,
                f"{call} failed. At τ = 0 take the most likely character, u.argmax(), without a "
                f"draw: softmax(u / 0) divides by zero. The error:\n"
                + failure_text(result["failure"]),
            )
        got = outcome(result)
        ids = _as_ids(got)
        check_true(
            ids is not None,
            f"{call} returned {describe(got)}; return the {length} new ids as a list of ints.",
        )
        check_true(
            len(ids) != length + prompt,
            f"{call} returned {len(ids)} ids, the prompt and the {length} new ones: return only "
            f"the new ids.",
        )
        check_true(len(ids) == length, f"{call} returned {len(ids)} ids; expected {length}.")
        check_true(
            all(0 <= i < _SIZES["V"] for i in ids),
            f"{call} returned ids outside 0 … V − 1 = {_SIZES['V'] - 1}: {ids}.",
        )
        expected = reference_sample(model, prompt_ids, length, temperature, draw_seed)
        if ids != expected:
            named = _mistakes_matching(answers, model, prompt_ids, length, seed)
            _explain(call, ids, expected, facts[f"calls {index}"], named, index == len(cases) - 1)
        samples.append(ids)
    return samples


def _mistakes_matching(
    answers: dict[int, list[int] | None],
    model: torch.nn.Module,
    prompt: list[int],
    length: int,
    seed: int,
) -> list[str]:
    """The mistakes whose samples are the student's in every case the student answered (and
    differ from the right ones in at least one)."""
    named = []
    for text, switches in SAMPLE_VARIANTS.items():
        same, differs = True, False
        for index, (_, temperature, draw_seed) in enumerate(sampling_cases(seed)):
            if answers[index] is None:
                continue
            wrong = reference_sample(model, prompt, length, temperature, draw_seed, **switches)
            same = same and wrong == answers[index]
            differs = differs or wrong != reference_sample(model, prompt, length, temperature,
                                                          draw_seed)  # fmt: skip
        if same and differs:
            named.append(text)
    return named


def _explain(
    call: str, ids: list[int], expected: list[int], calls: list, named: list[str], again: bool
) -> None:
    """Fail, naming the mistake whose samples these are, if one is."""
    __tracebackhide__ = True
    first = next(k for k, (a, b) in enumerate(zip(ids, expected, strict=True)) if a != b)
    lines = [
        f"{call} is not the reference's sample.",
        f"  expected: {expected}",
        f"  got:      {ids}",
        f"  They differ first at the new id number {first}.",
    ]
    if again:
        lines.append(
            "  The same call with the same seed gave another sample before: draw from one "
            "generator seeded with `seed`, torch.Generator().manual_seed(seed), passed to "
            "torch.multinomial(p, 1, generator=generator), never from the global generator."
        )
    elif len(named) == 1:
        lines.append(f"  Likely mistake: {named[0]}.")
    elif named:
        lines.append("  Likely mistake, one of these (they give the same samples here):")
        lines += [f"    - {text}" for text in named]
    elif len(calls) > 1 and not any(state for _, state in calls[1:]):
        lines.append(
            "  The model was called without a state after the first call, and the "
            "sample differs: carry the state h from each call into the next (reading the whole "
            "text again from the start at every step is right too, only slower)."
        )
    else:
        lines.append(
            "  Follow the protocol exactly: read the prompt, then at each step p = softmax(u / τ) "
            "of the last step's logits u = logits[-1, 0], one draw torch.multinomial(p, 1, "
            "generator=generator) (on the CPU), and feed the drawn id back with the state."
        )
    check_true(False, "\n".join(lines))
