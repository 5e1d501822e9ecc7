"""Tables from run results: one row per run, spreads per group, and paired per-seed comparisons.

Seeds pair runs: with one seed, every model of a setting sees the same training batches in the
same order and is scored on the same validation and test sets, so two models are compared seed by
seed (:func:`paired_signs`) and a verdict comes from the signs of those differences
(:func:`experiments.suite.paired_verdict`), not from overlapping error bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from experiments import suite

MODEL_NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}
SIZING_NAMES = {"equal_hidden": "equal hidden size", "equal_params": "equal parameter count"}
LOWER_IS_BETTER = {"adding", "sunspots"}


def runs_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: its specification's fields and its outcome."""
    rows = []
    for result in results:
        spec = result["spec"]
        rows.append(
            {
                "stage": spec.get("stage"),
                "task": spec["task"],
                **spec.get("task_args", {}),
                "model": spec["model"],
                "sizing": spec.get("sizing", "equal_hidden"),
                "forget_bias": spec.get("forget_bias"),
                "hidden": spec["hidden"],
                "seed": spec["seed"],
                "lr": spec.get("lr"),
                "budget": spec.get("steps"),
                "parameters": result["parameters"],
                "score": result["score"],
                "solved": result["solved"],
                "val_score": result.get("val_score"),
                "train_score": result.get("train_score"),
                "steps": result["steps"],
                "best_step": result.get("best_step"),
                "cpu_seconds": result.get("cpu_seconds"),
            }
        )
    return pd.DataFrame(rows)


def by_group(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per group: the median score and its range over seeds (``low``, ``high``: smallest and
    largest, so that an error bar never leaves the score's range), the mean, the success rate,
    seeds solved, mean steps and the model's size."""
    grouped = runs.groupby(list(keys), sort=False, dropna=False)
    table = grouped.agg(
        median=("score", "median"),
        low=("score", "min"),
        high=("score", "max"),
        mean=("score", "mean"),
        success=("solved", "mean"),
        solved=("solved", "sum"),
        steps=("steps", "mean"),
        seeds=("seed", "count"),
        parameters=("parameters", "first"),
        hidden=("hidden", "first"),
    )
    return table.reset_index()


def compare_runs(a: pd.Series, b: pd.Series) -> float:
    """Positive when run ``a`` did better than run ``b``, negative when worse, zero for a tie.

    On tasks with a success threshold (adding, recall, aⁿbⁿ), runs stop once solved, so their final
    scores say little: a solved run beats an unsolved one; of two solved runs, the one that needed
    fewer steps is better; of two unsolved runs, the better score. Elsewhere: the better score
    (lower for adding's MSE ratio and the sunspot RMSE).
    """
    sign = -1.0 if a["task"] in LOWER_IS_BETTER else 1.0
    if a["task"] in suite.THRESHOLDED:
        if a["solved"] != b["solved"]:
            return 1.0 if a["solved"] else -1.0
        if a["solved"]:
            return float(np.sign(b["best_step"] - a["best_step"]))
    return float(np.sign(sign * (a["score"] - b["score"])))


def paired_signs(frame: pd.DataFrame, a: str, b: str) -> list[float]:
    """Per seed, :func:`compare_runs` of model ``a``'s run and model ``b``'s run in ``frame`` (one
    setting: one run per model and seed; seeds that either model lacks are left out)."""
    first = frame[frame.model == a].set_index("seed")
    second = frame[frame.model == b].set_index("seed")
    seeds = sorted(set(first.index) & set(second.index))
    return [compare_runs(first.loc[seed], second.loc[seed]) for seed in seeds]


def verdict(frame: pd.DataFrame, a: str, b: str) -> int:
    """+1 if ``a`` is ahead of ``b`` in this setting, −1 if behind, 0 if level
    (:func:`experiments.suite.paired_verdict` on :func:`paired_signs`)."""
    return suite.paired_verdict(paired_signs(frame, a, b))
