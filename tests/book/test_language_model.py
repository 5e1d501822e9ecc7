"""Chapter 5's language model runs: streams for truncated BPTT, scoring in bits per character,
and one seeded training run."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from experiments import runner
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


TINY = {
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


def test_a_short_run_learns_and_is_the_same_twice() -> None:
    spec = TINY
    first, second = train(spec), train(spec)
    for key in ("valid_bpc", "test_bpc", "history", "train_bpc"):
        assert first[key] == second[key], key
    uniform = math.log2(len(corpora.ALPHABET))
    assert first["valid_bpc"] < uniform - 1.0, first["history"]
    assert [step for step, _ in first["history"]] == [30, 60]


def test_language_runs_are_trained_and_cached_by_the_runner(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRU_EXPERIMENT_CACHE", str(tmp_path))
    spec = {"trainer": "language", **TINY, "steps": 20, "eval_every": 20}
    [result] = runner.run_all([spec], workers=1)
    assert result["spec"] == spec and result["steps"] == 20
    [stored] = tmp_path.glob("*.json")
    mtime = stored.stat().st_mtime_ns
    assert runner.load_all([spec])[0]["test_bpc"] == result["test_bpc"]
    runner.run_all([spec], workers=1)  # cached: nothing trained again
    assert stored.stat().st_mtime_ns == mtime
    assert "language model on python_docs" in runner._trainer(spec).describe(spec)


def test_language_code_changes_language_keys_only(tmp_path, monkeypatch) -> None:
    copy = tmp_path / "experiments"
    (copy / "language").mkdir(parents=True)
    for path in [*runner.PACKAGE.glob("*.py"), *runner.PACKAGE.glob("language/*.py")]:
        (copy / path.relative_to(runner.PACKAGE)).write_bytes(path.read_bytes())
    monkeypatch.setattr(runner, "PACKAGE", copy)
    chapter_4 = {"task": "adding", "task_args": {"length": 8}, "model": "gru", "hidden": 8,
                 "seed": 3}  # fmt: skip
    language = {"trainer": "language", **TINY}
    runner.code_fingerprint.cache_clear()
    try:
        before = runner.cache_key(chapter_4), runner.cache_key(language)
        with (copy / "language" / "training.py").open("a") as handle:
            handle.write("\n# a change to the language model's training\n")
        runner.code_fingerprint.cache_clear()
        assert runner.cache_key(chapter_4) == before[0]
        assert runner.cache_key(language) != before[1]
    finally:
        runner.code_fingerprint.cache_clear()


def test_the_variational_gru_is_nn_gru_without_dropout_and_masks_once_per_sequence() -> None:
    from experiments.language.models import VariationalGRU

    torch.manual_seed(0)
    layer = VariationalGRU(3, 5, p=0.5).double()
    reference = torch.nn.GRU(3, 5).double()
    reference.load_state_dict(layer.state_dict())  # the same names: weights load either way
    x, h0 = torch.randn(7, 4, 3, dtype=torch.float64), torch.randn(1, 4, 5, dtype=torch.float64)
    layer.eval()
    for got, expected in zip(layer(x, h0), reference(x, h0), strict=True):
        assert torch.allclose(got, expected, atol=1e-12, rtol=0)
    layer.train()
    torch.manual_seed(1)
    outputs, _ = layer(x, h0)
    torch.manual_seed(1)
    mask = layer.mask(4, x)  # the mask that call drew: one for all seven steps
    assert set(mask.unique().tolist()) == {0.0, 2.0}
    state, expected = h0[0], []
    for t in range(7):  # nn.GRU's equations by hand, the mask on the recurrent input only
        gi = x[t] @ layer.weight_ih_l0.T + layer.bias_ih_l0
        gh = (state * mask) @ layer.weight_hh_l0.T + layer.bias_hh_l0
        r = torch.sigmoid(gi[:, :5] + gh[:, :5])
        z = torch.sigmoid(gi[:, 5:10] + gh[:, 5:10])
        n = torch.tanh(gi[:, 10:] + r * gh[:, 10:])
        state = z * state + (1 - z) * n
        expected.append(state)
    assert torch.allclose(outputs, torch.stack(expected), atol=1e-12, rtol=0)


def test_temperature_divides_the_logits_and_zero_is_the_argmax() -> None:
    from experiments.language.sampling import next_distribution

    logits = torch.tensor([[2.0, 1.0, 0.5, -1.0], [0.0, 3.0, 3.0, 1.0]], dtype=torch.float64)
    p = torch.softmax(logits, -1)
    for tau in (0.5, 1.0, 2.0):
        sharpened = p ** (1 / tau) / (p ** (1 / tau)).sum(-1, keepdim=True)
        assert torch.allclose(next_distribution(logits, tau), sharpened, atol=1e-12)
    greedy = next_distribution(logits, 0.0)
    assert greedy.tolist() == [[1, 0, 0, 0], [0, 1, 0, 0]]  # a tie goes to the first
    assert torch.allclose(next_distribution(logits, 1e-3)[0], greedy[0], atol=1e-12)
    top2 = next_distribution(logits[:1], 1.0, top_k=2)[0]
    assert top2[2:].tolist() == [0, 0]
    assert torch.allclose(top2[:2], torch.softmax(logits[0, :2], -1), atol=1e-12)


def test_samples_are_seeded_and_greedy_samples_follow_the_argmax() -> None:
    from experiments.language.sampling import sample

    torch.manual_seed(0)
    model = CharLM(len(corpora.ALPHABET), 8, 16)
    prompt = [5, 6, 7]
    assert sample(model, prompt, 30, 1.0, seed=4) == sample(model, prompt, 30, 1.0, seed=4)
    assert sample(model, prompt, 30, 1.0, seed=4) != sample(model, prompt, 30, 1.0, seed=5)
    greedy = sample(model, prompt, 10, 0.0, seed=9)
    with torch.no_grad():  # the argmax, fed back, step by step
        ids, expected = list(prompt), []
        for _ in range(10):
            logits, _ = model(torch.tensor(ids)[:, None])
            expected.append(int(logits[-1, 0].argmax()))
            ids.append(expected[-1])
    assert greedy == expected
