"""The n-gram baselines of Chapter 5, chosen as honestly as the GRU: on validation text.

:func:`baseline_table` scores every smoothing and order on the validation text and reports the
test score of each, and of the best on validation (never the best on test), on the characters
a language model run scores (:func:`experiments.language.training.stream_targets`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from experiments.language import corpora, ngram
from experiments.language.training import DEFAULTS, stream_targets, texts


def scored_bits(model: ngram.CharNGram, ids: np.ndarray, streams: int) -> float:
    """The model's bits per character on the characters a language model reading ``ids`` as
    ``streams`` streams is scored on."""
    return float(-np.mean(np.log2(model.probabilities(ids)[stream_targets(len(ids), streams)])))


def baseline_table(
    corpus: str,
    orders: Iterable[int] = range(1, 10),
    smoothings: Iterable[str] = ngram.SMOOTHINGS,
    k: float = 0.1,
    streams: int = DEFAULTS["eval_streams"],
) -> dict[str, Any]:
    """Validation and test bits per character of every (smoothing, order) on ``corpus``, and the
    one with the best validation score: ``{"rows": [...], "best": row}``."""
    ids = texts({"corpus": corpus})
    V = len(corpora.ALPHABET)
    rows = []
    for smoothing in smoothings:
        for order in orders:
            model = ngram.CharNGram(ids["train"], V, order, smoothing, k=k)
            rows.append(
                {
                    "smoothing": smoothing,
                    "order": order,
                    "valid_bpc": scored_bits(model, ids["valid"], streams),
                    "test_bpc": scored_bits(model, ids["test"], streams),
                }
            )
    return {"rows": rows, "best": min(rows, key=lambda row: row["valid_bpc"])}


def train(spec: dict[str, Any]) -> dict[str, Any]:
    """The experiments step's n-gram run: :func:`baseline_table` of ``spec["corpus"]`` over
    ``spec["orders"]`` (counting is training too: it runs before the book, and is cached)."""
    return baseline_table(spec["corpus"], orders=spec.get("orders", range(1, 10)))


def describe(spec: dict[str, Any]) -> str:
    """'n-gram baselines on python_docs'."""
    return f"n-gram baselines on {spec['corpus']}"


def cost(spec: dict[str, Any]) -> float:
    """Rough one-thread seconds here."""
    return 20.0 if spec["corpus"] == "python_source" else 3.0
