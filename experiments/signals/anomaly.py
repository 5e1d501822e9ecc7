"""Chapter 7's anomaly detection: a GRU forecaster's errors as an anomaly score, against rolling
z-scores, on UCR anomaly archive series 135; and the Nile's change point.

**UCR 135** (:func:`.series.ucr_135`): a GRU one-step forecaster (:class:`.forecasting.Forecaster`)
trains on the anomaly-free training part alone (its last ``validation`` points for early
stopping); the score of a test point is its absolute forecast error divided by the standard
deviation of the validation errors. The baselines are rolling z-scores: each point against the
mean and standard deviation of the ``window`` values *before* it (no look-ahead), of the values
themselves and of their first differences (the errors of the naive forecast); the window is one
dominant period of the training part (:func:`dominant_period`), a rule fixed before any test
point is seen. Every score is judged on the test part twice: against the point labels (precision–
recall curve, average precision, :func:`average_precision`), and by the archive's own convention
(:func:`ucr_hit`): is the single highest score within the labelled region, widened by a
tolerance?

**Nile**: a two-mean split (:func:`two_mean_split`, least squares) and Page's CUSUM on the flow
standardised by a reference period, against the same CUSUM on a GRU forecaster's errors.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view

from experiments.signals.forecasting import Forecaster, fit
from experiments.signals.series import nile, ucr_135

Spec = dict[str, Any]

DEFAULTS: Spec = {
    "task": "ucr",  # or "nile"
    "model": "gru",  # or "baselines"
    "hidden": 32,
    "window": 32,  # the GRU's input window (UCR; 64 did no better on validation, at twice the
    # cost); the Nile's is NILE["window"]
    "validation": 200,  # last points of the training part used for early stopping
    "epochs": 40,
    "patience": 8,
    "batch": 64,
    "lr": 5e-3,
    "clip": 1.0,
}
# The Nile: the reference ("normal") years are the first 20, as in R's own Nile example; the GRU
# trains on the first 15 of them and stops early on the last 5.
NILE: Spec = {"reference": 20, "validation": 5, "window": 5, "hidden": 8, "epochs": 200,
              "patience": 30, "batch": 8, "lr": 1e-2}  # fmt: skip
CUSUM_K, CUSUM_H = 0.5, 5.0  # Page's CUSUM: slack and alarm level, in standard deviations
UCR_TOLERANCE = 100  # points either side of the labelled region (the KDD Cup 2021 convention)


# ---- scores -------------------------------------------------------------------------------------


def rolling_zscore(x: np.ndarray, window: int) -> np.ndarray:
    """``(x[t] - mean(x[t-window:t])) / std(x[t-window:t])``: each point against the ``window``
    points before it only; NaN for the first ``window`` points."""
    past = sliding_window_view(x, window)[:-1]  # past[i] = x[i : i + window], before x[i + window]
    z = np.full(len(x), np.nan)
    z[window:] = (x[window:] - past.mean(1)) / past.std(1)
    return z


def dominant_period(x: np.ndarray) -> int:
    """The lag of the highest autocorrelation after its first negative value: one cycle."""
    centred = x - x.mean()
    lags = np.arange(1, len(x) // 2)
    ac = np.array([centred[:-k] @ centred[k:] for k in lags]) / (centred @ centred)
    first_negative = int(np.argmax(ac < 0))
    return int(lags[first_negative + np.argmax(ac[first_negative:])])


# ---- judging scores -----------------------------------------------------------------------------


def precision_recall(score: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Precision and recall at every distinct threshold, highest first (a point is flagged when
    its score is at least the threshold; tied scores enter together)."""
    order = np.argsort(-score, kind="stable")
    s, y = score[order], labels[order].astype(float)
    last_of_tie = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last_of_tie]
    flagged = last_of_tie + 1
    return {"threshold": s[last_of_tie], "precision": tp / flagged, "recall": tp / y.sum()}


def average_precision(score: np.ndarray, labels: np.ndarray) -> float:
    """The area under the step precision–recall curve, ``Σ (R_k − R_{k−1}) P_k`` over thresholds
    (no interpolation: scikit-learn's ``average_precision_score``)."""
    curve = precision_recall(score, labels)
    recall = np.r_[0.0, curve["recall"]]
    return float(np.sum(np.diff(recall) * curve["precision"]))


def ucr_hit(score: np.ndarray, begin: int, end: int, tolerance: int = UCR_TOLERANCE) -> dict:
    """The archive's verdict on a score over the test part (``score`` indexed like the series,
    NaN where undefined): the location of its maximum, and whether it lies within
    ``[begin − m, end − 1 + m]`` where ``m = max(end − begin, tolerance)`` (the labelled region
    ``[begin, end)`` widened by its own length or the tolerance, whichever is larger)."""
    where = int(np.nanargmax(score))
    margin = max(end - begin, tolerance)
    return {
        "argmax": where,
        "margin": margin,
        "hit": bool(begin - margin <= where <= end - 1 + margin),
    }


def judge(score: np.ndarray, labels: np.ndarray, start: int, begin: int, end: int) -> dict:
    """Everything the page reports about one score on the test part (from ``start`` on)."""
    s, y = score[start:], labels[start:]
    return {
        "average_precision": average_precision(s, y),
        "ucr": ucr_hit(np.r_[np.full(start, np.nan), s], begin, end),
        "ucr_strict": ucr_hit(np.r_[np.full(start, np.nan), s], begin, end, tolerance=0),
        "score": s.tolist(),
    }


# ---- change points ------------------------------------------------------------------------------


def two_mean_split(x: np.ndarray) -> int:
    """The index that starts the second of two constant-mean segments minimising the total
    squared error (at least one point in each)."""
    n = len(x)
    costs = [((x[:k] - x[:k].mean()) ** 2).sum() + ((x[k:] - x[k:].mean()) ** 2).sum()
             for k in range(1, n)]  # fmt: skip
    return 1 + int(np.argmin(costs))


def cusum_alarm(z: np.ndarray, k: float = CUSUM_K, h: float = CUSUM_H) -> dict[str, Any]:
    """Page's two-sided CUSUM on standardised values ``z``: the first index at which either sum
    exceeds ``h`` (None if never), and the paths."""
    upper, lower = np.zeros(len(z)), np.zeros(len(z))
    for t, value in enumerate(z):
        upper[t] = max(0.0, (upper[t - 1] if t else 0.0) + value - k)
        lower[t] = max(0.0, (lower[t - 1] if t else 0.0) - value - k)
    over = np.nonzero((upper > h) | (lower > h))[0]
    return {"alarm": int(over[0]) if len(over) else None, "upper": upper.tolist(),
            "lower": lower.tolist()}  # fmt: skip


# ---- runs ---------------------------------------------------------------------------------------


def _gru_scores(
    x: np.ndarray, fit_end: int, train_end: int, spec: Spec
) -> tuple[np.ndarray, dict[str, Any], int]:
    """Train a one-step GRU forecaster on ``x[:fit_end]`` (early stopping on
    ``x[fit_end:train_end]``), standardised with ``x[:train_end]``'s statistics; return the
    forecast errors of every point with a full window behind it (NaN before), in standard
    deviations of the series, the training log and the parameter count."""
    mean, std = x[:train_end].mean(), x[:train_end].std()
    u = (x - mean) / std
    width = spec["window"]

    def data(targets: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        index = targets[None, :] + np.arange(-width, 0)[:, None]
        x_, y_ = u[index][..., None], u[targets, None]
        return torch.from_numpy(x_).float(), torch.from_numpy(y_).float()

    torch.manual_seed(spec["seed"])
    model = Forecaster(spec["hidden"], 1)
    fitting, stopping = data(np.arange(width, fit_end)), data(np.arange(fit_end, train_end))
    log = fit(model, lambda out, y: ((out - y) ** 2).mean(), fitting, stopping, spec)
    with torch.no_grad():
        inputs, truth = data(np.arange(width, len(x)))
        error = (model(inputs) - truth)[:, 0].numpy().astype(float)
    errors = np.r_[np.full(width, np.nan), error]
    return errors, log, sum(p.numel() for p in model.parameters())


def _ucr(spec: Spec) -> dict[str, Any]:
    data = ucr_135()
    x, start = data.values, data.train_end
    judged = lambda score: judge(score, data.labels, start, data.begin, data.end)  # noqa: E731
    if spec["model"] == "baselines":
        period = dominant_period(x[:start])
        return {
            "period": period,
            "methods": {
                "z-score of values": judged(np.abs(rolling_zscore(x, period))),
                "z-score of differences": judged(
                    np.abs(np.r_[np.nan, rolling_zscore(np.diff(x), period)])
                ),
            },
        }
    errors, log, parameters = _gru_scores(x, start - spec["validation"], start, spec)
    validation_sd = float(np.std(errors[start - spec["validation"] : start]))
    return {
        "methods": {"GRU forecast error": judged(np.abs(errors) / validation_sd)},
        "validation_error_sd": validation_sd,
        "parameters": parameters,
        **log,
    }


def _nile(spec: Spec) -> dict[str, Any]:
    data = nile()
    x, ref = data.values, NILE["reference"]
    z = (x - x[:ref].mean()) / x[:ref].std()
    if spec["model"] == "baselines":
        split = two_mean_split(x)
        return {
            "two_mean_split": split,
            "split_year": int(data.years[split]),
            "segment_means": [float(x[:split].mean()), float(x[split:].mean())],
            "cusum": cusum_alarm(z[ref:]),
            "reference": ref,
        }
    errors, log, parameters = _gru_scores(x, ref - NILE["validation"], ref, {**spec, **NILE})
    e = errors  # in the reference period's standard deviations, like the flow's z
    first = NILE["window"]
    split = first + two_mean_split(e[first:])
    return {
        "errors": [None if np.isnan(v) else float(v) for v in e],
        "two_mean_split": split,
        "split_year": int(data.years[split]),
        "cusum": cusum_alarm(e[ref:]),
        "reference": ref,
        "parameters": parameters,
        **log,
    }


def train(spec: Spec) -> dict[str, Any]:
    """One anomaly run (``task`` "ucr" or "nile", ``model`` "gru" or "baselines"): the runner's
    entry point."""
    started, started_cpu = time.perf_counter(), time.process_time()
    spec = {**DEFAULTS, **spec}
    result = _ucr(spec) if spec["task"] == "ucr" else _nile(spec)
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - started_cpu
    return result


def describe(spec: Spec) -> str:
    """'anomaly: ucr, gru, seed 0' or 'anomaly: nile, baselines'."""
    spec = {**DEFAULTS, **spec}
    seed = f", seed {spec['seed']}" if spec["model"] == "gru" else ""
    return f"anomaly: {spec['task']}, {spec['model']}{seed}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here."""
    spec = {**DEFAULTS, **spec}
    if spec["model"] == "baselines":
        return 0.5
    return 6.0 if spec["task"] == "ucr" else 1.0
