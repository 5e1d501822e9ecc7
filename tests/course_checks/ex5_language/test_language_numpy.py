"""Unit tests of the checks of Exercise 5's NumPy notebook (scoring text, add-k n-grams).

Fast (no kernels): each test hands a check right answers, which must pass, however they are
written (a stable formula of another form, loops, a dictionary of counts, the book's own n-gram
model), and known wrong ones, which must fail with words that name the mistake. The references
are compared with PyTorch and with the book's ``experiments.language.ngram.CharNGram``.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from course_checks.ex5_language.language_numpy import (
    LANGUAGE_SHAPES,
    batch_cases,
    check_add_k_log_probs,
    check_add_k_probability,
    check_bits_per_character,
    check_cross_entropy,
    check_cross_entropy_backward,
    check_log_softmax,
    check_perplexity,
    gradient_check,
    logits_cases,
    ngram_case,
)
from course_checks.ex5_language.references import (
    add_k_distribution,
    add_k_log_probs,
    torch_cross_entropy,
    torch_cross_entropy_gradient,
    torch_log_softmax,
)
from course_checks.ex5_language.wrong_answers import (
    LOG_SOFTMAX_VARIANTS,
    backward_mistakes,
    cross_entropy_mistakes,
    log_softmax_variant,
)
from course_checks.gradients import numerical_gradient
from experiments.language.ngram import CharNGram
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails

# ----------------------------------------------------------------- right answers, many forms


def log_softmax(u):
    m = np.max(u, axis=-1, keepdims=True)
    return u - m - np.log(np.sum(np.exp(u - m), axis=-1, keepdims=True))


def log_softmax_logaddexp(u):
    return u - np.logaddexp.reduce(u, axis=-1, keepdims=True)


def log_softmax_rows(u):
    out = np.empty_like(u)
    for index in np.ndindex(u.shape[:-1]):
        row = u[index]
        out[index] = row - (row.max() + math.log(sum(math.exp(x - row.max()) for x in row)))
    return out


def cross_entropy(u, targets):
    return -float(np.sum(np.take_along_axis(log_softmax(u), targets[..., None], axis=-1)))


def cross_entropy_one_hot(u, targets):
    return -np.sum(np.eye(u.shape[-1])[targets] * log_softmax_logaddexp(u))


def backward(u, targets):
    return np.exp(log_softmax(u)) - np.eye(u.shape[-1])[targets]


def backward_loops(u, targets):
    grad = np.exp(log_softmax_rows(u))
    T, B = targets.shape
    for t in range(T):
        for b in range(B):
            grad[t, b, targets[t, b]] -= 1
    return grad


def perplexity(losses, counts):
    return math.exp(sum(losses) / sum(counts))


def bits(losses, counts):
    return np.sum(losses) / np.sum(counts) / np.log(2)


def add_k_dictionary(train, context, k, V):
    n = len(context) + 1
    grams = Counter(tuple(train[j : j + n]) for j in range(len(train) - n + 1))
    following = np.array([grams[(*context, w)] for w in range(V)], dtype=float)
    return (following + k) / (following.sum() + k * V)


def log_probs_loop(train, test, n, k, V):
    return np.array(
        [
            np.log(add_k_dictionary(train, test[i - n + 1 : i], k, V)[test[i]])
            for i in range(n - 1, len(test))
        ]
    )


def log_probs_of_the_book(train, test, n, k, V):
    return np.log(CharNGram(train, V, n, "add_k", k=k).probabilities(test)[n - 1 :])


# ---------------------------------------------------------------------------- references


def test_the_references_match_an_independent_numpy_and_finite_differences():
    for _, u, targets in logits_cases(4, T=3, B=2, V=5):
        assert np.abs(torch_log_softmax(u) - log_softmax_rows(u)).max() < 1e-9
        assert abs(torch_cross_entropy(u, targets) - cross_entropy(u, targets)) < 1e-8
        assert np.abs(torch_cross_entropy_gradient(u, targets) - backward(u, targets)).max() < 1e-12
    _, u, targets = logits_cases(5, T=2, B=2, V=4)[0]
    numeric = numerical_gradient(lambda x: torch_cross_entropy(x, targets), u.copy())
    assert np.abs(numeric - torch_cross_entropy_gradient(u, targets)).max() < 1e-8


@pytest.mark.parametrize(("n", "k"), [(1, 1.0), (2, 0.1), (3, 0.5), (4, 2.0)])
def test_the_add_k_references_are_the_books_model(n, k):
    """course_checks counts with a dictionary; the book's CharNGram with NumPy codes."""
    train, test = ngram_case(11, V=6)
    model = CharNGram(train, 6, n, "add_k", k=k)
    for i in range(n - 1, len(test)):
        context = test[i - n + 1 : i]
        assert (
            np.abs(add_k_distribution(train, context, k, 6) - model.distribution(context)).max()
            < 1e-12
        )
    assert (
        np.abs(
            add_k_log_probs(train, test, n, k, 6) - log_probs_of_the_book(train, test, n, k, 6)
        ).max()
        < 1e-12
    )


def test_the_cases_are_what_the_checks_say():
    _, large, apart = logits_cases(1, T=2, B=3, V=4)
    assert large[2][0, 0] == large[1][0, 0].argmin(), "the large case's first target is the least"
    levels = apart[1].max(axis=-1)
    assert levels.max() - levels.min() > 1500, "rows far apart: a global max underflows the lowest"
    for _, losses, counts in batch_cases(3, K=4):
        assert losses.shape == counts.shape and np.all(losses > 0)
    train, test = ngram_case(2, V=6)
    assert 5 not in train and 5 in test, "the alphabet's last character: in the test text only"


def test_every_log_softmax_mistake_differs_and_the_default_is_right():
    _, u, _ = logits_cases(6, T=3, B=2, V=5)[0]
    assert np.abs(log_softmax_variant(u) - torch_log_softmax(u)).max() < 1e-12
    for key in LOG_SOFTMAX_VARIANTS:
        differs = np.abs(log_softmax_variant(u, key) - torch_log_softmax(u)).max() > 1e-3
        assert differs or key in ("no_max", "naive_log_of_softmax", "global_max", "log_of_softmax")
    _, large, apart = logits_cases(7, T=3, B=2, V=5)
    unstable = {"no_max", "log_of_softmax", "naive_log_of_softmax"}  # what large logits break
    for (_, u, _), broken in (
        (large, unstable),
        (apart, unstable - {"log_of_softmax"} | {"global_max"}),
    ):
        assert np.all(np.isfinite(torch_log_softmax(u)))
        infinite = {
            k for k in LOG_SOFTMAX_VARIANTS if not np.isfinite(log_softmax_variant(u, k)).all()
        }
        assert broken <= infinite <= broken | {"global_max"}  # at 1000, one max usually fails too
    _, u, targets = large
    tables = [cross_entropy_mistakes(u, targets), backward_mistakes(u, targets)]
    assert all(len(table) >= 8 for table in tables)


# ----------------------------------------------------------------------- right answers pass


def test_right_answers_of_every_form_pass():
    for function in (log_softmax, log_softmax_logaddexp, log_softmax_rows):
        check_log_softmax(function, seed=1, T=4, B=3, V=5)
    for function in (cross_entropy, cross_entropy_one_hot):
        check_cross_entropy(function, seed=2, T=4, B=3, V=5)
    for function in (backward, backward_loops):
        check_cross_entropy_backward(function, seed=3, T=4, B=3, V=5)
        assert gradient_check(function, seed=31, T=3, B=2, V=6) < 1e-7
    check_perplexity(perplexity, seed=5, K=3)
    check_perplexity(lambda losses, counts: 2 ** bits(losses, counts), seed=5, K=6)
    check_bits_per_character(bits, seed=6, K=3)
    check_bits_per_character(lambda losses, counts: math.log2(perplexity(losses, counts)), 6, 5)
    for V, n, k in ((6, 3, 0.5), (8, 2, 0.1), (5, 4, 2.0)):
        check_add_k_probability(add_k_dictionary, seed=7, V=V, n=n, k=k)
        check_add_k_log_probs(log_probs_loop, seed=8, V=V, n=n, k=k)
        check_add_k_log_probs(log_probs_of_the_book, seed=9, V=V, n=n, k=k)


def test_a_shape_error_names_the_logits_shapes():
    message = fails(
        ["shapes"], check_log_softmax, lambda u: u - np.log(np.exp(u).sum(-1)), 1, 4, 3, 5
    )
    assert LANGUAGE_SHAPES in message and "W_x is (D, H)" not in message


# -------------------------------------------------------------------------- mistakes named


def _global_max(u):
    m = np.max(u)
    return u - m - np.log(np.sum(np.exp(u - m), axis=-1, keepdims=True))


def _in_place(u):
    u -= np.max(u, axis=-1, keepdims=True)
    return u - np.log(np.sum(np.exp(u), axis=-1, keepdims=True))


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda u: log_softmax(u.swapaxes(0, 2)).swapaxes(0, 2), ["axis 0 (time)"]),
        (lambda u: u - np.log(np.sum(np.exp(u), axis=-1, keepdims=True)), ["not subtracted"]),
        (_global_max, ["np.max(u)", "rather than over each row"]),
        (lambda u: np.log(np.exp(log_softmax(u))), ["log is taken of the softmax"]),
        (lambda u: np.exp(log_softmax(u)), ["not its logarithm"]),
        (_in_place, ["changed its input u in place"]),
    ],
)
def test_check_log_softmax_names_mistakes(function, words):
    with np.errstate(all="ignore"):
        fails(words, check_log_softmax, function, 1, 4, 3, 5)


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda u, y: cross_entropy(u, y) / y.size, ["averaged over the T·B positions"]),
        (lambda u, y: -cross_entropy(u, y), ["minus sign is missing"]),
        (lambda u, y: -float(np.sum(log_softmax(u)[..., y])), ["log_probs[..., targets]"]),
        (lambda u, y: -float(np.sum(np.take(log_softmax(u), y))), ["without axis="]),
        (lambda u, y: -np.take_along_axis(log_softmax(u), y[..., None], -1)[..., 0], ["(T, B)"]),
        (lambda u, y: cross_entropy_one_hot(u.swapaxes(0, 2), y.T), ["axis 0"]),
    ],
)
def test_check_cross_entropy_names_mistakes(function, words):
    fails(words, check_cross_entropy, function, 2, 4, 3, 5)


def _every_target_column(u, targets):
    grad = np.exp(log_softmax(u))
    grad[..., targets] -= 1
    return grad


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda u, y: np.exp(log_softmax(u)), ["one-hot vector of the targets is not subtracted"]),
        (lambda u, y: -backward(u, y), ["sign is flipped"]),
        (lambda u, y: backward(u, y) / y.size, ["divided by n = t·b"]),
        (_every_target_column, ["grad[..., targets] -= 1"]),
        (
            lambda u, y: np.exp(u - u.max(-1, keepdims=True)) - np.eye(u.shape[-1])[y],
            ["not normalised"],
        ),
    ],
)
def test_the_backward_checks_name_mistakes(function, words):
    fails(words, check_cross_entropy_backward, function, 3, 4, 3, 5)
    fails(["Likely mistake in the backward pass", *words], gradient_check, function, 31, 3, 2, 6)


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda L, N: np.mean(np.exp(L / N)), ["per-batch perplexities", "jensen"]),
        (lambda L, N: np.exp(np.mean(L / N)), ["averaged with equal weights"]),
        (lambda L, N: 2 ** (L.sum() / N.sum()), ["natural logarithms (nats)"]),
        (lambda L, N: np.exp(np.mean(L)), ["taken as a mean per character"]),
        (lambda L, N: L.sum() / N.sum(), ["not its exponential"]),
    ],
)
def test_check_perplexity_names_mistakes(function, words):
    fails(words, check_perplexity, function, 5, 3)


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (lambda L, N: L.sum() / N.sum(), ["in nats per character"]),
        (lambda L, N: np.mean(L / N) / np.log(2), ["averaged with equal weights"]),
        (lambda L, N: L.sum() / N.sum() * np.log(2), ["multiplied by ln 2"]),
        (lambda L, N: np.log2(L.sum() / N.sum()), ["log2 of the loss per character"]),
    ],
)
def test_check_bits_per_character_names_mistakes(function, words):
    fails(words, check_bits_per_character, function, 6, 3)


def _add_k(**switches):
    """``add_k_dictionary`` with one mistake: a different denominator, numerator or count."""

    def wrong(train, context, k, V):
        n = len(context) + 1
        grams = Counter(tuple(train[j : j + n]) for j in range(len(train) - n + 1))
        if switches.get("ignore_context"):
            grams = Counter({(*context, gram[-1]): 0 for gram in grams}) + Counter(
                {(*context, w): sum(c for g, c in grams.items() if g[-1] == w) for w in range(V)}
            )
        following = np.array([grams[(*context, w)] for w in range(V)], dtype=float)
        total = following.sum()
        if switches.get("with_end"):
            total = sum(
                tuple(train[j : j + n - 1]) == tuple(context) for j in range(len(train) - n + 2)
            )
        numerator = following if switches.get("no_k") else following + k
        extra = {"k": k, "V": V, "seen": k * len(set(train.tolist()))}.get(
            switches.get("add"), k * V
        )
        with np.errstate(all="ignore"):
            return numerator / (total + extra)

    return wrong


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"add": "k"}, ["denominator adds k once"]),
        ({"add": "V"}, ["right only for k = 1"]),
        ({"add": "seen"}, ["number of different characters in the training text"]),
        ({"no_k": True}, ["k is missing from the numerator"]),
        ({"with_end": True}, ["very end of the training text"]),
        ({"ignore_context": True}, ["context is ignored"]),
    ],
)
def test_check_add_k_probability_names_mistakes(switches, words):
    fails(words, check_add_k_probability, _add_k(**switches), 7, 6, 3, 0.5)


def _log_probs(window=None, counted=None, start=None, transform=np.log):
    def wrong(train, test, n, k, V):
        text = {"test": test, "both": np.concatenate([train, test])}.get(counted, train)
        first = n - 1 if start is None else start
        cut = window or (lambda i: slice(i - n + 1, i))
        contexts = [test[cut(i, n)] if window else test[cut(i)] for i in range(len(test))]
        return np.array(
            [transform(add_k_dictionary(text, contexts[i], k, V)[test[i]])
             for i in range(first, len(test))]
        )  # fmt: skip

    return wrong


@pytest.mark.parametrize(
    ("function", "words"),
    [
        (_log_probs(window=lambda i, n: slice(i - n, i)), ["context is n characters long"]),
        (
            _log_probs(window=lambda i, n: slice(i - n + 2, i + 1)),
            ["includes the character being predicted"],
        ),
        (_log_probs(counted="test"), ["counts come from the test text"]),
        (_log_probs(counted="both"), ["training and the test text together"]),
        (_log_probs(transform=lambda p: p), ["not their logarithms"]),
        (_log_probs(transform=np.log2), ["log base 2"]),
        (
            _log_probs(start=0, window=lambda i, n: slice(max(0, i - n + 1), i)),
            ["every position is scored"],
        ),
        (lambda train, test, n, k, V: -log_probs_loop(train, test, n, k, V), ["(the loss)"]),
    ],
)
def test_check_add_k_log_probs_names_mistakes(function, words):
    fails(words, check_add_k_log_probs, function, 8, 6, 3, 0.5)


def test_a_wrong_add_k_probability_is_named_in_the_log_probs_test():
    """The scores' test names the probabilities' mistake; an unknown one gets a plain mismatch."""
    seen = _add_k(add="seen")

    def scored_with_seen_characters(train, test, n, k, V):
        return np.array(
            [
                np.log(seen(train, test[i - n + 1 : i], k, V)[test[i]])
                for i in range(n - 1, len(test))
            ]
        )

    words = ["in the add-k probabilities", "different characters in the training text"]
    message = fails(words, check_add_k_log_probs, scored_with_seen_characters, 8, 6, 3, 0.5)
    assert "Hint" not in message, "a named mistake needs no hint"

    def unknown(train, test, n, k, V):
        return log_probs_loop(train, test, n, k, V) + 0.01

    message = fails(["wrong value"], check_add_k_log_probs, unknown, 8, 6, 3, 0.5)
    assert "Likely mistake" not in message and "Hint" in message
