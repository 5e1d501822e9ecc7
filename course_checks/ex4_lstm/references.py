"""LSTM reference values computed by ``torch.nn.LSTM`` / ``torch.nn.LSTMCell``, in both layouts.

Exercise 4 writes the LSTM twice. In NumPy (``lstm_numpy``) with per-gate parameters and row
vectors (NOTATION.md)::

    i_t = σ(x_t W_xi + h_{t−1} W_hi + b_i)        input gate
    f_t = σ(x_t W_xf + h_{t−1} W_hf + b_f)        forget gate
    g_t = tanh(x_t W_xg + h_{t−1} W_hg + b_g)     cell candidate
    o_t = σ(x_t W_xo + h_{t−1} W_ho + b_o)        output gate
    c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t
    h_t = o_t ⊙ tanh(c_t)

and in PyTorch (``lstm_torch``) in PyTorch's own layout: the transposed blocks stacked in the
order i, f, g, o, ``weight_ih (4H, D)``, ``weight_hh (4H, H)``, and two bias vectors ``bias_ih``
and ``bias_hh`` (4H,). Unlike the GRU's candidate, no gate multiplies a bias of the LSTM, so each
gate's two biases simply add: ``b_i`` is the sum of the i blocks of ``bias_ih`` and ``bias_hh``.

The functions here take the stacked (PyTorch) layout, ``stacked``: a dict with ``weight_ih``,
``weight_hh``, ``bias_ih`` and ``bias_hh`` as NumPy arrays; :func:`stacked_from_gates` and
:func:`gates_from_stacked` convert from and to the per-gate layout. Every right answer that a
check compares with comes from here, that is from PyTorch's modules.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

__all__ = [
    "GATES",
    "LSTM_PARAMETER_NAMES",
    "STACKED_NAMES",
    "gates_from_stacked",
    "lstm_params_from_torch",
    "random_gate_params",
    "random_stacked_params",
    "stacked_from_gates",
    "torch_lstm",
    "torch_lstm_cell",
    "torch_lstm_forward",
    "torch_lstm_step",
    "torch_parameter_count",
]

GATES = ("i", "f", "g", "o")  # PyTorch's order of the blocks
LSTM_PARAMETER_NAMES = tuple(
    name for gate in GATES for name in (f"W_x{gate}", f"W_h{gate}", f"b_{gate}")
)
STACKED_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

Params = Mapping[str, np.ndarray]


def random_gate_params(rng: np.random.Generator, D: int, H: int, scale: float = 0.5) -> dict:
    """Per-gate float64 parameters drawn from ``rng`` (normal, standard deviation ``scale``)."""
    shapes = {"W_x": (D, H), "W_h": (H, H), "b": (H,)}
    return {
        name: rng.normal(scale=scale, size=shapes[name[:3] if name[0] == "W" else "b"])
        for name in LSTM_PARAMETER_NAMES
    }


def random_stacked_params(rng: np.random.Generator, D: int, H: int, scale: float = 0.5) -> dict:
    """Float64 parameters in PyTorch's layout from ``rng`` (normal, standard deviation scale)."""
    shapes = {"weight_ih": (4 * H, D), "weight_hh": (4 * H, H), "bias_ih": (4 * H,)}
    shapes["bias_hh"] = (4 * H,)
    return {name: rng.normal(scale=scale, size=shape) for name, shape in shapes.items()}


def stacked_from_gates(params: Params) -> dict[str, np.ndarray]:
    """PyTorch's layout of per-gate parameters: blocks transposed and stacked i, f, g, o.

    The per-gate bias goes to ``bias_ih``; ``bias_hh`` is zero (only their sum matters).
    """
    H = params["W_hi"].shape[0]
    return {
        "weight_ih": np.concatenate([params[f"W_x{g}"].T for g in GATES]),
        "weight_hh": np.concatenate([params[f"W_h{g}"].T for g in GATES]),
        "bias_ih": np.concatenate([params[f"b_{g}"] for g in GATES]),
        "bias_hh": np.zeros(4 * H),
    }


def gates_from_stacked(stacked: Params) -> dict[str, np.ndarray]:
    """The per-gate layout of PyTorch-layout parameters (each gate's two biases summed)."""
    H = stacked["weight_hh"].shape[1]
    params = {}
    for k, gate in enumerate(GATES):
        rows = slice(k * H, (k + 1) * H)
        params[f"W_x{gate}"] = np.array(stacked["weight_ih"][rows].T)
        params[f"W_h{gate}"] = np.array(stacked["weight_hh"][rows].T)
        params[f"b_{gate}"] = stacked["bias_ih"][rows] + stacked["bias_hh"][rows]
    return params


def _copy_into(module: nn.Module, stacked: Params, suffix: str) -> None:
    with torch.no_grad():
        for name in STACKED_NAMES:
            getattr(module, name + suffix).copy_(torch.from_numpy(np.asarray(stacked[name])))


def torch_lstm(stacked: Params) -> nn.LSTM:
    """A float64, one-layer, time-major ``torch.nn.LSTM`` holding ``stacked``."""
    H4, D = stacked["weight_ih"].shape
    lstm = nn.LSTM(D, H4 // 4, dtype=torch.float64)
    _copy_into(lstm, stacked, "_l0")
    return lstm


def torch_lstm_cell(stacked: Params) -> nn.LSTMCell:
    """A float64 ``torch.nn.LSTMCell`` holding ``stacked``."""
    H4, D = stacked["weight_ih"].shape
    cell = nn.LSTMCell(D, H4 // 4, dtype=torch.float64)
    _copy_into(cell, stacked, "")
    return cell


def lstm_params_from_torch(lstm: nn.LSTM) -> dict[str, np.ndarray]:
    """The per-gate NumPy parameters of a one-layer ``nn.LSTM``."""
    return gates_from_stacked(
        {
            name: getattr(lstm, f"{name}_l0").detach().cpu().double().numpy()
            for name in STACKED_NAMES
        }
    )


def torch_lstm_step(
    x_t: np.ndarray, h: np.ndarray, c: np.ndarray, stacked: Params
) -> dict[str, np.ndarray]:
    """One step's gates ``i``, ``f``, ``g``, ``o`` and new ``c`` and ``h``, each ``(B, H)``.

    The gates are not outputs of ``nn.LSTMCell``, so they are computed from its stacked weights
    with PyTorch's documented formulas; the state they give is asserted equal to
    ``nn.LSTMCell``'s, so they are the gates PyTorch uses. ``c`` and ``h`` are ``nn.LSTMCell``'s.
    """
    cell = torch_lstm_cell(stacked)
    x, h_prev, c_prev = (torch.from_numpy(np.asarray(a)) for a in (x_t, h, c))
    with torch.no_grad():
        a = x @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T + cell.bias_hh
        a_i, a_f, a_g, a_o = a.chunk(4, dim=1)
        i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
        c_new = f * c_prev + i * g
        h_new = o * torch.tanh(c_new)
        h_ref, c_ref = cell(x, (h_prev, c_prev))
    assert torch.allclose(c_new, c_ref, atol=1e-12, rtol=0), "gate formulas disagree with torch"
    assert torch.allclose(h_new, h_ref, atol=1e-12, rtol=0), "gate formulas disagree with torch"
    values = {"i": i, "f": f, "g": g, "o": o, "c": c_ref, "h": h_ref}
    return {name: value.numpy() for name, value in values.items()}


def torch_lstm_forward(
    x: np.ndarray, h0: np.ndarray, c0: np.ndarray, stacked: Params
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``torch.nn.LSTM``'s ``output (T, B, H)`` and final ``h_T``, ``c_T`` (each ``(B, H)``).

    ``h0`` and ``c0`` are ``(B, H)``, without nn.LSTM's num_layers axis (added here).
    """
    lstm = torch_lstm(stacked)
    state = (torch.from_numpy(h0)[None], torch.from_numpy(c0)[None])
    with torch.no_grad():
        output, (h_n, c_n) = lstm(torch.from_numpy(x), state)
    return output.numpy(), h_n[0].numpy(), c_n[0].numpy()


_MODULES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def torch_parameter_count(kind: str, input_size: int, hidden_size: int) -> int:
    """``sum(p.numel())`` over a one-layer ``nn.RNN``, ``nn.GRU`` or ``nn.LSTM`` (``kind``).

    Built on the meta device: shapes without memory, so that large sizes cost nothing.
    """
    module = _MODULES[kind](input_size, hidden_size, device="meta")
    return int(sum(p.numel() for p in module.parameters()))
