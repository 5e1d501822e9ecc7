"""What known wrong GRU modules of Exercise 3 produce, so that a failure names the mistake."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from course_checks.ex3_gru_torch.references import (
    PARAMETER_NAMES,
    Params,
    reference_cell,
    reference_gru,
)

__all__ = [
    "cell_mistakes",
    "forward_mistakes",
]


_ORDER_NOTE = (
    "PyTorch stacks the three blocks in the order r, z, n (rows 0:H the reset gate, H:2H the "
    "update gate, 2H:3H the candidate) in weight_ih, weight_hh, bias_ih and bias_hh alike"
)


# Mistakes of the GRU step: description -> switches of _variant_step.
_CELL_VARIANTS: dict[str, dict[str, Any]] = {
    "z and 1 − z are swapped: the new state is z ⊙ h + (1 − z) ⊙ n (z close to 1 keeps the old "
    "state, as in PyTorch and Cho et al.), not (1 − z) ⊙ h + z ⊙ n (Chung et al.'s convention)": {
        "swap": True
    },
    "the reset gate is applied before the matrix product, (r ⊙ h) @ weight_hh[2H:3H].T + "
    "bias_hh[2H:3H] (the form of Cho et al. and Dive into Deep Learning); torch.nn.GRU applies "
    "it after the product: r ⊙ gh_n with gh_n = h @ weight_hh[2H:3H].T + bias_hh[2H:3H]": {
        "reset": "before"
    },
    "the n block of bias_hh (bias_hh[2H:3H]) is added outside the reset product; torch.nn.GRU's "
    "candidate is n = tanh(gx_n + r ⊙ gh_n) with gh_n = h @ weight_hh[2H:3H].T + "
    "bias_hh[2H:3H]: add bias_hh to h @ weight_hh.T, not to the input side": {"b_hn": "outside"},
    "bias_hh is missing: torch.nn.GRU adds both bias vectors, bias_ih to x_t @ weight_ih.T and "
    "bias_hh to h @ weight_hh.T": {"bias_hh": 0},
    "bias_ih is missing: torch.nn.GRU adds both bias vectors, bias_ih to x_t @ weight_ih.T and "
    "bias_hh to h @ weight_hh.T": {"bias_ih": 0},
    "bias_hh is doubled (added on both sides, or loaded as bias_ih_l0 + bias_hh_l0): "
    "torch.nn.GRU adds bias_ih to x_t @ weight_ih.T and bias_hh to h @ weight_hh.T, "
    "each once": {"bias_hh_input": True},
    "the candidate uses a sigmoid; n = tanh(…), with values in (−1, 1)": {"activation": "sigmoid"},
    "the reset gate is missing from the candidate: n = tanh(gx_n + r ⊙ gh_n), where gh_n = "
    "h @ weight_hh[2H:3H].T + bias_hh[2H:3H]": {"reset": "none"},
    "the new state is the candidate n alone; interpolate: h_new = z ⊙ h + (1 − z) ⊙ n": {
        "update": "candidate"
    },
}


def _cell_variants() -> dict[str, dict[str, Any]]:
    """Every known wrong step: the switches above and the five wrong orders of the blocks."""
    variants = dict(_CELL_VARIANTS)
    for order in itertools.permutations("rzn"):
        if order != ("r", "z", "n"):
            text = ", ".join(order)
            variants[
                f"the blocks are read in the wrong order {text}; {_ORDER_NOTE}: e.g. "
                f"gx_r, gx_z, gx_n = gx.chunk(3, dim=1)"
            ] = {"order": "".join(order)}
    return variants


def _variant_step(
    x: torch.Tensor,
    h: torch.Tensor,
    params: Params,
    *,
    order: str = "rzn",
    swap: bool = False,
    reset: str = "after",
    b_hn: str = "inside",
    bias_ih: float = 1.0,
    bias_hh: float = 1.0,
    bias_hh_input: bool = False,
    activation: str = "tanh",
    update: str = "interpolate",
) -> torch.Tensor:
    """One GRU step with switchable mistakes (the defaults are right; they are checked to be).

    ``order`` names the gates that the code reads from blocks 0, 1 and 2 ("zrn": block 0 as z).
    """
    H = h.shape[1]
    p = {k: torch.from_numpy(np.asarray(v)) for k, v in params.items()}
    # Read block i as gate order[i]: rearrange so that r, z, n below get the blocks the code uses.
    index = [order.index(g) for g in "rzn"]
    p = {k: torch.cat([v[i * H : (i + 1) * H] for i in index]) for k, v in p.items()}
    W_in, W_hn = p["weight_ih"][2 * H :], p["weight_hh"][2 * H :]
    b_in, b_hn_value = p["bias_ih"][2 * H :], p["bias_hh"][2 * H :]
    gi = x @ p["weight_ih"].T + bias_ih * p["bias_ih"]
    if bias_hh_input:
        gi = gi + p["bias_hh"]
    gh = h @ p["weight_hh"].T + bias_hh * p["bias_hh"]
    r = torch.sigmoid(gi[:, :H] + gh[:, :H])
    z = torch.sigmoid(gi[:, H : 2 * H] + gh[:, H : 2 * H])
    squash = torch.sigmoid if activation == "sigmoid" else torch.tanh
    if reset == "before":
        n = squash(x @ W_in.T + bias_ih * b_in + (r * h) @ W_hn.T + bias_hh * b_hn_value)
    elif reset == "none":
        n = squash(gi[:, 2 * H :] + gh[:, 2 * H :])
    elif b_hn == "outside":
        n = squash(gi[:, 2 * H :] + r * (h @ W_hn.T) + b_hn_value)
    else:
        n = squash(gi[:, 2 * H :] + r * gh[:, 2 * H :])
    if update == "candidate":
        return n
    return (1 - z) * h + z * n if swap else z * h + (1 - z) * n


def _assert_variant_reference(x: np.ndarray, h: np.ndarray, params: Params) -> None:
    right = _variant_step(torch.from_numpy(x), torch.from_numpy(h), params).numpy()
    assert np.allclose(right, reference_cell(x, h, params), atol=1e-12, rtol=0), "variant"


def cell_mistakes(x_t: np.ndarray, h: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Wrong new states of one step: ``{description: value (B, H)}``."""
    _assert_variant_reference(x_t, h, params)
    x, state = torch.from_numpy(x_t), torch.from_numpy(h)
    return {
        text: _variant_step(x, state, params, **switches).numpy()
        for text, switches in _cell_variants().items()
    }


def _rolled(
    x: np.ndarray, h0: np.ndarray, step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
) -> np.ndarray:
    h, states = torch.from_numpy(h0), []
    for x_t in torch.from_numpy(x):
        h = step(x_t, h)
        states.append(h)
    return torch.stack(states).numpy()


def forward_mistakes(x: np.ndarray, h0: np.ndarray, params: Params) -> dict[str, np.ndarray]:
    """Wrong ``output (T, B, H)`` of a multi-step forward: wrong steps, wrong bookkeeping."""
    _assert_variant_reference(x[0], h0, params)
    mistakes = {
        text: _rolled(x, h0, lambda x_t, h, s=switches: _variant_step(x_t, h, params, **s))
        for text, switches in _cell_variants().items()
    }
    output, _ = reference_gru(x, h0, params)
    zeros = np.zeros_like(h0)
    mistakes.update(
        {
            "h0 is ignored: when h0 is given, the recurrence must start from h0[0] (you started "
            "from zeros)": reference_gru(x, zeros, params)[0],
            "output is shifted by one step: output[t] must be the state after reading x[t] "
            "(h_1 … h_T), not the one before it (h_0 … h_{T−1})": np.concatenate(
                [h0[None], output[:-1]]
            ),
            "the state is not carried from step to step: every step started from h0 instead "
            "of the previous state": np.concatenate(
                [reference_gru(x[t : t + 1], h0, params)[0] for t in range(len(x))]
            ),
            "the time order is reversed: step through x[0], x[1], …, x[T−1] in that order": (
                reference_gru(x[::-1].copy(), h0, params)[0][::-1].copy()
            ),
        }
    )
    return mistakes


_LOAD_HINT = (
    "In load_from_torch, your parameters have exactly the shapes of nn.GRU's: copy "
    "gru.weight_ih_l0 into self.cell.weight_ih as it is, with no transpose (unlike Exercise 1, "
    "whose W_x was the transpose of weight_ih_l0), and likewise the other three."
)


def _load_mistakes(gru: nn.GRU, before: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Wrong values of the four parameters after ``load_from_torch``, per parameter."""
    w = {name: getattr(gru, f"{name}_l0").detach().cpu().numpy() for name in PARAMETER_NAMES}
    H = w["weight_hh"].shape[1]
    swapped = {k: np.concatenate([v[H : 2 * H], v[:H], v[2 * H :]]) for k, v in w.items()}
    summed = w["bias_ih"] + w["bias_hh"]
    mistakes: dict[str, dict[str, Any]] = {}
    for name in PARAMETER_NAMES:
        mistakes[name] = {
            f"self.cell.{name} was not changed by load_from_torch: copy gru.{name}_l0 into it "
            f"(inside `with torch.no_grad():`)": before[name],
            f"the r and z blocks of self.cell.{name} are swapped: keep PyTorch's order r, z, n "
            f"and copy gru.{name}_l0 as it is": swapped[name],
        }
    mistakes["bias_ih"][
        "bias_ih was loaded as bias_ih_l0 + bias_hh_l0, as in Exercise 1: the GRU keeps the two "
        "biases apart (the n block of bias_hh sits inside the reset product), so copy each into "
        "its own parameter"
    ] = summed
    mistakes["bias_hh"][
        "bias_hh was set to zero after summing the biases into bias_ih: the GRU keeps the two "
        "biases apart (the n block of bias_hh sits inside the reset product), so copy each into "
        "its own parameter"
    ] = np.zeros_like(w["bias_hh"])
    mistakes["bias_hh"][
        "bias_hh was loaded as bias_ih_l0 + bias_hh_l0: the GRU keeps the two biases apart, so "
        "copy each into its own parameter"
    ] = summed
    return mistakes


_TRAIN_VARIANTS: dict[str, dict[str, Any]] = {
    "optimizer.zero_grad() is missing: without it loss.backward() adds each step's gradient to "
    "the previous ones, so every update uses the sum of all past gradients; call "
    "optimizer.zero_grad() before loss.backward()": {"zero_grad": False},
    "the gradients are not clipped before the update (clipping after optimizer.step() comes "
    "too late): call torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) between "
    "loss.backward() and optimizer.step()": {"clip": "none"},
    "every step uses the same batch: step k must train on adding_problem(batch_size, T, "
    "seed=seed + k)": {"same_batch": True},
    "the loss compares predictions of shape (B,) with targets of shape (B, 1), which broadcast "
    "to a (B, B) matrix: compare tensors of the same shape, torch.mean((model(x) - y) ** 2)": {
        "target": "column"
    },
    "optimizer.step() is called before loss.backward(), so it never sees this step's gradient "
    "(and zero_grad() then discards it): zero_grad(), backward(), clip, step(), in that order": {
        "order": "step_first"
    },
}
