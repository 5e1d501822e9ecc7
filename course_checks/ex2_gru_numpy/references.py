"""GRU reference values computed by ``torch.nn.GRU`` / ``torch.nn.GRUCell``, in the NumPy layout.

The NumPy exercises use per-gate parameters (NOTATION.md) in the reset-after form that PyTorch
implements::

    r_t = σ(x_t W_xr + h_{t−1} W_hr + b_r)
    z_t = σ(x_t W_xz + h_{t−1} W_hz + b_z)
    h̃_t = tanh(x_t W_xh + b_xh + r_t ⊙ (h_{t−1} W_hh + b_hh))
    h_t = z_t ⊙ h_{t−1} + (1 − z_t) ⊙ h̃_t

PyTorch stacks the transposed blocks in the order r, z, n: ``weight_ih_l0`` is ``(3H, D)``,
``weight_hh_l0`` is ``(3H, H)``, and it keeps two bias vectors per gate; ``b_r`` and ``b_z`` are the
sums of the two, while the candidate keeps ``b_xh`` (input side) and ``b_hh`` (inside ``r ⊙ (…)``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

__all__ = [
    "GRU_PARAMETER_NAMES",
    "gru_params_from_torch",
    "random_gru_params",
    "torch_gru_cell_gates",
    "torch_gru_forward",
    "torch_gru_from_numpy",
    "torch_gru_gradients",
]

GRU_PARAMETER_NAMES = (
    "W_xr", "W_hr", "b_r", "W_xz", "W_hz", "b_z", "W_xh", "W_hh", "b_xh", "b_hh",
)  # fmt: skip

Params = Mapping[str, np.ndarray]


def random_gru_params(rng: np.random.Generator, D: int, H: int, scale: float = 0.5) -> dict:
    """Per-gate float64 parameters drawn from ``rng`` (normal, standard deviation ``scale``)."""
    shapes = {"W_x": (D, H), "W_h": (H, H), "b": (H,)}
    return {
        name: rng.normal(scale=scale, size=shapes[name[:3] if name.startswith("W") else "b"])
        for name in GRU_PARAMETER_NAMES
    }


def torch_gru_from_numpy(params: Params) -> torch.nn.GRU:
    """A float64 one-layer ``torch.nn.GRU`` holding the given per-gate NumPy parameters."""
    D, H = params["W_xr"].shape
    gru = torch.nn.GRU(D, H, dtype=torch.float64)
    zeros = np.zeros(H)
    with torch.no_grad():
        gru.weight_ih_l0.copy_(_stack(params["W_xr"].T, params["W_xz"].T, params["W_xh"].T))
        gru.weight_hh_l0.copy_(_stack(params["W_hr"].T, params["W_hz"].T, params["W_hh"].T))
        gru.bias_ih_l0.copy_(_stack(params["b_r"], params["b_z"], params["b_xh"]))
        gru.bias_hh_l0.copy_(_stack(zeros, zeros, params["b_hh"]))
    return gru


def gru_params_from_torch(gru: torch.nn.GRU | torch.nn.GRUCell) -> dict[str, np.ndarray]:
    """The per-gate NumPy parameters of a one-layer ``nn.GRU`` (or ``nn.GRUCell``)."""
    suffix = "_l0" if isinstance(gru, torch.nn.GRU) else ""
    w_ih, w_hh, b_ih, b_hh = (
        getattr(gru, f"{name}{suffix}").detach().cpu().double().numpy()
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    H = w_hh.shape[1]
    block = [slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)]  # PyTorch's order: r, z, n
    return {
        "W_xr": w_ih[block[0]].T.copy(), "W_hr": w_hh[block[0]].T.copy(),
        "b_r": b_ih[block[0]] + b_hh[block[0]],
        "W_xz": w_ih[block[1]].T.copy(), "W_hz": w_hh[block[1]].T.copy(),
        "b_z": b_ih[block[1]] + b_hh[block[1]],
        "W_xh": w_ih[block[2]].T.copy(), "W_hh": w_hh[block[2]].T.copy(),
        "b_xh": b_ih[block[2]].copy(), "b_hh": b_hh[block[2]].copy(),
    }  # fmt: skip


def torch_gru_forward(x: np.ndarray, h0: np.ndarray, params: Params) -> np.ndarray:
    """All states ``(T, B, H)`` of ``torch.nn.GRU`` for inputs ``(T, B, D)`` and ``h0 (B, H)``."""
    gru = torch_gru_from_numpy(params)
    with torch.no_grad():
        hs, _ = gru(torch.from_numpy(x), torch.from_numpy(h0)[None])
    return hs.numpy()


def torch_gru_cell_gates(
    x_t: np.ndarray, h_prev: np.ndarray, params: Params
) -> dict[str, np.ndarray]:
    """One step's ``r``, ``z``, ``h_tilde`` and ``h`` (each ``(B, H)``), from PyTorch's weights.

    The gates are not outputs of ``nn.GRUCell``, so they are computed from its stacked weights with
    PyTorch's documented formulas; the state they give is asserted equal to ``nn.GRUCell``'s, so
    the gates are exactly the ones PyTorch uses.
    """
    gru = torch_gru_from_numpy(params)
    D, H = params["W_xr"].shape
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(getattr(gru, f"{name}_l0"))
        x = torch.from_numpy(x_t)
        h = torch.from_numpy(h_prev)
        gi = x @ cell.weight_ih.T + cell.bias_ih
        gh = h @ cell.weight_hh.T + cell.bias_hh
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
        n = torch.tanh(gi[:, 2 * H :] + r * gh[:, 2 * H :])
        h_new = z * h + (1 - z) * n
        reference = cell(x, h)
    assert torch.allclose(h_new, reference, atol=1e-12, rtol=0), "gate formulas disagree with torch"
    return {"r": r.numpy(), "z": z.numpy(), "h_tilde": n.numpy(), "h": reference.numpy()}


def torch_gru_gradients(
    x: np.ndarray, h0: np.ndarray, params: Params, dhs: np.ndarray
) -> dict[str, np.ndarray]:
    """Autograd gradients of ``L = sum(dhs ⊙ hs)`` for ``torch.nn.GRU``, in the NumPy layout.

    Returns ``dx (T, B, D)``, ``dh0 (B, H)`` and ``d<name>`` for every parameter name in
    :data:`GRU_PARAMETER_NAMES` (``dW_xr``, …, ``db_hh``), each of its parameter's shape.
    """
    gru = torch_gru_from_numpy(params)
    x_t = torch.from_numpy(x).clone().requires_grad_(True)
    h0_t = torch.from_numpy(h0)[None].clone().requires_grad_(True)
    hs, _ = gru(x_t, h0_t)
    (hs * torch.from_numpy(dhs)).sum().backward()
    H = params["W_xr"].shape[1]
    g_ih, g_hh = gru.weight_ih_l0.grad.numpy(), gru.weight_hh_l0.grad.numpy()
    gb_ih, gb_hh = gru.bias_ih_l0.grad.numpy(), gru.bias_hh_l0.grad.numpy()
    r, z, n = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    # b_r and b_z enter as b_ih + b_hh, so either bias gradient is the gradient of their sum.
    return {
        "dx": x_t.grad.numpy(), "dh0": h0_t.grad[0].numpy(),
        "dW_xr": g_ih[r].T.copy(), "dW_hr": g_hh[r].T.copy(), "db_r": gb_ih[r].copy(),
        "dW_xz": g_ih[z].T.copy(), "dW_hz": g_hh[z].T.copy(), "db_z": gb_ih[z].copy(),
        "dW_xh": g_ih[n].T.copy(), "dW_hh": g_hh[n].T.copy(),
        "db_xh": gb_ih[n].copy(), "db_hh": gb_hh[n].copy(),
    }  # fmt: skip


def _stack(*blocks: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.concatenate(blocks, axis=0)))
