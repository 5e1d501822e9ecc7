"""Smoothed character n-gram models: the honest non-neural baselines of Chapter 5.

A model of order ``n`` predicts a character from the ``n - 1`` before it. Three smoothings:

- **add-k** (Laplace for k = 1): ``(c(h w) + k) / (c(h) + k V)``, order ``n`` alone;
- **Witten–Bell**, interpolated: ``(c(h w) + T(h) P(w | h')) / (c(h) + T(h))``, where ``T(h)``
  is the number of distinct characters seen after ``h`` and ``h'`` is ``h`` without its first
  character (Witten & Bell 1991);
- **interpolated Kneser–Ney**: ``max(a(h w) - D, 0) / A(h) + D T(h) / A(h) P(w | h')``, with the
  raw counts ``a = c`` at the highest order and the *continuation* counts ``a(g) = N1+(• g)``
  (how many distinct characters precede ``g``) below it, one discount per order
  ``D = n1 / (n1 + 2 n2)`` (Kneser & Ney 1995; Chen & Goodman 1999).

Both interpolations end in the uniform distribution over the ``V`` characters of the alphabet,
so that every character has a probability above zero; a context never seen falls through to the
next shorter one. At the start of a stream, where fewer than ``n - 1`` characters precede, the
longest available context is used.

Texts are NumPy arrays of character ids; an n-gram is one integer ``sum_i id_i V^(n-1-i)``, so
counting is ``numpy.unique`` and lookup ``searchsorted``: a 4-million-character corpus is counted
to order 6 in seconds on one core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SMOOTHINGS = ("add_k", "witten_bell", "kneser_ney")


def encode(text: str, alphabet: str) -> np.ndarray:
    """``text`` as an int64 array of indices into ``alphabet`` (every character must be in it)."""
    index = {c: i for i, c in enumerate(alphabet)}
    return np.fromiter((index[c] for c in text), dtype=np.int64, count=len(text))


def _codes(ids: np.ndarray, order: int, V: int) -> np.ndarray:
    """The code of the ``order``-gram ending at each position ``order - 1, …, len(ids) - 1``."""
    codes = np.zeros(len(ids) - order + 1, dtype=np.int64)
    for i in range(order):
        codes = codes * V + ids[i : len(ids) - order + 1 + i]
    return codes


@dataclass
class _Level:
    """One order's table: the sorted gram codes with their counts ``a``, and per context (the
    gram without its last character) the total ``A`` and the number of types ``T``."""

    grams: np.ndarray
    counts: np.ndarray
    contexts: np.ndarray
    totals: np.ndarray
    types: np.ndarray
    discount: float


def _lookup(keys: np.ndarray, table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` at each key's place in the sorted ``table``; 0 for a key not in it."""
    if len(table) == 0:
        return np.zeros(len(keys), dtype=float)
    where = np.clip(np.searchsorted(table, keys), 0, len(table) - 1)
    return np.where(table[where] == keys, values[where], 0).astype(float)


def _level(grams: np.ndarray, counts: np.ndarray, V: int, discount: float) -> _Level:
    contexts, first = np.unique(grams // V, return_index=True)
    totals = np.add.reduceat(counts, first) if len(counts) else counts
    types = np.diff(np.append(first, len(grams)))
    return _Level(grams, counts, contexts, totals, types, discount)


def _kn_discount(counts: np.ndarray) -> float:
    n1, n2 = int(np.sum(counts == 1)), int(np.sum(counts == 2))
    return n1 / (n1 + 2 * n2) if n1 + n2 else 0.5


class CharNGram:
    """A character n-gram model of one order and smoothing, counted on a training text.

    ``probabilities(ids)`` gives each character's probability under the model given the ones
    before it; ``bits_per_character(ids)`` their mean negative log₂; ``distribution(context)``
    the whole next-character distribution (it sums to 1).
    """

    def __init__(
        self, train: np.ndarray, V: int, order: int, smoothing: str = "kneser_ney", k: float = 1.0
    ) -> None:
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, not {smoothing!r}")
        if order < 1 or V**order >= 2**62:
            raise ValueError(f"order {order} with V = {V} does not fit the integer codes")
        self.V, self.order, self.smoothing, self.k = V, order, smoothing, k
        self.levels: dict[int, _Level] = {}
        lowest = order if smoothing == "add_k" else 1
        for n in range(lowest, order + 1):
            grams, counts = np.unique(_codes(train, n, V), return_counts=True)
            if smoothing == "kneser_ney" and n < order:
                # continuation counts: distinct one-character-longer grams that end in the gram
                longer = np.unique(_codes(train, n + 1, V))
                grams, counts = np.unique(longer % V**n, return_counts=True)
            discount = _kn_discount(counts) if smoothing == "kneser_ney" else 0.0
            self.levels[n] = _level(grams, counts, V, discount)

    def _probability(self, n: int, grams: np.ndarray) -> np.ndarray:
        """P(w | h) of each ``n``-gram code ``h w`` (contexts of length ``n - 1``)."""
        V = self.V
        if n == 0:
            return np.full(len(grams), 1.0 / V)
        level = self.levels[n]
        a = _lookup(grams, level.grams, level.counts)
        contexts = grams // V
        A = _lookup(contexts, level.contexts, level.totals)
        if self.smoothing == "add_k":
            return (a + self.k) / (A + self.k * V)
        T = _lookup(contexts, level.contexts, level.types)
        lower = self._probability(n - 1, grams % V ** (n - 1))
        seen = A > 0
        safe = np.where(seen, A, 1.0)
        if self.smoothing == "witten_bell":
            mixed = (a + T * lower) / (safe + T)
        else:
            D = level.discount
            mixed = np.maximum(a - D, 0.0) / safe + D * T / safe * lower
        return np.where(seen, mixed, lower)

    def probabilities(self, ids: np.ndarray) -> np.ndarray:
        """The model's probability of each character of ``ids`` given the ones before it."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty(len(ids))
        top = self.order
        for i in range(min(top - 1, len(ids))):  # the stream's start: shorter contexts
            out[i] = self._short(ids[: i + 1])
        if len(ids) >= top:
            out[top - 1 :] = self._probability(top, _codes(ids, top, self.V))
        return out

    def _short(self, gram: np.ndarray) -> float:
        if self.smoothing == "add_k":
            return 1.0 / self.V  # no shorter orders: a stream's first characters are uniform
        return float(self._probability(len(gram), _codes(gram, len(gram), self.V))[0])

    def bits_per_character(self, ids: np.ndarray) -> float:
        """Mean ``-log2 P`` over the characters of ``ids``: the baseline's cross-entropy."""
        return float(-np.mean(np.log2(self.probabilities(ids))))

    def distribution(self, context: np.ndarray) -> np.ndarray:
        """P(w | context) for every character ``w``, from the last ``order - 1`` of ``context``."""
        context = np.asarray(context, dtype=np.int64)
        context = context[max(len(context) - (self.order - 1), 0) :]
        n = len(context) + 1
        if self.smoothing == "add_k" and n < self.order:
            return np.full(self.V, 1.0 / self.V)
        head = _codes(context, len(context), self.V)[0] if len(context) else 0
        return self._probability(n, head * self.V + np.arange(self.V))


def unigram_bits(train: np.ndarray, test: np.ndarray, V: int) -> float:
    """Test bits per character of the add-one unigram model: the entropy baseline."""
    return CharNGram(train, V, 1, "add_k", k=1.0).bits_per_character(test)


def perplexity(bits: float) -> float:
    """The perplexity of a model whose cross-entropy is ``bits`` per character: ``2 ** bits``."""
    return math.pow(2.0, bits)
