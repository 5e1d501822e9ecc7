"""Reference values computed by PyTorch's own modules, in the course's NumPy layout.

Tests compare students' from-scratch code against ``torch.nn.RNN`` (and its autograd), never against
a second hand-written implementation. NumPy layout (see NOTATION.md): ``x_t @ W_x`` with ``W_x`` of
shape ``(D, H)``; PyTorch stores the transpose, ``weight_ih_l0`` of shape ``(H, D)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "RNNCase",
    "numpy_weights_from_torch",
    "random_rnn_case",
    "torch_clip_grad_norm",
    "torch_hidden_gradient_norms",
    "torch_rnn_cell_forward",
    "torch_rnn_forward",
    "torch_rnn_from_numpy",
    "torch_rnn_gradients",
]


def torch_rnn_from_numpy(W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray) -> torch.nn.RNN:
    """A float64 ``torch.nn.RNN`` (tanh, one layer) holding the given NumPy-layout weights.

    PyTorch has two bias vectors; the NumPy cell has one, so ``bias_ih_l0 = b`` and
    ``bias_hh_l0 = 0`` give the same function.
    """
    D, H = W_x.shape
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
    _load_weights(rnn, W_x, W_h, b, suffix="_l0")
    return rnn


def numpy_weights_from_torch(rnn: torch.nn.RNN) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W_x, W_h, b)`` in the course's layout from a one-layer tanh ``torch.nn.RNN``.

    The inverse of :func:`torch_rnn_from_numpy`: PyTorch computes
    ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``, so ``W_x = W_ih^T``, ``W_h = W_hh^T`` and the
    two biases add up to ``b``.
    """
    weights = {name: p.detach().cpu().numpy() for name, p in rnn.named_parameters()}
    return (
        weights["weight_ih_l0"].T.copy(),
        weights["weight_hh_l0"].T.copy(),
        weights["bias_ih_l0"] + weights["bias_hh_l0"],
    )


def torch_rnn_forward(
    x: np.ndarray, h0: np.ndarray, W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """All states ``(T, B, H)`` of ``torch.nn.RNN`` for inputs ``(T, B, D)`` and ``h0 (B, H)``."""
    rnn = torch_rnn_from_numpy(W_x, W_h, b)
    with torch.no_grad():
        hs, _ = rnn(torch.from_numpy(x), torch.from_numpy(h0)[None])
    return hs.numpy()


def torch_rnn_gradients(
    x: np.ndarray,
    h0: np.ndarray,
    W_x: np.ndarray,
    W_h: np.ndarray,
    b: np.ndarray,
    dhs: np.ndarray,
) -> dict[str, np.ndarray]:
    """Autograd gradients of ``L = sum(dhs ⊙ hs)`` for ``torch.nn.RNN``, in NumPy layout.

    Returns ``dx (T, B, D)``, ``dh0 (B, H)``, ``dW_x (D, H)``, ``dW_h (H, H)`` and ``db (H,)``.
    """
    rnn = torch_rnn_from_numpy(W_x, W_h, b)
    x_t = torch.from_numpy(x).clone().requires_grad_(True)
    h0_t = torch.from_numpy(h0)[None].clone().requires_grad_(True)
    hs, _ = rnn(x_t, h0_t)
    (hs * torch.from_numpy(dhs)).sum().backward()
    return {
        "dx": x_t.grad.numpy(),
        "dh0": h0_t.grad[0].numpy(),
        "dW_x": rnn.weight_ih_l0.grad.T.numpy().copy(),
        "dW_h": rnn.weight_hh_l0.grad.T.numpy().copy(),
        "db": rnn.bias_ih_l0.grad.numpy().copy(),
    }


def torch_rnn_cell_forward(
    x_t: np.ndarray, h_prev: np.ndarray, W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """One step ``h_t (B, H)`` of ``torch.nn.RNNCell`` holding the given NumPy-layout weights."""
    D, H = W_x.shape
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64)
    _load_weights(cell, W_x, W_h, b)
    with torch.no_grad():
        return cell(torch.from_numpy(x_t), torch.from_numpy(h_prev)).numpy()


def torch_hidden_gradient_norms(
    x: np.ndarray,
    h0: np.ndarray,
    W_x: np.ndarray,
    W_h: np.ndarray,
    b: np.ndarray,
    dh_T: np.ndarray,
) -> np.ndarray:
    """``norms[k] = ‖∂L/∂h_{T−k}‖`` for ``L = sum(dh_T ⊙ h_T)``, k = 0 … T−1, by autograd.

    Unrolls ``torch.nn.RNNCell`` over time and keeps every state's gradient with ``retain_grad``.
    The norm is the Frobenius norm over the batch and hidden axes.
    """
    D, H = W_x.shape
    cell = torch.nn.RNNCell(D, H, nonlinearity="tanh", dtype=torch.float64)
    _load_weights(cell, W_x, W_h, b)
    h = torch.from_numpy(h0)
    states = []
    for x_t in torch.from_numpy(x):
        h = cell(x_t, h)
        h.retain_grad()
        states.append(h)
    (states[-1] * torch.from_numpy(dh_T)).sum().backward()
    return np.array([float(torch.linalg.norm(state.grad)) for state in reversed(states)])


def torch_clip_grad_norm(
    grads: Mapping[str, np.ndarray], max_norm: float
) -> tuple[dict[str, np.ndarray], float]:
    """``torch.nn.utils.clip_grad_norm_`` applied to copies of ``grads``: (clipped, total norm)."""
    tensors = {
        name: torch.nn.Parameter(torch.zeros(np.shape(g), dtype=torch.float64))
        for name, g in grads.items()
    }
    for name, parameter in tensors.items():
        parameter.grad = torch.tensor(grads[name], dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_(list(tensors.values()), max_norm)
    return {name: p.grad.numpy().copy() for name, p in tensors.items()}, float(total)


@dataclass(frozen=True)
class RNNCase:
    """Random inputs for the RNN tests, and the states ``hs`` that ``torch.nn.RNN`` computes.

    Shapes: ``x (T, B, D)``, ``h0 (B, H)``, ``W_x (D, H)``, ``W_h (H, H)``, ``b (H,)``, upstream
    gradient ``dhs (T, B, H)`` and states ``hs (T, B, H)`` (h_1 … h_T).
    """

    x: np.ndarray
    h0: np.ndarray
    W_x: np.ndarray
    W_h: np.ndarray
    b: np.ndarray
    dhs: np.ndarray
    hs: np.ndarray

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """``(T, B, D, H)``."""
        T, B, D = self.x.shape
        return T, B, D, self.W_h.shape[0]

    @property
    def weights(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(W_x, W_h, b)``, in the order the exercises' functions take them."""
        return self.W_x, self.W_h, self.b


def random_rnn_case(seed: int, T: int, B: int, D: int, H: int, scale: float = 0.5) -> RNNCase:
    """Draw an :class:`RNNCase` from ``numpy.random.default_rng(seed)`` (float64 throughout).

    Weights, biases and ``h0`` are normal with standard deviation ``scale``, so that tanh is used
    in its curved range; inputs and the upstream gradient are standard normal.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, B, D))
    h0 = rng.normal(scale=scale, size=(B, H))
    W_x = rng.normal(scale=scale, size=(D, H))
    W_h = rng.normal(scale=scale, size=(H, H))
    b = rng.normal(scale=scale, size=H)
    dhs = rng.normal(size=(T, B, H))
    hs = torch_rnn_forward(x, h0, W_x, W_h, b)
    return RNNCase(x=x, h0=h0, W_x=W_x, W_h=W_h, b=b, dhs=dhs, hs=hs)


def _load_weights(
    module: torch.nn.Module, W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray, suffix: str = ""
) -> None:
    """Copy NumPy-layout weights into an nn.RNN (``suffix="_l0"``) or nn.RNNCell.

    PyTorch stores the transposes, and two biases whose sum is ``b``: ``bias_hh`` is set to 0.
    """
    with torch.no_grad():
        getattr(module, f"weight_ih{suffix}").copy_(torch.from_numpy(np.ascontiguousarray(W_x.T)))
        getattr(module, f"weight_hh{suffix}").copy_(torch.from_numpy(np.ascontiguousarray(W_h.T)))
        getattr(module, f"bias_ih{suffix}").copy_(torch.from_numpy(np.asarray(b, np.float64)))
        getattr(module, f"bias_hh{suffix}").zero_()


def _describe(case: RNNCase) -> str:
    T, B, D, H = case.sizes
    steps = "1 time step" if T == 1 else f"{T} time steps"
    return f"{steps}, B={B}, D={D}, H={H}"


def rnn_case(
    case: RNNCase | None = None,
    seed: int | None = None,
    T: int | None = None,
    B: int | None = None,
    D: int | None = None,
    H: int | None = None,
) -> RNNCase:
    """``case``, or the :func:`~course_checks.references.random_rnn_case` of ``seed`` and sizes.

    Test cells pass a seed and sizes, so that the case, which holds torch's states, is made here
    and never reaches the notebook's namespace.
    """
    if case is not None:
        return case
    if None in (seed, T, B, D, H):
        raise TypeError("pass a case, or seed= and the sizes T=, B=, D=, H=")
    return random_rnn_case(seed, T, B, D, H)  # type: ignore[arg-type]
