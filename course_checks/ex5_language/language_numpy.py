"""Checks of Exercise 5's NumPy notebook (``ex5_language/language_numpy``): scoring text.

The log-softmax, the summed cross-entropy and its gradient are compared with PyTorch
(``references.py``), on moderate logits and on logits of magnitude 1000, where only a stable
formula stays finite; perplexity and bits per character on texts scored in batches of equal and
of different sizes, where averaging the wrong thing shows; the add-k n-gram model on contexts
seen often, never seen, and at the very end of the training text. Each check passes the values
of the known mistakes (``wrong_answers.py``), so that a failure names the likely one; public and
hidden tests call the same checks on other seeds and sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from course_checks.calls import call_with_shapes, changed_arguments
from course_checks.compare import check_close, check_gradient, check_true, rel_error
from course_checks.ex5_language.references import (
    add_k_distribution,
    add_k_log_probs,
    corpus_bits_per_character,
    corpus_perplexity,
    ngram_counts,
    random_text,
    torch_cross_entropy,
    torch_cross_entropy_gradient,
    torch_log_softmax,
)
from course_checks.ex5_language.wrong_answers import (
    backward_mistakes,
    bits_mistakes,
    cross_entropy_mistakes,
    distribution_mistakes,
    log_prob_mistakes,
    log_softmax_mistakes,
    perplexity_mistakes,
)
from course_checks.gradients import numerical_gradient

__all__ = [
    "LANGUAGE_SHAPES",
    "batch_cases",
    "check_add_k_log_probs",
    "check_add_k_probability",
    "check_bits_per_character",
    "check_cross_entropy",
    "check_cross_entropy_backward",
    "check_log_softmax",
    "check_perplexity",
    "gradient_check",
    "logits_cases",
    "ngram_case",
]

# The shape sentence of calls.call's hint is written for the RNN; this one names the logits'.
LANGUAGE_SHAPES = (
    "Shapes: sequences are time-major: the logits u are (T, B, V), one row of V scores for each "
    "time step and sequence, so the V characters are the last axis (axis=-1); targets are "
    "(T, B) integer ids, one per position. Check which axis you reduce over, and keep it with "
    "keepdims=True so that the result broadcasts against u."
)
_LOG_SOFTMAX = (
    "log_softmax(u) = u − m − log Σ_j exp(u_j − m) along the last axis, with "
    "m = np.max(u, axis=-1, keepdims=True): every row u[t, b] is a distribution of its own."
)
_CROSS_ENTROPY = (
    "cross_entropy(u, targets) = −Σ_{t, b} log_softmax(u)[t, b, targets[t, b]], one number "
    "summed over all T·B positions; it can call your log_softmax (if that function's test "
    "fails, fix it first)."
)
_BACKWARD = (
    "for the summed loss dL/du = softmax(u) − one_hot(targets), shape (T, B, V): at every "
    "position the softmax of its own row, with 1 subtracted at the target's entry."
)
_WHOLE_TEXT = (
    "the text's N = Σ N_i characters carry the summed loss L = Σ L_i (nats); perplexity is "
    "exp(L / N) and bits per character L / (N · ln 2), whatever the sizes of the batches."
)
_ADD_K = (
    "P(w | h) = (c(h w) + k) / (c(h) + k·V) for each of the V characters w, where c(h w) counts "
    "the n-grams of the training text made of the context h followed by w and c(h) = Σ_w c(h w); "
    "the V probabilities sum to 1."
)
_LOG_PROBS = (
    "entry j is log P(test_ids[i] | test_ids[i − n + 1 : i]) for i = j + n − 1, that is for "
    "every test character with n − 1 characters before it, under add-k probabilities counted "
    "on train_ids (your add_k_probability); natural logarithms."
)


def _call(function: Callable[..., Any], *args: Any) -> Any:
    """``calls.call``, with the logits' shapes in the hint that follows a shape error."""
    __tracebackhide__ = True
    return call_with_shapes(LANGUAGE_SHAPES, function, *args)


# ----------------------------------------------------------------------------------- logits


def logits_cases(seed: int, T: int, B: int, V: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, u, targets)``: moderate logits, logits of magnitude 1000, rows far apart.

    In the large case the first position's target is its row's smallest logit, thousands below
    the largest, whose probability underflows to 0 in float64; the rows of the last case are
    shifted by offsets spread evenly over [−1000, 1000] (``T·B ≥ 2``).
    """
    rng = np.random.default_rng(seed)
    shape = (T, B, V)
    moderate = rng.normal(size=shape)
    large = 1000.0 * rng.normal(size=shape)
    offsets = rng.permutation(np.linspace(-1000.0, 1000.0, T * B)).reshape(T, B, 1)
    apart = rng.normal(size=shape) + offsets
    targets = [rng.integers(V, size=(T, B)) for _ in range(3)]
    targets[1][0, 0] = np.argmin(large[0, 0])
    sizes = f"T={T}, B={B}, V={V}"
    return [
        (f"moderate logits, standard normal; {sizes}", moderate, targets[0]),
        (f"large logits, standard deviation 1000, where exp(u) overflows; {sizes}", large,
         targets[1]),
        (f"rows far apart: each row u[t, b] shifted by its own offset, from −1000 to +1000; "
         f"{sizes}", apart, targets[2]),
    ]  # fmt: skip


def _check_on_logits(
    function: Callable[..., Any],
    what: str,
    cases: list[tuple[str, np.ndarray, np.ndarray]],
    reference: Callable[..., Any],
    mistakes: Callable[..., Any],
    hint: str,
    *,
    with_targets: bool = True,
    kind: str | None = "numpy",
) -> None:
    """``function(u[, targets])`` on each case against ``reference``, naming ``mistakes``.

    Without targets (``log_softmax``), the function must also leave ``u`` as it was.
    """
    __tracebackhide__ = True
    for label, u, targets in cases:
        inputs = (u, targets) if with_targets else (u,)
        got = _call(function, *(array.copy() for array in inputs))
        check_true(
            with_targets or not changed_arguments(function),
            f"{what} changed its input u in place (u -= ... or u[...] = ...): compute the "
            "result in a new array, u - m, so that the caller's logits stay as they were.",
        )
        check_close(
            f"{what} ({label})",
            got,
            reference(*inputs),
            kind=kind,
            mistakes=mistakes(*inputs),
            hint=hint,
            nan_matches=True,
        )


def check_log_softmax(log_softmax: Callable[..., Any], seed: int, T: int, B: int, V: int) -> None:
    """``log_softmax(u)`` against ``torch.log_softmax(u, dim=-1)`` on :func:`logits_cases`."""
    __tracebackhide__ = True
    cases = logits_cases(seed, T, B, V)
    _check_on_logits(
        log_softmax,
        "log_softmax(u)",
        cases,
        torch_log_softmax,
        log_softmax_mistakes,
        _LOG_SOFTMAX,
        with_targets=False,
    )


def check_cross_entropy(
    cross_entropy: Callable[..., Any], seed: int, T: int, B: int, V: int
) -> None:
    """``cross_entropy(u, targets)`` against ``F.cross_entropy(..., reduction="sum")``."""
    __tracebackhide__ = True
    cases = logits_cases(seed, T, B, V)[:2]
    _check_on_logits(
        cross_entropy,
        "cross_entropy(u, targets)",
        cases,
        torch_cross_entropy,
        cross_entropy_mistakes,
        _CROSS_ENTROPY,
        kind=None,  # a float, a NumPy scalar or a 0-d array
    )


def check_cross_entropy_backward(
    cross_entropy_backward: Callable[..., Any], seed: int, T: int, B: int, V: int
) -> None:
    """``cross_entropy_backward(u, targets)`` against torch autograd of the summed loss."""
    __tracebackhide__ = True
    cases = logits_cases(seed, T, B, V)[:2]
    _check_on_logits(
        cross_entropy_backward,
        "dL/du from cross_entropy_backward",
        cases,
        torch_cross_entropy_gradient,
        backward_mistakes,
        _BACKWARD,
    )


def gradient_check(
    cross_entropy_backward: Callable[..., Any],
    seed: int,
    T: int,
    B: int,
    V: int,
    threshold: float = 1e-7,
) -> float:
    """The student's dL/du against the course's centered differences of the summed loss.

    The differences are taken of PyTorch's loss (``F.cross_entropy``, summed), never of a
    function of the notebook's, which a student may have got wrong the same way; NOTATION.md's
    rule: one relative error for the whole array, below ``threshold``. Returns it.
    """
    __tracebackhide__ = True
    _, u, targets = logits_cases(seed, T, B, V)[0]
    numeric = numerical_gradient(lambda x: torch_cross_entropy(x, targets), u.copy())
    right = torch_cross_entropy_gradient(u, targets)
    # check_gradient can only name a mistake that differs from the right gradient here.
    wrong = {
        text: value
        for text, value in backward_mistakes(u, targets).items()
        if np.shape(value) != right.shape or not rel_error(value, right) < threshold
    }
    got = _call(cross_entropy_backward, u.copy(), targets.copy())
    check_true(
        got is not None,
        "cross_entropy_backward returned None. Did you forget the `return` statement?",
    )
    return check_gradient(
        f"dL/du (T={T}, B={B}, V={V})",
        got,
        numeric,
        threshold=threshold,
        analytic_mistakes=wrong,
    )


# ----------------------------------------------------------- perplexity, bits per character


def batch_cases(seed: int, K: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, batch_losses, batch_counts)``: one batch; ``K`` equal ones; ``K`` of two sizes.

    Each batch's loss is its summed loss in nats, ``N_i`` characters times a loss per character
    drawn in [0.8, 3.2]; the short last batch of the third case has a loss per character far
    from the others', as the end of a text may.
    """
    rng = np.random.default_rng(seed)
    one = np.array([int(rng.integers(50, 300))])
    equal = np.full(K, 128)
    unequal = np.array([256] * (K - 1) + [int(rng.integers(5, 40))])
    means = [rng.uniform(0.8, 3.2, size=len(counts)) for counts in (one, equal, unequal)]
    means[2][-1] = means[2][:-1].mean() + 2.0
    return [
        (f"one batch of {one[0]} characters", means[0] * one, one),
        (f"{K} batches of 128 characters each, with different losses per character",
         means[1] * equal, equal),
        (f"{K} batches: {K - 1} of 256 characters and a last, short one of {unequal[-1]}",
         means[2] * unequal, unequal),
    ]  # fmt: skip


def _check_batches(
    function: Callable[..., Any],
    what: str,
    seed: int,
    K: int,
    reference: Callable[[np.ndarray, np.ndarray], float],
    mistakes: Callable[[np.ndarray, np.ndarray], dict[str, float]],
) -> None:
    __tracebackhide__ = True
    for label, losses, counts in batch_cases(seed, K):
        got = _call(function, losses.copy(), counts.copy())
        check_close(
            f"{what}(batch_losses, batch_counts) ({label})",
            got,
            reference(losses, counts),
            mistakes=mistakes(losses, counts),
            hint=_WHOLE_TEXT,
        )


def check_perplexity(perplexity: Callable[..., Any], seed: int, K: int) -> None:
    """``perplexity(batch_losses, batch_counts)`` is ``exp(Σ L_i / Σ N_i)``."""
    __tracebackhide__ = True
    _check_batches(perplexity, "perplexity", seed, K, corpus_perplexity, perplexity_mistakes)


def check_bits_per_character(bits_per_character: Callable[..., Any], seed: int, K: int) -> None:
    """``bits_per_character(batch_losses, batch_counts)`` is ``Σ L_i / (Σ N_i ln 2)``."""
    __tracebackhide__ = True
    _check_batches(
        bits_per_character,
        "bits_per_character",
        seed,
        K,
        corpus_bits_per_character,
        bits_mistakes,
    )


# ---------------------------------------------------------------------------- add-k n-grams


def ngram_case(seed: int, V: int, train: int = 240, test: int = 60) -> tuple[np.ndarray, ...]:
    """``(train_ids, test_ids)`` of one random Markov chain over V − 1 characters.

    The last id, ``V − 1``, never occurs in the training text, so that the alphabet (``V``) is
    larger than the set of characters seen in training; it occurs once in the test text, after
    its first four characters.
    """
    rng = np.random.default_rng(seed)
    text = random_text(rng, train + test, V - 1)
    train_ids, test_ids = text[:train].copy(), text[train:].copy()
    test_ids[int(rng.integers(4, test))] = V - 1
    return train_ids, test_ids


def _contexts(train: np.ndarray, n: int, V: int) -> list[tuple[str, np.ndarray]]:
    """The contexts :func:`check_add_k_probability` asks about, with their labels."""
    totals: dict[tuple[int, ...], int] = {}
    for gram, count in ngram_counts(train, n).items():
        totals[gram[:-1]] = totals.get(gram[:-1], 0) + count
    frequent = max(totals, key=lambda context: (totals[context], context))
    return [
        (f"a context seen {totals[frequent]} times in the training text",
         np.array(frequent, dtype=np.int64)),
        ("a context never seen in the training text", np.full(n - 1, V - 1, dtype=np.int64)),
        ("the context the training text ends with, which no character follows there",
         train[len(train) - n + 1 :].copy()),
        ("no context, n = 1: the add-k unigram model", np.zeros(0, dtype=np.int64)),
    ]  # fmt: skip


def check_add_k_probability(
    add_k_probability: Callable[..., Any], seed: int, V: int, n: int, k: float
) -> None:
    """``add_k_probability(train_ids, context, k, V)``: the add-k ``P(· | context)``, ``(V,)``.

    Contexts of ``n − 1`` characters (seen often, never seen, the one the text ends with), then
    the empty context; the expected values are counted with a dictionary (``references.py``).
    """
    __tracebackhide__ = True
    train, _ = ngram_case(seed, V)
    for label, context in _contexts(train, n, V):
        got = _call(add_k_probability, train.copy(), context.copy(), k, V)
        check_close(
            f"add_k_probability(train_ids, context={context.tolist()}, k={k}, V={V}) ({label}; "
            f"a training text of {len(train)} characters, of which {len(np.unique(train))} "
            f"different)",
            got,
            add_k_distribution(train, context, k, V),
            kind="numpy",
            mistakes=distribution_mistakes(train, context, k, V),
            hint=_ADD_K,
            nan_matches=True,
        )


def check_add_k_log_probs(
    add_k_log_probs_: Callable[..., Any], seed: int, V: int, n: int, k: float
) -> None:
    """``add_k_log_probs(train_ids, test_ids, n, k, V)``: the test text's log-probabilities.

    At order ``n``, then at order 1 (every position scored, no context).
    """
    __tracebackhide__ = True
    train, test = ngram_case(seed, V)
    for order in dict.fromkeys((n, 1)):
        got = _call(add_k_log_probs_, train.copy(), test.copy(), order, k, V)
        check_close(
            f"add_k_log_probs(train_ids, test_ids, n={order}, k={k}, V={V}) (a training text "
            f"of {len(train)} characters, a test text of {len(test)})",
            got,
            add_k_log_probs(train, test, order, k, V),
            kind="numpy",
            mistakes=log_prob_mistakes(train, test, order, k, V),
            hint=_LOG_PROBS,
            nan_matches=True,
        )
