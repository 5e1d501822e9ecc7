"""What known wrong LSTMs (Exercise 4) produce, so that feedback can name the mistake.

Each public function returns ``{description: value}`` (or one such dict per quantity): the value a
realistic mistake produces on the given inputs, and the words the student reads when their answer
matches it (see ``check_close``). The right answers never come from here: the checks take them
from PyTorch (``lstm_references.py``). The wrong steps are one step with switches whose defaults
give the right answer; ``tests/course_checks/ex4_lstm/test_lstm.py`` proves that the defaults equal
``nn.LSTMCell`` and that every switch changes the result. Both of the exercise's layouts are
covered: per-gate parameters (NumPy) and PyTorch's stacked blocks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import permutations
from typing import Any

import numpy as np
import torch

from course_checks.ex4_lstm.references import GATES, gates_from_stacked
from course_checks.variants import merge_identical

Array = np.ndarray
Params = Mapping[str, Array]
Step = Callable[[Array, Array, Array], tuple[Array, Array]]

GATE_NAMES = {"i": "input gate i_t", "f": "forget gate f_t", "g": "cell candidate g_t"}
GATE_NAMES["o"] = "output gate o_t"
_ORDER = (
    "PyTorch stacks the blocks in the order i, f, g, o: rows 0:H the input gate, H:2H the forget "
    "gate, 2H:3H the cell candidate g and 3H:4H the output gate"
)
# Orders that other code uses, which a student may have seen.
_KNOWN_ORDERS = {
    "ifog": " (the order of some from-scratch LSTMs, e.g. char-rnn's)",
    "igfo": " (TensorFlow's BasicLSTMCell order i, j, f, o)",
}

# ------------------------------------------------------------------------------ one step

CELL_VARIANTS: dict[str, dict[str, Any]] = {
    "the cell candidate g_t is squashed with a sigmoid; it is g_t = tanh(x_t W_xg + h W_hg + "
    "b_g), in (−1, 1), so that the cell can also decrease (the three gates use the sigmoid)": {
        "squash": "g_sigmoid"
    },
    "a gate (i_t, f_t or o_t) is squashed with tanh; the gates use the sigmoid, in (0, 1), and "
    "only the cell candidate g_t uses tanh": {"squash": "gates_tanh"},
    "the input gate is missing from the cell update: c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, "
    "not f_t ⊙ c_{t−1} + g_t": {"cell": "no_i"},
    "the forget gate is missing from the cell update: c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t, "
    "not c_{t−1} + i_t ⊙ g_t": {"cell": "no_f"},
    "the cell update uses the hidden state h_{t−1} where the previous cell c_{t−1} belongs: "
    "c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t": {"cell": "h_for_c"},
    "the forget gate is applied to g_t and the input gate to c_{t−1} (swapped): "
    "c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t": {"cell": "swapped"},
    "the cell update is the GRU's interpolation f_t ⊙ c_{t−1} + (1 − f_t) ⊙ g_t; the LSTM has "
    "a separate input gate: c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t": {"cell": "coupled"},
    "tanh is missing from the new hidden state: h_t = o_t ⊙ tanh(c_t), not o_t ⊙ c_t": {
        "out": "no_tanh"
    },
    "the new hidden state uses the previous cell: h_t = o_t ⊙ tanh(c_t) with the new cell c_t, "
    "not with c_{t−1}": {"out": "old_cell"},
    "the output gate is applied inside the tanh: h_t = o_t ⊙ tanh(c_t), not tanh(o_t ⊙ c_t)": {
        "out": "tanh_outside"
    },
    "the output gate is missing: h_t = o_t ⊙ tanh(c_t), not tanh(c_t)": {"out": "no_o"},
}


def step_variant(
    x_t: Array,
    h: Array,
    c: Array,
    params: Params,
    *,
    squash: str = "right",
    cell: str = "right",
    out: str = "right",
) -> tuple[Array, Array]:
    """One LSTM step ``(h_t, c_t)`` on per-gate ``params``, with the mistakes the switches name.

    The defaults are the LSTM of NOTATION.md (``tests/course_checks/ex4_lstm/test_lstm.py``
    checks them against ``nn.LSTMCell``); see :data:`CELL_VARIANTS` for what each switch value does.
    """
    x, h_prev, c_prev = (torch.from_numpy(np.asarray(a, dtype=np.float64)) for a in (x_t, h, c))
    p = {name: torch.from_numpy(np.asarray(value)) for name, value in params.items()}
    a = {gate: x @ p[f"W_x{gate}"] + h_prev @ p[f"W_h{gate}"] + p[f"b_{gate}"] for gate in GATES}
    gate_squash = torch.tanh if squash == "gates_tanh" else torch.sigmoid
    i, f, o = gate_squash(a["i"]), gate_squash(a["f"]), gate_squash(a["o"])
    g = torch.sigmoid(a["g"]) if squash == "g_sigmoid" else torch.tanh(a["g"])
    c_new = {
        "right": f * c_prev + i * g,
        "no_i": f * c_prev + g,
        "no_f": c_prev + i * g,
        "h_for_c": f * h_prev + i * g,
        "swapped": i * c_prev + f * g,
        "coupled": f * c_prev + (1 - f) * g,
    }[cell]
    h_new = {
        "right": o * torch.tanh(c_new),
        "no_tanh": o * c_new,
        "old_cell": o * torch.tanh(c_prev),
        "tanh_outside": torch.tanh(o * c_new),
        "no_o": torch.tanh(c_new),
    }[out]
    return h_new.numpy(), c_new.numpy()


def layout_variants(stacked: Params) -> dict[str, dict[str, Array]]:
    """Wrong readings of PyTorch-layout parameters: ``{description: stacked params as read}``.

    The 23 wrong orders of the four blocks, and a missing bias vector.
    """
    H = stacked["weight_hh"].shape[1]
    variants: dict[str, dict[str, Array]] = {}
    for order in permutations(GATES):
        text = "".join(order)
        if text == "ifgo":
            continue
        # Code that reads block k as gate order[k] uses, for gate GATES[j], the block
        # order.index(GATES[j]): rearrange so that the right reading of the result is that.
        blocks = [order.index(gate) for gate in GATES]
        permuted = {
            name: np.concatenate([value[b * H : (b + 1) * H] for b in blocks])
            for name, value in stacked.items()
        }
        variants[
            f"the blocks are read in the wrong order {', '.join(order)}"
            f"{_KNOWN_ORDERS.get(text, '')}; {_ORDER}"
        ] = permuted
    variants[
        "bias_hh is missing: nn.LSTM adds both bias vectors, bias_ih and bias_hh, to every gate"
    ] = {**stacked, "bias_hh": np.zeros_like(stacked["bias_hh"])}
    variants[
        "bias_ih is missing: nn.LSTM adds both bias vectors, bias_ih and bias_hh, to every gate"
    ] = {**stacked, "bias_ih": np.zeros_like(stacked["bias_ih"])}
    return variants


def _with_swapped_outputs(
    h_values: dict[str, Array], c_values: dict[str, Array], right: tuple[Array, Array]
) -> dict[str, dict[str, Array]]:
    swapped = "the step returns (c_t, h_t); return the pair in the order (h_t, c_t), as nn.LSTMCell"
    return {
        "h": merge_identical({**h_values, swapped: right[1]}),
        "c": merge_identical({**c_values, swapped: right[0]}),
    }


def step_mistakes(
    x_t: Array, h: Array, c: Array, params: Params, *, stacked: bool = False
) -> dict[str, dict[str, Array]]:
    """Wrong ``h_t`` and ``c_t`` of one step: ``{"h": {description: value}, "c": {...}}``.

    ``params`` is per-gate, or PyTorch's layout with ``stacked=True``, which adds the mistakes in
    reading that layout (:func:`layout_variants`).
    """
    gates = gates_from_stacked(params) if stacked else params
    h_values, c_values = {}, {}
    for text, switches in CELL_VARIANTS.items():
        h_values[text], c_values[text] = step_variant(x_t, h, c, gates, **switches)
    if stacked:
        for text, variant in layout_variants(params).items():
            h_values[text], c_values[text] = step_variant(x_t, h, c, gates_from_stacked(variant))
    return _with_swapped_outputs(h_values, c_values, step_variant(x_t, h, c, gates))


# ------------------------------------------------------------------------------ many steps


def _roll(step: Step, x: Array, h0: Array, c0: Array, carry: str = "both") -> tuple[Array, ...]:
    """``(hs, cs)`` of ``step`` over ``x``; ``carry`` says which state goes on to the next step."""
    h, c, hs, cs = h0, c0, [], []
    for x_t in x:
        h_new, c_new = step(x_t, h, c)
        hs.append(h_new)
        cs.append(c_new)
        h = h_new if carry in ("both", "h", "zero_c") else h0
        c = {"both": c_new, "c": c_new, "h": c0, "zero_c": np.zeros_like(c0)}.get(carry, c0)
    return np.stack(hs), np.stack(cs)


def forward_mistakes(
    x: Array, h0: Array, c0: Array, params: Params, *, stacked: bool = False
) -> dict[str, dict[str, Array]]:
    """Wrong ``output``/``hs`` ``(T, B, H)`` and final ``h`` and ``c`` of a forward pass.

    Returns ``{"output": {...}, "h": {...}, "c": {...}}``: every wrong step rolled over time, and
    the usual slips of the loop (a state not carried, the output shifted, the time reversed, the
    pair of states swapped).
    """
    gates = gates_from_stacked(params) if stacked else params

    def right(x_t: Array, h: Array, c: Array) -> tuple[Array, Array]:
        return step_variant(x_t, h, c, gates)

    steps: dict[str, Step] = {
        text: (lambda x_t, h, c, s=switches: step_variant(x_t, h, c, gates, **s))
        for text, switches in CELL_VARIANTS.items()
    }
    if stacked:
        for text, variant in layout_variants(params).items():
            wrong = gates_from_stacked(variant)
            steps[text] = lambda x_t, h, c, p=wrong: step_variant(x_t, h, c, p)
    rolled = {text: _roll(step, x, h0, c0) for text, step in steps.items()}
    hs, cs = _roll(right, x, h0, c0)
    loops = {
        "the cell is not carried from step to step: every step started from c0 (c_prev = c0) "
        "instead of the previous cell": _roll(right, x, h0, c0, carry="h"),
        "the hidden state is not carried from step to step: every step started from h0 instead "
        "of the previous h": _roll(right, x, h0, c0, carry="c"),
        "the state is not carried from step to step: every step started from (h0, c0) instead "
        "of the previous (h, c)": _roll(right, x, h0, c0, carry="none"),
        "the cell is reset to zeros at every step; carry c from step to step": _roll(
            right, x, h0, c0, carry="zero_c"
        ),
        "h0 and c0 are swapped: the first step must read h_prev = h0 and c_prev = c0": _roll(
            right, x, c0, h0
        ),
        "the time order is reversed: step through x[0], x[1], …, x[T−1] in that order": tuple(
            v[::-1].copy() for v in _roll(right, x[::-1].copy(), h0, c0)
        ),
    }
    rolled.update(loops)
    output = {text: value[0] for text, value in rolled.items()}
    shifted = (
        "the output is shifted by one step: output[t] must be the state after reading x[t] "
        "(h_1 … h_T), not the one before it (h_0 … h_{T−1})"
    )
    output[shifted] = np.concatenate([h0[None], hs[:-1]])
    output["the output holds the cells c_t; it holds the hidden states h_t"] = cs
    final_h = {text: value[0][-1] for text, value in rolled.items()}
    final_c = {text: value[1][-1] for text, value in rolled.items()}
    final_h["the final states are swapped: return (h_T, c_T), the hidden state first"] = cs[-1]
    final_c["the final states are swapped: return (h_T, c_T), the hidden state first"] = hs[-1]
    final_h["the final hidden state is h0: return the state after the last step"] = h0
    final_c["the final cell is c0: return the cell after the last step, c_T"] = c0
    final_h["the final hidden state is the first one, h_1: return h_T"] = hs[0]
    final_c["the final cell is the first one, c_1: return c_T"] = cs[0]
    return {
        "output": merge_identical(output),
        "h": merge_identical(final_h),
        "c": merge_identical(final_c),
    }


# ------------------------------------------------------------------------------ the gates


def _gate_value(x_t: Array, h: Array, p: Params, gate: str, mistake: str, other: str) -> Array:
    """Gate ``gate`` with one mistake (``other`` is another gate, for the mixed-up mistakes)."""
    x, h_prev = torch.from_numpy(x_t), torch.from_numpy(h)
    t = {name: torch.from_numpy(np.asarray(value)) for name, value in p.items()}
    source = other if mistake == "other_gate" else gate
    W_x, W_h, b = t[f"W_x{source}"], t[f"W_h{source}"], t[f"b_{source}"]
    terms = {
        "no_bias": x @ W_x + h_prev @ W_h,
        "no_h": x @ W_x + b,
        "no_x": h_prev @ W_h + b,
        "W_h_transposed": x @ W_x + h_prev @ W_h.T + b,
    }
    a = terms.get(mistake, x @ W_x + h_prev @ W_h + b)
    right = torch.tanh if gate == "g" else torch.sigmoid
    wrong = torch.sigmoid if gate == "g" else torch.tanh
    if mistake == "squash":
        return wrong(a).numpy()
    if mistake == "identity":
        return a.numpy()
    return right(a).numpy()


def gate_mistakes(x_t: Array, h: Array, params: Params) -> dict[str, dict[str, Array]]:
    """Wrong values of each gate: ``{gate: {description: value}}`` for gate in i, f, g, o."""
    result = {}
    for gate in GATES:
        name = GATE_NAMES[gate]
        squash = "tanh" if gate == "g" else "the sigmoid"
        wrong_squash = "a sigmoid" if gate == "g" else "tanh"
        texts = {
            "squash": f"the {name} uses {wrong_squash}; it uses {squash}"
            + (
                " (the candidate in (−1, 1), the gates in (0, 1))"
                if gate == "g"
                else " (a gate lies in (0, 1); only the candidate g_t uses tanh)"
            ),
            "identity": f"the {name} is not squashed: apply {squash} to the pre-activation",
            "no_bias": f"the bias b_{gate} is missing from the {name}",
            "no_h": f"the recurrent term h_prev @ W_h{gate} is missing from the {name}",
            "no_x": f"the input term x_t @ W_x{gate} is missing from the {name}",
            "W_h_transposed": f"W_h{gate} is transposed in the {name}: the recurrent term is "
            f"h_prev @ W_h{gate}, not h_prev @ W_h{gate}.T",
        }
        mistakes = {
            text: _gate_value(x_t, h, params, gate, key, gate) for key, text in texts.items()
        }
        for other in GATES:
            if other == gate:
                continue
            mistakes[
                f"the gates are mixed up: this is computed with the parameters of the "
                f"{GATE_NAMES[other]} (W_x{other}, W_h{other}, b_{other}); the {name} uses "
                f"W_x{gate}, W_h{gate} and b_{gate}"
            ] = _gate_value(x_t, h, params, gate, "other_gate", other)
            mistakes[
                f"the gates are returned in the wrong order: this is the {GATE_NAMES[other]}; "
                f"return the tuple (i_t, f_t, g_t, o_t) in this order"
            ] = _gate_value(x_t, h, params, other, "right", other)
        result[gate] = merge_identical(mistakes)
    return result


# -------------------------------------------------------------------- reading PyTorch's layout


_ROWS = ("0:H", "H:2H", "2H:3H", "3H:4H")


def order_readings(stacked: Params) -> dict[str, dict[str, Array]]:
    """The per-gate parameters read in each of the 23 wrong block orders: ``{text: params}``.

    A check compares a whole answer with these, to name the order itself when every block
    was read in one wrong order (per parameter, several orders give the same block).
    """
    return {
        text: gates_from_stacked(variant)
        for text, variant in layout_variants(stacked).items()
        if text.startswith("the blocks are read in the wrong order")
    }


def split_mistakes(
    weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array
) -> dict[str, dict[str, Array]]:
    """Wrong per-gate parameters read from PyTorch's stacked weights: ``{name: {text: value}}``.

    Each description says which block a parameter was read from, so that no two mistakes share
    a value and none is named in the place of another (a whole wrong order: ``order_readings``).
    """
    H = weight_hh.shape[1]
    result: dict[str, dict[str, Array]] = {}
    for k, gate in enumerate(GATES):
        rows = slice(k * H, (k + 1) * H)
        names = {"W_x": weight_ih, "W_h": weight_hh}
        for prefix, stacked in names.items():
            name = f"{prefix}{gate}"
            side = "weight_ih" if prefix == "W_x" else "weight_hh"
            result[name] = {}
            for j, other in enumerate(GATES):
                if j != k:
                    result[name][
                        f"{name} was read from rows {_ROWS[j]} of {side}, which hold the "
                        f"{GATE_NAMES[other]}; {_ORDER}, so {name} = {side}[{_ROWS[k]}].T"
                    ] = stacked[j * H : (j + 1) * H].T
            result[name][
                f"{name} is not transposed: PyTorch stores one row per hidden unit, so "
                f"{name} = {side}[{_ROWS[k]}].T"
            ] = stacked[rows]
        name = f"b_{gate}"
        result[name] = {
            f"{name} was read from rows {_ROWS[j]} of the bias vectors, which hold the "
            f"{GATE_NAMES[other]}; {_ORDER}, so {name} = bias_ih[{_ROWS[k]}] + "
            f"bias_hh[{_ROWS[k]}]": bias_ih[j * H : (j + 1) * H] + bias_hh[j * H : (j + 1) * H]
            for j, other in enumerate(GATES)
            if j != k
        }
        result[name][
            "b = bias_ih + bias_hh is the sum of PyTorch's two bias vectors (each gate adds "
            "both); you took bias_ih alone"
        ] = bias_ih[rows]
        result[name][
            "b = bias_ih + bias_hh is the sum of PyTorch's two bias vectors (each gate adds "
            "both); you took bias_hh alone"
        ] = bias_hh[rows]
    return {name: merge_identical(values) for name, values in result.items()}


# ------------------------------------------------------------------------- counting parameters

_BLOCKS = {"rnn": 1, "gru": 3, "lstm": 4}
_MODULE = {"rnn": "nn.RNN", "gru": "nn.GRU", "lstm": "nn.LSTM"}
_WHAT = {"rnn": "one block", "gru": "3 blocks (r, z, n)", "lstm": "4 blocks (i, f, g, o)"}


def count_mistakes(kind: str, D: int, H: int) -> dict[str, int]:
    """Wrong parameter counts of a one-layer ``kind`` ("rnn", "gru", "lstm"), by mistake."""
    k = _BLOCKS[kind]
    per_block = {
        f"{_MODULE[kind]} keeps two bias vectors, bias_ih_l0 and bias_hh_l0: 2H biases per "
        "block, not H": D * H + H * H + H,
        f"the biases are missing: {_MODULE[kind]} has two bias vectors, bias_ih_l0 and "
        "bias_hh_l0, of H entries per block": D * H + H * H,
        "the recurrent weights weight_hh_l0 are missing: H·H per block": D * H + 2 * H,
        "the recurrent weights are (H, H) per block, H² numbers, not H·D": 2 * D * H + 2 * H,
    }
    mistakes = {text: k * count for text, count in per_block.items()}
    for other, blocks in _BLOCKS.items():
        if blocks != k:
            mistakes[
                f"{_MODULE[kind]} has {_WHAT[kind]} of weights and biases; you counted "
                f"{blocks} block{'s' if blocks > 1 else ''} (the count of {_MODULE[other]})"
            ] = blocks * (D * H + H * H + 2 * H)
    return mistakes


_STEP_VARIANTS: dict[str, dict[str, Any]] = {
    "optimizer.zero_grad() is missing: without it loss.backward() adds each step's gradient to "
    "the previous ones, so every update uses the sum of all past gradients; call "
    "optimizer.zero_grad() before loss.backward()": {"zero_grad": False},
    "the gradients are not clipped before the update (clipping after optimizer.step() comes "
    "too late): call torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm) between "
    "loss.backward() and optimizer.step()": {"clip": False},
    "the loss compares predictions of shape (B,) with targets of shape (B, 1), which broadcast "
    "to a (B, B) matrix: compare tensors of the same shape, torch.mean((model(x) - y) ** 2)": {
        "target": "column"
    },
    "optimizer.step() is called before loss.backward(), so it never sees this step's gradient "
    "(and zero_grad() then discards it): zero_grad(), backward(), clip, step(), in that order": {
        "order": "step_first"
    },
    "the loss is the sum of the squared errors; use their mean, torch.mean((model(x) - y) ** 2)": {
        "reduce": "sum"
    },
}


_MODEL_VARIANTS: dict[str, dict[str, Any]] = {
    "the optimizer is created inside the loop, so Adam's running averages start again at every "
    "step: create it once, before the loop": {"optimizer_per_step": True},
    "step k must train on adding_problem(batch_size, T, seed=seed + k), a new batch at every "
    "step; every step used the same batch": {"same_batch": True},
    "the test MSE is measured on the training batch; measure it on test_set, the same held-out "
    "sequences at every evaluation": {"evaluate_on": "batch"},
    "the evaluations come at the wrong steps: evaluate after every eval_every updates, that is "
    "when (k + 1) % eval_every == 0, and record k + 1, the number of updates done": {
        "schedule": "before"
    },
}
