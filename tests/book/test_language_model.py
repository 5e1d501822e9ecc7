"""Chapter 5's language model runs: streams for truncated BPTT, scoring in bits per character,
and one seeded training run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from experiments.language import corpora, streams
from experiments.language.models import CharLM
from experiments.language.training import bits_per_character, stream_targets, train


def test_streams_are_contiguous_and_every_target_is_read_once() -> None:
    ids = np.arange(103)
    rows = streams.batchify(ids, 4)  # n = 25, three characters dropped
    assert rows.shape == (25, 4)
    assert all(np.array_equal(rows[:, b], ids[25 * b : 25 * (b + 1)]) for b in range(4))
    pairs = list(streams.chunks(rows, 7))
    assert [len(x) for x, _ in pairs] == [7, 7, 7, 3]
    for x, y in pairs:
        assert np.array_equal(y, x + 1)  # the next character of the same stream
    targets = np.concatenate([y for _, y in pairs]).T.ravel()
    assert np.array_equal(np.sort(targets), np.sort(ids[stream_targets(len(ids), 4)]))
    assert len(set(targets.tolist())) == len(targets)


def test_scoring_carries_the_state_across_chunks() -> None:
    torch.manual_seed(0)
    model = CharLM(len(corpora.ALPHABET), 8, 12)
    ids = np.random.default_rng(0).integers(len(corpora.ALPHABET), size=401)
    chunked = bits_per_character(model, ids, B=4, T=7)
    whole = bits_per_character(model, ids, B=4, T=10_000)  # one chunk: nothing to carry
    assert chunked == pytest.approx(whole, rel=1e-6)
    # and the score is the mean negative log2 probability of those targets
    rows = torch.from_numpy(streams.batchify(ids, 4))
    with torch.no_grad():
        logits, _ = model(rows[:-1])
        logp = torch.log_softmax(logits, -1).gather(-1, rows[1:, :, None])
    assert whole == pytest.approx(float(-logp.mean()) / math.log(2), rel=1e-6)


def test_a_short_run_learns_and_is_the_same_twice() -> None:
    spec = {
        "corpus": "python_docs",
        "hidden": 32,
        "embed": 8,
        "steps": 60,
        "batch": 8,
        "bptt": 32,
        "eval_every": 30,
        "eval_chars": 4000,
        "seed": 3,
    }
    first, second = train(spec), train(spec)
    for key in ("valid_bpc", "test_bpc", "history", "train_bpc"):
        assert first[key] == second[key], key
    uniform = math.log2(len(corpora.ALPHABET))
    assert first["valid_bpc"] < uniform - 1.0, first["history"]
    assert [step for step, _ in first["history"]] == [30, 60]
