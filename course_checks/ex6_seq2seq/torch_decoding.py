"""Checks of Part 6 of ``solutions/ex6_seq2seq/seq2seq_torch.ipynb``: greedy decoding and beam
search with length normalisation.

Both run a small float64 reference model with the notebook's ``Seq2Seq`` interface
(``torch_references.ReferenceSeq2Seq``: ``encode`` and ``step``), whose output layer is scaled up
so that its next-token distributions are far from uniform, and which, like a trained model, gives
the padding and the start token almost no probability (a bias of −30), so that a search that
leaves them out finds the same outputs. The model logs the tokens it was fed, which tells a test
what a function fed back. Beam search is checked by two properties that any correct
implementation of the notebook's algorithm has: with a beam of width 1 it is greedy decoding;
and on a model small enough for every output to be scored (six tokens, three steps), a beam wide
enough to keep every hypothesis finds the output with the best normalised score, and returns that
score."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import numpy as np
import torch

from course_checks.compare import check_close, check_true, expect_tuple
from course_checks.ex6_seq2seq.torch_calls import call_seq2seq, describe, failure_text
from course_checks.ex6_seq2seq.torch_references import (
    END,
    PAD,
    START,
    all_sequences,
    random_batch,
    reference_beam_search,
    reference_greedy,
    reference_model,
    sequence_scores,
)
from course_checks.ex6_seq2seq.torch_wrong_answers import BEAM_VARIANTS, GREEDY_VARIANTS
from course_checks.probes import attempt, outcome, run_probe

__all__ = [
    "as_ids",
    "beam_case",
    "check_beam_search",
    "check_greedy",
    "decoding_model",
    "greedy_case",
]

_TINY = {"V_tgt": 6, "max_len": 3, "width": 200}  # every output of 3 steps: 1 + 5 + 25 + 125


def decoding_model(seed: int, V_tgt: int, *, scale: float = 3.0) -> torch.nn.Module:
    """A small float64 reference model for the decoding tests: its output layer times ``scale``,
    the padding and the start token at −30 (never chosen, as by a trained model)."""
    sizes = {"V_src": 11, "V_tgt": V_tgt, "embed": 4, "hidden": 3, "size": 4}
    model = reference_model(seed, sizes, scale=scale).eval()
    with torch.no_grad():
        model.decoder.out.bias[PAD] = model.decoder.out.bias[START] = -30.0
    return model


def as_ids(value: Any) -> list[int] | None:
    """A list of ids from a list, tuple, array or 1-D tensor of integers; None for anything else."""
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


# ------------------------------------------------------------------------------ greedy


@cache
def _greedy_seed(seed: int, B: int, max_len: int) -> int:
    for k in range(500):
        model_seed = seed * 1000 + k
        model = decoding_model(model_seed, 9)
        src, lengths, _ = random_batch(model_seed, 11, 9, 6, 2, B)
        rows = reference_greedy(model, src, lengths, max_len, cut=False)
        ends = [row.index(END) if END in row else max_len for row in rows]
        if len({e for e in ends if e < max_len}) >= 2 and max_len in ends and min(ends) > 0:
            return model_seed
    raise AssertionError(f"a course bug: no greedy case found from seed {seed}")


def greedy_case(seed: int, B: int, max_len: int) -> tuple[int, tuple[torch.Tensor, ...]]:
    """``(model seed, (src, lengths))`` from ``seed``: the first model seed whose greedy outputs
    end at two or more different steps before ``max_len`` and, for one source, not at all (so
    that the stopping and the cutting show). New tensors at every call."""
    model_seed = _greedy_seed(seed, B, max_len)
    src, lengths, _ = random_batch(model_seed, 11, 9, 6, 2, B)
    return model_seed, (src, lengths)


def _probe_greedy(greedy_decode: Callable[..., Any], seed: int, B: int, max_len: int) -> dict:
    """What ``greedy_decode`` returns, and the tokens it fed the model at each step."""
    __tracebackhide__ = True
    model_seed, (src, lengths) = greedy_case(seed, B, max_len)
    model = decoding_model(model_seed, 9)
    result = attempt(call_seq2seq, greedy_decode, model, src, lengths, max_len)
    if "value" in result and isinstance(result["value"], list | tuple):
        result["value"] = [
            v.detach().cpu() if isinstance(v, torch.Tensor) else v for v in result["value"]
        ]
    elif "value" in result and isinstance(result["value"], torch.Tensor):
        result["value"] = result["value"].detach().cpu()
    return {"outputs": result, "fed": [entry["y_prev"] for entry in model.log]}


def check_greedy(greedy_decode: Callable[..., Any], seed: int, *, B: int = 5, max_len: int = 7):
    """``greedy_decode(model, src, lengths, max_len)`` gives the reference's outputs: each
    source's argmax tokens fed back, up to (without) its end token. Returns the outputs."""
    __tracebackhide__ = True
    facts = run_probe(_probe_greedy, greedy_decode, seed, B, max_len)
    model_seed, (src, lengths) = greedy_case(seed, B, max_len)
    model = decoding_model(model_seed, 9)
    call = (
        f"greedy_decode(model, src, lengths, max_len={max_len}) on {B} sources of lengths "
        f"{', '.join(str(int(n)) for n in lengths)}"
    )
    got = outcome(facts["outputs"])
    rows = [as_ids(row) for row in got] if isinstance(got, list | tuple) else None
    if isinstance(got, torch.Tensor) and got.dim() == 2:
        check_true(
            False,
            f"{call} returned {describe(got)}; return a list of {B} lists of ids, one per source, "
            f"each cut before its first end token (they have different lengths).",
        )
    check_true(
        rows is not None and len(rows) == B and all(r is not None for r in rows),
        f"{call} returned {describe(got)}; return a list of {B} lists of ids (ints), one per "
        f"source.",
    )
    expected = reference_greedy(model, src, lengths, max_len)
    if rows == expected:
        return rows
    wrong = {
        text: reference_greedy(model, src, lengths, max_len, **switches)
        for text, switches in GREEDY_VARIANTS.items()
    }
    named = [text for text, value in wrong.items() if value == rows and value != expected]
    fed = facts["fed"]
    lines = [f"{call} is not the reference's greedy output."]
    for b, (row, want) in enumerate(zip(rows, expected, strict=True)):
        if row != want:
            lines.append(f"  source {b}: expected {want}, got {row}")
    if named:
        lines.append(f"  Likely mistake: {named[0]}.")
    elif len(fed) > 1 and all(bool((y == START).all()) for y in fed):
        lines.append(f"  Likely mistake: {next(iter(GREEDY_VARIANTS))}.")
    elif any(END in row for row in rows):
        lines.append("  An output holds the end token: cut each output before its first end token.")
    else:
        lines.append(
            "  Greedy decoding starts every source with the start token and feeds back, at each "
            "step, the argmax of the step's logits (logits.argmax(dim=-1)), with the state; it "
            "stops when every source has emitted the end token, or after max_len steps."
        )
    check_true(False, "\n".join(lines))


# ------------------------------------------------------------------------------ beam search


@cache
def _beam_seed(seed: int, alpha: float) -> int:
    sequences = all_sequences(_TINY["V_tgt"], _TINY["max_len"])
    L = np.array([len(seq) for seq in sequences])
    width, max_len = _TINY["width"], _TINY["max_len"]
    for k in range(500):
        model_seed = seed * 1000 + k
        model = decoding_model(model_seed, _TINY["V_tgt"], scale=2.0)
        src, lengths, _ = random_batch(model_seed, 11, 6, 4, 2, 1)
        normalised = np.array(sequence_scores(model, src, lengths, sequences)) / L**alpha
        ranked = np.sort(normalised)[::-1]
        best = sequences[int(np.argmax(normalised))]
        greedy = reference_greedy(model, src, lengths, max_len, cut=False)[0]
        if best == greedy or ranked[0] - ranked[1] < 1e-3:
            continue
        right = reference_beam_search(model, src, lengths, width, max_len, alpha)
        shown = [
            reference_beam_search(model, src, lengths, width, max_len, alpha, **switches)
            for switches in BEAM_VARIANTS.values()
        ]
        if all(  # every mistake shows, by its output or its score (alpha = 0: some cannot)
            w[0] != right[0] or abs(w[1] - right[1]) > 1e-3
            for w, switches in zip(shown, BEAM_VARIANTS.values(), strict=True)
            if alpha > 0 or "score" in switches
        ):
            return model_seed
    raise AssertionError(f"a course bug: no beam case found from seed {seed}")


def beam_case(seed: int, alpha: float) -> tuple[int, torch.Tensor, torch.Tensor]:
    """``(model seed, src (S, 1), lengths)`` from ``seed``: the first tiny model whose best output
    under length normalisation ``alpha`` is not the greedy one, beats the next best by 1e-3, and
    on which every mistake of ``BEAM_VARIANTS`` that can change the answer at this ``alpha``
    gives another output or score, so that a narrow beam and each mistake show. New tensors at
    every call."""
    model_seed = _beam_seed(seed, alpha)
    src, lengths, _ = random_batch(model_seed, 11, 6, 4, 2, 1)
    return model_seed, src, lengths


def _exhaustive_best(alpha: float, seed: int) -> tuple[list[int], float]:
    """The output with the best normalised score of the tiny model, by scoring every one."""
    model_seed, src, lengths = beam_case(seed, alpha)
    model = decoding_model(model_seed, _TINY["V_tgt"], scale=2.0)
    sequences = all_sequences(_TINY["V_tgt"], _TINY["max_len"])
    totals = sequence_scores(model, src, lengths, sequences)
    scores = [total / len(seq) ** alpha for total, seq in zip(totals, sequences, strict=True)]
    best = int(np.argmax(scores))
    ids = sequences[best]
    return (ids[:-1] if ids[-1] == END else ids), scores[best]


def _greedy_sources(seed: int) -> tuple[int, torch.Tensor, torch.Tensor]:
    model_seed, (src, lengths) = greedy_case(seed, 4, 7)
    return model_seed, src, lengths


def _probe_beam(beam_search: Callable[..., Any], seed: int, alphas: list[float]) -> dict:
    """Beam search of width 1 on each source of the greedy case; then, for each ``alpha``, a beam
    wide enough to keep every hypothesis on the tiny model."""
    __tracebackhide__ = True
    facts: dict[str, Any] = {}
    model_seed, src, lengths = _greedy_sources(seed)
    model = decoding_model(model_seed, 9)
    for b, n in enumerate(lengths.tolist()):
        facts[f"narrow {b}"] = attempt(
            call_seq2seq, beam_search, model, src[:n, b : b + 1], lengths[b : b + 1], 1, 7, 0.7
        )
    for alpha in alphas:
        model_seed, src, lengths = beam_case(seed, alpha)
        model = decoding_model(model_seed, _TINY["V_tgt"], scale=2.0)
        facts[f"wide {alpha}"] = attempt(
            call_seq2seq,
            beam_search,
            model,
            src,
            lengths,
            _TINY["width"],
            _TINY["max_len"],
            alpha,
        )
    return facts


def _ids_and_score(result: Any, call: str) -> tuple[list[int], float]:
    __tracebackhide__ = True
    ids, score = expect_tuple(result, ("ids", "score"), call)
    got = as_ids(ids)
    check_true(
        got is not None,
        f"{call} returned {describe(ids)} as the ids; return a list of ints, the best "
        f"hypothesis's tokens without the end token.",
    )
    if isinstance(score, torch.Tensor) and score.numel() == 1:
        score = float(score)
    check_true(
        isinstance(score, float | int) and not isinstance(score, bool),
        f"{call} returned {describe(score)} as the score; return a Python float, the best "
        f"hypothesis's normalised score.",
    )
    return got, float(score)


def check_beam_search(
    beam_search: Callable[..., Any], seed: int, alphas: tuple[float, ...] = (1.0, 0.0)
) -> list[tuple[list[int], float]]:
    """``beam_search(model, src, lengths, beam_width, max_len, alpha)`` for one source: with a
    beam of width 1, the greedy output; with a beam wide enough to keep every hypothesis of a tiny
    model, for each of ``alphas``, the output of the best normalised score ``Σ log p / L ** alpha``
    (found by scoring every output) and that score. Returns the wide beams' answers."""
    __tracebackhide__ = True
    facts = run_probe(_probe_beam, beam_search, seed, list(alphas))
    model_seed, src, lengths = _greedy_sources(seed)
    model = decoding_model(model_seed, 9)
    for b, n in enumerate(lengths.tolist()):
        call = f"beam_search(model, src, lengths, beam_width=1, max_len=7, alpha=0.7) on source {b}"
        result = facts[f"narrow {b}"]
        if "failure" in result:
            check_true(False, f"{call} failed:\n" + failure_text(result["failure"]))
        ids, _ = _ids_and_score(result["value"], call)
        want = reference_greedy(model, src[:n, b : b + 1], lengths[b : b + 1], 7)[0]
        check_true(
            ids == want,
            f"{call} is not the greedy output.\n  expected: {want}\n  got:      {ids}\n"
            f"  With one hypothesis in the beam, each step keeps the single most likely "
            f"extension (the argmax), a hypothesis that ends with the end token leaves the beam "
            f"finished, and the search stops when the beam is empty: that is greedy decoding. "
            f"(Do not refill the beam with other extensions when a hypothesis finishes.)",
        )
    answers = []
    for alpha in alphas:
        model_seed, src, lengths = beam_case(seed, alpha)
        call = (
            f"beam_search(model, src, lengths, beam_width={_TINY['width']}, "
            f"max_len={_TINY['max_len']}, alpha={alpha:g}) on a model of {_TINY['V_tgt']} target "
            f"tokens, whose every output can be scored"
        )
        result = facts[f"wide {alpha}"]
        if "failure" in result:
            check_true(False, f"{call} failed:\n" + failure_text(result["failure"]))
        ids, score = _ids_and_score(result["value"], call)
        best, best_score = _exhaustive_best(alpha, seed)
        model = decoding_model(model_seed, _TINY["V_tgt"], scale=2.0)
        wrong = {
            text: reference_beam_search(
                model, src, lengths, _TINY["width"], _TINY["max_len"], alpha, **switches
            )
            for text, switches in BEAM_VARIANTS.items()
        }
        named = [t for t, (w_ids, _) in wrong.items() if w_ids == ids and w_ids != best]
        exact = [t for t in named if math.isclose(wrong[t][1], score, rel_tol=1e-6, abs_tol=1e-6)]
        named = exact or named  # the mistakes that give this score too, if any
        if ids != best:
            lines = [
                f"{call} did not find the output with the best normalised score.",
                f"  expected: {best} (score {best_score:.6g})",
                f"  got:      {ids} (returned score {score:.6g})",
            ]
            if len(named) == 1:
                lines.append(f"  Likely mistake: {named[0]}.")
            elif named:
                lines.append("  Likely mistake, one of these (they give this output here):")
                lines += [f"    - {text}" for text in named]
            else:
                lines.append(
                    "  A beam this wide keeps every hypothesis, so the search must find the best "
                    "one: extend every live hypothesis by every token, score each by the sum of "
                    "its tokens' log-probabilities, keep the beam_width best, move those that end "
                    "with the end token to the finished ones (score / L ** alpha, L counting the "
                    "end token), and at the end rank the finished and the still-live hypotheses "
                    "by that normalised score."
                )
            check_true(False, "\n".join(lines))
        scored = {
            t: w_score
            for t, (w_ids, w_score) in wrong.items()
            if w_ids == ids and not math.isclose(w_score, best_score, abs_tol=1e-6)
        }
        check_close(
            f"the score {call} returned for its best output {ids}",
            score,
            best_score,
            dtype=None,
            mistakes=scored,
            hint="the score is the sum of the output's log-probabilities (the end token's "
            "included) divided by L ** alpha, L the number of tokens with the end token.",
        )
        answers.append((ids, score))
    return answers
