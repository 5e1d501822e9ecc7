"""The experiment protocol of Chapter 4, in three stages of run specifications.

1. **Learning-rate search** (:func:`search_stage`): every model (the tanh RNN, the GRU, the LSTM,
   and on the long-range tasks the LSTM with forget-gate bias 1) on every task family, at equal
   hidden size, one length per long-range task (:data:`SEARCH_ARGS`), the seeds of
   :data:`SEARCH_SEEDS` and each rate of :data:`LR_GRID`. The rate of each (family, model) is the
   one with the lowest :func:`selection_loss`, which reads **validation** results only.
2. **Main runs** (:func:`main_stage`): every setting (task, length or reading order, sizing,
   model) with the seeds of :data:`SEEDS`, at the chosen rates.
3. **Longer budgets** (:func:`longer_stage`): where a main run failed (a long-range task not
   solved, or aⁿbⁿ not counted), the first :data:`LONG_SEEDS` failing seed(s) of that setting
   again, with :data:`LONG_FACTOR` times the steps, so that no "fails" rests on a short budget
   alone.

The constants below are the whole protocol (seeds, sizes, lengths, grids, budgets), so the chapter
can print them and a reader can change them in one place. Every stage is a deterministic function
of the results of the stages before it (:data:`STAGES`, read by :mod:`experiments.runner`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from experiments.models import KINDS, hidden_sizes
from experiments.tasks import make_task
from experiments.training import DEFAULTS, Spec

Result = dict[str, Any]

SEEDS = (0, 1, 2, 3, 4)
SEARCH_SEEDS = (100,)  # disjoint from SEEDS: the main runs' data orders were not searched on
LR_GRID = (3e-3, 1e-2, 3e-2)
HIDDEN = 32  # equal hidden size; equal parameter count matches the LSTM at this size
SIZINGS = ("equal_hidden", "equal_params")

ADDING_LENGTHS = (20, 50, 100)
RECALL_LENGTHS = (10, 15, 20)
ANBN = {"train_max": 20, "test_max": 120}
FORGET_BIAS = (
    1.0  # Jozefowicz et al. (2015): the forget block of bias_ih_l0 at 1, of bias_hh_l0 at 0
)
COUNTER = 1.5  # a cell "counts" when it handles every n up to COUNTER × the longest training n
LONG_FACTOR = 5
LONG_SEEDS = 1  # failing seeds per failing setting trained again with the longer budget

# Task families: one learning rate per (family, model), one budget per family.
FAMILIES: dict[str, tuple[str, dict[str, Any]]] = {  # family -> (task, arguments but the length)
    "adding": ("adding", {}),
    "recall": ("recall", {}),
    "anbn": ("anbn", ANBN),
    "digits_rows": ("digits", {"mode": "rows"}),
    "digits_pixels": ("digits", {"mode": "pixels"}),
    "sunspots": ("sunspots", {}),
}
BUDGETS: dict[str, dict[str, int | float]] = {
    "adding": {"steps": 600, "batch": 64},
    "recall": {"steps": 600, "batch": 128},
    "anbn": {"steps": 1000, "batch": 20, "eval_every": 25},
    "digits_rows": {"steps": 400, "batch": 64},
    "digits_pixels": {"steps": 400, "batch": 64},
    "sunspots": {"steps": 400, "batch": 64},
}
LENGTHS = {"adding": ADDING_LENGTHS, "recall": RECALL_LENGTHS}
SEARCH_ARGS = {"adding": {"length": 50}, "recall": {"length": 15}}  # the search's one length
LONG_RANGE = ("adding", "recall")  # the families whose LSTM is also run with FORGET_BIAS
THRESHOLDED = ("adding", "recall", "anbn")  # families whose runs stop when solved
# The sizings of each family. Both where a run is cheap; equal hidden size only where runs are
# the most expensive of the protocol (the long-range tasks, digits read pixel by pixel), to fit
# the build's time budget. At equal hidden size the LSTM has 4/3 of the GRU's parameters, so
# there a lead of the GRU cannot come from size, and a lead of the LSTM might.
FAMILY_SIZINGS: dict[str, tuple[str, ...]] = {
    "adding": ("equal_hidden",),
    "recall": ("equal_hidden",),
    "anbn": SIZINGS,
    "digits_rows": SIZINGS,
    "digits_pixels": ("equal_hidden",),
    "sunspots": SIZINGS,
}


def family(spec: Spec) -> str:
    """The task family of a specification: its task, and for digits the reading order."""
    if spec["task"] == "digits":
        return f"digits_{spec['task_args']['mode']}"
    return spec["task"]


def variants(name: str) -> list[dict[str, Any]]:
    """The task arguments of every setting of a family (one per length on long-range tasks)."""
    args = FAMILIES[name][1]
    if name in LENGTHS:
        return [{**args, "length": length} for length in LENGTHS[name]]
    return [dict(args)]


def models(name: str) -> list[tuple[str, float | None]]:
    """The (kind, forget bias) of every model compared on a family."""
    extra = [("lstm", FORGET_BIAS)] if name in LONG_RANGE else []
    return [(kind, None) for kind in KINDS] + extra


def _spec(
    name: str, args: dict, kind: str, forget_bias: float | None, sizing: str, seed: int, lr: float
) -> Spec:
    task = FAMILIES[name][0]
    probe = make_task(task, **args)
    hidden = hidden_sizes(sizing, probe.input_size, probe.output_size, HIDDEN)[kind]
    spec = {
        "task": task,
        "task_args": args,
        "model": kind,
        "hidden": hidden,
        "sizing": sizing,
        "seed": seed,
        **BUDGETS[name],
        "lr": lr,
    }
    if forget_bias is not None:
        spec["forget_bias"] = forget_bias
    return spec


def _stage_of(result: Result) -> str:
    return result["spec"]["stage"]


def _tagged(specs: Iterable[Spec], stage: str) -> list[Spec]:
    return [{**spec, "stage": stage} for spec in specs]


# Stage 1: the learning-rate search --------------------------------------------------------------


def search_specs() -> list[Spec]:
    """Every run of the learning-rate search."""
    specs = []
    for name in FAMILIES:
        args = {**FAMILIES[name][1], **SEARCH_ARGS.get(name, {})}
        for kind, forget_bias in models(name):
            for lr in LR_GRID:
                for seed in SEARCH_SEEDS:
                    specs.append(_spec(name, args, kind, forget_bias, "equal_hidden", seed, lr))
    return _tagged(specs, "search")


def search_stage(done: list[Result]) -> list[Spec]:
    """Stage 1: independent of any result."""
    return search_specs()


VALIDATION_FIELDS = ("val_score", "val_solved", "best_step")


def validation_view(result: Result) -> Result:
    """The part of a result that selection may read: its spec and its validation fields."""
    return {"spec": result["spec"], **{key: result[key] for key in VALIDATION_FIELDS}}


def selection_loss(result: Result) -> float:
    """Lower is better; from validation fields only (:func:`validation_view`).

    Tasks with a success threshold: a run solved on validation scores the fraction of its budget
    it needed (≤ 1), one that did not scores 1 plus how far it stayed from solving (adding: the
    MSE ratio; recall: 1 − accuracy; aⁿbⁿ: 1 − N / longest training n). Digits: 1 − accuracy;
    sunspots: the RMSE.
    """
    view = validation_view(result)
    spec, score = view["spec"], view["val_score"]
    name = family(spec)
    if name in THRESHOLDED:
        if view["val_solved"]:
            return view["best_step"] / spec["steps"]
        if name == "adding":
            distance = score
        elif name == "recall":
            distance = 1.0 - score
        else:
            distance = 1.0 - score / spec["task_args"]["train_max"]
        return 1.0 + distance
    return 1.0 - score if name.startswith("digits") else score


def chosen_rates(done: list[Result]) -> dict[tuple[str, str, float | None], float]:
    """The learning rate of each (family, kind, forget bias): the grid's rate of lowest mean
    selection loss over the search seeds (ties: the smaller rate)."""
    losses: dict[tuple[str, str, float | None], dict[float, list[float]]] = {}
    for result in done:
        spec = result["spec"]
        if spec.get("stage") != "search":
            continue
        key = (family(spec), spec["model"], spec.get("forget_bias"))
        losses.setdefault(key, {}).setdefault(spec["lr"], []).append(selection_loss(result))
    chosen = {}
    for key, by_rate in losses.items():
        means = {lr: sum(values) / len(values) for lr, values in by_rate.items()}
        chosen[key] = min(sorted(means), key=lambda lr: means[lr])
    return chosen


# Stage 2: the main runs -----------------------------------------------------------------------


def main_stage(done: list[Result]) -> list[Spec]:
    """Stage 2: every setting, every seed, at the rates chosen in stage 1."""
    rates = chosen_rates(done)
    specs = []
    for name in FAMILIES:
        for args in variants(name):
            for kind, forget_bias in models(name):
                lr = rates[(name, kind, forget_bias)]
                # The biased LSTM only beside the default one, at equal hidden size.
                sizings = ("equal_hidden",) if forget_bias is not None else FAMILY_SIZINGS[name]
                for sizing in sizings:
                    for seed in SEEDS:
                        specs.append(_spec(name, args, kind, forget_bias, sizing, seed, lr))
    return _tagged(specs, "main")


# Stage 3: longer budgets where a run failed -----------------------------------------------------


def failed(result: Result) -> bool:
    """Whether a main run failed: a long-range task not solved (test), aⁿbⁿ not counted (its N
    below COUNTER × the longest training n)."""
    spec = result["spec"]
    if spec["task"] == "anbn":
        return result["score"] < COUNTER * spec["task_args"]["train_max"]
    return spec["task"] in LONG_RANGE and not result["solved"]


def setting(spec: Spec) -> tuple:
    """What identifies a setting: everything in a spec but the seed (and the stage)."""
    return tuple(
        sorted((key, repr(value)) for key, value in spec.items() if key not in ("seed", "stage"))
    )


def longer(spec: Spec) -> Spec:
    """The same run with LONG_FACTOR times the steps. aⁿbⁿ runs also keep training once the
    training lengths are learned and report their last checkpoint: more training is what could
    turn a cell into a counter."""
    extra = {"steps": LONG_FACTOR * spec["steps"], "stage": "longer"}
    if spec["task"] == "anbn":
        extra |= {"stop_when_solved": False, "checkpoint": "last"}
    return {**spec, **extra}


def longer_stage(done: list[Result]) -> list[Spec]:
    """Stage 3: for each setting with failed main runs, the first LONG_SEEDS failing seeds."""
    failing: dict[tuple, list[Spec]] = {}
    for result in done:
        if result["spec"].get("stage") == "main" and failed(result):
            failing.setdefault(setting(result["spec"]), []).append(result["spec"])
    specs = []
    for group in failing.values():
        for spec in sorted(group, key=lambda spec: spec["seed"])[:LONG_SEEDS]:
            specs.append(longer(spec))
    return specs


Stage = Callable[[list[Result]], list[Spec]]
STAGES: tuple[Stage, ...] = (search_stage, main_stage, longer_stage)


# Reading the results --------------------------------------------------------------------------


def of_stage(results: Iterable[Result], stage: str) -> list[Result]:
    """The results of one stage ("search", "main" or "longer")."""
    return [result for result in results if result["spec"].get("stage") == stage]


def budget_steps(name: str) -> int:
    """The main budget's steps of a family."""
    return int(BUDGETS[name].get("steps", DEFAULTS["steps"]))


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the probability, if each non-tied seed were a fair coin, of a
    split at least as uneven as ``wins`` to ``losses``."""
    n, k = wins + losses, max(wins, losses)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n
    return min(1.0, 2 * tail)


ALPHA = 0.1  # the sign test's level for "ahead"


def paired_verdict(differences: Iterable[float], alpha: float = ALPHA) -> int:
    """+1 if A is ahead of B, −1 if B is ahead of A, 0 if level, from per-seed differences
    (positive: A better on that seed; zero: a tie). A is ahead when it is better on more seeds
    than B and the two-sided sign test on the non-tied seeds gives p < ``alpha``; with five seeds
    that means better on all five."""
    differences = list(differences)
    wins = sum(d > 0 for d in differences)
    losses = sum(d < 0 for d in differences)
    if sign_test_p(wins, losses) >= alpha:
        return 0
    return 1 if wins > losses else -1
