"""What known wrong implementations of the RNN exercise produce, so that feedback can name them.

Each function returns ``{description: value}``: the value a realistic mistake produces on the given
inputs, and the words the student reads when their answer matches it (see ``check_close``). The
right answers never come from here: tests take them from PyTorch (``references.py``). A
description says what went wrong and what is right, in the course's notation (NOTATION.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from course_checks.ex1_rnn.references import torch_rnn_forward

__all__ = [
    "backward_mistakes",
    "cell_mistakes",
    "clip_mistakes",
    "finite_difference_mistakes",
    "forward_mistakes",
    "gradient_norm_mistakes",
    "load_mistakes",
    "unrolled_gradient_mistakes",
]

Array = np.ndarray
Cell = Callable[[Array, Array], Array]


def _sigmoid(a: Array) -> Array:
    return 1.0 / (1.0 + np.exp(-a))


def _wrong_cells(W_x: Array, W_h: Array, b: Array) -> dict[str, Cell]:
    """One-step functions ``(x_t, h_prev) -> h_t``, each with one mistake."""
    return {
        "the bias b is missing: h_t = tanh(x_t @ W_x + h_prev @ W_h + b)": (
            lambda x_t, h: np.tanh(x_t @ W_x + h @ W_h)
        ),
        "sigmoid instead of tanh as the activation": (
            lambda x_t, h: _sigmoid(x_t @ W_x + h @ W_h + b)
        ),
        "ReLU instead of tanh as the activation": (
            lambda x_t, h: np.maximum(x_t @ W_x + h @ W_h + b, 0.0)
        ),
        "the tanh activation is missing (the pre-activation was returned)": (
            lambda x_t, h: x_t @ W_x + h @ W_h + b
        ),
        "W_h is transposed: the recurrent term is h_prev @ W_h, not h_prev @ W_h.T": (
            lambda x_t, h: np.tanh(x_t @ W_x + h @ W_h.T + b)
        ),
        "the recurrent term h_prev @ W_h is missing": (lambda x_t, h: np.tanh(x_t @ W_x + b)),
        "the input term x_t @ W_x is missing": (lambda x_t, h: np.tanh(h @ W_h + b)),
    }


def cell_mistakes(x_t: Array, h_prev: Array, W_x: Array, W_h: Array, b: Array) -> dict[str, Array]:
    """Wrong answers of ``rnn_cell_forward``: each wrong cell applied to ``(x_t, h_prev)``."""
    return {text: cell(x_t, h_prev) for text, cell in _wrong_cells(W_x, W_h, b).items()}


def forward_mistakes(x: Array, h0: Array, W_x: Array, W_h: Array, b: Array) -> dict[str, Array]:
    """Wrong answers of a forward pass returning all states ``hs (T, B, H)``.

    Covers a wrong cell carried through time, and wrong bookkeeping of the states.
    """
    mistakes = {}
    for text, cell in _wrong_cells(W_x, W_h, b).items():
        h, states = h0, []
        for x_t in x:
            h = cell(x_t, h)
            states.append(h)
        mistakes[text] = np.stack(states)
    batch_major = _batch_major_forward(x, h0, W_x, W_h, b)
    if batch_major is not None:
        text = "x[:, t] was used as step t, but x is time-major (T, B, D): step t is x[t]"
        mistakes[text] = batch_major
    hs = torch_rnn_forward(x, h0, W_x, W_h, b)
    fresh = np.concatenate(
        [torch_rnn_forward(x[t : t + 1], h0, W_x, W_h, b) for t in range(len(x))]
    )
    mistakes.update(
        {
            "only the last state h_T was returned; return all states h_1 … h_T, shape (T, B, H)": (
                hs[-1]
            ),
            "the hidden state is not carried forward: every step started from h0 instead of "
            "the previous state h": fresh,
            "the states are shifted by one step: hs[t] must be the state after reading x[t] "
            "(h_1 … h_T), not the one before it (h_0 … h_{T-1})": np.concatenate(
                [h0[None], hs[:-1]]
            ),
            "h0 was included: return the T states h_1 … h_T, not the T + 1 states h_0 … h_T": (
                np.concatenate([h0[None], hs])
            ),
        }
    )
    return mistakes


def _batch_major_forward(x: Array, h0: Array, W_x: Array, W_h: Array, b: Array) -> Array | None:
    """The loop over ``x[:, t]`` for t < T, when NumPy's broadcasting lets it run (else None)."""
    T = x.shape[0]
    try:
        with np.errstate(all="ignore"):
            h, hs = h0, np.zeros((T, *h0.shape))
            for t in range(T):
                h = np.tanh(x[:, t] @ W_x + h @ W_h + b)
                hs[t] = h
    except (ValueError, IndexError):  # the shapes do not fit: the student sees an error instead
        return None
    return hs


def _backward(
    dhs: Array,
    x: Array,
    h0: Array,
    hs: Array,
    W_x: Array,
    W_h: Array,
    *,
    dtanh: Callable[[Array], Array] = lambda h: 1 - h**2,
    carry: bool = True,
    W_h_back: str = "W_h.T",
    dW_h_state: str = "previous",
    first_prev: str = "h0",
    reverse: bool = True,
    db_axes: str = "batch",
) -> dict[str, Array]:
    """Backpropagation through time for ``L = sum(dhs ⊙ hs)``, with switchable mistakes.

    The defaults give the right answer; tests never use them for that (they use torch autograd).
    """
    T, B, _ = x.shape
    H = W_h.shape[0]
    grads = {
        "dx": np.zeros_like(x),
        "dW_x": np.zeros_like(W_x),
        "dW_h": np.zeros_like(W_h),
        "db": np.zeros((B, H)) if db_axes == "none" else np.zeros(H),
    }
    dh_next = np.zeros((B, H))
    for t in reversed(range(T)) if reverse else range(T):
        h_prev = h0 if t == 0 and first_prev == "h0" else hs[t - 1]
        dh = dhs[t] + dh_next if carry else dhs[t]
        da = dh * dtanh(hs[t])
        grads["dx"][t] = da @ W_x.T
        grads["dW_x"] += x[t].T @ da
        grads["dW_h"] += (hs[t] if dW_h_state == "current" else h_prev).T @ da
        grads["db"] += {"batch": da.sum(axis=0), "all": da.sum(), "none": da}[db_axes]
        dh_next = da @ (W_h.T if W_h_back == "W_h.T" else W_h)
    grads["dh0"] = dh_next
    return grads


_BACKWARD_VARIANTS: dict[str, dict[str, object]] = {
    "the tanh derivative is wrong: tanh'(a_t) = 1 - h_t**2, not 1 - h_t": {
        "dtanh": lambda h: 1 - h
    },
    "the tanh derivative is missing: multiply by (1 - h_t**2) to go from dh to da": {
        "dtanh": lambda h: np.ones_like(h)
    },
    "the gradient from the next step is not added: use dh = dhs[t] + dh_next, where "
    "dh_next = da @ W_h.T came from step t + 1": {"carry": False},
    "W_h is not transposed in the backward recurrence: dh_next = da @ W_h.T": {"W_h_back": "W_h"},
    "dW_h uses the current state h_t; it needs the previous state h_{t-1} "
    "(hs[t - 1], or h0 at t = 0)": {"dW_h_state": "current"},
    "at t = 0 the previous state is h0, but hs[t - 1] was used (hs[-1] wraps around to "
    "the last state)": {"first_prev": "wrap"},
    "the backward loop runs forwards in time: go from t = T - 1 down to 0 "
    "(for t in reversed(range(T)))": {"reverse": False},
    "db is not summed over the batch: sum da over axis 0 (the batch axis) to get shape (H,)": {
        "db_axes": "none"
    },
    "db is summed over every axis: sum da over the batch axis only, da.sum(axis=0)": {
        "db_axes": "all"
    },
}


def backward_mistakes(
    dhs: Array, x: Array, h0: Array, hs: Array, W_x: Array, W_h: Array
) -> dict[str, dict[str, Array]]:
    """Wrong answers of ``rnn_backward``, per gradient: ``{"dW_h": {description: value}, …}``."""
    per_quantity: dict[str, dict[str, Array]] = {
        key: {} for key in ("dx", "dh0", "dW_x", "dW_h", "db")
    }
    for text, switches in _BACKWARD_VARIANTS.items():
        grads = _backward(dhs, x, h0, hs, W_x, W_h, **switches)  # type: ignore[arg-type]
        for key, value in grads.items():
            per_quantity[key][text] = value
    return per_quantity


def unrolled_gradient_mistakes(
    dhs: Array, dh_T: Array, x: Array, h0: Array, hs: Array, W_x: Array, W_h: Array
) -> dict[str, dict[str, Array]]:
    """Wrong autograd gradients of a module that unrolls the RNN in PyTorch, per gradient.

    The loss is ``L = sum(dhs ⊙ hs) + sum(dh_T ⊙ h_T)``; keys ``dx, dh0, dW_x, dW_h, db`` as in
    :func:`backward_mistakes`. A detached state cuts the gradient through time; a returned
    ``h_T`` that is detached drops the ``dh_T`` term.
    """
    with_final = dhs.copy()
    with_final[-1] += dh_T
    variants = {
        "the state is detached between steps (h.detach() or h.data), so no gradient flows "
        "back through time": _backward(with_final, x, h0, hs, W_x, W_h, carry=False),
        "the state is detached between steps (h.detach() or h.data), so no gradient flows "
        "back through time, and the returned h_T is detached too": _backward(
            dhs, x, h0, hs, W_x, W_h, carry=False
        ),
        "the returned h_T is detached from the graph (it must be the last state itself, "
        "hs[-1], not a detached copy)": _backward(dhs, x, h0, hs, W_x, W_h),
    }
    return {
        key: {text: grads[key] for text, grads in variants.items()}
        for key in ("dx", "dh0", "dW_x", "dW_h", "db")
    }


def finite_difference_mistakes(
    f: Callable[[Array], float], x: Array, eps: float = 1e-5
) -> dict[str, Array]:
    """Wrong numerical gradients of ``f`` at ``x`` (``x`` is probed in place and restored)."""
    forward = np.zeros(x.shape)
    half_step = np.zeros(x.shape)
    f_x = f(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        forward[index] = (f_plus - f_x) / eps
        half_step[index] = (f_plus - f_minus) / eps
    return {
        "a forward difference (f(x + eps) - f(x)) / eps was used; use the centered difference "
        "(f(x + eps) - f(x - eps)) / (2 * eps)": forward,
        "the difference was divided by eps instead of 2 * eps": half_step,
    }


def _gradient_norms(
    dh_T: Array,
    hs: Array,
    W_h: Array,
    *,
    dtanh: Callable[[Array], Array] = lambda h: 1 - h**2,
    W_h_back: str = "W_h.T",
    step: int = 0,
    reverse: bool = False,
    squared: bool = False,
) -> Array:
    T = hs.shape[0]
    norms = np.zeros(T)
    dh = dh_T
    for k in range(T):
        t = T - 1 - k
        norms[t if reverse else k] = np.sum(dh**2) if squared else np.sqrt(np.sum(dh**2))
        dh = (dh * dtanh(hs[t - step])) @ (W_h.T if W_h_back == "W_h.T" else W_h)
    return norms


def gradient_norm_mistakes(dh_T: Array, hs: Array, W_h: Array) -> dict[str, Array]:
    """Wrong answers of ``hidden_gradient_norms(dh_T, hs, W_h)``."""
    variants: dict[str, dict[str, object]] = {
        "the tanh derivative is missing: dL/dh_{t-1} = (dL/dh_t * (1 - h_t**2)) @ W_h.T": {
            "dtanh": lambda h: np.ones_like(h)
        },
        "the tanh derivative is wrong: 1 - h_t**2, not 1 - h_t": {"dtanh": lambda h: 1 - h},
        "W_h is not transposed: dL/dh_{t-1} = (dL/dh_t * (1 - h_t**2)) @ W_h.T": {
            "W_h_back": "W_h"
        },
        "the tanh derivative is taken at the wrong step: going back from h_t to h_{t-1} uses "
        "1 - h_t**2 (hs[t]), not 1 - h_{t-1}**2": {"step": 1},
        "the norms are in the wrong order: norms[k] belongs to the state k steps before the "
        "end, so norms[0] = ||dL/dh_T||": {"reverse": True},
        "squared norms were returned: use the Euclidean norm, the square root of the sum of "
        "squares": {"squared": True},
    }
    return {text: _gradient_norms(dh_T, hs, W_h, **kw) for text, kw in variants.items()}  # type: ignore[arg-type]


def clip_mistakes(
    grads: Mapping[str, Array], max_norm: float
) -> tuple[dict[str, dict[str, Array]], dict[str, float]]:
    """Wrong answers of ``clip_grad_norm(grads, max_norm)``.

    Returns ``(per-gradient mistakes, total-norm mistakes)``: the first maps each gradient's
    name to ``{description: clipped value}``, the second maps descriptions to a wrong total norm.
    """
    norms = {name: float(np.sqrt(np.sum(g**2))) for name, g in grads.items()}
    total = float(np.sqrt(sum(n**2 for n in norms.values())))
    summed = sum(norms.values())
    per_tensor = "each gradient was clipped by its own norm; clip all of them by the global norm"
    elementwise = (
        "each entry was clipped to [-max_norm, max_norm] (element-wise value clipping); "
        "rescale every gradient by max_norm / total_norm instead"
    )
    always = (
        "the gradients were rescaled although the total norm was already below max_norm; "
        "scale = min(1, max_norm / (total_norm + 1e-6))"
    )
    sum_of_norms = (
        "the total norm was computed as the sum of the gradients' norms; the global norm is "
        "the square root of the sum of all squared entries"
    )
    clipped: dict[str, dict[str, Array]] = {}
    for name, g in grads.items():
        clipped[name] = {
            per_tensor: g * min(1.0, max_norm / (norms[name] + 1e-6)),
            elementwise: np.clip(g, -max_norm, max_norm),
            always: g * (max_norm / (total + 1e-6)),
            sum_of_norms: g * min(1.0, max_norm / (summed + 1e-6)),
        }
    totals = {
        sum_of_norms: summed,
        "the squared norm was returned: the global norm is the square root of the sum of all "
        "squared entries": total**2,
        "the norm after clipping was returned; return the total norm before clipping": min(
            total, max_norm
        ),
    }
    return clipped, totals


def load_mistakes(
    weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array
) -> dict[str, dict[str, Array]]:
    """Wrong ``W_h`` and ``b`` after copying a ``torch.nn.RNN``'s weights, per parameter."""
    return {
        "W_x": {},
        "W_h": {
            "weight_hh_l0 was copied without transposing: W_h = weight_hh_l0.T": weight_hh,
        },
        "b": {
            "bias_hh_l0 is missing: nn.RNN adds two biases, b = bias_ih_l0 + bias_hh_l0": bias_ih,
            "bias_ih_l0 is missing: nn.RNN adds two biases, b = bias_ih_l0 + bias_hh_l0": bias_hh,
            "the two biases were averaged; nn.RNN adds them: b = bias_ih_l0 + bias_hh_l0": (
                (bias_ih + bias_hh) / 2
            ),
        },
    }
