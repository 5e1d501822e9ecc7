"""The forecasts a GRU must beat, and the scoring every forecast gets.

Every forecaster here is used as it would be in operation: from each **forecast origin** ``o`` it
sees the true values up to and including ``o`` and forecasts ``o + 1, …, o + H``. The one-step
forecast of a test value is the horizon-1 column; the horizon-``h`` forecast of the same test value
comes from ``h`` steps before it. Forecasts are matrices ``F[i, h - 1]``, row ``i`` for origin
``origins[i]``; entries past the end of the series are NaN.

- **naive**: ``y[o]`` at every horizon; **seasonal naive**: the value one period before the
  target, ``y[o + h - m·ceil(h/m)]``;
- **AutoReg** (statsmodels): order 1..``max_lags`` fitted by least squares on the training part,
  the order with the lowest validation RMSE of one-step forecasts kept (Chapter 4's rule for the
  sunspots), a linear time trend where the series has one; multi-step forecasts by its own
  recursion, with statsmodels' Gaussian prediction intervals;
- **ETS** (statsmodels' ``ETSModel``, additive errors): the form (trend none / additive / damped
  where the series has a trend; seasonality none / additive) chosen the same way, with its
  analytic prediction intervals.

Parameters are fitted once on the training part; validation and test forecasts filter the true
history through those fixed parameters (nothing is refitted on later data). The intervals'
scale, as statsmodels computes it for a model applied to new data, is the mean squared one-step
error over the whole history known at the origin (training parameters, all past residuals).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from experiments.signals.series import Series, load

Spec = dict[str, Any]

LEVEL = 0.90  # prediction intervals: 5 % to 95 %
MAX_LAGS = {"sunspots": 15, "co2": 26, "elnino": 26}  # 15 is Chapter 4's
NAMES = ("naive", "seasonal naive", "AutoReg", "ETS")


def test_origins(series: Series) -> np.ndarray:
    """Origins from which some horizon 1..H lands in the test part: ``val_end - H`` to ``n - 2``."""
    return np.arange(series.val_end - series.horizon, len(series) - 1)


def naive(y: np.ndarray, origins: np.ndarray, horizon: int) -> np.ndarray:
    """The last known value, at every horizon."""
    forecast = np.repeat(y[origins][:, None], horizon, axis=1)
    return past_end(forecast, origins, len(y))


def seasonal_naive(y: np.ndarray, origins: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The value one (or more) whole periods before the target, the latest one known at the
    origin: ``y[o + h - period·ceil(h / period)]``."""
    h = np.arange(1, horizon + 1)
    lag = period * np.ceil(h / period).astype(int)
    forecast = y[origins[:, None] + h[None, :] - lag[None, :]]
    return past_end(forecast.astype(float), origins, len(y))


def past_end(forecast: np.ndarray, origins: np.ndarray, n: int) -> np.ndarray:
    """NaN where the target ``o + h`` is past the end of the series."""
    h = np.arange(1, forecast.shape[1] + 1)
    forecast[origins[:, None] + h[None, :] >= n] = np.nan
    return forecast


def by_horizon(
    forecast: np.ndarray, origins: np.ndarray, y: np.ndarray, start: int, h: int
) -> tuple[np.ndarray, np.ndarray]:
    """(forecasts, truths) at horizon ``h`` of every target from ``start`` to the end of ``y``."""
    targets = origins + h
    keep = (targets >= start) & (targets < len(y))
    return forecast[keep, h - 1], y[targets[keep]]


def mase_scale(series: Series) -> float:
    """The mean absolute error of the one-step seasonal naive forecast on the training part
    (Hyndman and Koehler 2006): MASE below 1 beats it."""
    train = series.split("train")
    return float(np.mean(np.abs(train[series.period :] - train[: -series.period])))


def scores(forecast: np.ndarray, origins: np.ndarray, series: Series) -> dict[str, list[float]]:
    """Test MAE, RMSE and MASE at every horizon 1..H (lists indexed by ``h - 1``)."""
    scale = mase_scale(series)
    out: dict[str, list[float]] = {"mae": [], "rmse": [], "mase": []}
    for h in range(1, series.horizon + 1):
        guess, truth = by_horizon(forecast, origins, series.values, series.val_end, h)
        error = guess - truth
        out["mae"].append(float(np.mean(np.abs(error))))
        out["rmse"].append(float(np.sqrt(np.mean(error**2))))
        out["mase"].append(out["mae"][-1] / scale)
    return out


def interval_scores(
    lower: np.ndarray, upper: np.ndarray, origins: np.ndarray, series: Series
) -> dict[str, list[float]]:
    """Empirical coverage (share of test values inside) and mean width at every horizon."""
    out: dict[str, list[float]] = {"coverage": [], "width": []}
    for h in range(1, series.horizon + 1):
        low, truth = by_horizon(lower, origins, series.values, series.val_end, h)
        high, _ = by_horizon(upper, origins, series.values, series.val_end, h)
        out["coverage"].append(float(np.mean((truth >= low) & (truth <= high))))
        out["width"].append(float(np.mean(high - low)))
    return out


def _rmse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(np.mean((a - b) ** 2)))


def autoreg_trend(series: Series) -> str:
    """statsmodels' deterministic terms: a constant, and a linear trend where the series has one."""
    return "ct" if series.trend else "c"


def choose_autoreg(series: Series) -> tuple[int, dict[int, float]]:
    """The AutoReg order with the lowest validation RMSE of one-step forecasts (each from the true
    previous values), fitted on the training part; and every order's RMSE."""
    from statsmodels.tsa.ar_model import AutoReg  # statsmodels on use: the runner imports this

    y = series.values
    train = y[: series.train_end]
    validation: dict[int, float] = {}
    for lags in range(1, MAX_LAGS[series.name] + 1):
        fit = AutoReg(train, lags=lags, trend=autoreg_trend(series)).fit()
        applied = fit.apply(y[: series.val_end])
        guess = applied.predict(start=series.train_end, end=series.val_end - 1, dynamic=False)
        validation[lags] = _rmse(guess, series.split("validation"))
    return min(validation, key=validation.get), validation


def autoreg_forecasts(
    series: Series, lags: int, origins: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lower, upper) forecasts of AutoReg(``lags``) fitted on the training part, from each
    origin, with statsmodels' prediction intervals at :data:`LEVEL`."""
    from statsmodels.tsa.ar_model import AutoReg

    y, horizon = series.values, series.horizon
    fit = AutoReg(y[: series.train_end], lags=lags, trend=autoreg_trend(series)).fit()
    mean, lower, upper = (np.full((len(origins), horizon), np.nan) for _ in range(3))
    for i, origin in enumerate(origins):
        frame = (
            fit.apply(y[: origin + 1])
            .get_prediction(start=origin + 1, end=origin + horizon)
            .summary_frame(alpha=1 - LEVEL)
        )
        mean[i], lower[i], upper[i] = (frame[c].to_numpy() for c in
                                       ("mean", "mean_ci_lower", "mean_ci_upper"))  # fmt: skip
    return tuple(past_end(a, origins, len(y)) for a in (mean, lower, upper))  # type: ignore[return-value]


def ets_forms(series: Series) -> list[dict[str, Any]]:
    """The ETS forms tried: a trend (plain or damped) only where the series has one, additive
    seasonality with the series' period or none."""
    trends: list[tuple[str | None, bool]] = [(None, False)]
    if series.trend:
        trends += [("add", False), ("add", True)]
    return [
        {"trend": trend, "damped_trend": damped, "seasonal": seasonal,
         "seasonal_periods": series.period if seasonal else None}
        for trend, damped in trends
        for seasonal in (None, "add")
    ]  # fmt: skip


def ets_name(form: dict[str, Any]) -> str:
    """'ETS(A,Ad,A)'-style name: error, trend, seasonality."""
    trend = "N" if form["trend"] is None else ("Ad" if form["damped_trend"] else "A")
    return f"ETS(A,{trend},{'A' if form['seasonal'] else 'N'})"


def _ets(y: np.ndarray, form: dict[str, Any]) -> Any:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    # A pandas index: statsmodels 0.15's ETS prediction fails on a bare array.
    return ETSModel(pd.Series(y), error="add", **form)


def fit_ets(series: Series, form: dict[str, Any]) -> Any:
    """ETS of ``form`` fitted by maximum likelihood on the training part (warnings recorded by the
    caller, not shown)."""
    return _ets(series.values[: series.train_end], form).fit(disp=False)


def choose_ets(series: Series) -> tuple[dict[str, Any], dict[str, float], Any]:
    """The ETS form with the lowest validation RMSE of one-step forecasts; every form's RMSE; the
    chosen form's training fit."""
    validation: dict[str, float] = {}
    fits = {}
    for form in ets_forms(series):
        fit = fit_ets(series, form)
        smoothed = _ets(series.values[: series.val_end], form).smooth(fit.params)
        guess = np.asarray(smoothed.fittedvalues)[series.train_end : series.val_end]
        name = ets_name(form)
        validation[name], fits[name] = _rmse(guess, series.split("validation")), (form, fit)
    best = min(validation, key=validation.get)
    return fits[best][0], validation, fits[best][1]


def ets_forecasts(
    series: Series, form: dict[str, Any], fit: Any, origins: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, lower, upper) forecasts of the trained ETS from each origin: the true history up to
    the origin filtered with the training parameters, then statsmodels' forecast and its
    analytic prediction interval at :data:`LEVEL`."""
    y, horizon = series.values, series.horizon
    mean, lower, upper = (np.full((len(origins), horizon), np.nan) for _ in range(3))
    for i, origin in enumerate(origins):
        smoothed = _ets(y[: origin + 1], form).smooth(fit.params)
        frame = smoothed.get_prediction(start=origin + 1, end=origin + horizon).summary_frame(
            alpha=1 - LEVEL
        )
        mean[i], lower[i], upper[i] = (frame[c].to_numpy() for c in
                                       ("mean", "pi_lower", "pi_upper"))  # fmt: skip
    return tuple(past_end(a, origins, len(y)) for a in (mean, lower, upper))  # type: ignore[return-value]


def as_lists(array: np.ndarray) -> list:
    """A forecast matrix for JSON: NaN (past the end) as None."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in array]


def from_lists(rows: list) -> np.ndarray:
    """The inverse of :func:`as_lists`."""
    return np.array(rows, dtype=float)


def train(spec: Spec) -> dict[str, Any]:
    """Every baseline on one series (``spec["series"]``): the runner's entry point."""
    started, started_cpu = time.perf_counter(), time.process_time()
    series = load(spec["series"])
    y, origins, horizon = series.values, test_origins(series), series.horizon
    methods: dict[str, dict[str, Any]] = {}
    for name, forecast in (
        ("naive", naive(y, origins, horizon)),
        ("seasonal naive", seasonal_naive(y, origins, horizon, series.period)),
    ):
        methods[name] = {
            "forecast": as_lists(forecast),
            "scores": scores(forecast, origins, series),
        }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        lags, ar_validation = choose_autoreg(series)
        ar = autoreg_forecasts(series, lags, origins)
        form, ets_validation, fit = choose_ets(series)
        ets = ets_forecasts(series, form, fit, origins)
    for name, (mean, lower, upper), chosen, validation in (
        ("AutoReg", ar, f"AutoReg({lags})", ar_validation),
        ("ETS", ets, ets_name(form), ets_validation),
    ):
        methods[name] = {
            "forecast": as_lists(mean),
            "lower": as_lists(lower),
            "upper": as_lists(upper),
            "scores": scores(mean, origins, series),
            "intervals": interval_scores(lower, upper, origins, series),
            "chosen": chosen,
            "validation_rmse": {str(k): v for k, v in validation.items()},
        }
    return {
        "series": series.name,
        "first_origin": int(origins[0]),
        "methods": methods,
        "ar_lags": lags,
        "ets_form": {k: v for k, v in form.items()},
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
        "mase_scale": mase_scale(series),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - started_cpu,
    }


def describe(spec: Spec) -> str:
    """'forecast baselines: co2'."""
    return f"forecast baselines: {spec['series']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here (the ETS fits and per-origin filtering dominate)."""
    return {"sunspots": 2.0, "co2": 3.0, "elnino": 4.0}.get(spec["series"], 3.0)
