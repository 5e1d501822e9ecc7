"""Unit tests of the checks of Exercise 4 (the LSTM, in NumPy and in PyTorch).

Fast (no kernels): each test hands a check a right answer, which must pass, and known wrong ones,
which must fail with words that name the mistake, so that a check that stops catching or stops
explaining fails here first. The right answers are small independent implementations below; the
wrong ones are the same with one switch turned.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_checks import CheckFailure
from course_checks.ex4_lstm.layer import (
    LSTM_BUILTINS,
    call_lstm,
    check_forget_bias,
    check_lstm_device,
    check_lstm_gradients,
    check_lstm_module,
    check_lstm_parameters,
    check_lstm_step,
    check_no_builtin_lstm_modules,
    check_state_default,
    no_builtin_lstm,
)
from course_checks.ex4_lstm.lstm_numpy import (
    LSTM_SHAPES,
    check_count_parameters,
    check_lstm_against_torch,
    check_lstm_cell,
    check_lstm_forward,
    check_lstm_gates,
    check_split_torch_weights,
    random_lstm_case,
)
from course_checks.ex4_lstm.lstm_torch import random_lstm_case as random_torch_case
from course_checks.ex4_lstm.references import (
    gates_from_stacked,
    random_stacked_params,
    stacked_from_gates,
    torch_lstm_forward,
    torch_lstm_step,
    torch_parameter_count,
)
from course_checks.ex4_lstm.training import check_evaluate, check_train_model, check_train_step
from course_checks.ex4_lstm.wrong_answers import (
    CELL_VARIANTS,
    count_mistakes,
    forward_mistakes,
    layout_variants,
    step_variant,
)
from tests.course_checks.ex3_gru_torch.test_gru_torch import fails

# ------------------------------------------------------------------- NumPy: yardsticks and slips


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_gates(x_t, h, p, *, squash_g=np.tanh, order="ifgo", source=None, transposed=False):
    """The four blocks of Chapter 4's equations; the keywords each introduce one mistake.

    ``order``: the order of the returned tuple; ``source``: {gate: the gate whose parameters it
    uses}; ``transposed``: h @ W_h.T.
    """
    source = source or {}
    values = {}
    for gate in "ifgo":
        k = source.get(gate, gate)
        W_h = p[f"W_h{k}"].T if transposed else p[f"W_h{k}"]
        a = x_t @ p[f"W_x{k}"] + h @ W_h + p[f"b_{k}"]
        values[gate] = squash_g(a) if gate == "g" else sigmoid(a)
    return tuple(values[gate] for gate in order)


def numpy_cell(x_t, h, c, p, *, cell="right", out="right", swap=False, **gate_switches):
    i, f, g, o = numpy_gates(x_t, h, p, **gate_switches)
    c_new = {
        "right": f * c + i * g,
        "no_i": f * c + g,
        "h_for_c": f * h + i * g,
        "swapped": i * c + f * g,
        "coupled": f * c + (1 - f) * g,
    }[cell]
    h_new = {"right": o * np.tanh(c_new), "no_tanh": o * c_new, "old": o * np.tanh(c)}[out]
    return (c_new, h_new) if swap else (h_new, c_new)


def numpy_forward(x, h0, c0, p, *, carry_c=True, swap_final=False, **cell_switches):
    h, c, hs = h0, c0, []
    for x_t in x:
        h, c_new = numpy_cell(x_t, h, c, p, **cell_switches)
        c = c_new if carry_c else c0
        hs.append(h)
    return np.stack(hs), ((c, h) if swap_final else (h, c))


def numpy_split(w_ih, w_hh, b_ih, b_hh, *, order="ifgo", transpose=True, both_biases=True):
    H = w_hh.shape[1]
    params = {}
    for k, gate in enumerate(order):
        rows = slice(k * H, (k + 1) * H)
        params[f"W_x{gate}"] = w_ih[rows].T if transpose else w_ih[rows]
        params[f"W_h{gate}"] = w_hh[rows].T if transpose else w_hh[rows]
        params[f"b_{gate}"] = b_ih[rows] + b_hh[rows] if both_biases else b_ih[rows]
    return params


def numpy_count(kind, D, H, *, biases=2, blocks=None):
    k = blocks or {"rnn": 1, "gru": 3, "lstm": 4}[kind]
    return k * (D * H + H * H + biases * H)


def test_references_match_an_independent_numpy_lstm():
    case = random_lstm_case(1, T=5, B=3, D=4, H=2)
    stacked = stacked_from_gates(case.params)
    hs, h_T, c_T = torch_lstm_forward(case.x, case.h0, case.c0, stacked)
    expected, (h_ref, c_ref) = numpy_forward(case.x, case.h0, case.c0, case.params)
    assert np.abs(hs - expected).max() < 1e-12
    assert np.abs(h_T - h_ref).max() < 1e-12 and np.abs(c_T - c_ref).max() < 1e-12
    step = torch_lstm_step(case.x[0], case.h0, case.c0, stacked)
    for gate, value in zip("ifgo", numpy_gates(case.x[0], case.h0, case.params), strict=True):
        assert np.abs(step[gate] - value).max() < 1e-12
    back = gates_from_stacked(stacked)
    assert all(np.array_equal(back[name], case.params[name]) for name in case.params)


def test_step_variant_defaults_to_pytorch_and_every_mistake_differs():
    rng = np.random.default_rng(2)
    stacked = random_stacked_params(rng, 4, 5)
    x_t, h, c = rng.normal(size=(3, 4)), rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    right = torch_lstm_step(x_t, h, c, stacked)
    gates = gates_from_stacked(stacked)
    h_new, c_new = step_variant(x_t, h, c, gates)
    assert np.abs(h_new - right["h"]).max() < 1e-12 and np.abs(c_new - right["c"]).max() < 1e-12
    for text, switches in CELL_VARIANTS.items():
        wrong_h, wrong_c = step_variant(x_t, h, c, gates, **switches)
        assert max(np.abs(wrong_h - right["h"]).max(), np.abs(wrong_c - right["c"]).max()) > 1e-3
        assert text
    variants = layout_variants(stacked)
    assert len(variants) == 25  # 23 wrong orders and two missing bias vectors
    for text, variant in variants.items():
        wrong_h, _ = step_variant(x_t, h, c, gates_from_stacked(variant))
        assert np.abs(wrong_h - right["h"]).max() > 1e-3, text


def test_every_forward_mistake_differs_from_the_right_answer():
    case = random_lstm_case(3, T=4, B=3, D=4, H=5)
    hs, (h_T, c_T) = numpy_forward(case.x, case.h0, case.c0, case.params)
    wrong = forward_mistakes(case.x, case.h0, case.c0, case.params)
    for key, right in (("output", hs), ("h", h_T), ("c", c_T)):
        for text, value in wrong[key].items():
            differs = np.shape(value) != right.shape or np.abs(value - right).max() > 1e-6
            same_c = key == "c" and ("hidden state" in text or "tanh" in text or "output" in text)
            assert differs or same_c or "or:" in text, (key, text)


def test_lstm_shapes_replace_the_rnn_sentence_after_a_shape_error():
    def transposed_gates(x_t, h_prev, params):
        return numpy_gates(x_t, h_prev, {**params, "W_xi": params["W_xi"].T})

    message = fails(["shapes"], check_lstm_gates, transposed_gates, 1, 2, 3, 4)
    assert LSTM_SHAPES in message and "W_h is (H, H)" not in message


def test_numpy_checks_pass_the_right_answers():
    check_lstm_gates(numpy_gates, seed=1, B=2, D=3, H=4)
    check_lstm_cell(numpy_cell, seed=2, B=2, D=3, H=4)
    check_lstm_forward(numpy_forward, random_lstm_case(seed=5, T=1, B=2, D=3, H=4))
    check_lstm_forward(numpy_forward, random_lstm_case(seed=6, T=5, B=2, D=3, H=4))
    check_split_torch_weights(numpy_split, seed=7, D=3, H=4)
    assert check_lstm_against_torch(numpy_split, numpy_forward, 0, 6, 4, 3, 5) < 1e-12
    check_count_parameters(numpy_count, sizes=[(3, 4), (1, 1), (300, 1024)])


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"squash_g": sigmoid}, ["cell candidate g_t uses a sigmoid"]),
        ({"order": "ifog"}, ["wrong order", "(i_t, f_t, g_t, o_t)"]),
        ({"source": {"f": "i"}}, ["mixed up"]),
        ({"source": {"o": "g"}}, ["parameters of the cell candidate"]),
        ({"transposed": True}, ["W_hi is transposed"]),
    ],
)
def test_check_lstm_gates_names_mistakes(switches, words):
    fails(words, check_lstm_gates, lambda x, h, p: numpy_gates(x, h, p, **switches), 1, 2, 3, 4)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"cell": "no_i"}, ["input gate is missing", "f_t ⊙ c_{t−1} + g_t"]),
        ({"cell": "h_for_c"}, ["hidden state h_{t−1} where the previous cell"]),
        ({"cell": "swapped"}, ["forget gate is applied to g_t"]),
        ({"cell": "coupled"}, ["the GRU's interpolation"]),
        ({"out": "no_tanh"}, ["tanh is missing", "h_t"]),
        ({"out": "old"}, ["uses the previous cell"]),
        ({"swap": True}, ["(h_t, c_t)"]),
        ({"squash_g": sigmoid}, ["sigmoid"]),
    ],
)
def test_check_lstm_cell_names_mistakes(switches, words):
    wrong = lambda x, h, c, p: numpy_cell(x, h, c, p, **switches)  # noqa: E731
    fails(words, check_lstm_cell, wrong, 2, 2, 3, 4)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"carry_c": False}, ["cell is not carried"]),
        ({"swap_final": True}, ["final states are swapped"]),
        ({"out": "no_tanh"}, ["tanh is missing"]),
    ],
)
def test_check_lstm_forward_names_mistakes(switches, words):
    wrong = lambda x, h0, c0, p: numpy_forward(x, h0, c0, p, **switches)  # noqa: E731
    fails(words, check_lstm_forward, wrong, random_lstm_case(seed=6, T=5, B=2, D=3, H=4))


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"order": "ifog"}, ["wrong order i, f, o, g", "char-rnn"]),
        ({"order": "igfo"}, ["wrong order i, g, f, o", "BasicLSTMCell"]),
        ({"transpose": False}, ["transposed"]),
        ({"both_biases": False}, ["bias_ih alone"]),
    ],
)
def test_check_split_torch_weights_names_mistakes(switches, words):
    wrong = lambda *arrays: numpy_split(*arrays, **switches)  # noqa: E731
    fails(words, check_split_torch_weights, wrong, 7, 3, 4)


def test_check_lstm_against_torch_names_a_wrong_order_read_by_split():
    wrong = lambda *arrays: numpy_split(*arrays, order="ifog")  # noqa: E731
    fails(["wrong order i, f, o, g"], check_lstm_against_torch, wrong, numpy_forward, 0, 6, 4, 3, 5)


def test_check_split_torch_weights_catches_a_change_of_its_input():
    def in_place(w_ih, w_hh, b_ih, b_hh):
        b_ih += b_hh
        return numpy_split(w_ih, w_hh, b_ih, 0 * b_hh)

    fails(["changed the arrays"], check_split_torch_weights, in_place, 7, 3, 4)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda kind, D, H: numpy_count(kind, D, H, biases=1), ["two bias vectors"]),
        (lambda kind, D, H: numpy_count(kind, D, H, biases=0), ["biases are missing"]),
        (
            lambda kind, D, H: numpy_count(kind, D, H, blocks=3 if kind == "lstm" else None),
            ["4 blocks (i, f, g, o)", "you counted 3"],
        ),
        (lambda kind, D, H: float(numpy_count(kind, D, H)), ["must return an int"]),
    ],
)
def test_check_count_parameters_names_mistakes(wrong, words):
    fails(words, check_count_parameters, wrong, [(3, 4)])


def test_count_mistakes_differ_from_pytorch():
    for kind in ("rnn", "gru", "lstm"):
        right = torch_parameter_count(kind, 3, 4)
        assert right == numpy_count(kind, 3, 4)
        assert all(value != right for value in count_mistakes(kind, 3, 4).values())


# ------------------------------------------------------------------ PyTorch: yardsticks and slips


def torch_step(
    *, order="ifgo", g_sigmoid=False, no_tanh=False, bias_hh=True, fused=False, transpose=True
):
    """An LSTM step function in PyTorch's layout; the keywords each introduce one mistake."""

    def lstm_cell(x_t, h, c, weight_ih, weight_hh, bias_ih, bias_hh_value):
        if fused:
            return torch.lstm_cell(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh_value)
        W_i = weight_ih.T if transpose else weight_ih
        a = x_t @ W_i + bias_ih + h @ weight_hh.T + (bias_hh_value if bias_hh else 0)
        blocks = dict(zip(order, a.chunk(4, dim=1), strict=True))
        i, f, o = (torch.sigmoid(blocks[k]) for k in "ifo")
        g = torch.sigmoid(blocks["g"]) if g_sigmoid else torch.tanh(blocks["g"])
        c_new = f * c + i * g
        return o * (c_new if no_tanh else torch.tanh(c_new)), c_new

    return lstm_cell


def set_forget_bias(lstm, value=1.0, *, where="f", hh_zero=True, both=False, zero_others=False):
    """Chapter 4's forget bias: bias_ih's forget block = value, bias_hh's = 0, the rest kept."""
    H = lstm.hidden_size
    block = {"i": slice(0, H), "f": slice(H, 2 * H)}[where]
    with torch.no_grad():
        if zero_others:
            lstm.bias_ih_l0.zero_()
            lstm.bias_hh_l0.zero_()
        lstm.bias_ih_l0[block] = value
        if both:
            lstm.bias_hh_l0[block] = value
        elif hh_zero:
            lstm.bias_hh_l0[block] = 0.0


class TinyLSTM(nn.Module):
    """An LSTM layer with nn.LSTM's names; the keyword switches each introduce one mistake."""

    def __init__(
        self,
        input_size,
        hidden_size,
        dtype=torch.float64,
        device=None,
        forget_bias=None,
        *,
        step=None,
        names="_l0",
        plain=False,
        detach=False,
        carry_c=True,
        no_axis=False,
        flat=False,
        state_float32=False,
        wrap_builtin=False,
        init=None,
    ):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.step, self.names = step or torch_step(), names
        self.detach, self.carry_c, self.no_axis, self.flat = detach, carry_c, no_axis, flat
        self.state_float32, self.wrap_builtin = state_float32, wrap_builtin
        H, D = hidden_size, input_size
        bound = 1 / math.sqrt(H)
        shapes = {"weight_ih": (4 * H, D), "weight_hh": (4 * H, H)}
        shapes.update({"bias_ih": (4 * H,), "bias_hh": (4 * H,)})
        for name, shape in shapes.items():
            value = torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)
            setattr(self, name + names, value if plain else nn.Parameter(value))
        if forget_bias is not None:
            (init or set_forget_bias)(self, forget_bias)

    def weights(self):
        return [getattr(self, name + self.names) for name in ("weight_ih", "weight_hh")] + [
            getattr(self, name + self.names) for name in ("bias_ih", "bias_hh")
        ]

    def forward(self, x, state=None):
        B = x.shape[1]
        if state is None:
            kind = {} if self.state_float32 else {"dtype": x.dtype, "device": x.device}
            h, c = (
                torch.zeros(B, self.hidden_size, **kind),
                torch.zeros(B, self.hidden_size, **kind),
            )
        else:
            h, c = state[0][0], state[1][0]
        if self.wrap_builtin:
            lstm = nn.LSTM(self.input_size, self.hidden_size, dtype=x.dtype)
            weights = dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"),
                               self.weights(), strict=True))  # fmt: skip
            return torch.func.functional_call(lstm, weights, (x, (h[None], c[None])))
        c0, output = c, []
        for x_t in x:
            h, c = self.step(x_t, h, c, *self.weights())
            output.append(h)
            if self.detach:
                h, c = h.detach(), c.detach()
            if not self.carry_c:
                c = c0
        if self.flat:
            return torch.stack(output), h[None], c[None]
        final = (h, c) if self.no_axis else (h[None], c[None])
        return torch.stack(output), final


def make(**switches):
    """A class-like (D, H, **kw) -> TinyLSTM with the given mistakes, as notebooks pass classes."""
    return lambda D, H, **kw: TinyLSTM(D, H, **kw, **switches)


def test_torch_step_check_passes_the_right_step():
    assert check_lstm_step(torch_step(), seed=0, B=2, D=3, H=4, guarded=True) < 1e-12


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"order": "ifog"}, ["wrong order i, f, o, g"]),
        ({"order": "igfo"}, ["wrong order i, g, f, o"]),
        ({"g_sigmoid": True}, ["cell candidate g_t is squashed with a sigmoid"]),
        ({"no_tanh": True}, ["tanh is missing"]),
        ({"bias_hh": False}, ["bias_hh is missing"]),
    ],
)
def test_check_lstm_step_names_mistakes(switches, words):
    fails(words, check_lstm_step, torch_step(**switches), seed=0, B=2, D=3, H=4)


def test_check_lstm_step_catches_the_fused_cell_only_when_guarded():
    check_lstm_step(torch_step(fused=True), seed=0, B=2, D=3, H=4)
    fails(["torch.lstm_cell"], check_lstm_step, torch_step(fused=True), 0, 2, 3, 4, guarded=True)


def test_check_lstm_step_explains_an_untransposed_weight():
    untransposed = torch_step(transpose=False)  # x_t @ weight_ih: (B, D) @ (4H, D)
    fails(["without transposing", "(4H, D)"], check_lstm_step, untransposed, 0, 2, 3, 4)


def test_lstm_routes_are_blocked_and_restored():
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w, u = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 4, dtype=torch.float64)
    b = torch.randn(16, dtype=torch.float64)
    lstm, cell = nn.LSTM(3, 4, dtype=torch.float64), nn.LSTMCell(3, 4, dtype=torch.float64)
    routes = {
        "nn.LSTM": lambda: lstm(x[None]),
        "nn.LSTMCell": lambda: cell(x, (h, h)),
        "torch.lstm_cell": lambda: torch.lstm_cell(x, (h, h), w, u, b, b),
        "aten.lstm_cell": lambda: torch.ops.aten.lstm_cell.default(x, (h, h), w, u, b, b),
        "_VariableFunctions": lambda: torch._C._VariableFunctions.lstm_cell(x, (h, h), w, u, b, b),
    }
    for name, route in routes.items():
        with pytest.raises(CheckFailure, match="may only be used by the tests"), no_builtin_lstm():
            route()
        route()  # restored after the block
        assert name
    assert "torch.nn.LSTM.forward" in LSTM_BUILTINS


def test_call_lstm_explains_in_the_lstm_layout():
    def dtype_mix(x):
        return x @ torch.zeros(3, 2)

    fails(["train_model", "float64"], call_lstm, dtype_mix, torch.zeros(2, 3, dtype=torch.float64))


def test_layer_checks_pass_the_right_layer():
    torch.manual_seed(0)
    assert check_lstm_parameters(make(), 24, 16)["weight_ih_l0"] == (64, 24)
    assert check_lstm_module(make(), seed=1, T=6, B=2, D=3, H=5, guarded=True) < 1e-12
    assert check_state_default(make(), seed=2, T=4, B=2, D=3, H=5) < 1e-12
    check_lstm_gradients(make(), random_torch_case(seed=4, T=6, B=2, D=3, H=5))
    assert check_lstm_device(make(), "cpu", seed=5, T=5, B=3, D=2, H=4) < 1e-12
    check_forget_bias(set_forget_bias, make(), seed=70, D=3, H=4, value=1.0)
    check_forget_bias(set_forget_bias, make(), seed=71, D=5, H=24, value=2.0)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"names": ""}, ["weight_ih_l0"]),
        ({"plain": True}, ["nn.Parameter"]),
        ({"dtype": torch.float32}, ["float32"]),
    ],
)
def test_check_lstm_parameters_names_mistakes(switches, words):
    dtype = switches.pop("dtype", None)
    module = make(**switches)
    built = (lambda D, H: module(D, H, dtype=dtype)) if dtype else module
    fails(words, check_lstm_parameters, built, 3, 5)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"names": ""}, ["load_state_dict", "weight_ih_l0"]),
        ({"step": torch_step(order="ifog")}, ["wrong order i, f, o, g"]),
        ({"carry_c": False}, ["cell is not carried"]),
        ({"no_axis": True}, ["(1, B, H)"]),
        ({"flat": True}, ["three items", "(output, (h_n, c_n))"]),
        ({"step": nn.LSTM}, ["built-in recurrent module"]),
    ],
)
def test_check_lstm_module_names_mistakes(switches, words):
    if switches.get("step") is nn.LSTM:

        def with_builtin(D, H, **kw):
            model = TinyLSTM(D, H, **kw)
            model.inner = nn.LSTM(D, H)
            return model

        fails(words, check_lstm_module, with_builtin, seed=1, T=6, B=2, D=3, H=5)
        return
    fails(words, check_lstm_module, make(**switches), seed=1, T=6, B=2, D=3, H=5)


def test_check_lstm_module_catches_a_wrapped_nn_lstm_only_when_guarded():
    check_lstm_module(make(wrap_builtin=True), seed=1, T=6, B=2, D=3, H=5)
    fails(["nn.LSTM"], check_lstm_module, make(wrap_builtin=True), 1, 6, 2, 3, 5, guarded=True)


def test_check_state_default_names_a_float32_state():
    fails(["float32"], check_state_default, make(state_float32=True), seed=2, T=4, B=2, D=3, H=5)


def test_check_lstm_gradients_names_a_detached_state():
    case = random_torch_case(seed=4, T=6, B=2, D=3, H=5)
    fails(["detached between steps"], check_lstm_gradients, make(detach=True), case)


def test_check_no_builtin_lstm_modules():
    check_no_builtin_lstm_modules(TinyLSTM(2, 3))
    fails(["nn.LSTM", "self.0"], check_no_builtin_lstm_modules, nn.Sequential(nn.LSTM(2, 3)))
    fails(["must be an nn.Module"], check_no_builtin_lstm_modules, object())


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"where": "i"}, ["block of the input gate i", "rows H:2H"]),
        ({"both": True}, ["both bias vectors", "twice"]),
        ({"hh_zero": False}, ["forget block was not set to 0"]),
        ({"zero_others": True}, ["other biases were set to 0", "as pytorch initialised them"]),
    ],
)
def test_check_forget_bias_names_mistakes(switches, words):
    def wrong(lstm, value=1.0):
        set_forget_bias(lstm, value, **switches)

    fails(words, check_forget_bias, wrong, make(init=wrong), seed=70, D=3, H=4)


def test_check_forget_bias_needs_no_grad_and_the_module_option():
    def without_no_grad(lstm, value=1.0):
        lstm.bias_ih_l0[lstm.hidden_size : 2 * lstm.hidden_size] = value

    fails(["no_grad"], check_forget_bias, without_no_grad, make(), seed=70, D=3, H=4)

    def ignores_option(D, H, forget_bias=None, **kw):
        return TinyLSTM(D, H, **kw)

    fails(["forget_bias=1"], check_forget_bias, set_forget_bias, ignores_option, 70, 3, 4)

    def sum_kept_otherwise(lstm, value=1.0):  # another way to the same biases: passes
        H = lstm.hidden_size
        with torch.no_grad():
            lstm.bias_ih_l0[H : 2 * H] = value - lstm.bias_hh_l0[H : 2 * H]

    check_forget_bias(sum_kept_otherwise, make(init=sum_kept_otherwise), seed=70, D=3, H=4)


def test_a_wrong_initialisation_costs_the_parameter_test_only():
    class NarrowInit(TinyLSTM):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            with torch.no_grad():  # 1/H instead of 1/sqrt(H), before the forget bias is set
                for p in (self.weight_ih_l0, self.weight_hh_l0):
                    p.uniform_(-1 / self.hidden_size, 1 / self.hidden_size)
            if kwargs.get("forget_bias") is not None:
                set_forget_bias(self, kwargs["forget_bias"])

    torch.manual_seed(0)
    fails(["uniform"], check_lstm_parameters, NarrowInit, D=24, H=16)
    check_forget_bias(set_forget_bias, NarrowInit, seed=9470, D=5, H=24, value=2.0)


# -------------------------------------------------------------------------------- training


def train_step(model, optimizer, x, y, max_norm, *, zero_grad=True, clip=True, target="same",
               item=True, reduce="mean"):  # fmt: skip
    goal = y[:, None] if target == "column" else y
    errors = (model(x) - goal) ** 2
    loss = errors.sum() if reduce == "sum" else errors.mean()
    if zero_grad:
        optimizer.zero_grad()
    loss.backward()
    if clip:
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
    optimizer.step()
    return loss.item() if item else loss


def evaluate(model, x, y, *, reduce="mean", train=False):
    if train:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        return train_step(model, optimizer, x, y, 1.0)
    with torch.no_grad():
        errors = (model(x) - y) ** 2
        return (errors.sum() if reduce == "sum" else errors.mean()).item()


def adding_problem(n, T, seed):
    """The notebook's global that a student's train_model calls; the check swaps in its own."""
    raise AssertionError("check_train_model must replace adding_problem by the reference")


def make_train_model(*, optimizer_per_step=False, schedule="after", batch_seed="k", convert=True):
    def train_model(model, steps, T, test_set, batch_size=64, lr=0.01, max_norm=1.0, seed=0,
                    eval_every=25):  # fmt: skip
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        parameter = next(model.parameters())
        x_test, y_test = (v.to(parameter) for v in test_set) if convert else test_set
        history = {"train_loss": [], "test_step": [], "test_mse": []}
        for k in range(steps):
            if optimizer_per_step:
                optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            x, y = adding_problem(batch_size, T, seed=seed + k if batch_seed == "k" else seed)
            history["train_loss"].append(
                train_step(model, optimizer, x.to(parameter), y.to(parameter), max_norm)
            )
            due = (k + 1) % eval_every == 0 if schedule == "after" else k % eval_every == 0
            if due:
                history["test_step"].append(k + 1 if schedule == "after" else k)
                history["test_mse"].append(evaluate(model, x_test, y_test))
        return history

    return train_model


def test_training_checks_pass_the_right_functions():
    check_train_step(train_step, seed=3)
    check_train_step(train_step, seed=4242, steps=4, T=7, batch_size=4, lr=0.03, max_norm=0.02)
    check_evaluate(evaluate, seed=5)
    history = check_train_model(make_train_model(), seed=6)
    assert history["test_step"] == [2, 4, 6] and len(history["train_loss"]) == 6
    assert adding_problem.__doc__.startswith("The notebook's global")  # restored afterwards


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"zero_grad": False}, ["zero_grad"]),
        ({"clip": False}, ["not clipped"]),
        ({"target": "column"}, ["broadcast"]),
        ({"item": False}, ["loss.item()"]),
        ({"reduce": "sum"}, ["sum of the squared errors"]),
    ],
)
def test_check_train_step_names_mistakes(switches, words):
    fails(words, check_train_step, lambda *args: train_step(*args, **switches), seed=3)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda m, x, y: evaluate(m, x, y, reduce="sum"), ["sum of the squared errors"]),
        (lambda m, x, y: evaluate(m, x, y, train=True), ["changed the model's parameters"]),
        (lambda m, x, y: torch.mean((m(x) - y) ** 2), ["Python float", "requires grad"]),
        (lambda m, x, y: evaluate(m, x, y[:, None]), ["broadcast"]),
    ],
)
def test_check_evaluate_names_mistakes(wrong, words):
    fails(words, check_evaluate, wrong, seed=5)


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"optimizer_per_step": True}, ["optimizer is created inside the loop"]),
        ({"schedule": "before"}, ["(k + 1) % eval_every == 0"]),
        ({"batch_seed": "fixed"}, ["same batch"]),
    ],
)
def test_check_train_model_names_mistakes(switches, words):
    fails(words, check_train_model, make_train_model(**switches), seed=6)


def test_check_train_model_explains_a_test_set_left_in_float32():
    unconverted = make_train_model(convert=False)
    fails(["float32 and float64 are mixed", "train_model"], check_train_model, unconverted, 6)
