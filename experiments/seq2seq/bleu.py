"""BLEU (Papineni et al., 2002): corpus-level, up to 4-grams with uniform weights, clipped
("modified") n-gram precisions summed over the corpus before dividing, and the brevity penalty on
the summed lengths (the closest reference length per sentence, the shorter one on a tie).

Written here rather than pinned: ``tests/book/test_bleu.py`` checks it against the values the
paper's examples give, as NLTK's documentation publishes them (``corpus_bleu`` on its two-sentence
example is 0.5920…). Scores are fractions in [0, 1]; the chapter prints them × 100, as papers do.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

Tokens = Sequence[str]


def ngrams(tokens: Tokens, n: int) -> Counter:
    """The counts of the ``n``-grams of ``tokens``."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def modified_precision(references: Sequence[Tokens], hypothesis: Tokens, n: int) -> tuple[int, int]:
    """``(clipped matches, n-grams of the hypothesis)``: each hypothesis n-gram counts at most as
    often as it occurs in any one reference (the denominator is at least 1)."""
    counts = ngrams(hypothesis, n)
    most = Counter()
    for reference in references:
        for gram, count in ngrams(reference, n).items():
            most[gram] = max(most[gram], count)
    matches = sum(min(count, most[gram]) for gram, count in counts.items())
    return matches, max(1, sum(counts.values()))


def closest_length(references: Sequence[Tokens], length: int) -> int:
    """The reference length closest to ``length`` (the shorter on a tie)."""
    return min((len(r) for r in references), key=lambda r: (abs(r - length), r))


def brevity_penalty(reference_length: int, hypothesis_length: int) -> float:
    """1 for a hypothesis longer than the reference, ``exp(1 − r/c)`` for a shorter one."""
    if hypothesis_length > reference_length:
        return 1.0
    if hypothesis_length == 0:
        return 0.0
    return math.exp(1 - reference_length / hypothesis_length)


def corpus_bleu(
    references: Sequence[Sequence[Tokens]], hypotheses: Sequence[Tokens], max_n: int = 4
) -> float:
    """BLEU of ``hypotheses`` (token lists) against their ``references`` (a list of token lists
    per hypothesis); 0 when some order has no match."""
    if len(references) != len(hypotheses):
        raise ValueError("one list of references per hypothesis")
    matches, totals = [0] * max_n, [0] * max_n
    hypothesis_length = reference_length = 0
    for refs, hypothesis in zip(references, hypotheses, strict=True):
        for n in range(1, max_n + 1):
            m, t = modified_precision(refs, hypothesis, n)
            matches[n - 1] += m
            totals[n - 1] += t
        hypothesis_length += len(hypothesis)
        reference_length += closest_length(refs, len(hypothesis))
    if min(matches) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matches, totals, strict=True)) / max_n
    return brevity_penalty(reference_length, hypothesis_length) * math.exp(log_precision)
