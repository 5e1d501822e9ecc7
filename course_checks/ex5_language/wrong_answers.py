"""What known wrong answers of Exercise 5's NumPy notebook produce, so that feedback can name them.

Each public function returns ``{description: value}``: the value a realistic mistake produces on
the given inputs, and the words the student reads when their answer matches it (see
``check_close``). The right answers never come from here: the checks take them from PyTorch and
from the definitions in ``references.py``. Mistakes of numerical stability produce ``inf`` and
``NaN`` where the student's code does (NumPy's warnings silenced here), and the checks match them
entry by entry (``check_close(..., nan_matches=True)``). ``tests/course_checks/ex5_language``
proves that every switch's default is the right answer and that every mistake differs from it.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from course_checks.ex5_language.references import ngram_counts
from course_checks.variants import merge_identical

Array = np.ndarray
Table = TypeVar("Table")


def _quiet(table: Callable[..., Table]) -> Callable[..., Table]:
    """``table`` run with NumPy's floating-point warnings off: its wrong formulas overflow, take
    log(0) and add inf to −inf on purpose, and a warning on stderr would cost the test cell."""

    @functools.wraps(table)
    def quiet(*args: Any, **kwargs: Any) -> Table:
        with np.errstate(all="ignore"):
            return table(*args, **kwargs)

    return quiet


# ------------------------------------------------------------------------------ log-softmax

_STABLE = "log_softmax(u) = u − m − log Σ exp(u − m), with m the largest logit of each row"
LOG_SOFTMAX_VARIANTS: dict[str, str] = {
    "axis0": "the log-softmax is normalised over axis 0 (time) instead of the last axis: each "
    "row u[t, b] of V scores is a distribution of its own, so the max and the sum run over "
    "axis=-1, with keepdims=True",
    "axis1": "the log-softmax is normalised over axis 1 (the batch) instead of the last axis: "
    "each row u[t, b] of V scores is a distribution of its own, so the max and the sum run over "
    "axis=-1, with keepdims=True",
    "whole": "the log-softmax is normalised over the whole array (np.max and np.sum without "
    "axis=): each row u[t, b] of V scores is a distribution of its own, so use axis=-1, "
    "keepdims=True",
    "no_max": "the largest logit is not subtracted before np.exp: exp(u) overflows to inf above "
    "u ≈ 709 (and a row of logits all below −745 underflows to 0, whose log is −inf); "
    f"subtract each row's max first: {_STABLE}",
    "log_of_softmax": "the log is taken of the softmax, np.log(e / e.sum(...)): a probability "
    "below about 1e-308 (a logit more than about 745 below the largest of its row) underflows "
    f"to 0, and log(0) = −inf; compute {_STABLE}, which never takes the log of a tiny number",
    "naive_log_of_softmax": "the log of a softmax computed without subtracting the max: exp(u) "
    f"overflows to inf and inf / inf = NaN; compute {_STABLE}",
    "global_max": "the max is taken over the whole array (np.max(u)) rather than over each row "
    "(np.max(u, axis=-1, keepdims=True)): mathematically the same, but a row whose logits all "
    "lie more than about 745 below the largest logit of the whole array underflows, every "
    "exp(u − m) of it is 0, and log(0) = −inf; subtract each row's own max",
    "max_not_outside": "the max m is subtracted inside exp but not outside: "
    "log_softmax(u) = (u − m) − log Σ exp(u − m), and u − log Σ exp(u − m) is too large by m",
    "softmax": "the result is the softmax, exp(u − m) / Σ exp(u − m), not its logarithm",
    "no_lse": f"the log-sum-exp term is missing: u − m is the logits shifted, and {_STABLE}",
}


def log_softmax_variant(u: Array, mistake: str = "right") -> Array:
    """The log-softmax of ``(T, B, V)`` logits over the last axis, with one mistake.

    ``"right"`` (the default) is the stable formula; see :data:`LOG_SOFTMAX_VARIANTS`.
    """
    u = np.asarray(u, dtype=np.float64)
    with np.errstate(all="ignore"):
        if mistake in ("axis0", "axis1", "whole"):
            axis = {"axis0": 0, "axis1": 1, "whole": None}[mistake]
            m = np.max(u, axis=axis, keepdims=True)
            return u - m - np.log(np.sum(np.exp(u - m), axis=axis, keepdims=True))
        m = np.max(u, axis=-1, keepdims=True)
        if mistake == "global_max":
            m = np.max(u)
        if mistake in ("no_max", "naive_log_of_softmax"):
            m = np.zeros_like(m)
        e = np.exp(u - m)
        total = np.sum(e, axis=-1, keepdims=True)
        if mistake in ("log_of_softmax", "naive_log_of_softmax"):
            return np.log(e / total)
        if mistake == "softmax":
            return e / total
        if mistake == "max_not_outside":
            return u - np.log(total)
        if mistake == "no_lse":
            return u - m
        return u - m - np.log(total)


@_quiet
def log_softmax_mistakes(u: Array) -> dict[str, Array]:
    """Wrong log-softmax values of ``u``: ``{description: (T, B, V) array}``."""
    return merge_identical(
        {text: log_softmax_variant(u, key) for key, text in LOG_SOFTMAX_VARIANTS.items()}
    )


# ---------------------------------------------------------------------------- cross-entropy


def _picked(log_probs: Array, targets: Array) -> Array:
    """``log_probs[t, b, targets[t, b]]``, ``(T, B)``."""
    return np.take_along_axis(log_probs, np.asarray(targets)[..., None], axis=-1)[..., 0]


@_quiet
def cross_entropy_mistakes(u: Array, targets: Array) -> dict[str, Array]:
    """Wrong values of the summed cross-entropy (and a wrong shape: the per-position losses)."""
    lp = log_softmax_variant(u)
    N = np.asarray(targets).size
    mistakes = {
        f"in log_softmax: {text}": -np.sum(_picked(log_softmax_variant(u, key), targets))
        for key, text in LOG_SOFTMAX_VARIANTS.items()
    }
    mistakes.update(
        {
            "the loss is averaged over the T·B positions: cross_entropy returns the sum (the "
            "notebook divides by the number of characters only for perplexity and bits per "
            "character)": -np.sum(_picked(lp, targets)) / N,
            "the minus sign is missing: the cross-entropy is −Σ log p(target), a positive "
            "number": np.sum(_picked(lp, targets)),
            "the logits u of the targets are summed where their log-probabilities belong: "
            "−Σ log_softmax(u)[t, b, targets[t, b]]": -np.sum(_picked(np.asarray(u), targets)),
            "the log-probabilities of all V characters are summed at every position, not only "
            "the target's": -np.sum(lp),
            "log_probs[..., targets] picks, at every position, the entries of every position's "
            "target (an array of shape (T, B, T, B)); pick one entry per position: "
            "np.take_along_axis(log_probs, targets[..., None], axis=-1), or "
            "log_probs[t, b, targets[t, b]]": -np.sum(lp[..., np.asarray(targets)]),
            "np.take(log_probs, targets) without axis= reads the flattened array, so it picks "
            "entries of the first rows, not of each position's own row; use "
            "np.take_along_axis(log_probs, targets[..., None], axis=-1)": -np.sum(
                np.take(lp, targets)
            ),
            "the losses of the T·B positions are returned one by one, shape (T, B): sum them "
            "into one number": -_picked(lp, targets),
        }
    )
    return merge_identical(mistakes)


# ---------------------------------------------------------------------- the loss's gradient


def _one_hot(targets: Array, V: int) -> Array:
    return np.eye(V)[np.asarray(targets)]


@_quiet
def backward_mistakes(u: Array, targets: Array) -> dict[str, Array]:
    """Wrong dL/du of the summed cross-entropy: ``{description: (T, B, V) array}``."""
    u = np.asarray(u, dtype=np.float64)
    V, N = u.shape[-1], np.asarray(targets).size
    p, one_hot = np.exp(log_softmax_variant(u)), _one_hot(targets, V)
    fancy = p.copy()
    fancy[..., np.asarray(targets)] -= 1
    wrong = "the softmax (or your log_softmax, if the backward pass uses it) is wrong: "
    mistakes = {
        wrong + text: np.exp(log_softmax_variant(u, key)) - one_hot
        for key, text in LOG_SOFTMAX_VARIANTS.items()
    }
    mistakes.update(
        {
            "the one-hot vector of the targets is not subtracted: dL/du = softmax(u) − "
            "one_hot(targets)": p,
            "the sign is flipped: dL/du = softmax(u) − one_hot(targets), not one_hot − "
            "softmax(u) (the gradient of the log-likelihood, −L)": one_hot - p,
            "the gradient is divided by N = T·B, the number of positions: that is the "
            "gradient of the mean loss, but cross_entropy returns the sum": (p - one_hot) / N,
            "grad[..., targets] -= 1 subtracts 1, at every position, in every column that "
            "is the target of any position (it indexes all T·B targets at once); subtract "
            "1 at one entry per position, grad[t, b, targets[t, b]]": fancy,
            "the softmax term is missing: dL/du = softmax(u) − one_hot(targets), not "
            "−one_hot(targets)": -one_hot,
            "this is the gradient with respect to the probabilities, −one_hot / p; the "
            "gradient with respect to the logits u is softmax(u) − one_hot(targets)": np.where(
                one_hot > 0, -1.0 / p, 0.0
            ),
            "the softmax is not normalised: exp(u − m) must be divided by its row's sum "
            "Σ exp(u − m)": np.exp(u - u.max(-1, keepdims=True)) - one_hot,
        }
    )
    return merge_identical(mistakes)


# ------------------------------------------------------------ perplexity, bits per character

_WHOLE = "exp(Σ L_i / Σ N_i)"


@_quiet
def perplexity_mistakes(batch_losses: Array, batch_counts: Array) -> dict[str, float]:
    """Wrong perplexities of a text scored in batches (summed losses ``L_i``, sizes ``N_i``)."""
    L, N = np.asarray(batch_losses, dtype=np.float64), np.asarray(batch_counts, dtype=np.float64)
    mistakes = {
        "the per-batch perplexities exp(L_i / N_i) are averaged: perplexity is the "
        "exponential of the mean loss per character of the whole text, "
        f"{_WHOLE}, and the mean of per-batch exponentials is larger (Jensen's "
        "inequality)": float(np.mean(np.exp(L / N))),
        "the batches' mean losses L_i / N_i are averaged with equal weights: a batch counts "
        f"by its number of characters, {_WHOLE}, which matters when the batches differ in "
        "size (the last one is often short)": float(np.exp(np.mean(L / N))),
        "2 ** (loss per character): the losses are natural logarithms (nats), so "
        f"perplexity is {_WHOLE}; 2 ** x goes with bits": float(2.0 ** (L.sum() / N.sum())),
        "each batch loss L_i is taken as a mean per character: it is the sum over the "
        "batch's N_i characters, so divide Σ L_i by the number of characters Σ N_i, not by "
        f"the number of batches: {_WHOLE}": float(np.exp(np.mean(L))),
        f"exp of the total loss: divide by the number of characters first, {_WHOLE}": float(
            np.exp(L.sum())
        ),
        f"the mean loss per character (in nats) is returned, not its exponential, {_WHOLE}": float(
            L.sum() / N.sum()
        ),
    }
    return merge_identical(mistakes)


_BITS = "Σ L_i / (Σ N_i · ln 2)"


@_quiet
def bits_mistakes(batch_losses: Array, batch_counts: Array) -> dict[str, float]:
    """Wrong bits per character of a text scored in batches."""
    L, N = np.asarray(batch_losses, dtype=np.float64), np.asarray(batch_counts, dtype=np.float64)
    nats = L.sum() / N.sum()
    mistakes = {
        f"the result is in nats per character: divide by ln 2 to get bits, {_BITS}": nats,
        f"the loss per character is multiplied by ln 2; divide by it: {_BITS}": nats * math.log(2),
        "the batches' bits per character are averaged with equal weights: weight each "
        f"batch by its number of characters, {_BITS}": float(np.mean(L / N)) / math.log(2),
        "log2 of the loss per character: bits per character is the loss per character "
        f"divided by ln 2, {_BITS} (log2 converts a logarithm, not a loss)": float(np.log2(nats)),
        "each batch loss L_i is taken as a mean per character: divide Σ L_i by the number "
        f"of characters Σ N_i, not by the number of batches: {_BITS}": float(np.mean(L))
        / math.log(2),
    }
    return merge_identical(mistakes)


# --------------------------------------------------------------------------- add-k n-grams

_ADD_K = "(c(h w) + k) / (c(h) + k·V)"


class _Counts:
    """A training text's n-gram counts of every order, counted once (a check asks many times)."""

    def __init__(self, train: Array, V: int) -> None:
        self.train, self.V = np.asarray(train), V
        self._orders: dict[int, Counter[tuple[int, ...]]] = {}

    def of(self, n: int) -> Counter[tuple[int, ...]]:
        if n not in self._orders:
            self._orders[n] = ngram_counts(self.train, n)
        return self._orders[n]

    def following(self, context: tuple[int, ...]) -> Array:
        """``c(h w)`` for every ``w``: how often each character follows ``context``."""
        counts = self.of(len(context) + 1)
        return np.array([counts[(*context, w)] for w in range(self.V)], dtype=np.float64)


def _distribution_variants(counts: _Counts, context: Array, k: float) -> dict[str, Array]:
    """Every wrong add-k distribution ``P(· | context)``, ``(V,)`` each, not merged.

    Called by the ``@_quiet`` tables only: its divisions by zero are meant.
    """
    context = tuple(int(c) for c in context)
    n, V, train = len(context) + 1, counts.V, counts.train
    c = counts.following(context)
    C = c.sum()
    windows = counts.of(n - 1)[context]  # the context wherever it occurs, at the end too
    anywhere = np.bincount(train[n - 1 :], minlength=V)  # what follows any context
    return {
        "the denominator adds k once: each of the V characters gets k added to its count, "
        f"so the context's total grows by k·V: {_ADD_K}": (c + k) / (C + k),
        "the denominator adds V, which is right only for k = 1 (add-one, Laplace): add "
        f"k·V, {_ADD_K}": (c + k) / (C + V),
        "the denominator is missing k·V: the probabilities no longer sum to 1 (and a "
        f"context never seen divides by zero): {_ADD_K}": (c + k) / C,
        "k is missing from the numerator: a character never seen after the context gets "
        f"probability 0; add-k adds k to every count: {_ADD_K}": c / (C + k * V),
        "V is taken as the number of different characters in the training text: the "
        "smoothing gives k to every character of the alphabet, all V of them, seen in "
        f"training or not: {_ADD_K}": (c + k) / (C + k * len(np.unique(train))),
        "the count c(h w) is divided by the number of n-grams in the training text (a "
        "joint probability P(h w)); the conditional probability divides by the count of "
        f"the context, c(h) = Σ_w c(h w): {_ADD_K}": (c + k) / (len(train) - n + 1 + k * V),
        "the context is counted wherever it occurs, also at the very end of the training "
        "text, where no character follows it; c(h) counts only the n-grams that start with "
        f"h, Σ_w c(h w): {_ADD_K}": (c + k) / (windows + k * V),
        "the context is ignored: the characters that follow any context are counted; count "
        "only those that follow this one": (anywhere + k) / (anywhere.sum() + k * V),
    }


@_quiet
def distribution_mistakes(train: Array, context: Array, k: float, V: int) -> dict[str, Array]:
    """Wrong add-k distributions ``P(· | context)``, each ``(V,)``."""
    return merge_identical(_distribution_variants(_Counts(train, V), context, k))


def _scored(
    probabilities: Callable[[Array], Array],
    test: Array,
    window: Callable[[int], slice],
    first: int,
) -> Array:
    """``log probabilities(test[window(i)])[test[i]]`` for ``i = first, …, len(test) − 1``."""
    return np.array(
        [np.log(probabilities(test[window(i)])[test[i]]) for i in range(first, len(test))]
    )


def _add_k(counts: _Counts, k: float) -> Callable[[Array], Array]:
    def probabilities(context: Array) -> Array:
        c = counts.following(tuple(int(x) for x in context))
        return (c + k) / (c.sum() + k * counts.V)

    return probabilities


@_quiet
def log_prob_mistakes(train: Array, test: Array, n: int, k: float, V: int) -> dict[str, Array]:
    """Wrong log-probabilities of the test characters with a whole context (and of all of them)."""
    train, test = np.asarray(train), np.asarray(test)
    counts = _Counts(train, V)
    right = _add_k(counts, k)

    def whole(i: int) -> slice:
        return slice(i - n + 1, i)

    scored = _scored(right, test, whole, n - 1)
    mistakes = {
        f"in the add-k probabilities: {text}": _scored(
            lambda ctx, t=text: _distribution_variants(counts, ctx, k)[t], test, whole, n - 1
        )
        for text in _distribution_variants(counts, test[:0], k)
    }
    before = "the n − 1 characters before position i, test_ids[i − n + 1 : i]"
    start = "score only the positions with a whole context, test_ids[n − 1:], an array of "
    start += "len(test_ids) − n + 1 log-probabilities"
    leak = "count on the training text only (counts of the text being scored leak its answers "
    leak += "into the model)"
    mistakes.update(
        {
            "the context is n characters long, test_ids[i − n : i]: a model of order n "
            f"conditions on {before}": _scored(right, test, lambda i: slice(i - n, i), n - 1),
            "the context is n − 2 characters long, test_ids[i − n + 2 : i]: a model of order n "
            f"conditions on {before}": _scored(right, test, lambda i: slice(i - n + 2, i), n - 1),
            "the context includes the character being predicted, test_ids[i − n + 2 : i + 1]: "
            f"condition on {before}": _scored(
                right, test, lambda i: slice(i - n + 2, i + 1), n - 1
            ),
            f"the counts come from the test text: {leak}": _scored(
                _add_k(_Counts(test, V), k), test, whole, n - 1
            ),
            f"the counts come from the training and the test text together: {leak}": _scored(
                _add_k(_Counts(np.concatenate([train, test]), V), k), test, whole, n - 1
            ),
            "probabilities are returned, not their logarithms (np.log)": np.exp(scored),
            "log base 2: return natural logarithms (np.log), like the network's losses": scored
            / math.log(2),
            "−log P (the loss) is returned: return log P, a number ≤ 0": -scored,
            f"every position is scored, the first n − 1 with shorter contexts: {start}": _scored(
                right, test, lambda i: slice(max(0, i - n + 1), i), 0
            ),
            f"every position is scored, the first n − 1 as uniform, log(1 / V): {start}": (
                np.concatenate([np.full(min(n - 1, len(test)), -np.log(V)), scored])
            ),
        }
    )
    return merge_identical(mistakes)
