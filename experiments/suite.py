"""The experiment protocol of Chapter 4: every run the chapter reports, as specifications.

Each function returns a list of specifications for :func:`experiments.runner.run_all`. The
constants below are the whole protocol (seeds, sizes, lengths, training budgets), so the chapter
can print them and a reader can change them in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from experiments.models import KINDS, hidden_sizes
from experiments.tasks import make_task
from experiments.training import Spec

SEEDS = (0, 1, 2)
HIDDEN = 32  # equal hidden size; equal parameter count matches the LSTM at this size
SIZINGS = ("equal_hidden", "equal_params")

ADDING_LENGTHS = (20, 50, 100)
RECALL_LENGTHS = (10, 20, 30)
BUDGETS: dict[str, dict[str, int | float]] = {
    "adding": {"steps": 600, "batch": 64},
    "recall": {"steps": 600, "batch": 128},
    "anbn": {"steps": 1000, "batch": 20, "eval_every": 25},
    "digits_rows": {"steps": 400, "batch": 64},
    "digits_pixels": {"steps": 400, "batch": 64},
    "sunspots": {"steps": 400, "batch": 64, "lr": 3e-3},
}
ANBN = {"train_max": 20, "test_max": 120}
FORGET_BIAS = 1.0  # Jozefowicz et al. (2015)


def _specs(task: str, budget: str, task_args: dict, sizings=SIZINGS, kinds=KINDS) -> list[Spec]:
    probe = make_task(task, **task_args)
    specs = []
    for sizing in sizings:
        sizes = hidden_sizes(sizing, probe.input_size, probe.output_size, HIDDEN)
        for kind in kinds:
            for seed in SEEDS:
                specs.append(
                    {
                        "task": task,
                        "task_args": task_args,
                        "model": kind,
                        "hidden": sizes[kind],
                        "sizing": sizing,
                        "seed": seed,
                        **BUDGETS[budget],
                    }
                )
    return specs


def long_range() -> list[Spec]:
    """Adding problem and delayed recall, every length, kind, sizing and seed."""
    specs = []
    for length in ADDING_LENGTHS:
        specs += _specs("adding", "adding", {"length": length})
    for length in RECALL_LENGTHS:
        specs += _specs("recall", "recall", {"length": length})
    return specs


def forget_bias() -> list[Spec]:
    """The LSTM at equal hidden size on the long-range tasks, with its forget-gate bias at 1."""
    specs = [
        {**spec, "forget_bias": FORGET_BIAS}
        for spec in long_range()
        if spec["model"] == "lstm" and spec["sizing"] == "equal_hidden"
    ]
    return specs


def counting() -> list[Spec]:
    return _specs("anbn", "anbn", dict(ANBN))


def digits() -> list[Spec]:
    return _specs("digits", "digits_rows", {"mode": "rows"}) + _specs(
        "digits", "digits_pixels", {"mode": "pixels"}
    )


def sunspots() -> list[Spec]:
    return _specs("sunspots", "sunspots", {})


def everything() -> list[Spec]:
    """Every trained run of the chapter."""
    return long_range() + forget_bias() + counting() + digits() + sunspots()


# The protocol in stages, for experiments.runner: each stage gets the results of every earlier
# stage (in order) and returns its own specifications, so a later stage can depend on earlier
# outcomes. Stage functions must be deterministic.
Stage = Callable[[list[dict[str, Any]]], list[Spec]]
STAGES: tuple[Stage, ...] = (lambda done: everything(),)
