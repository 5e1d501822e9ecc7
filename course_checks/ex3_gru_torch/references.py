"""Reference values of Exercise 3 computed by PyTorch's own ``nn.GRU`` and ``nn.GRUCell``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from course_checks.adding import reference_adding_problem
from course_checks.cases import SequenceCase

__all__ = [
    "PARAMETER_NAMES",
    "GRUCase",
    "random_gru_case",
    "reference_train",
    "torch_gru_from",
]


Params = Mapping[str, np.ndarray]


PARAMETER_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


@dataclass(frozen=True)
class GRUCase(SequenceCase):
    """One random float64 test case: inputs, PyTorch-layout parameters and upstream gradients."""

    seed: int
    x: np.ndarray  # (T, B, D)
    h0: np.ndarray  # (B, H); nn.GRU takes it as h0[None]
    params: dict[str, np.ndarray]  # weight_ih (3H, D), weight_hh (3H, H), bias_ih, bias_hh (3H,)
    g_out: np.ndarray  # (T, B, H): the loss is sum(g_out ⊙ output) + sum(g_n ⊙ h_n[0])
    g_n: np.ndarray  # (B, H)


def random_gru_case(seed: int, T: int, B: int, D: int, H: int, scale: float = 0.5) -> GRUCase:
    """Inputs, states and weights (normal, standard deviation ``scale``) drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    shapes = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H), "bias_ih": (3 * H,)}
    shapes["bias_hh"] = (3 * H,)
    params = {name: rng.normal(scale=scale, size=shape) for name, shape in shapes.items()}
    return GRUCase(
        seed=seed,
        x=rng.normal(size=(T, B, D)),
        h0=rng.normal(scale=0.5, size=(B, H)),
        params=params,
        g_out=rng.normal(size=(T, B, H)),
        g_n=rng.normal(size=(B, H)),
    )


def _copy_into(module: nn.Module, params: Params, suffix: str) -> None:
    with torch.no_grad():
        for name in PARAMETER_NAMES:
            getattr(module, name + suffix).copy_(torch.from_numpy(np.asarray(params[name])))


def torch_gru_from(params: Params) -> nn.GRU:
    """A float64 one-layer, time-major ``torch.nn.GRU`` holding ``params`` (PyTorch layout)."""
    H3, D = params["weight_ih"].shape
    gru = nn.GRU(D, H3 // 3, dtype=torch.float64)
    _copy_into(gru, params, "_l0")
    return gru


def torch_gru_cell_from(params: Params) -> nn.GRUCell:
    """A float64 ``torch.nn.GRUCell`` holding ``params``."""
    H3, D = params["weight_ih"].shape
    cell = nn.GRUCell(D, H3 // 3, dtype=torch.float64)
    _copy_into(cell, params, "")
    return cell


def reference_cell(x_t: np.ndarray, h: np.ndarray, params: Params) -> np.ndarray:
    """``torch.nn.GRUCell``'s new state for ``x_t (B, D)`` and ``h (B, H)``."""
    with torch.no_grad():
        return torch_gru_cell_from(params)(torch.from_numpy(x_t), torch.from_numpy(h)).numpy()


def reference_gru(x: np.ndarray, h0: np.ndarray, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """``torch.nn.GRU``'s ``(output (T, B, H), h_n (1, B, H))`` for ``x (T, B, D)``, ``h0 (B, H)``.

    ``h0`` has no num_layers axis here; nn.GRU gets ``h0[None]``.
    """
    with torch.no_grad():
        output, h_n = torch_gru_from(params)(torch.from_numpy(x), torch.from_numpy(h0)[None])
    return output.numpy(), h_n.numpy()


class _TinyRegressor(nn.Module):
    """A small float64 GRU regressor on which a student's ``train`` is replayed."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.gru = nn.GRU(2, hidden_size, dtype=torch.float64)
        self.readout = nn.Linear(hidden_size, 1, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.readout(self.gru(x)[1][0])[:, 0]


def reference_train(
    model: nn.Module,
    steps: int,
    T: int,
    batch_size: int,
    lr: float,
    max_norm: float,
    seed: int,
    *,
    zero_grad: bool = True,
    clip: str = "before",
    same_batch: bool = False,
    target: str = "same",
    order: str = "backward_first",
) -> list[float]:
    """The training loop the exercise asks for, with switchable mistakes (defaults are right).

    Adam(lr) on the mean squared error; step k uses ``reference_adding_problem(batch_size, T,
    seed + k)``, converted to the model's dtype and device; gradients clipped to ``max_norm``.
    Returns the loss of every step (before its update). Trains ``model`` in place.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    parameter = next(model.parameters())
    losses = []
    for step in range(steps):
        x, y = reference_adding_problem(batch_size, T, seed if same_batch else seed + step)
        x, y = x.to(parameter), y.to(parameter)
        goal = y[:, None] if target == "column" else y
        loss = torch.mean((model(x) - goal) ** 2)
        if zero_grad:
            optimizer.zero_grad()
        if order == "step_first":
            optimizer.step()
            loss.backward()
        else:
            loss.backward()
            if clip == "before":
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
        losses.append(loss.item())
    return losses
