"""Tables from run results: one row per run, and means, spreads and success rates per group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

MODEL_NAMES = {"rnn": "tanh RNN", "gru": "GRU", "lstm": "LSTM"}
SIZING_NAMES = {"equal_hidden": "equal hidden size", "equal_params": "equal parameter count"}


def runs_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per run: its specification's fields and its outcome."""
    rows = []
    for result in results:
        spec = result["spec"]
        rows.append(
            {
                "task": spec["task"],
                **spec.get("task_args", {}),
                "model": spec["model"],
                "sizing": spec.get("sizing", "equal_hidden"),
                "forget_bias": spec.get("forget_bias"),
                "hidden": spec["hidden"],
                "seed": spec["seed"],
                "parameters": result["parameters"],
                "score": result["score"],
                "solved": result["solved"],
                "steps": result["steps"],
            }
        )
    return pd.DataFrame(rows)


def by_group(runs: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Mean and standard deviation of the score, success rate and mean steps per group.

    The standard deviation is over seeds (``ddof=1``), the error bar of the chapter's figures.
    """
    grouped = runs.groupby(list(keys), sort=False, dropna=False)
    table = grouped.agg(
        mean=("score", "mean"),
        std=("score", "std"),
        success=("solved", "mean"),
        steps=("steps", "mean"),
        seeds=("seed", "count"),
        parameters=("parameters", "first"),
        hidden=("hidden", "first"),
    )
    return table.reset_index()
