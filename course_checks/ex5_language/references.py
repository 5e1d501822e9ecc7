"""What Exercise 5's NumPy notebook (``ex5_language/language_numpy``) must compute.

Logits are time-major, ``u`` of shape ``(T, B, V)``: one row of ``V`` scores per time step and
sequence; ``targets`` ``(T, B)`` are the ids of the characters that came next. The loss is the
cross-entropy summed over the ``N = T·B`` positions (Chapter 5, eq-lm-loss)::

    L = −Σ_{t,b} log softmax(u[t, b])[targets[t, b]]

The log-softmax, the loss and its gradient come from PyTorch (``torch.log_softmax``,
``F.cross_entropy(..., reduction="sum")`` and autograd). Perplexity and bits per character of a
text scored in batches, batch ``i`` holding ``N_i`` characters of summed loss ``L_i`` (nats), are
definitions: ``exp(Σ L_i / Σ N_i)`` and ``Σ L_i / (Σ N_i · ln 2)``. The add-k n-gram model is
counted here with a dictionary, independently of the notebook's NumPy
(``tests/course_checks/ex5_language`` proves it equal to the book's
``experiments.language.ngram.CharNGram`` with ``smoothing="add_k"``)::

    P(w | h) = (c(h w) + k) / (c(h) + k·V)

where ``h`` is the ``n − 1`` characters before ``w``, ``c(h w)`` the count of the n-gram in the
training text and ``c(h) = Σ_w c(h w)`` the number of its n-grams that start with ``h`` (an
occurrence of ``h`` at the very end of the text, which no character follows, does not count).
Only the test positions with a whole context are scored: ``test[n − 1:]``.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "add_k_distribution",
    "add_k_log_probs",
    "corpus_bits_per_character",
    "corpus_perplexity",
    "ngram_counts",
    "random_text",
    "torch_cross_entropy",
    "torch_cross_entropy_gradient",
    "torch_log_softmax",
]

Array = np.ndarray


def torch_log_softmax(u: Array) -> Array:
    """``torch.log_softmax`` over the last axis (the ``V`` characters) of float64 logits."""
    return torch.log_softmax(torch.from_numpy(np.asarray(u, dtype=np.float64)), dim=-1).numpy()


def _loss(u: torch.Tensor, targets: Array) -> torch.Tensor:
    V = u.shape[-1]
    flat = torch.from_numpy(np.asarray(targets, dtype=np.int64)).reshape(-1)
    return F.cross_entropy(u.reshape(-1, V), flat, reduction="sum")


def torch_cross_entropy(u: Array, targets: Array) -> float:
    """``F.cross_entropy(..., reduction="sum")`` of ``(T, B, V)`` logits and ``(T, B)`` targets."""
    with torch.no_grad():
        return float(_loss(torch.from_numpy(np.asarray(u, dtype=np.float64)), targets))


def torch_cross_entropy_gradient(u: Array, targets: Array) -> Array:
    """dL/du of the summed cross-entropy, ``(T, B, V)``, by autograd."""
    logits = torch.tensor(np.asarray(u, dtype=np.float64), requires_grad=True)
    _loss(logits, targets).backward()
    return logits.grad.numpy()


def corpus_perplexity(batch_losses: Array, batch_counts: Array) -> float:
    """``exp(Σ L_i / Σ N_i)``: the perplexity of the whole text, whatever its batches' sizes."""
    return math.exp(float(np.sum(batch_losses)) / float(np.sum(batch_counts)))


def corpus_bits_per_character(batch_losses: Array, batch_counts: Array) -> float:
    """``Σ L_i / (Σ N_i · ln 2)``: the mean code length of the text's characters, in bits."""
    return float(np.sum(batch_losses)) / (float(np.sum(batch_counts)) * math.log(2))


def ngram_counts(ids: Array, n: int) -> Counter[tuple[int, ...]]:
    """The count of every n-gram (a tuple of ``n`` ids) of the text ``ids``."""
    values = [int(c) for c in ids]
    return Counter(tuple(values[i : i + n]) for i in range(len(values) - n + 1))


def add_k_distribution(train: Array, context: Array, k: float, V: int) -> Array:
    """``P(w | context)`` for every ``w`` of the alphabet, ``(V,)``, with add-k smoothing.

    The model's order is ``n = len(context) + 1``; an empty context is the add-k unigram.
    """
    context = tuple(int(c) for c in context)
    counts = ngram_counts(train, len(context) + 1)
    following = np.array([counts[(*context, w)] for w in range(V)], dtype=np.float64)
    return (following + k) / (following.sum() + k * V)


def add_k_log_probs(train: Array, test: Array, n: int, k: float, V: int) -> Array:
    """Natural ``log P(test[i] | test[i − n + 1 : i])`` for ``i = n − 1, …, len(test) − 1``."""
    counts = ngram_counts(train, n)
    contexts = Counter()
    for gram, count in counts.items():
        contexts[gram[:-1]] += count
    values = [int(c) for c in test]
    out = []
    for i in range(n - 1, len(values)):
        gram = tuple(values[i - n + 1 : i + 1])
        out.append(math.log((counts[gram] + k) / (contexts[gram[:-1]] + k * V)))
    return np.array(out)


def random_text(rng: np.random.Generator, length: int, alphabet: int) -> Array:
    """``length`` ids in ``0 … alphabet − 1``, drawn from a random Markov chain.

    Each character's successor is drawn from a sparse distribution of its own (Dirichlet, 0.3), so
    that contexts repeat and tell something about the next character, as in text.
    """
    transitions = rng.dirichlet(np.full(alphabet, 0.3), size=alphabet)
    ids = np.empty(length, dtype=np.int64)
    ids[0] = rng.integers(alphabet)
    for i in range(1, length):
        ids[i] = rng.choice(alphabet, p=transitions[ids[i - 1]])
    return ids
