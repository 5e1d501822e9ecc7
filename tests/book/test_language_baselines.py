"""Chapter 5's data and baselines: the corpora split by document, the n-gram models' formulas.

Each smoothing is checked against a plain-dictionary implementation of its formula (written here
from the definitions, independently of the array code), and every model's next-character
distribution must sum to one.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from experiments.language import corpora, ngram

TEXT = "abracadabra, a bar; a cab. abba! " * 3 + "dabble barb"
ALPHABET = "".join(sorted(set(TEXT))) + "zq"  # two characters never seen
V = len(ALPHABET)


def reference_probability(train: str, order: int, smoothing: str, history: str, w: str) -> float:
    """P(w | history) from the textbook formulas, with dictionaries."""
    if smoothing == "add_k":
        h = history[len(history) - order + 1 :] if order > 1 else ""
        if len(h) < order - 1:
            return 1 / V
        grams = Counter(train[i : i + order] for i in range(len(train) - order + 1))
        total = sum(c for g, c in grams.items() if g[:-1] == h)
        return (grams[h + w] + 0.5) / (total + 0.5 * V)

    def raw(n: int) -> Counter:
        return Counter(train[i : i + n] for i in range(len(train) - n + 1))

    def counts(n: int) -> Counter:
        if smoothing == "kneser_ney" and n < order:
            return Counter(g[1:] for g in raw(n + 1))  # distinct predecessors of each n-gram
        return raw(n)

    def discount(n: int) -> float:
        values = list(counts(n).values())
        n1, n2 = values.count(1), values.count(2)
        return n1 / (n1 + 2 * n2)

    def p(n: int, h: str) -> float:
        if n == 0:
            return 1 / V
        a = counts(n)
        following = {g[-1]: c for g, c in a.items() if g[:-1] == h}
        A, T = sum(following.values()), len(following)
        lower = p(n - 1, h[1:])
        if A == 0:
            return lower
        if smoothing == "witten_bell":
            return (following.get(w, 0) + T * lower) / (A + T)
        D = discount(n)
        return max(following.get(w, 0) - D, 0) / A + D * T / A * lower

    h = history[max(len(history) - order + 1, 0) :]
    return p(len(h) + 1, h)


@pytest.mark.parametrize("smoothing", ngram.SMOOTHINGS)
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_each_smoothing_computes_its_formula(smoothing: str, order: int) -> None:
    train = ngram.encode(TEXT, ALPHABET)
    model = ngram.CharNGram(train, V, order, smoothing, k=0.5)
    held_out = "a cab rd; bzzq. abracadabra, dab"
    got = model.probabilities(ngram.encode(held_out, ALPHABET))
    for i, w in enumerate(held_out):
        expected = reference_probability(TEXT, order, smoothing, held_out[:i], w)
        assert got[i] == pytest.approx(expected, rel=1e-12), (i, held_out[: i + 1])


@pytest.mark.parametrize("smoothing", ngram.SMOOTHINGS)
@pytest.mark.parametrize("context", ["", "a", "ab", "zq", "bra, "])
def test_every_next_character_distribution_sums_to_one(smoothing: str, context: str) -> None:
    model = ngram.CharNGram(ngram.encode(TEXT, ALPHABET), V, 4, smoothing, k=0.5)
    distribution = model.distribution(ngram.encode(context, ALPHABET))
    assert distribution.shape == (V,) and np.all(distribution > 0)
    assert distribution.sum() == pytest.approx(1.0, abs=1e-12)


def test_bits_per_character_is_the_mean_negative_log2() -> None:
    train = ngram.encode(TEXT, ALPHABET)
    model = ngram.CharNGram(train, V, 3, "kneser_ney")
    probabilities = model.probabilities(train[:40])
    assert model.bits_per_character(train[:40]) == pytest.approx(-np.mean(np.log2(probabilities)))
    assert ngram.perplexity(2.0) == 4.0
    # add-one unigram on its own training text: close to the empirical entropy
    counts = np.bincount(train, minlength=V)
    entropy = -sum(c / len(train) * math.log2(c / len(train)) for c in counts if c)
    assert ngram.unigram_bits(train, train, V) == pytest.approx(entropy, abs=0.05)


def test_the_corpora_are_split_by_document_and_the_same_everywhere() -> None:
    for name in corpora.CORPORA:
        corpus = corpora.load(name)
        for split in corpora.SPLITS:
            assert corpus.documents[split], f"{name} has no {split} documents"
            assert set(corpus.texts[split]) <= set(corpora.ALPHABET)
            assert corpus.texts[split].count(corpora.SEPARATOR) == len(corpus.documents[split]) - 1
            assert all(corpora.split_of(doc) == split for doc in corpus.documents[split])
        every = [doc for split in corpora.SPLITS for doc in corpus.documents[split]]
        assert len(every) == len(set(every))
    sources = [doc for docs in corpora.python_source().documents.values() for doc in docs]
    assert "os.py" in sources and not [d for d in sources if d.startswith("_sysconfigdata")]
    # a fixed function of the name (sha256), not of Python's salted hash: another hash seed, in
    # another process, splits the same way
    names = sorted(d for docs in corpora.python_source().documents.values() for d in docs)
    here = [corpora.split_of(n) for n in names]
    there = subprocess.run(
        [sys.executable, "-c", "import sys; from experiments.language.corpora import split_of; "
         "print(' '.join(split_of(n) for n in sys.argv[1:]))", *names],
        env={**os.environ, "PYTHONHASHSEED": "12345"}, cwd=Path(corpora.__file__).parents[2],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert there == here and len(set(here)) > 1
    assert corpora.clean("a\tb\r\nc\u00e9") == "a    b\nc" + corpora.UNKNOWN


def test_kneser_ney_beats_add_one_on_held_out_prose() -> None:
    corpus = corpora.load("python_docs")
    alphabet, size = corpora.ALPHABET, len(corpora.ALPHABET)
    train = ngram.encode(corpus.texts["train"], alphabet)
    valid = ngram.encode(corpus.texts["valid"], alphabet)
    kn = ngram.CharNGram(train, size, 5, "kneser_ney").bits_per_character(valid)
    laplace = ngram.CharNGram(train, size, 5, "add_k", k=1.0).bits_per_character(valid)
    unigram = ngram.unigram_bits(train, valid, size)
    assert kn < laplace < unigram, (kn, laplace, unigram)


def test_the_best_baseline_is_chosen_on_validation_text() -> None:
    from experiments.language.baselines import baseline_table

    table = baseline_table("python_docs", orders=(1, 3, 5), smoothings=("add_k", "kneser_ney"))
    assert len(table["rows"]) == 6
    best = table["best"]
    assert best["valid_bpc"] == min(row["valid_bpc"] for row in table["rows"])
    assert (best["smoothing"], best["order"]) == ("kneser_ney", 5), table["rows"]
    unigram = next(r for r in table["rows"] if r["order"] == 1 and r["smoothing"] == "add_k")
    assert best["test_bpc"] < unigram["test_bpc"] - 2  # about 1.8 against 4.7
