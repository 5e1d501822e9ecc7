"""Chapter 4's experiment code: tasks, sizing, training, the protocol's stages and the result cache.

The chapter's claims rest on this package, so its pieces are checked against PyTorch's modules and
against the definitions the chapter states; training is checked to be deterministic across
processes (the cache and the parallel runner depend on it), never to read the test set before its
last checkpoint is chosen, and the protocol to choose learning rates on validation results only.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from experiments import runner, suite, summary
from experiments.models import (
    KINDS,
    SequenceModel,
    hidden_for_parameters,
    hidden_sizes,
    model_parameters,
    recurrent_parameters,
)
from experiments.tasks import (
    Adding,
    CountingAnBn,
    DelayedRecall,
    Digits,
    Sunspots,
    make_task,
    naive_rmse,
)
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
    """ "Forget bias 1", as Chapter 4 states it: the forget block of bias_ih_l0 at 1, that of
    bias_hh_l0 at 0, every other parameter as PyTorch initialises it (same seed)."""
    torch.manual_seed(0)
    model = SequenceModel("lstm", 3, 4, 1, forget_bias=1.0)
    torch.manual_seed(0)
    default = SequenceModel("lstm", 3, 4, 1)
    b_ih, b_hh = model.recurrent.bias_ih_l0.detach(), model.recurrent.bias_hh_l0.detach()
    # PyTorch's block order is i, f, g, o: f is rows H..2H.
    assert torch.equal(b_ih[4:8], torch.ones(4)) and torch.equal(b_hh[4:8], torch.zeros(4))
    for name, value in default.state_dict().items():
        mine = model.state_dict()[name]
        if name.startswith("recurrent.bias"):
            mine, value = torch.cat([mine[:4], mine[8:]]), torch.cat([value[:4], value[8:]])
        assert torch.equal(mine, value), name
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
    assert rows.validation_batch().x.shape == (8, 300, 8)
    assert rows.train_eval_batch().y.numel() == 1797 - 500 - 300
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


def test_validation_sets_are_disjoint_from_test_sets():
    """Datasets: no example in two sets (digits by index, sunspots by the target's year, in time
    order). Generated tasks: validation and test drawn with seeds of their own, so no validation
    sequence of the adding problem is a test sequence or a training sequence of a run."""
    digits = Digits("rows")
    split = {name: set(indices.tolist()) for name, indices in digits.split.items()}
    assert not split["test"] & split["validation"] and not split["test"] & split["train"]
    assert not split["validation"] & split["train"]
    assert len(split["test"] | split["validation"] | split["train"]) == 1797
    _, labels = load_digits_arrays()
    order = np.concatenate([digits.split["test"], digits.split["validation"]])
    assert torch.equal(  # the batches hold the examples the split names
        torch.cat([digits.test_batch().y, digits.validation_batch().y]),
        torch.from_numpy(labels[order]).long(),
    )
    spots = Sunspots()
    assert spots.train_years.max() < spots.validation_years.min()
    assert spots.validation_years.max() < spots.test_years.min()
    assert spots.validation_years[0] == 1930 and spots.validation_years[-1] == 1958
    assert len(spots.validation_batch().y) == len(spots.validation_years)
    adding = Adding(length=20)
    test, validation = adding.test_batch().x, adding.validation_batch().x
    train_batch = adding.train_batch(np.random.default_rng(0), 500).x
    as_rows = lambda x: {tuple(column.flatten().tolist()) for column in x.transpose(0, 1)}  # noqa: E731
    assert not as_rows(test) & as_rows(validation)
    assert not as_rows(test) & as_rows(train_batch) and not as_rows(validation) & as_rows(
        train_batch
    )
    recall = DelayedRecall(length=10)
    assert not torch.equal(recall.test_batch().y[:, :500], recall.validation_batch().y)
    anbn = CountingAnBn(train_max=5, test_max=9)
    assert anbn.validation_batch().mask.shape[1] == 5  # the training strings, n = 1..5, only


def load_digits_arrays():
    from experiments.tasks import _digits

    return _digits()


SMALL_DATA = {"task": "digits", "task_args": {"mode": "rows"}, "model": "gru", "hidden": 8,
              "seed": 0, "steps": 40, "eval_every": 10}  # fmt: skip


def test_training_chooses_its_checkpoint_without_reading_the_test_set(monkeypatch):
    """Replacing the test set changes the reported test score and nothing else: the trajectory,
    the validation scores and the chosen checkpoint do not depend on it."""
    torch.set_num_threads(1)
    honest = train(SMALL_DATA)
    original = Digits.test_batch

    def scrambled(self):
        batch = original(self)
        return type(batch)(batch.x.flip(0), (batch.y + 3) % 10)

    monkeypatch.setattr(Digits, "test_batch", scrambled)
    other = train(SMALL_DATA)
    assert other["history"] == honest["history"] and other["train_loss"] == honest["train_loss"]
    assert other["best_step"] == honest["best_step"] and other["val_score"] == honest["val_score"]
    assert other["train_score"] == honest["train_score"]
    assert other["score"] != honest["score"]
    # ... while the validation set does steer it (so the test above could fail).
    monkeypatch.setattr(Digits, "test_batch", original)
    monkeypatch.setattr(Digits, "validation_batch", scrambled)
    steered = train(SMALL_DATA)
    assert steered["history"] != honest["history"]


def test_the_chosen_checkpoint_is_the_best_on_validation_and_a_longer_budget_extends_a_run():
    torch.set_num_threads(1)
    run = train(SMALL_DATA)
    scores = [score for _, score in run["history"]]
    assert run["val_score"] == max(scores)
    assert run["best_step"] == run["history"][scores.index(max(scores))][0]  # the first best
    longer = train({**SMALL_DATA, "steps": 5 * SMALL_DATA["steps"]})
    assert longer["train_loss"][: SMALL_DATA["steps"]] == run["train_loss"]  # the same prefix
    assert longer["history"][: len(run["history"])] == run["history"]
    last = train({**SMALL_DATA, "checkpoint": "last"})
    assert last["best_step"] == SMALL_DATA["steps"] and last["val_score"] == scores[-1]


def test_a_solved_run_stops_with_a_margin_and_reports_its_test_score():
    torch.set_num_threads(1)
    spec = {"task": "adding", "task_args": {"length": 10}, "model": "lstm", "hidden": 16,
            "seed": 0, "steps": 1000, "lr": 0.03, "eval_every": 25}  # fmt: skip
    run = train(spec)
    task = make_task("adding", length=10)
    assert run["steps"] < spec["steps"] and run["val_score"] <= 0.05 and task.stop(run["val_score"])
    assert run["best_step"] == run["steps"] and run["val_solved"]
    assert run["solved"] == task.solved(run["score"]) and run["score"] < 0.1
    assert run["train_score"] is None  # generated data: no fixed training set
    assert all(not task.stop(score) for _, score in run["history"][:-1])


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


def test_changing_the_shared_adding_problem_changes_every_key(tmp_path, monkeypatch):
    """The adding problem lives in course_checks (the checks use it too): part of the key."""
    copy = tmp_path / "adding.py"
    copy.write_bytes(runner.TRAINERS["sequence"].shared[0].read_bytes())
    runner.code_fingerprint.cache_clear()
    try:
        before = runner.cache_key(SMALL)
        sequence = dataclasses.replace(runner.TRAINERS["sequence"], shared=(copy,))
        monkeypatch.setitem(runner.TRAINERS, "sequence", sequence)
        runner.code_fingerprint.cache_clear()
        assert runner.cache_key(SMALL) == before, "the same code, the same key"
        with copy.open("a") as handle:
            handle.write("\n# a change to the adding problem\n")
        runner.code_fingerprint.cache_clear()
        assert runner.cache_key(SMALL) != before
    finally:
        runner.code_fingerprint.cache_clear()


def fake_result(spec: dict, rng: np.random.Generator) -> dict:
    """A result with made-up scores, for the stage functions (no training)."""
    steps = spec["steps"]
    solved = bool(rng.random() < 0.6)
    return {
        "spec": spec,
        "score": float(rng.random()),
        "solved": solved,
        "val_score": float(rng.random()) * (spec["task_args"].get("train_max", 1)),
        "val_solved": solved,
        "best_step": int(rng.integers(1, steps + 1)),
        "steps": steps,
        "train_score": float(rng.random()),
        "parameters": 1,
    }


def fake_protocol(seed: int = 0) -> list[list[dict]]:
    """Every stage's made-up results, each stage computed from the ones before it."""
    rng = np.random.default_rng(seed)
    done, stages = [], []
    for stage in suite.STAGES:
        results = [fake_result(spec, rng) for spec in stage(done)]
        stages.append(results)
        done = done + results
    return stages


def test_the_stages_are_deterministic_functions_of_earlier_results():
    first, second = fake_protocol(0), fake_protocol(0)
    assert [[r["spec"] for r in stage] for stage in first] == [
        [r["spec"] for r in stage] for stage in second
    ]
    search, main, _ = first
    done = search + main
    assert suite.main_stage(search) == suite.main_stage(json.loads(json.dumps(search)))
    assert suite.longer_stage(done) == suite.longer_stage(list(done))
    other = fake_protocol(1)  # other scores: other choices (so the comparison above can fail)
    assert [r["spec"] for r in other[1]] != [r["spec"] for r in main]


def test_the_search_uses_its_own_seeds_and_the_main_stage_every_setting_and_seed():
    search, main, _ = fake_protocol(0)
    assert {r["spec"]["seed"] for r in search} == set(suite.SEARCH_SEEDS)
    assert not set(suite.SEARCH_SEEDS) & set(suite.SEEDS)
    assert {r["spec"]["lr"] for r in search} == set(suite.LR_GRID)
    assert {r["spec"]["sizing"] for r in search} == {"equal_hidden"}
    rates = suite.chosen_rates(search)
    specs = [r["spec"] for r in main]
    for name in suite.FAMILIES:
        for kind, forget_bias in suite.models(name):
            mine = [
                s for s in specs
                if suite.family(s) == name and s["model"] == kind
                and s.get("forget_bias") == forget_bias
            ]  # fmt: skip
            assert {s["lr"] for s in mine} == {rates[(name, kind, forget_bias)]}
            sizings = {"equal_hidden"} if forget_bias else set(suite.FAMILY_SIZINGS[name])
            assert {(s["sizing"], s["seed"], repr(s["task_args"])) for s in mine} == {
                (z, seed, repr(args))
                for z in sizings
                for seed in suite.SEEDS
                for args in suite.variants(name)
            }
    assert len(suite.SEEDS) >= 5
    # Distinct runs, except that the LSTM is its own equal-parameter reference: one run, two labels.
    lstm_twice = [s for s in specs if s["model"] == "lstm" and s["sizing"] == "equal_params"]
    assert len({runner.cache_key(spec) for spec in specs}) == len(specs) - len(lstm_twice)


def test_learning_rates_are_chosen_on_validation_results_only():
    search = fake_protocol(0)[0]
    rates = suite.chosen_rates(search)
    rng = np.random.default_rng(5)
    tampered = [
        {**r, "score": float(rng.random()), "solved": not r["solved"], "train_score": -1.0}
        for r in search
    ]
    assert suite.chosen_rates(tampered) == rates
    stripped = [{key: r[key] for key in ("spec", *suite.VALIDATION_FIELDS)} for r in search]
    assert suite.chosen_rates(stripped) == rates  # needs nothing else
    # Validation results do decide: make one rate clearly best for the GRU on digits read by rows.
    target = (
        suite.LR_GRID[0]
        if rates[("digits_rows", "gru", None)] != suite.LR_GRID[0]
        else (suite.LR_GRID[-1])
    )
    steered = [
        {**r, "val_score": 1.0 if r["spec"]["lr"] == target else 0.0}
        if suite.family(r["spec"]) == "digits_rows" and r["spec"]["model"] == "gru"
        else r
        for r in search
    ]
    assert suite.chosen_rates(steered)[("digits_rows", "gru", None)] == target


def test_selection_prefers_solving_then_speed():
    spec = {"task": "adding", "task_args": {"length": 50}, "steps": 600}
    fast = {"spec": spec, "val_score": 0.04, "val_solved": True, "best_step": 100}
    slow = {"spec": spec, "val_score": 0.01, "val_solved": True, "best_step": 500}
    close = {"spec": spec, "val_score": 0.2, "val_solved": False, "best_step": 600}
    far = {"spec": spec, "val_score": 0.9, "val_solved": False, "best_step": 600}
    losses = [suite.selection_loss(r) for r in (fast, slow, close, far)]
    assert losses == sorted(losses) and len(set(losses)) == 4


def test_the_longer_stage_reruns_only_failing_settings_with_five_times_the_steps():
    search, main, longer = fake_protocol(0)
    failing = {}
    for r in main:
        if suite.failed(r):
            failing.setdefault(suite.setting(r["spec"]), []).append(r["spec"])
    assert failing and longer
    for r in longer:
        spec = r["spec"]
        assert spec["stage"] == "longer" and spec["steps"] >= 5 * suite.budget_steps(
            suite.family(spec)
        )
        base = {**spec, "steps": suite.budget_steps(suite.family(spec)), "stage": "main"}
        for key in ("stop_when_solved", "checkpoint"):
            base.pop(key, None)
        group = failing[suite.setting(base)]
        assert spec["seed"] in sorted(s["seed"] for s in group)[: suite.LONG_SEEDS]
    assert len(longer) == sum(min(len(g), suite.LONG_SEEDS) for g in failing.values())
    passing = [r for r in main if not suite.failed(r)]
    assert not suite.longer_stage(search + passing)  # nothing failed: no longer budgets
    assert all(
        suite.failed(r) is False for r in main if r["spec"]["task"] in ("digits", "sunspots")
    )


@pytest.mark.parametrize(
    ("differences", "expected"),
    [
        ([1, 1, 1, 1, 1], 1),  # better on all five seeds: p = 2/32
        ([-1, -2, -0.5, -1, -3], -1),
        ([1, 1, 1, 1, -1], 0),  # 4 to 1: p = 0.375
        ([0, 1, 1, 1, 1], 0),  # a tie leaves four: p = 0.125
        ([0, 0, 0, 0, 0], 0),
        ([1] * 9 + [-1], 1),  # 9 to 1 of ten seeds: p ≈ 0.021
    ],
)
def test_the_paired_rule_is_a_sign_test_on_per_seed_differences(differences, expected):
    assert suite.paired_verdict(differences) == expected


def test_sign_test_p_values_are_exact():
    assert suite.sign_test_p(5, 0) == pytest.approx(2 / 32)
    assert suite.sign_test_p(4, 1) == pytest.approx(2 * 6 / 32)
    assert suite.sign_test_p(0, 0) == 1.0
    assert suite.sign_test_p(3, 3) == 1.0


def run_row(task, model, seed, score, solved=False, best_step=600):
    return {"task": task, "model": model, "seed": seed, "score": score, "solved": solved,
            "best_step": best_step}  # fmt: skip


def test_paired_comparisons_follow_the_stated_order():
    import pandas as pd

    rows = []
    for seed in range(5):  # the GRU solves every seed; the LSTM only seeds 0-1, and later
        rows.append(run_row("adding", "gru", seed, 0.05, True, 200))
        rows.append(run_row("adding", "lstm", seed, 0.04 if seed < 2 else 0.5, seed < 2, 400))
    frame = pd.DataFrame(rows)
    assert summary.paired_signs(frame, "gru", "lstm") == [1.0] * 5  # never the lower MSE
    assert (
        summary.verdict(frame, "gru", "lstm") == 1 and summary.verdict(frame, "lstm", "gru") == -1
    )
    sunspots = pd.DataFrame(
        [run_row("sunspots", "gru", s, 14.0 + s) for s in range(5)]
        + [run_row("sunspots", "lstm", s, 15.0 + s) for s in range(5)]
    )
    assert summary.verdict(sunspots, "gru", "lstm") == 1  # lower RMSE on every seed
    shuffled = sunspots.copy()
    shuffled.loc[shuffled.model == "lstm", "score"] = [10.0, 20, 30, 5, 40]
    assert summary.verdict(shuffled, "gru", "lstm") == 0  # unpaired means would mislead


def test_group_spreads_stay_inside_the_scores_range():
    import pandas as pd

    frame = pd.DataFrame([run_row("adding", "gru", s, v) for s, v in enumerate([0.01, 0.02, 0.9])])
    frame["parameters"], frame["hidden"], frame["steps"] = 1, 1, 1
    row = summary.by_group(frame, ["model"]).iloc[0]
    assert row["low"] == 0.01 and row["high"] == 0.9 and row["median"] == 0.02
