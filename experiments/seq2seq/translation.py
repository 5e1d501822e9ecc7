"""Chapter 6's translation runs: German → English on Ding's sentence pairs (:mod:`.ding`), a
word-level encoder–decoder with or without attention, and the word-by-word dictionary baseline.

Both are scored with corpus BLEU (:mod:`.bleu`) on the test pairs' lower-cased tokens; the model's
vocabularies hold the tokens seen at least ``min_count`` times in the training pairs (the others
read and write ``<unk>``, which never matches a reference token).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from experiments.seq2seq import bleu, ding
from experiments.seq2seq.batches import pad, train_step
from experiments.seq2seq.decoding import beam_search, greedy
from experiments.seq2seq.models import Seq2Seq

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "model": "attention",  # or "no attention", or "dictionary" (the baseline)
    "min_count": 3,
    "embed": 48,
    "hidden": 96,
    "batch": 64,
    "steps": 400,
    "lr": 3e-3,
    "clip": 1.0,
    "beam": 4,
    "length_alpha": 1.0,
    "max_len": 20,
}
START, END, UNKNOWN = 1, 2, 3


def describe(spec: Spec) -> str:
    """'translation: attention, H 128, seed 0'."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "dictionary":
        return "translation: word-by-word dictionary"
    return f"translation: {spec['model']}, H {spec['hidden']}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here (the output layer over the vocabulary dominates a step)."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "dictionary":
        return 4.0
    return 10.0 + spec["steps"] * 0.15 * (spec["hidden"] / 96) * (spec["batch"] / 64)


def _ids(text: str, index: dict[str, int]) -> list[int]:
    return [index.get(token, UNKNOWN) for token in ding.tokens(text)]


def _score(pairs: ding.Pairs, hypotheses: list[list[str]]) -> dict[str, Any]:
    """BLEU overall and per German sentence length, and each sentence's word count."""
    references = [[ding.tokens(e)] for e in pairs.english]
    lengths = [len(ding.tokens(g)) for g in pairs.german]
    return {
        "bleu": bleu.corpus_bleu(references, hypotheses),
        "lengths": lengths,
        "hypotheses": [" ".join(h) for h in hypotheses],
    }


def _dictionary(spec: Spec) -> dict[str, Any]:
    table = ding.word_dictionary(ding.sentence_pairs("train"))
    test = ding.sentence_pairs("test")
    result = _score(test, [ding.translate_word_by_word(g, table) for g in test.german])
    result["entries"] = len(table)
    return result


def train(spec: Spec) -> dict[str, Any]:
    """Train (or count the baseline), then translate the test pairs greedily and with beam
    search: the runner's entry point."""
    spec = {**DEFAULTS, **spec}
    started, started_cpu = time.perf_counter(), time.process_time()
    result = _dictionary(spec) if spec["model"] == "dictionary" else _train_model(spec)
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - started_cpu
    return result


def _train_model(spec: Spec) -> dict[str, Any]:
    train_pairs, test = ding.sentence_pairs("train"), ding.sentence_pairs("test")
    source_vocab = ding.vocabulary(train_pairs.german, spec["min_count"])
    target_vocab = ding.vocabulary(train_pairs.english, spec["min_count"])
    s_index = {t: i for i, t in enumerate(source_vocab)}
    t_index = {t: i for i, t in enumerate(target_vocab)}
    sources = [_ids(g, s_index) for g in train_pairs.german]
    targets = [[START, *_ids(e, t_index), END] for e in train_pairs.english]
    rng = np.random.default_rng(spec["seed"])
    torch.manual_seed(spec["seed"])
    model = Seq2Seq(len(source_vocab), len(target_vocab), spec["embed"], spec["hidden"],
                    attention=spec["model"] == "attention")  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    losses = []
    for _ in range(spec["steps"]):
        pick = rng.integers(0, len(sources), spec["batch"])
        src, tgt = pad([sources[i] for i in pick]), pad([targets[i] for i in pick])
        losses.append(train_step(model, optimizer, src, tgt, spec["clip"]))
    model.eval()
    src = pad([_ids(g, s_index) or [UNKNOWN] for g in test.german])
    found, _ = greedy(model, src, START, END, spec["max_len"])
    beamed = beam_search(model, src, START, END, spec["max_len"], spec["beam"],
                         spec["length_alpha"])  # fmt: skip
    words = [[target_vocab[i] for i in ids] for ids in found]
    result = _score(test, words)
    result["beam_bleu"] = _score(test, [[target_vocab[i] for i in ids] for ids in beamed])["bleu"]
    result["beam_hypotheses"] = [" ".join(target_vocab[i] for i in ids) for ids in beamed]
    result["losses"] = losses
    result["vocabulary"] = [len(source_vocab), len(target_vocab)]
    result["parameters"] = sum(p.numel() for p in model.parameters())
    return result
