"""Chapter 7's GRU forecasters: a small ``nn.GRU`` and a linear head reading the last state, on
windows of a standardised series (:func:`.series.standardise`).

Three kinds of run, one per model:

- **onestep**: one output, the next value, trained with the squared error; its multi-step
  forecasts are **recursive**: each prediction is fed back as the next input;
- **direct**: one output per horizon 1..H, all from the same window, squared error;
- **quantile**: three outputs per horizon, the 5 %, 50 % and 95 % quantiles, trained with the
  pinball loss (:func:`pinball_loss`); the 5–95 % band is the prediction interval, the median a
  point forecast. The three are sorted at prediction so that they never cross.

Training is seeded, on one thread, with Adam on mini-batches of training windows (targets in the
training part only), for at most ``epochs`` epochs; the epoch with the lowest validation loss
(targets in the validation part) is kept, and training stops ``patience`` epochs after it.
Forecasts are made from every test origin (:func:`.forecast_baselines.test_origins`) and scored
like the baselines, in the series' own units.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from experiments.signals import forecast_baselines as baselines
from experiments.signals.series import Standardised, load, standardise, targets, to_levels

Spec = dict[str, Any]

QUANTILES = (0.05, 0.5, 0.95)
KINDS = ("onestep", "direct", "quantile")
DEFAULTS: Spec = {
    "model": "onestep",  # or "direct", "quantile"
    "hidden": 32,
    "epochs": 150,
    "patience": 15,
    "batch": 32,
    "lr": 5e-3,
    "clip": 1.0,
    # A differenced series (CO2) modelled on its standardised levels instead: what differencing
    # buys a network that must extrapolate a trend.
    "levels": False,
}


class Forecaster(nn.Module):
    """GRU over a window (time-major, ``(W, B, 1)``) and a linear read-out of its last state."""

    def __init__(self, hidden: int, outputs: int) -> None:
        super().__init__()
        self.gru = nn.GRU(1, hidden)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(x)
        return self.head(states[-1])


def pinball_loss(
    prediction: torch.Tensor, target: torch.Tensor, quantiles: tuple[float, ...] = QUANTILES
) -> torch.Tensor:
    """Mean pinball (quantile) loss: for quantile τ and error e = y − q,
    ``ρ_τ(e) = max(τ·e, (τ − 1)·e)``. ``prediction`` is ``(…, len(quantiles))``, ``target``
    ``(…)``."""
    tau = torch.tensor(quantiles, dtype=prediction.dtype)
    error = target.unsqueeze(-1) - prediction
    return torch.maximum(tau * error, (tau - 1) * error).mean()


def windows(z: Standardised, origins: np.ndarray, width: int) -> torch.Tensor:
    """The input windows ``u[o - width + 1 .. o]`` of each origin, ``(width, len(origins), 1)``."""
    index = origins[None, :] + np.arange(1 - width, 1)[:, None]
    return torch.from_numpy(z.u[index][..., None]).float()


def target_matrix(z: Standardised, origins: np.ndarray, horizon: int) -> torch.Tensor:
    """The targets of each origin for horizons 1..``horizon`` in network units, ``(N, horizon)``."""
    return torch.from_numpy(np.stack([targets(z, o, horizon) for o in origins])).float()


def recursive(model: Forecaster, x: torch.Tensor, horizon: int, differenced: bool) -> torch.Tensor:
    """Multi-step forecasts of a one-output model, each step's prediction appended to the window
    (the oldest value dropped): ``(N, horizon)`` in network units (cumulative for a differenced
    series, as :func:`.series.targets`)."""
    steps = []
    with torch.no_grad():
        for _ in range(horizon):
            step = model(x)[:, :1]  # (N, 1)
            steps.append(step)
            x = torch.cat([x[1:], step.T[..., None]], dim=0)
    path = torch.cat(steps, dim=1)
    return path.cumsum(1) if differenced else path


def direct(model: Forecaster, x: torch.Tensor) -> torch.Tensor:
    """The model's outputs as they are (one per horizon, or per horizon and quantile)."""
    with torch.no_grad():
        return model(x)


def fit(
    model: nn.Module,
    loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    train_xy: tuple[torch.Tensor, torch.Tensor],
    validation_xy: tuple[torch.Tensor, torch.Tensor],
    spec: Spec,
) -> dict[str, Any]:
    """Train ``model`` in place with Adam on shuffled mini-batches (windows on dim 1) and keep the
    parameters of the epoch with the lowest validation loss; stop ``patience`` epochs after it.
    Returns the per-epoch losses and the epoch kept."""
    spec = {**DEFAULTS, **spec}
    rng = np.random.default_rng(spec["seed"])
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    (x, y), (vx, vy) = train_xy, validation_xy
    best, best_state, best_epoch = float("inf"), copy.deepcopy(model.state_dict()), -1
    history: dict[str, list[float]] = {"train": [], "validation": []}
    for epoch in range(spec["epochs"]):
        model.train()
        order = torch.from_numpy(rng.permutation(y.shape[0]))
        total = 0.0
        for start in range(0, len(order), spec["batch"]):
            pick = order[start : start + spec["batch"]]
            loss = loss_of(model(x[:, pick]), y[pick])
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), spec["clip"])
            optimizer.step()
            total += float(loss.detach()) * len(pick)
        model.eval()
        with torch.no_grad():
            validation = float(loss_of(model(vx), vy))
        history["train"].append(total / y.shape[0])
        history["validation"].append(validation)
        if validation < best:
            best, best_state, best_epoch = validation, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= spec["patience"]:
            break
    model.load_state_dict(best_state)
    return {"losses": history, "best_epoch": best_epoch, "best_validation": best}


def split_origins(series: Any, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation origins: every target of a window (horizon 1 for ``onestep``,
    1..H otherwise) inside its part, and a full window of real values behind it (a differenced
    series' ``u[0]`` is a placeholder)."""
    reach = 1 if kind == "onestep" else series.horizon
    first = series.window - 1 + int(series.differenced)
    train = np.arange(first, series.train_end - reach)
    validation = np.arange(series.train_end - 1, series.val_end - reach)
    return train, validation


def outputs_of(kind: str, horizon: int) -> int:
    return {"onestep": 1, "direct": horizon, "quantile": horizon * len(QUANTILES)}[kind]


def build(spec: Spec) -> tuple[Forecaster, Any, Standardised]:
    """The seeded, untrained model of a spec, its series and the standardised series."""
    spec = {**DEFAULTS, **spec}
    series = load(spec["series"])
    if spec["levels"]:
        series = dataclasses.replace(series, differenced=False)
    z = standardise(series.values, series.train_end, series.differenced)
    torch.manual_seed(spec["seed"])
    return Forecaster(spec["hidden"], outputs_of(spec["model"], series.horizon)), series, z


def train(spec: Spec) -> dict[str, Any]:
    """Train one GRU forecaster and forecast from every test origin: the runner's entry point."""
    started, started_cpu = time.perf_counter(), time.process_time()
    spec = {**DEFAULTS, **spec}
    kind = spec["model"]
    model, series, z = build(spec)
    reach = 1 if kind == "onestep" else series.horizon
    train_o, validation_o = split_origins(series, kind)

    def data(origins: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        return windows(z, origins, series.window), target_matrix(z, origins, reach)

    def loss_of(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if kind == "quantile":
            return pinball_loss(out.view(len(y), reach, len(QUANTILES)), y)
        return ((out - y) ** 2).mean()

    log = fit(model, loss_of, data(train_o), data(validation_o), spec)
    origins = baselines.test_origins(series)
    x, last = windows(z, origins, series.window), series.values[origins]
    result: dict[str, Any] = {"series": series.name, "first_origin": int(origins[0])}
    if kind == "onestep":
        g = recursive(model, x, series.horizon, series.differenced).numpy()
        forecast = baselines.past_end(to_levels(z, g, last), origins, len(series))
    elif kind == "direct":
        forecast = baselines.past_end(to_levels(z, direct(model, x).numpy(), last), origins,
                                       len(series))  # fmt: skip
    else:
        g = np.sort(direct(model, x).numpy().reshape(len(origins), series.horizon, -1), axis=-1)
        bands = [baselines.past_end(to_levels(z, g[..., q], last), origins, len(series))
                 for q in range(len(QUANTILES))]  # fmt: skip
        lower, forecast, upper = bands
        result["lower"], result["upper"] = baselines.as_lists(lower), baselines.as_lists(upper)
        result["intervals"] = baselines.interval_scores(lower, upper, origins, series)
    result.update(
        forecast=baselines.as_lists(forecast),
        scores=baselines.scores(forecast, origins, series),
        training_windows=len(train_o),
        validation_windows=len(validation_o),
        parameters=sum(p.numel() for p in model.parameters()),
        **log,
    )
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = time.process_time() - started_cpu
    return result


def describe(spec: Spec) -> str:
    """'forecast: co2, direct GRU, seed 0'."""
    spec = {**DEFAULTS, **spec}
    levels = " on levels" if spec["levels"] else ""
    return f"forecast: {spec['series']}, {spec['model']} GRU{levels}, seed {spec['seed']}"


def cost(spec: Spec) -> float:
    """Rough one-thread seconds here (most runs stop early)."""
    spec = {**DEFAULTS, **spec}
    return {"sunspots": 1.0, "co2": 2.0, "elnino": 2.5}.get(spec["series"], 2.0) * (
        spec["epochs"] / 150
    )
