"""What known wrong NumPy GRUs (exercise 2) produce, so that feedback can name the mistake.

Each public function returns ``{description: value}`` (or one such dict per quantity): the value a
realistic mistake produces on the given inputs, and the words the student reads when their answer
matches it (see ``check_close``). The right answers never come from here: tests take them from
PyTorch (``references.py``). The wrong GRUs below are written with switches whose defaults give
the right answer, so that ``tests/course_checks/ex2_gru_numpy/test_gru_numpy.py`` can prove each
switch changes exactly what it claims. Equations and names follow NOTATION.md (reset-after
candidate, per-gate parameters).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import permutations

import numpy as np

from course_checks.ex2_gru_numpy.references import GRU_PARAMETER_NAMES
from course_checks.variants import merge_identical

__all__ = [
    "BACKWARD_MISTAKES",
    "CANDIDATE_MISTAKES",
    "GATE_MISTAKES",
    "GATE_NAMES",
    "INTERPOLATION_MISTAKES",
    "backward_mistakes",
    "candidate_mistakes",
    "cell_mistakes",
    "forward_mistakes",
    "gate_mistakes",
    "gru_backward_variant",
    "gru_cell_variant",
    "sigmoid_mistakes",
    "split_mistakes",
    "split_order_readings",
]

Array = np.ndarray
Params = Mapping[str, Array]

GATE_NAMES = {"r": "reset gate r_t", "z": "update gate z_t"}
_OTHER_GATE = {"r": "z", "z": "r"}


def _sigmoid(a: Array) -> Array:
    """The logistic sigmoid, computed without overflow."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_mistakes(a: Array) -> dict[str, Array]:
    """Wrong answers of ``sigmoid(a)``."""
    with np.errstate(all="ignore"):
        return merge_identical(
            {
                "the sign is wrong: you computed sigmoid(-a) = 1 / (1 + exp(a)) = "
                "exp(-a) / (1 + exp(-a)); sigmoid(a) = 1 / (1 + exp(-a)) = "
                "exp(a) / (1 + exp(a)) is close to 1 for large a": _sigmoid(-a),
                "tanh(a) was returned; the logistic sigmoid is 1 / (1 + exp(-a))": np.tanh(a),
                "1 - exp(-a) was returned; sigmoid(a) = 1 / (1 + exp(-a))": 1 - np.exp(-a),
            }
        )


# ------------------------------------------------------------------------------- the gates

GATE_MISTAKES: dict[str, str] = {
    "no_bias": "the bias b_{g} is missing from the {name}: {g}_t = sigmoid(x_t @ W_x{g} + "
    "h_prev @ W_h{g} + b_{g})",
    "double_bias": "the bias b_{g} was added twice (doubled) in the {name}; b_{g} already is "
    "the sum of PyTorch's two bias vectors, so add it once",
    "W_h_transposed": "W_h{g} is transposed in the {name}: the recurrent term is h_prev @ W_h{g}, "
    "not h_prev @ W_h{g}.T",
    "other_W_x": "the gates are mixed up: the {name} uses W_x{o}, which belongs to the {other}; "
    "use W_x{g}",
    "other_W_h": "the gates are mixed up: the {name} uses W_h{o}, which belongs to the {other}; "
    "use W_h{g}",
    "other_b": "the gates are mixed up: the {name} uses b_{o}, which belongs to the {other}; "
    "use b_{g}",
    "other_gate": "the gates are mixed up: this is the {other}, computed with W_x{o}, W_h{o} and "
    "b_{o}; the {name} uses W_x{g}, W_h{g} and b_{g}",
    "no_h": "the recurrent term h_prev @ W_h{g} is missing from the {name}",
    "no_x": "the input term x_t @ W_x{g} is missing from the {name}",
    "tanh": "the {name} uses tanh instead of the sigmoid: a gate must lie in (0, 1), so "
    "{g}_t = sigmoid(...)",
    "negated": "the {name} is sigmoid(-a) instead of sigmoid(a): check the sign in your sigmoid "
    "(sigmoid(a) = 1 / (1 + exp(-a)))",
    "identity": "the sigmoid is missing from the {name}: {g}_t = sigmoid(x_t @ W_x{g} + "
    "h_prev @ W_h{g} + b_{g})",
}


def _gate_text(gate: str, mistake: str) -> str:
    other = _OTHER_GATE[gate]
    return GATE_MISTAKES[mistake].format(
        g=gate, o=other, name=GATE_NAMES[gate], other=GATE_NAMES[other]
    )


def _gate(x_t: Array, h: Array, p: Params, gate: str, mistake: str | None = None) -> Array:
    """``sigmoid(x_t W_xg + h W_hg + b_g)`` for the gate ``g`` (``"r"`` or ``"z"``), one mistake."""
    other = _OTHER_GATE[gate]
    W_x, W_h, b = p[f"W_x{gate}"], p[f"W_h{gate}"], p[f"b_{gate}"]
    activation: Callable[[Array], Array] = _sigmoid
    if mistake == "no_bias":
        b = np.zeros_like(b)
    elif mistake == "double_bias":
        b = 2 * b
    elif mistake == "W_h_transposed":
        W_h = W_h.T
    elif mistake == "other_W_x":
        W_x = p[f"W_x{other}"]
    elif mistake == "other_W_h":
        W_h = p[f"W_h{other}"]
    elif mistake == "other_b":
        b = p[f"b_{other}"]
    elif mistake == "other_gate":
        W_x, W_h, b = p[f"W_x{other}"], p[f"W_h{other}"], p[f"b_{other}"]
    elif mistake == "no_h":
        W_h = np.zeros_like(W_h)
    elif mistake == "no_x":
        W_x = np.zeros_like(W_x)
    elif mistake == "tanh":
        activation = np.tanh
    elif mistake == "negated":
        activation = lambda a: _sigmoid(-a)  # noqa: E731
    elif mistake == "identity":
        activation = lambda a: a  # noqa: E731
    elif mistake is not None:
        raise ValueError(f"unknown gate mistake {mistake!r}")
    return activation(x_t @ W_x + h @ W_h + b)


def gate_mistakes(x_t: Array, h_prev: Array, params: Params, gate: str) -> dict[str, Array]:
    """Wrong answers of ``reset_gate`` (``gate="r"``) or ``update_gate`` (``gate="z"``)."""
    return merge_identical(
        {_gate_text(gate, m): _gate(x_t, h_prev, params, gate, m) for m in GATE_MISTAKES}
    )


# ------------------------------------------------------------------------- the candidate state

CANDIDATE_MISTAKES: dict[str, str] = {
    "reset_before": "the reset gate is applied before the matrix product, (r_t * h_prev) @ W_hh "
    "(the form of Cho et al. and Dive into Deep Learning); torch.nn.GRU applies it after: "
    "r_t * (h_prev @ W_hh + b_hh)",
    "b_hh_outside": "b_hh is added outside the reset product; it belongs inside: "
    "r_t * (h_prev @ W_hh + b_hh)",
    "no_b_hh": "the bias b_hh is missing: h̃_t = tanh(x_t @ W_xh + b_xh + r_t * (h_prev @ W_hh "
    "+ b_hh))",
    "no_b_xh": "the bias b_xh is missing: h̃_t = tanh(x_t @ W_xh + b_xh + r_t * (h_prev @ W_hh "
    "+ b_hh))",
    "no_biases": "both biases b_xh and b_hh are missing from the candidate",
    "b_xh_twice": "the bias b_xh was added twice (doubled) in the candidate; b_hh is the other "
    "bias, inside the reset product",
    "W_hh_transposed": "W_hh is transposed in the candidate: the recurrent term is "
    "h_prev @ W_hh, not h_prev @ W_hh.T",
    "sigmoid": "the candidate uses the sigmoid instead of tanh: h̃_t = tanh(...)",
    "no_tanh": "tanh is missing from the candidate: h̃_t = tanh(x_t @ W_xh + b_xh + "
    "r_t * (h_prev @ W_hh + b_hh))",
    "no_reset": "the reset gate r_t is not applied: the recurrent part is "
    "r_t * (h_prev @ W_hh + b_hh)",
    "one_minus_r": "the candidate uses 1 - r_t instead of r_t: the recurrent part is "
    "r_t * (h_prev @ W_hh + b_hh)",
    "reset_input": "the reset gate scales the input part: only the recurrent part is reset, "
    "x_t @ W_xh + b_xh + r_t * (h_prev @ W_hh + b_hh)",
    "no_x": "the input term x_t @ W_xh is missing from the candidate",
    "no_h": "the recurrent term h_prev @ W_hh is missing from the candidate",
}


def _candidate(x_t: Array, h: Array, r: Array, p: Params, mistake: str | None = None) -> Array:
    """``tanh(x_t W_xh + b_xh + r ⊙ (h W_hh + b_hh))`` with one optional mistake."""
    W_xh, W_hh, b_xh, b_hh = p["W_xh"], p["W_hh"], p["b_xh"], p["b_hh"]
    activation: Callable[[Array], Array] = np.tanh
    if mistake == "reset_before":
        return np.tanh(x_t @ W_xh + b_xh + (r * h) @ W_hh + b_hh)
    if mistake == "b_hh_outside":
        return np.tanh(x_t @ W_xh + b_xh + r * (h @ W_hh) + b_hh)
    if mistake == "reset_input":
        return np.tanh(r * (x_t @ W_xh + b_xh) + h @ W_hh + b_hh)
    if mistake == "no_b_hh":
        b_hh = np.zeros_like(b_hh)
    elif mistake == "no_b_xh":
        b_xh = np.zeros_like(b_xh)
    elif mistake == "no_biases":
        b_xh, b_hh = np.zeros_like(b_xh), np.zeros_like(b_hh)
    elif mistake == "b_xh_twice":
        b_xh = 2 * b_xh
    elif mistake == "W_hh_transposed":
        W_hh = W_hh.T
    elif mistake == "sigmoid":
        activation = _sigmoid
    elif mistake == "no_tanh":
        activation = lambda a: a  # noqa: E731
    elif mistake == "no_reset":
        r = np.ones_like(h)
    elif mistake == "one_minus_r":
        r = 1 - r
    elif mistake == "no_x":
        W_xh = np.zeros_like(W_xh)
    elif mistake == "no_h":
        W_hh = np.zeros_like(W_hh)
    elif mistake is not None:
        raise ValueError(f"unknown candidate mistake {mistake!r}")
    return activation(x_t @ W_xh + b_xh + r * (h @ W_hh + b_hh))


def candidate_mistakes(x_t: Array, h_prev: Array, r_t: Array, params: Params) -> dict[str, Array]:
    """Wrong answers of ``candidate_state(x_t, h_prev, r_t, params)``."""
    return merge_identical(
        {text: _candidate(x_t, h_prev, r_t, params, m) for m, text in CANDIDATE_MISTAKES.items()}
    )


# ------------------------------------------------------------------------ the cell, the forward

INTERPOLATION_MISTAKES: dict[str, str] = {
    "swapped": "z_t and 1 - z_t are swapped: h_t = z_t * h_prev + (1 - z_t) * h̃_t (the update "
    "gate z_t keeps the old state; Chung et al. write it the other way round, PyTorch does not)",
    "no_one_minus": "the factor 1 - z_t is missing: h_t = z_t * h_prev + (1 - z_t) * h̃_t",
    "candidate_only": "the candidate h̃_t was returned: the new state is the interpolation "
    "h_t = z_t * h_prev + (1 - z_t) * h̃_t",
    "z_as_reset": "the gates are mixed up: the candidate was given z_t where it needs the reset "
    "gate r_t",
    "r_as_update": "the gates are mixed up: the interpolation uses r_t where it needs the update "
    "gate z_t",
    "gates_swapped": "the gates are swapped: r_t was used as the update gate and z_t as the reset "
    "gate",
    "sum": "h_t = h_prev + h̃_t: the new state is the weighted average "
    "h_t = z_t * h_prev + (1 - z_t) * h̃_t",
}


def gru_cell_variant(
    x_t: Array,
    h: Array,
    p: Params,
    *,
    reset: str | None = None,
    update: str | None = None,
    candidate: str | None = None,
    interpolation: str | None = None,
) -> Array:
    """One GRU step ``h_t`` with at most one mistake per part (no switch: the right answer)."""
    r = _gate(x_t, h, p, "r", reset)
    z = _gate(x_t, h, p, "z", update)
    if interpolation in ("z_as_reset", "gates_swapped"):
        h_tilde = _candidate(x_t, h, z, p, candidate)
    else:
        h_tilde = _candidate(x_t, h, r, p, candidate)
    if interpolation in ("r_as_update", "gates_swapped"):
        z = r
    if interpolation == "swapped":
        return (1 - z) * h + z * h_tilde
    if interpolation == "no_one_minus":
        return z * h + h_tilde
    if interpolation == "candidate_only":
        return h_tilde
    if interpolation == "sum":
        return h + h_tilde
    if interpolation not in (None, "z_as_reset", "r_as_update", "gates_swapped"):
        raise ValueError(f"unknown interpolation mistake {interpolation!r}")
    return z * h + (1 - z) * h_tilde


def _wrong_cells() -> dict[str, dict[str, str]]:
    """Every one-mistake cell: description -> switches of :func:`gru_cell_variant`."""
    cells: dict[str, dict[str, str]] = {}
    for m, text in INTERPOLATION_MISTAKES.items():
        cells[text] = {"interpolation": m}
    for m, text in CANDIDATE_MISTAKES.items():
        cells[text] = {"candidate": m}
    for gate, switch in (("r", "reset"), ("z", "update")):
        for m in GATE_MISTAKES:
            cells[_gate_text(gate, m)] = {switch: m}
    both = (
        "the sign in your sigmoid is wrong: it computes sigmoid(-a) instead of sigmoid(a), so "
        "both gates are wrong"
    )
    cells[both] = {"reset": "negated", "update": "negated"}
    cells["tanh instead of sigmoid in both gates: a gate must lie in (0, 1)"] = {
        "reset": "tanh",
        "update": "tanh",
    }
    return cells


def cell_mistakes(x_t: Array, h_prev: Array, params: Params) -> dict[str, Array]:
    """Wrong answers of ``gru_cell_forward(x_t, h_prev, params)``: one mistake in one part."""
    return merge_identical(
        {
            text: gru_cell_variant(x_t, h_prev, params, **switches)  # type: ignore[arg-type]
            for text, switches in _wrong_cells().items()
        }
    )


def _run(cell: Callable[[Array, Array], Array], x: Array, h0: Array) -> Array:
    h, states = h0, []
    for x_t in x:
        h = cell(x_t, h)
        states.append(h)
    return np.stack(states)


def forward_mistakes(x: Array, h0: Array, params: Params) -> dict[str, Array]:
    """Wrong answers of ``gru_forward(x, h0, params)``, all states ``(T, B, H)``.

    Covers a wrong cell carried through time, and wrong bookkeeping of the states and axes.
    """
    mistakes = {}
    for text, switches in _wrong_cells().items():
        mistakes[text] = _run(
            lambda x_t, h, s=switches: gru_cell_variant(x_t, h, params, **s), x, h0
        )

    def cell(x_t: Array, h: Array) -> Array:
        return gru_cell_variant(x_t, h, params)

    hs = _run(cell, x, h0)
    T, B = x.shape[:2]
    mistakes.update(
        {
            "only the last state h_T was returned; return all states h_1 … h_T, shape (T, B, H)": (
                hs[-1]
            ),
            "the hidden state is not carried forward: every step started from h0 instead of "
            "the previous state h": np.stack([cell(x_t, h0) for x_t in x]),
            "the states are shifted by one step: hs[t] must be the state after reading x[t] "
            "(h_1 … h_T), not the one before it (h_0 … h_{T-1})": np.concatenate(
                [h0[None], hs[:-1]]
            ),
            "h0 was included: return the T states h_1 … h_T, not the T + 1 states h_0 … h_T": (
                np.concatenate([h0[None], hs])
            ),
        }
    )
    if B < T:  # T read from the batch axis: B steps, stored in an array of B rows
        text = "the number of steps was read from axis 1, the batch axis; x is time-major (T, B, D)"
        mistakes[text + ", so T = x.shape[0]"] = hs[:B]
    batch_major = _batch_major_forward(x, h0, cell)
    if batch_major is not None:
        text = "x[:, t] was used as step t, but x is time-major (T, B, D): step t is x[t]"
        mistakes[text] = batch_major
    return merge_identical(mistakes)


def _batch_major_forward(
    x: Array, h0: Array, cell: Callable[[Array, Array], Array]
) -> Array | None:
    """The loop over ``x[:, t]`` for t < T, when NumPy's broadcasting lets it run (else None)."""
    T = x.shape[0]
    try:
        with np.errstate(all="ignore"):
            h, hs = h0, np.zeros((T, *h0.shape))
            for t in range(T):
                h = cell(x[:, t], h)
                hs[t] = h
    except (ValueError, IndexError):  # the shapes do not fit: the student sees an error instead
        return None
    return hs


# ------------------------------------------------------------------ PyTorch's stacked weights

_GATE_OF_BLOCK = {"r": "r", "z": "z", "n": "h"}
_BLOCK_NAMES = {"r": "reset gate r", "z": "update gate z", "n": "candidate n"}
_ROWS = ("0:H", "H:2H", "2H:3H")
_SPLIT_ORDER = (
    "PyTorch stacks the three blocks in the order r, z, n (reset gate, update gate, candidate), "
    "each H rows"
)


def _read(
    weight_ih: Array,
    weight_hh: Array,
    bias_ih: Array,
    bias_hh: Array,
    order: tuple[str, ...] = ("r", "z", "n"),
    transpose: bool = True,
) -> dict[str, Array]:
    """The per-gate parameters when the blocks are taken to be in ``order`` (PyTorch's: r, z, n)."""
    H = weight_hh.shape[1]
    t = (lambda a: a.T) if transpose else (lambda a: a)
    params = {}
    for position, letter in enumerate(order):
        rows = slice(position * H, (position + 1) * H)
        g = _GATE_OF_BLOCK[letter]
        params[f"W_x{g}"] = t(weight_ih[rows])
        params[f"W_h{g}"] = t(weight_hh[rows])
        if g == "h":
            params["b_xh"], params["b_hh"] = bias_ih[rows], bias_hh[rows]
        else:
            params[f"b_{g}"] = bias_ih[rows] + bias_hh[rows]
    return params


def split_order_readings(
    weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array
) -> dict[str, dict[str, Array]]:
    """The parameters read in each of the five wrong block orders: ``{text: params}``.

    ``compare.check_block_order`` names the order when a whole answer is one of them.
    """
    return {
        f"the blocks were read in the wrong order ({', '.join(order)}): {_SPLIT_ORDER}": _read(
            weight_ih, weight_hh, bias_ih, bias_hh, order
        )
        for order in permutations("rzn")
        if order != ("r", "z", "n")
    }


def split_mistakes(
    weight_ih: Array, weight_hh: Array, bias_ih: Array, bias_hh: Array
) -> dict[str, dict[str, Array]]:
    """Wrong per-gate parameters read from ``torch.nn.GRU``'s stacked weights, per parameter.

    ``weight_ih (3H, D)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)`` and ``bias_hh (3H,)`` hold
    PyTorch's blocks in the order r, z, n. A parameter read from another block is described by
    the block it came from, so that no two descriptions share a value.
    """
    H = weight_hh.shape[1]
    block = {"r": slice(0, H), "z": slice(H, 2 * H), "n": slice(2 * H, 3 * H)}
    wrong: dict[str, dict[str, Array]] = {name: {} for name in GRU_PARAMETER_NAMES}
    sources = {"W_x": ("weight_ih", weight_ih), "W_h": ("weight_hh", weight_hh)}
    for k, letter in enumerate("rzn"):
        g = _GATE_OF_BLOCK[letter]
        for prefix, (side, stacked) in sources.items():
            name = f"{prefix}{g}"
            for j, other in enumerate("rzn"):
                if j != k:
                    wrong[name][
                        f"{name} was read from rows {_ROWS[j]} of {side}, which hold the "
                        f"{_BLOCK_NAMES[other]}; {_SPLIT_ORDER}, so {name} = {side}[{_ROWS[k]}].T"
                    ] = stacked[j * H : (j + 1) * H].T
        biases = ("b_xh", "b_hh") if g == "h" else (f"b_{g}",)
        for name in biases:
            for j, other in enumerate("rzn"):
                if j == k:
                    continue
                rows = slice(j * H, (j + 1) * H)
                if name == "b_xh":
                    value, right = bias_ih[rows], f"bias_ih[{_ROWS[k]}]"
                elif name == "b_hh":
                    value, right = bias_hh[rows], f"bias_hh[{_ROWS[k]}]"
                else:
                    value = bias_ih[rows] + bias_hh[rows]
                    right = f"bias_ih[{_ROWS[k]}] + bias_hh[{_ROWS[k]}]"
                wrong[name][
                    f"{name} was read from rows {_ROWS[j]} of the biases, which hold the "
                    f"{_BLOCK_NAMES[other]}; {_SPLIT_ORDER}, so {name} = {right}"
                ] = value
    for name, value in _read(weight_ih, weight_hh, bias_ih, bias_hh, transpose=False).items():
        if name.startswith("W_"):
            wrong[name][
                "the blocks are not transposed: PyTorch stores W.T, so W_xr = weight_ih[0:H].T"
            ] = value
    for gate in "rz":
        rows = block[gate]
        wrong[f"b_{gate}"].update(
            {
                f"only bias_ih was used: b_{gate} is the sum of PyTorch's two bias blocks, "
                f"bias_ih + bias_hh": bias_ih[rows],
                f"only bias_hh was used: b_{gate} is the sum of PyTorch's two bias blocks, "
                f"bias_ih + bias_hh": bias_hh[rows],
                f"the two biases were averaged; b_{gate} is their sum, bias_ih + bias_hh": (
                    (bias_ih[rows] + bias_hh[rows]) / 2
                ),
            }
        )
    n = block["n"]
    wrong["b_xh"].update(
        {
            "bias_hh's n block was added to b_xh: the candidate keeps its two biases apart, "
            "b_xh = bias_ih[2H:3H] and b_hh = bias_hh[2H:3H] (inside the reset)": bias_ih[n]
            + bias_hh[n],
            "b_xh and b_hh are swapped: b_xh = bias_ih[2H:3H] (input side), b_hh = "
            "bias_hh[2H:3H] (inside the reset)": bias_hh[n],
        }
    )
    wrong["b_hh"].update(
        {
            "b_xh and b_hh are swapped: b_xh = bias_ih[2H:3H] (input side), b_hh = "
            "bias_hh[2H:3H] (inside the reset)": bias_ih[n],
            "b_hh was added to b_xh and set to 0: the candidate keeps its two biases apart, "
            "b_hh = bias_hh[2H:3H] sits inside the reset": np.zeros(H),
        }
    )
    return {name: merge_identical(mistakes) for name, mistakes in wrong.items()}


# ------------------------------------------------------------------------------ the backward

BACKWARD_MISTAKES: dict[str, dict[str, object]] = {
    "the direct path is missing: h_t = z_t * h_prev + … gives dL/dh_prev the term "
    "dL/dh_t * z_t, besides the paths through the gates and the candidate": {"direct": False},
    "z_t and 1 - z_t are swapped in the backward pass: dL/dh̃_t = dL/dh_t * (1 - z_t) and the "
    "direct path gives dL/dh_prev = dL/dh_t * z_t": {"swap_z": True},
    "dL/dz_t has the wrong sign: h_t = z_t * h_prev + (1 - z_t) * h̃_t gives "
    "dL/dz_t = dL/dh_t * (h_prev - h̃_t)": {"dz_sign": -1},
    "the sigmoid derivative is wrong: sigmoid'(a) = s * (1 - s) with s = sigmoid(a), so "
    "da_r = dr * r * (1 - r) and da_z = dz * z * (1 - z), not dr * r": {"dsigmoid": "rz"},
    "the sigmoid derivative of the reset gate is wrong: sigmoid'(a) = s * (1 - s), so "
    "da_r = dr * r * (1 - r)": {"dsigmoid": "r"},
    "the sigmoid derivative of the update gate is wrong: sigmoid'(a) = s * (1 - s), so "
    "da_z = dz * z * (1 - z)": {"dsigmoid": "z"},
    "the sigmoid derivative is missing: da_r = dr * r * (1 - r) and da_z = dz * z * (1 - z)": {
        "dsigmoid": "none"
    },
    "the tanh derivative is wrong: tanh'(a) = 1 - h̃_t**2, not 1 - h̃_t": {"dtanh": "1-h"},
    "the tanh derivative is missing: da_h = dh̃_t * (1 - h̃_t**2)": {"dtanh": "none"},
    "the reset gate's path to h_prev is missing: dL/dh_prev gets da_r @ W_hr.T": {"paths": "no_r"},
    "the update gate's path to h_prev is missing: dL/dh_prev gets da_z @ W_hz.T": {"paths": "no_z"},
    "the candidate's path to h_prev is missing: dL/dh_prev gets (da_h * r_t) @ W_hh.T": {
        "paths": "no_h"
    },
    "the reset gate is missing from the candidate's path to h_prev: it is "
    "(da_h * r_t) @ W_hh.T, not da_h @ W_hh.T": {"paths": "h_without_r"},
    "the reset gate is missing from dW_hh and db_hh: h_prev @ W_hh + b_hh is multiplied by r_t, "
    "so dW_hh += h_prev.T @ (da_h * r_t) and db_hh += (da_h * r_t).sum(axis=0)": {
        "hidden_grads_without_r": True
    },
    "b_hh is missing from dL/dr_t: dr = da_h * (h_prev @ W_hh + b_hh)": {"dr_without_b_hh": True},
    "the gradient from the next step is not added: use dh = dhs[t] + dh_next, where dh_next "
    "= dL/dh_prev came from step t + 1 (the gradient must flow back through time)": {
        "carry": False
    },
    "the gradient is not accumulated over time: every step's contribution must be added with "
    "+= (you kept only the last one computed, step t = 0)": {"accumulate": False},
    "a recurrent weight is not transposed on the way back: dL/dh_prev uses W_hr.T, W_hz.T and "
    "W_hh.T": {"W_back": "all"},
    "W_hr is not transposed on the way back: dL/dh_prev gets da_r @ W_hr.T": {"W_back": "r"},
    "W_hz is not transposed on the way back: dL/dh_prev gets da_z @ W_hz.T": {"W_back": "z"},
    "W_hh is not transposed on the way back: dL/dh_prev gets (da_h * r_t) @ W_hh.T": {
        "W_back": "h"
    },
    "the recurrent weight gradients use the current state h_t; they need the previous state "
    "h_prev (hs[t - 1], or h0 at t = 0)": {"current_state": True},
    "at t = 0 the previous state is h0, but hs[t - 1] was used (hs[-1] wraps around to the "
    "last state)": {"first_prev": "wrap"},
    "the gates were recomputed from h_t; step t's gates come from the previous state h_prev "
    "(hs[t - 1], or h0 at t = 0)": {"gates_from": "current"},
    "the backward loop runs forwards in time: go from t = T - 1 down to 0 "
    "(for t in reversed(range(T)))": {"reverse": False},
    "a bias gradient is summed over every axis: sum over the batch axis only, .sum(axis=0)": {
        "bias_sum": "all"
    },
    "the reset gate's term is missing from dx: dx[t] = da_r @ W_xr.T + da_z @ W_xz.T + "
    "da_h @ W_xh.T": {"dx_terms": "no_r"},
    "the update gate's term is missing from dx: dx[t] = da_r @ W_xr.T + da_z @ W_xz.T + "
    "da_h @ W_xh.T": {"dx_terms": "no_z"},
    "the candidate's term is missing from dx: dx[t] = da_r @ W_xr.T + da_z @ W_xz.T + "
    "da_h @ W_xh.T": {"dx_terms": "no_h"},
    "dh0 is the gradient of h_1, not of h0: after the last step back (t = 0) return dL/dh_prev": {
        "dh0": "dh1"
    },
}


def gru_backward_variant(
    dhs: Array,
    x: Array,
    h0: Array,
    hs: Array,
    p: Params,
    *,
    direct: bool = True,
    swap_z: bool = False,
    dz_sign: int = 1,
    dsigmoid: str = "",
    dtanh: str = "1-h**2",
    paths: str = "all",
    hidden_grads_without_r: bool = False,
    dr_without_b_hh: bool = False,
    carry: bool = True,
    accumulate: bool = True,
    W_back: str = "",
    current_state: bool = False,
    first_prev: str = "h0",
    gates_from: str = "previous",
    reverse: bool = True,
    bias_sum: str = "batch",
    dx_terms: str = "all",
    dh0: str = "dh_prev",
) -> dict[str, Array]:
    """Backpropagation through time of ``L = sum(dhs ⊙ hs)`` for the GRU, with switchable mistakes.

    The defaults give the right answer; tests never use them for that (they use torch autograd).
    Returns ``dx``, ``dh0`` and ``d<name>`` for every parameter, as ``gru_backward`` must.
    """
    T, B, H = hs.shape
    grads = {"dx": np.zeros_like(x)} | {"d" + k: np.zeros_like(p[k]) for k in GRU_PARAMETER_NAMES}
    dh_next = np.zeros((B, H))
    dh = dh_next

    def add(name: str, value: Array) -> None:
        if accumulate:
            grads[name] += value
        else:
            grads[name] = np.zeros_like(grads[name]) + value

    def bias(value: Array) -> Array:
        return value.sum() if bias_sum == "all" else value.sum(axis=0)

    def back(name: str) -> Array:
        return p[name] if W_back in ("all", name[-1]) else p[name].T

    for t in reversed(range(T)) if reverse else range(T):
        h_prev = h0 if t == 0 and first_prev == "h0" else hs[t - 1]
        h_gates = hs[t] if gates_from == "current" else h_prev
        r = _gate(x[t], h_gates, p, "r")
        z = _gate(x[t], h_gates, p, "z")
        n_h = h_gates @ p["W_hh"] + (0 if dr_without_b_hh else p["b_hh"])
        h_tilde = _candidate(x[t], h_gates, r, p)
        dh = dhs[t] + dh_next if carry else dhs[t]
        keep, replace = (1 - z, z) if swap_z else (z, 1 - z)
        dh_tilde = dh * replace
        dz = dz_sign * dh * (h_prev - h_tilde)
        dh_prev = dh * keep if direct else np.zeros_like(dh)
        da_h = dh_tilde * {"1-h**2": 1 - h_tilde**2, "1-h": 1 - h_tilde, "none": 1.0}[dtanh]
        dn_h = da_h * r
        dr = da_h * n_h
        da_r = dr * (r if "r" in dsigmoid else 1.0 if dsigmoid == "none" else r * (1 - r))
        da_z = dz * (z if "z" in dsigmoid else 1.0 if dsigmoid == "none" else z * (1 - z))
        state = hs[t] if current_state else h_prev
        add("dW_xr", x[t].T @ da_r)
        add("dW_hr", state.T @ da_r)
        add("db_r", bias(da_r))
        add("dW_xz", x[t].T @ da_z)
        add("dW_hz", state.T @ da_z)
        add("db_z", bias(da_z))
        add("dW_xh", x[t].T @ da_h)
        add("db_xh", bias(da_h))
        hidden = da_h if hidden_grads_without_r else dn_h
        add("dW_hh", state.T @ hidden)
        add("db_hh", bias(hidden))
        dx_parts = {"r": da_r @ p["W_xr"].T, "z": da_z @ p["W_xz"].T, "h": da_h @ p["W_xh"].T}
        grads["dx"][t] = sum(v for k, v in dx_parts.items() if dx_terms != f"no_{k}")
        h_parts = {
            "r": da_r @ back("W_hr"),
            "z": da_z @ back("W_hz"),
            "h": (da_h if paths == "h_without_r" else dn_h) @ back("W_hh"),
        }
        dh_prev = dh_prev + sum(v for k, v in h_parts.items() if paths != f"no_{k}")
        dh_next = dh_prev
    grads["dh0"] = dh if dh0 == "dh1" else dh_next
    return grads


def backward_mistakes(
    dhs: Array, x: Array, h0: Array, hs: Array, params: Params
) -> dict[str, dict[str, Array]]:
    """Wrong answers of ``gru_backward``, per gradient: ``{"dW_hh": {description: value}, …}``."""
    keys = ("dx", "dh0", *("d" + name for name in GRU_PARAMETER_NAMES))
    per_quantity: dict[str, dict[str, Array]] = {key: {} for key in keys}
    with np.errstate(all="ignore"):
        for text, switches in BACKWARD_MISTAKES.items():
            grads = gru_backward_variant(dhs, x, h0, hs, params, **switches)  # type: ignore[arg-type]
            for key in keys:
                per_quantity[key][text] = grads[key]
    return {key: merge_identical(mistakes) for key, mistakes in per_quantity.items()}
