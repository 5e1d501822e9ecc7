"""Chapter 4's experiment code: tasks, sizing, training and the result cache.

The chapter's claims rest on this package, so its pieces are checked against PyTorch's modules and
against the definitions the chapter states, and training is checked to be deterministic across
processes (the cache and the parallel runner depend on it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from experiments import runner, suite
from experiments.models import (
    KINDS,
    SequenceModel,
    hidden_for_parameters,
    hidden_sizes,
    model_parameters,
    recurrent_parameters,
)
from experiments.tasks import Adding, CountingAnBn, DelayedRecall, Digits, Sunspots, naive_rmse
from experiments.training import train

MODULES = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("D", "H", "out"), [(1, 1, 1), (2, 32, 1), (5, 37, 4), (8, 64, 10)])
def test_parameter_formulas_match_pytorch(kind, D, H, out):
    assert recurrent_parameters(kind, D, H) == sum(
        p.numel() for p in MODULES[kind](D, H).parameters()
    )
    model = SequenceModel(kind, D, H, out)
    assert model_parameters(kind, D, H, out) == sum(p.numel() for p in model.parameters())


def test_equal_parameter_sizing_is_the_closest_hidden_size():
    sizes = hidden_sizes("equal_params", 2, 1, 32)
    budget = model_parameters("lstm", 2, 32, 1)
    assert sizes["lstm"] == 32 and sizes["gru"] > 32 and sizes["rnn"] > sizes["gru"]
    for kind, H in sizes.items():
        gap = abs(model_parameters(kind, 2, H, 1) - budget)
        assert gap <= abs(model_parameters(kind, 2, H - 1, 1) - budget)
        assert gap <= abs(model_parameters(kind, 2, H + 1, 1) - budget)
    assert hidden_for_parameters("gru", 2, 1, model_parameters("gru", 2, 40, 1)) == 40
    assert hidden_sizes("equal_hidden", 2, 1, 32) == dict.fromkeys(KINDS, 32)


def test_forget_bias_sets_the_f_block_only():
    torch.manual_seed(0)
    model = SequenceModel("lstm", 3, 4, 1, forget_bias=1.0)
    b_ih = model.recurrent.bias_ih_l0.detach()
    b_hh = model.recurrent.bias_hh_l0.detach()
    # PyTorch's block order is i, f, g, o: f is rows H..2H.
    assert torch.equal(b_ih[4:8] + b_hh[4:8], torch.ones(4))
    assert not torch.equal(b_ih[:4], torch.ones(4)) and not torch.equal(b_ih[8:], torch.ones(8))
    with pytest.raises(ValueError, match="forget gate"):
        SequenceModel("gru", 3, 4, 1, forget_bias=1.0)


def test_adding_problem_targets_are_the_sum_of_the_two_marked_numbers():
    task = Adding(length=30, test_size=200)
    batch = task.train_batch(np.random.default_rng(1), 50)
    values, markers = batch.x[..., 0], batch.x[..., 1]
    assert batch.x.shape == (30, 50, 2)
    assert torch.equal(markers[:15].sum(0), torch.ones(50))  # one marker in each half
    assert torch.equal(markers[15:].sum(0), torch.ones(50))
    assert torch.allclose((values * markers).sum(0), batch.y)
    always_one = torch.ones(30, 200, 1)
    test = task.test_batch()
    assert task.score(always_one, test) == pytest.approx(1.0, abs=0.15)  # the 1/6 baseline
    perfect = torch.zeros(30, 200, 1)
    perfect[-1, :, 0] = test.y
    assert task.score(perfect, test) == 0 and task.solved(0.0)


def test_delayed_recall_asks_for_the_first_symbols_at_the_end():
    task = DelayedRecall(length=12, symbols=3, alphabet=4, test_size=100)
    batch = task.train_batch(np.random.default_rng(2), 20)
    assert batch.x.shape == (12, 20, 5) and batch.y.shape == (3, 20)
    assert torch.equal(batch.x[:3, :, :4].argmax(-1), batch.y)
    assert torch.equal(batch.x[3:9].sum(), torch.tensor(0.0))  # the delay is blank
    assert torch.equal(batch.x[9:, :, 4], torch.ones(3, 20))  # recall marker
    test = task.test_batch()
    right = torch.zeros(12, 100, 4)
    right[9:] = torch.nn.functional.one_hot(test.y, 4).float()
    assert task.score(right, test) == 1.0
    shifted = torch.roll(right, 1, dims=0)  # answers one step late
    assert task.score(shifted, test) < 0.1


def test_anbn_scores_the_longest_prefix_of_lengths_handled():
    task = CountingAnBn(train_max=3, test_max=6)
    test = task.test_batch()
    assert test.x.shape == (12, 6, 2)
    # n = 2: "aabb" -> after the first b: "b" comes next (0), after the second: the end (1).
    assert test.mask[:, 1].nonzero().flatten().tolist() == [2, 3]
    assert test.y[:, 1].nonzero().flatten().tolist() == [3]
    perfect = torch.where(test.y.bool(), 5.0, -5.0)[..., None]
    assert task.score(perfect, test) == 6
    wrong_at_four = perfect.clone()
    wrong_at_four[2 * 4 - 1, 3, 0] = -5.0  # n = 4: misses the end after the 4th b
    assert task.score(wrong_at_four, test) == 3


def test_digits_and_sunspots_load_from_installed_packages():
    rows, pixels = Digits("rows"), Digits("pixels")
    assert rows.test_batch().x.shape == (8, 500, 8)
    assert pixels.test_batch().x.shape == (64, 500, 1)
    assert rows._train_y.numel() == 1297
    task = Sunspots()
    assert task.test_years[0] == 1959 and task.test_years[-1] == 2008
    # Seasonal naive by hand on the test years.
    from experiments.tasks import sunspots

    years, values = sunspots()
    test = np.searchsorted(years, 1959)
    expected = np.sqrt(np.mean((values[test:] - values[test - 11 : -11]) ** 2))
    assert naive_rmse(11) == pytest.approx(expected)


SMALL = {"task": "adding", "task_args": {"length": 8}, "model": "gru", "hidden": 8, "seed": 3,
         "steps": 30, "eval_every": 10}  # fmt: skip


def test_training_is_deterministic_and_parallel_runs_match_in_process_runs(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    first, second = train(SMALL), train(SMALL)
    assert first["train_loss"] == second["train_loss"] and first["history"] == second["history"]
    assert first["train_loss"][-1] < first["train_loss"][0]  # it learns something
    monkeypatch.setenv("GRU_EXPERIMENT_CACHE", str(tmp_path))
    other = {**SMALL, "model": "lstm"}
    parallel = runner.run_all([SMALL, other], workers=2)
    assert parallel[0]["train_loss"] == first["train_loss"]
    assert parallel[1]["spec"]["model"] == "lstm"
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_the_cache_answers_without_training_and_keys_cover_the_whole_spec(tmp_path, monkeypatch):
    monkeypatch.setenv("GRU_EXPERIMENT_CACHE", str(tmp_path))
    planted = {"score": 123.0, "spec": SMALL}
    (tmp_path / f"{runner.cache_key(SMALL)}.json").write_text(json.dumps(planted))
    assert runner.run_all([SMALL])[0]["score"] == 123.0
    assert runner.cache_key(SMALL) != runner.cache_key({**SMALL, "seed": 4})
    assert runner.cache_key(SMALL) == runner.cache_key({**SMALL, "clip": 1.0})  # a default
    labelled = [{**SMALL, "sizing": "equal_hidden"}, {**SMALL, "sizing": "equal_params"}]
    both = runner.run_all(labelled)  # one run (from the cache), each result with its own label
    assert [r["spec"]["sizing"] for r in both] == ["equal_hidden", "equal_params"]
    assert [r["score"] for r in both] == [123.0, 123.0]


def test_changing_the_package_code_changes_every_key(tmp_path, monkeypatch):
    copy = tmp_path / "experiments"
    copy.mkdir()
    for path in runner.PACKAGE.glob("*.py"):
        (copy / path.name).write_bytes(path.read_bytes())
    monkeypatch.setattr(runner, "PACKAGE", copy)
    runner.code_fingerprint.cache_clear()
    try:
        before = runner.cache_key(SMALL)
        with (copy / "training.py").open("a") as handle:
            handle.write("\n# a change to the training loop\n")
        runner.code_fingerprint.cache_clear()
        assert runner.cache_key(SMALL) != before
    finally:
        runner.code_fingerprint.cache_clear()


def test_the_protocol_covers_both_sizings_every_kind_and_seed():
    specs = suite.everything()
    # Distinct runs, except that the LSTM is its own equal-parameter reference: one run, two labels.
    lstm_twice = [s for s in specs if s["model"] == "lstm" and s["sizing"] == "equal_params"]
    assert len({runner.cache_key(spec) for spec in specs}) == len(specs) - len(lstm_twice)
    for task in ("adding", "recall", "anbn", "digits", "sunspots"):
        mine = [s for s in specs if s["task"] == task and s.get("forget_bias") is None]
        assert {(s["sizing"], s["model"], s["seed"]) for s in mine} == {
            (z, k, s) for z in suite.SIZINGS for k in KINDS for s in suite.SEEDS
        }
    biased = [s for s in specs if s.get("forget_bias") is not None]
    assert biased and all(s["model"] == "lstm" and s["forget_bias"] == 1.0 for s in biased)
