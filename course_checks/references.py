"""Reference values computed by PyTorch's own modules, in the course's NumPy layout.

Tests compare students' from-scratch code against ``torch.nn.RNN`` (and its autograd), never against
a second hand-written implementation. NumPy layout (see NOTATION.md): ``x_t @ W_x`` with ``W_x`` of
shape ``(D, H)``; PyTorch stores the transpose, ``weight_ih_l0`` of shape ``(H, D)``.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["torch_rnn_from_numpy", "torch_rnn_forward", "torch_rnn_gradients"]


def torch_rnn_from_numpy(W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray) -> torch.nn.RNN:
    """A float64 ``torch.nn.RNN`` (tanh, one layer) holding the given NumPy-layout weights.

    PyTorch has two bias vectors; the NumPy cell has one, so ``bias_ih_l0 = b`` and
    ``bias_hh_l0 = 0`` give the same function.
    """
    D, H = W_x.shape
    rnn = torch.nn.RNN(D, H, nonlinearity="tanh", dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(np.ascontiguousarray(W_x.T)))
        rnn.weight_hh_l0.copy_(torch.from_numpy(np.ascontiguousarray(W_h.T)))
        rnn.bias_ih_l0.copy_(torch.from_numpy(np.asarray(b, dtype=np.float64)))
        rnn.bias_hh_l0.zero_()
    return rnn


def torch_rnn_forward(
    x: np.ndarray, h0: np.ndarray, W_x: np.ndarray, W_h: np.ndarray, b: np.ndarray
) -> np.ndarray:
    """All hidden states ``(T, B, H)`` of ``torch.nn.RNN`` for inputs ``(T, B, D)`` and ``h0 (B, H)``."""
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
