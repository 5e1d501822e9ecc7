"""What Exercise 6's NumPy notebook (``ex6_seq2seq/attention_numpy``) must compute: Bahdanau et
al.'s (2015) additive attention for one decoder step of a batch, time-major.

The decoder's state ``s (B, Hd)``, the encoder's annotations ``Hs (S, B, He)`` and the mask
``(S, B)`` (True at the real source positions, False at the padding after each source's end);
row vectors, as NOTATION.md fixes them, with ``W_a (Hd, A)``, ``U_a (He, A)``, ``v_a (A,)``::

    e[j, b]     = tanh(s[b] W_a + Hs[j, b] U_a) · v_a                      scores (S, B)
    alpha[:, b] = softmax of e[:, b] over the real positions j, 0 at the padding   (S, B)
    c[b]        = Σ_j alpha[j, b] Hs[j, b]                                 context (B, He)

Everything here is computed with PyTorch in float64 (``masked_fill`` with −∞, then
``torch.softmax`` over the source axis; gradients by autograd of ``L = Σ dc ⊙ c``), never with a
second copy of the notebook's NumPy. ``tests/course_checks/ex6_seq2seq`` compares it with an
independent loop and with finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "GRADIENT_NAMES",
    "AttentionCase",
    "attention_loss",
    "random_attention_case",
    "random_mask",
    "torch_attention",
    "torch_attention_gradients",
    "torch_context",
    "torch_masked_softmax",
    "torch_scores",
]

Array = np.ndarray
GRADIENT_NAMES = ("ds", "dHs", "dW_a", "dU_a", "dv_a")


def _t(array: Array) -> torch.Tensor:
    return torch.tensor(np.asarray(array, dtype=np.float64))


def torch_scores(s: Array, Hs: Array, W_a: Array, U_a: Array, v_a: Array) -> Array:
    """``e (S, B)``: ``tanh(s W_a + Hs U_a) v_a`` at every source position."""
    with torch.no_grad():
        return (torch.tanh(_t(s) @ _t(W_a) + _t(Hs) @ _t(U_a)) @ _t(v_a)).numpy()


def torch_masked_softmax(e: Array, mask: Array) -> Array:
    """``alpha (S, B)``: ``torch.softmax`` over axis 0 of the scores with −∞ at the padding."""
    keep = torch.from_numpy(np.asarray(mask, dtype=bool))
    with torch.no_grad():
        return torch.softmax(_t(e).masked_fill(~keep, float("-inf")), dim=0).numpy()


def torch_context(alpha: Array, Hs: Array) -> Array:
    """``c (B, He)``: ``Σ_j alpha[j, b] Hs[j, b]``."""
    with torch.no_grad():
        return torch.einsum("sb,sbh->bh", _t(alpha), _t(Hs)).numpy()


def _forward(s, Hs, mask, W_a, U_a, v_a):  # tensors in, tensors out
    keep = torch.from_numpy(np.asarray(mask, dtype=bool))
    e = torch.tanh(s @ W_a + Hs @ U_a) @ v_a
    alpha = torch.softmax(e.masked_fill(~keep, float("-inf")), dim=0)
    return e, alpha, (alpha[..., None] * Hs).sum(0)


def torch_attention(
    s: Array, Hs: Array, mask: Array, W_a: Array, U_a: Array, v_a: Array
) -> dict[str, Array]:
    """``{"e": scores, "alpha": weights, "c": context}`` of one decoder step."""
    with torch.no_grad():
        e, alpha, c = _forward(_t(s), _t(Hs), mask, _t(W_a), _t(U_a), _t(v_a))
    return {"e": e.numpy(), "alpha": alpha.numpy(), "c": c.numpy()}


def attention_loss(
    s: Array, Hs: Array, mask: Array, W_a: Array, U_a: Array, v_a: Array, dc: Array
) -> float:
    """``L = Σ dc ⊙ c``: the loss whose gradients the backward pass computes."""
    with torch.no_grad():
        _, _, c = _forward(_t(s), _t(Hs), mask, _t(W_a), _t(U_a), _t(v_a))
        return float((_t(dc) * c).sum())


def torch_attention_gradients(
    s: Array, Hs: Array, mask: Array, W_a: Array, U_a: Array, v_a: Array, dc: Array
) -> dict[str, Array]:
    """``dL/ds, dL/dHs, dL/dW_a, dL/dU_a, dL/dv_a`` of ``L = Σ dc ⊙ c``, by autograd."""
    inputs = {
        name: _t(value).requires_grad_(True)
        for name, value in (("s", s), ("Hs", Hs), ("W_a", W_a), ("U_a", U_a), ("v_a", v_a))
    }
    _, _, c = _forward(inputs["s"], inputs["Hs"], mask, inputs["W_a"], inputs["U_a"], inputs["v_a"])
    (_t(dc) * c).sum().backward()
    return {"d" + name: tensor.grad.numpy() for name, tensor in inputs.items()}


def random_mask(rng: np.random.Generator, S: int, B: int) -> Array:
    """``(S, B)`` bool, True at the real positions: each source's length in ``1 … S``, one of
    them ``S`` and (with ``B ≥ 2`` and ``S ≥ 2``) one shorter, the padding after each source's
    end."""
    lengths = rng.integers(1, S + 1, size=B)
    full = int(rng.integers(B))
    lengths[full] = S
    if B >= 2 and S >= 2 and np.all(lengths == S):
        lengths[(full + 1 + int(rng.integers(B - 1))) % B] = int(rng.integers(1, S))
    return np.arange(S)[:, None] < lengths[None, :]


@dataclass(frozen=True)
class AttentionCase:
    """One decoder step's inputs and the upstream gradient ``dc`` of its context."""

    s: Array  # (B, Hd)
    Hs: Array  # (S, B, He); random values at the padding, which must get no weight
    mask: Array  # (S, B) bool
    W_a: Array  # (Hd, A)
    U_a: Array  # (He, A)
    v_a: Array  # (A,)
    dc: Array  # (B, He)

    @property
    def arrays(self) -> tuple[Array, ...]:
        """``(s, Hs, mask, W_a, U_a, v_a)``, copies: the arguments of the forward pass."""
        return tuple(
            np.array(a) for a in (self.s, self.Hs, self.mask, self.W_a, self.U_a, self.v_a)
        )

    def describe(self) -> str:
        S, B, He = self.Hs.shape
        lengths = ", ".join(str(int(n)) for n in self.mask.sum(0))
        return (
            f"S={S}, B={B}, Hd={self.s.shape[1]}, He={He}, A={self.v_a.shape[0]}; source "
            f"lengths {lengths}"
        )


def random_attention_case(seed: int, S: int, B: int, Hd: int, He: int, A: int) -> AttentionCase:
    """Inputs of one step from ``seed``: weights scaled like PyTorch's initialisation (so that
    ``tanh`` works in its curved range), annotations of size about 1, random padding."""
    rng = np.random.default_rng(seed)
    return AttentionCase(
        s=rng.normal(size=(B, Hd)),
        Hs=rng.normal(size=(S, B, He)),
        mask=random_mask(rng, S, B),
        W_a=rng.normal(size=(Hd, A)) / np.sqrt(Hd),
        U_a=rng.normal(size=(He, A)) / np.sqrt(He),
        v_a=rng.normal(size=A),
        dc=rng.normal(size=(B, He)),
    )
