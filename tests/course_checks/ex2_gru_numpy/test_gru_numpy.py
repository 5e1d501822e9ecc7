"""Unit tests of the NumPy GRU exercise's helpers (``gru_numpy_checks``, ``gru_wrong_answers``).

Fast (no kernels): each test feeds a check a right or a known-wrong implementation and checks the
verdict and the words of the message, and each wrong-answer switch is shown to change what it
claims to change, so that a helper that stops explaining itself (or explains wrongly) fails here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_checks.errors import CheckFailure
from course_checks.ex2_gru_numpy.gru_numpy import (
    GRADIENT_GROUPS,
    GRADIENT_NAMES,
    GRU_SHAPES,
    _call,
    check_candidate_state,
    check_gate,
    check_gru_backward,
    check_gru_cell,
    check_gru_forward,
    check_sigmoid,
    check_split_torch_weights,
    gradient_check,
    random_gru_case,
)
from course_checks.ex2_gru_numpy.references import (
    GRU_PARAMETER_NAMES,
    gru_params_from_torch,
    random_gru_params,
    torch_gru_cell_gates,
    torch_gru_gradients,
)
from course_checks.ex2_gru_numpy.wrong_answers import (
    BACKWARD_MISTAKES,
    CANDIDATE_MISTAKES,
    GATE_MISTAKES,
    INTERPOLATION_MISTAKES,
    backward_mistakes,
    candidate_mistakes,
    cell_mistakes,
    forward_mistakes,
    gate_mistakes,
    gru_backward_variant,
    gru_cell_variant,
    sigmoid_mistakes,
    split_mistakes,
)
from course_checks.variants import merge_identical

# ------------------------------------------------------------ a right GRU, written out here


def sigmoid(a):
    return 0.5 * (1 + np.tanh(a / 2))  # another stable form, independent of the helpers'


def reset_gate(x_t, h_prev, p):
    return sigmoid(x_t @ p["W_xr"] + h_prev @ p["W_hr"] + p["b_r"])


def update_gate(x_t, h_prev, p):
    return sigmoid(x_t @ p["W_xz"] + h_prev @ p["W_hz"] + p["b_z"])


def candidate_state(x_t, h_prev, r_t, p):
    return np.tanh(x_t @ p["W_xh"] + p["b_xh"] + r_t * (h_prev @ p["W_hh"] + p["b_hh"]))


def gru_cell_forward(x_t, h_prev, p):
    z = update_gate(x_t, h_prev, p)
    return z * h_prev + (1 - z) * candidate_state(x_t, h_prev, reset_gate(x_t, h_prev, p), p)


def gru_forward(x, h0, p):
    h, states = h0, []
    for x_t in x:
        h = gru_cell_forward(x_t, h, p)
        states.append(h)
    return np.stack(states)


def gru_backward(dhs, x, h0, hs, p):
    return gru_backward_variant(dhs, x, h0, hs, p)


def split_torch_weights(w_ih, w_hh, b_ih, b_hh):
    H = w_hh.shape[1]
    r, z, n = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    return {
        "W_xr": w_ih[r].T, "W_hr": w_hh[r].T, "b_r": b_ih[r] + b_hh[r],
        "W_xz": w_ih[z].T, "W_hz": w_hh[z].T, "b_z": b_ih[z] + b_hh[z],
        "W_xh": w_ih[n].T, "W_hh": w_hh[n].T, "b_xh": b_ih[n], "b_hh": b_hh[n],
    }  # fmt: skip


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f(x)
        x[index] = old - eps
        f_minus = f(x)
        x[index] = old
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


@pytest.fixture
def case():
    return random_gru_case(seed=0, T=3, B=2, D=3, H=4)


@pytest.fixture
def step():
    rng = np.random.default_rng(1)
    params = random_gru_params(rng, 3, 4)
    return rng.normal(size=(2, 3)), rng.normal(size=(2, 4)), params


def _message(function, *args, **kwargs) -> str:
    with pytest.raises(CheckFailure) as failure:
        function(*args, **kwargs)
    return str(failure.value)


# --------------------------------------------------------------------- gru_wrong_answers.py


def test_merge_identical_joins_equal_values_only():
    merged = merge_identical(
        {"a": np.ones(2), "b": np.ones(2) + 1e-13, "c": np.zeros(2), "n1": [np.nan], "n2": [np.nan]}
    )
    assert set(merged) == {"a; or: b", "c", "n1", "n2"}
    assert np.array_equal(merged["a; or: b"], np.ones(2))


def test_the_switchable_gru_is_right_without_switches(case, step):
    x_t, h_prev, params = step
    gates = torch_gru_cell_gates(x_t, h_prev, params)
    assert np.allclose(gru_cell_variant(x_t, h_prev, params), gates["h"], rtol=0, atol=1e-12)
    expected = torch_gru_gradients(case.x, case.h0, case.params, case.dhs)
    grads = gru_backward_variant(case.dhs, case.x, case.h0, case.hs, case.params)
    assert set(grads) == set(GRADIENT_NAMES)
    for key in GRADIENT_NAMES:
        assert np.allclose(grads[key], expected[key], rtol=0, atol=1e-12), key


def test_every_forward_switch_changes_the_value(step):
    x_t, h_prev, params = step
    right = torch_gru_cell_gates(x_t, h_prev, params)
    for gate in "rz":
        values = gate_mistakes(x_t, h_prev, params, gate)
        assert len(values) == len(GATE_MISTAKES)  # all distinct on generic inputs
        assert all(not np.allclose(v, right[gate]) for v in values.values())
    values = candidate_mistakes(x_t, h_prev, right["r"], params)
    assert len(values) == len(CANDIDATE_MISTAKES)
    assert all(not np.allclose(v, right["h_tilde"]) for v in values.values())
    for mistake in INTERPOLATION_MISTAKES:
        wrong = gru_cell_variant(x_t, h_prev, params, interpolation=mistake)
        assert not np.allclose(wrong, right["h"]), mistake
    cells = cell_mistakes(x_t, h_prev, params)
    swapped = gru_cell_variant(x_t, h_prev, params, interpolation="swapped")
    assert any("swapped" in t and np.allclose(v, swapped) for t, v in cells.items())
    # Without a previous state, every mistake in a recurrent term gives the right answer: merged.
    no_state = cell_mistakes(x_t, np.zeros_like(h_prev), params)
    merged = [
        t
        for t, v in no_state.items()
        if np.allclose(v, torch_gru_cell_gates(x_t, np.zeros_like(h_prev), params)["h"])
    ]
    assert (
        len(merged) == 1 and "W_hr is transposed" in merged[0] and "W_hh is transposed" in merged[0]
    )


def test_reset_before_and_b_hh_outside_only_show_when_the_reset_is_partial(step):
    x_t, h_prev, params = step
    ones = np.ones_like(h_prev)
    open_gate = candidate_mistakes(x_t, h_prev, ones, params)
    right = np.tanh(
        x_t @ params["W_xh"] + params["b_xh"] + h_prev @ params["W_hh"] + params["b_hh"]
    )
    texts = [t for t, v in open_gate.items() if np.allclose(v, right)]
    assert any("before the matrix product" in t and "outside the reset" in t for t in texts)


def test_every_backward_switch_changes_some_gradient(case):
    right = torch_gru_gradients(case.x, case.h0, case.params, case.dhs)
    wrong = backward_mistakes(case.dhs, case.x, case.h0, case.hs, case.params)
    for text in BACKWARD_MISTAKES:
        changed = [
            key
            for key, mistakes in wrong.items()
            for merged, value in mistakes.items()
            if text in merged.split("; or: ")
            and (np.shape(value) != right[key].shape or not np.allclose(value, right[key]))
        ]
        assert changed, f"switch changes nothing: {text}"


def test_forward_mistakes_cover_bookkeeping_and_axes():
    case = random_gru_case(seed=3, T=3, B=3, D=2, H=5)  # B = T: x[:, t] runs
    wrong = forward_mistakes(case.x, case.h0, case.params)
    last = [t for t in wrong if t.startswith("only the last state")]
    assert last and np.allclose(wrong[last[0]], case.hs[-1])
    assert any("x[:, t]" in t for t in wrong)
    short = random_gru_case(seed=3, T=5, B=2, D=2, H=3)  # B < T: T read from the batch axis
    wrong = forward_mistakes(short.x, short.h0, short.params)
    batch_axis = [t for t in wrong if "batch axis" in t]
    assert batch_axis and np.allclose(wrong[batch_axis[0]], short.hs[:2])


def test_split_mistakes_name_orders_transposes_and_biases():
    torch.manual_seed(0)
    gru = torch.nn.GRU(3, 4, dtype=torch.float64)
    stacked = [p.detach().numpy() for p in (gru.weight_ih_l0, gru.weight_hh_l0)]
    biases = [p.detach().numpy() for p in (gru.bias_ih_l0, gru.bias_hh_l0)]
    wrong = split_mistakes(*stacked, *biases)
    right = gru_params_from_torch(gru)
    assert set(wrong) == set(GRU_PARAMETER_NAMES)
    texts = {
        t for mistakes in wrong.values() for merged in mistakes for t in merged.split("; or: ")
    }
    for text in texts:  # each mistake gets some parameter wrong
        assert any(
            text in merged.split("; or: ")
            and (np.shape(value) != right[name].shape or not np.allclose(value, right[name]))
            for name, mistakes in wrong.items()
            for merged, value in mistakes.items()
        ), text
    from_z = [v for t, v in wrong["W_xr"].items() if "rows H:2H of weight_ih" in t]
    assert from_z and np.allclose(from_z[0], stacked[0][4:8].T)
    assert any("sum" in t for t in wrong["b_r"])
    # One description per value: no parameter lists several orders as alternatives.
    assert not any("; or: " in t for mistakes in wrong.values() for t in mistakes)


def test_sigmoid_mistakes():
    a = np.linspace(-3, 3, 7)
    wrong = sigmoid_mistakes(a)
    sign = [v for t, v in wrong.items() if "sign" in t]
    assert sign and np.allclose(sign[0], 1 / (1 + np.exp(a)))


# --------------------------------------------------------------------- gru_numpy_checks.py


def test_check_sigmoid_accepts_a_stable_sigmoid_and_explains_overflow():
    check_sigmoid(sigmoid, seed=0, shape=(3, 4))
    message = _message(check_sigmoid, lambda a: 1 / (1 + np.exp(-a)), seed=0, shape=(3, 4))
    assert "overflow" in message and "stable" in message
    assert "sign" in _message(check_sigmoid, lambda a: sigmoid(-a), seed=0, shape=(3, 4))

    def in_place(a):
        a *= 1.0
        a[...] = sigmoid(a)
        return a

    assert "in place" in _message(check_sigmoid, in_place, seed=0, shape=(3, 4))


def test_check_gate_names_gate_mistakes():
    check_gate(reset_gate, "r", seed=1, B=2, D=3, H=4)
    check_gate(update_gate, "z", seed=1, B=2, D=3, H=4)

    def no_bias(x_t, h_prev, p):
        return sigmoid(x_t @ p["W_xr"] + h_prev @ p["W_hr"])

    def mixed_up(x_t, h_prev, p):
        return sigmoid(x_t @ p["W_xr"] + h_prev @ p["W_hz"] + p["b_z"])

    assert "bias b_r is missing" in _message(check_gate, no_bias, "r", seed=1, B=2, D=3, H=4)
    assert "mixed up" in _message(check_gate, mixed_up, "z", seed=1, B=2, D=3, H=4)
    message = _message(check_gate, reset_gate, "z", seed=1, B=2, D=3, H=4)
    assert "mixed up" in message and "update gate" in message


def test_check_candidate_state_tells_where_the_reset_goes():
    check_candidate_state(candidate_state, seed=3, B=2, D=3, H=4)

    def before(x_t, h_prev, r_t, p):
        return np.tanh(x_t @ p["W_xh"] + p["b_xh"] + (r_t * h_prev) @ p["W_hh"] + p["b_hh"])

    def outside(x_t, h_prev, r_t, p):
        return np.tanh(x_t @ p["W_xh"] + p["b_xh"] + r_t * (h_prev @ p["W_hh"]) + p["b_hh"])

    args = {"seed": 3, "B": 2, "D": 3, "H": 4}
    assert "before the matrix product" in _message(check_candidate_state, before, **args)
    assert "outside the reset" in _message(check_candidate_state, outside, **args)


def test_check_gru_cell_names_the_interpolation():
    check_gru_cell(gru_cell_forward, seed=4, B=2, D=3, H=4)

    def swapped(x_t, h_prev, p):
        z = update_gate(x_t, h_prev, p)
        return (1 - z) * h_prev + z * candidate_state(x_t, h_prev, reset_gate(x_t, h_prev, p), p)

    assert "swapped" in _message(check_gru_cell, swapped, seed=4, B=2, D=3, H=4)
    float32 = _message(
        check_gru_cell, lambda *a: gru_cell_forward(*a).astype(np.float32), seed=4, B=2, D=3, H=4
    )
    assert "float32" in float32


def test_check_gru_forward(case):
    check_gru_forward(gru_forward, case)
    assert "last state" in _message(check_gru_forward, lambda *a: gru_forward(*a)[-1], case)


def test_check_split_torch_weights():
    check_split_torch_weights(split_torch_weights, seed=7, D=3, H=4)

    def keras_order(w_ih, w_hh, b_ih, b_hh):
        H = w_hh.shape[1]
        order = np.r_[H : 2 * H, 0:H, 2 * H : 3 * H]
        return split_torch_weights(w_ih[order], w_hh[order], b_ih[order], b_hh[order])

    message = _message(check_split_torch_weights, keras_order, seed=7, D=3, H=4)
    assert "wrong order (z, r, n)" in message and "or:" not in message

    def one_block_from_z(w_ih, w_hh, b_ih, b_hh):
        H = w_hh.shape[1]
        params = split_torch_weights(w_ih, w_hh, b_ih, b_hh)
        return {**params, "W_xr": w_ih[H : 2 * H].T}

    message = _message(check_split_torch_weights, one_block_from_z, seed=7, D=3, H=4)
    assert "W_xr was read from rows H:2H of weight_ih, which hold the update gate z" in message


def test_check_gru_backward_passes_right_and_names_wrong_gradients(case):
    for group in GRADIENT_GROUPS:
        check_gru_backward(gru_backward, group, case)

    def no_direct_path(*args):
        return gru_backward_variant(*args, direct=False)

    assert "direct path" in _message(check_gru_backward, no_direct_path, "dh0", case)
    assert "without the key" in _message(check_gru_backward, lambda *a: {"dx": 0}, "dx", case)


def test_check_gru_backward_points_at_a_wrong_gate_function(case):
    namespace = {"np": np, "gru_backward_variant": gru_backward_variant}
    exec(  # a notebook whose reset_gate lacks its bias, and whose backward pass uses it
        "def reset_gate(x_t, h_prev, p):\n"
        "    return 1 / (1 + np.exp(-(x_t @ p['W_xr'] + h_prev @ p['W_hr'])))\n"
        "def gru_backward(dhs, x, h0, hs, p):\n"
        "    return gru_backward_variant(dhs, x, h0, hs, {**p, 'b_r': 0 * p['b_r']})\n",
        namespace,
    )
    message = _message(check_gru_backward, namespace["gru_backward"], "dh0", case)
    assert "your reset_gate does not match PyTorch" in message
    assert "bias b_r is missing" in message


def test_a_gate_test_is_not_charged_for_another_gates_derivative():
    # Several steps: a wrong update-gate derivative reaches the reset gate's gradients through
    # time, unless the reset gate's case zeroes W_hz and W_hh, as the notebook promises.
    case = random_gru_case(seed=11, T=4, B=2, D=3, H=4)

    def wrong_update_derivative(*args):
        return gru_backward_variant(*args, dsigmoid="z")

    check_gru_backward(wrong_update_derivative, "reset", case)
    check_gru_backward(wrong_update_derivative, "candidate", case)
    message = _message(check_gru_backward, wrong_update_derivative, "update", case)
    assert "sigmoid derivative of the update gate" in message

    # dx collects every path: when no catalogued mistake explains it, its message says which
    # other gradients are wrong too (the evidence), and names no cause.
    def dx_and_dW_xz_off(*args):
        grads = gru_backward(*args)
        return {**grads, "dx": 1.01 * grads["dx"], "dW_xz": 1.01 * grads["dW_xz"]}

    message = _message(check_gru_backward, dx_and_dW_xz_off, "dx", case)
    assert "match PyTorch's and dW_xz does not" in message


def test_a_crash_is_charged_to_the_gradient_of_the_line_that_raised(capsys):
    case = random_gru_case(seed=11, T=4, B=2, D=3, H=4)
    right = gru_backward(case.dhs, case.x, case.h0, case.hs, case.params)
    assert right["dW_xr"].shape == (3, 4)

    def crashes_on_db_r(dhs, x, h0, hs, p):
        grads = gru_backward(dhs, x, h0, hs, p)
        B, H = h0.shape
        db_r = np.zeros(H)
        db_r += np.ones(B)  # the slip: a sum over the wrong axis, (B,) into (H,)
        return {**grads, "db_r": db_r}

    message = _message(check_gru_backward, crashes_on_db_r, "reset", case)
    assert "db_r += np.ones(B)" in message and "shapes (4,), (2,) and (4,)" in message
    check_gru_backward(crashes_on_db_r, "update", case)  # checked again with B = D = H
    assert "B = D = H = 4 instead" in capsys.readouterr().out

    def crashes_on_its_state(dhs, x, h0, hs, p):
        dh_next = np.zeros((h0.shape[1], h0.shape[0]))  # an intermediate every gradient needs
        dh_next += h0
        return gru_backward(dhs, x, h0, hs, p)

    # A line that computes no gradient of the dict: every test reports it.
    assert "dh_next += h0" in _message(check_gru_backward, crashes_on_its_state, "update", case)


def test_gradient_check_passes_and_names_float32_and_backward_mistakes(case):
    errors = gradient_check(gru_forward, gru_backward, case)
    assert set(errors) == set(GRADIENT_NAMES) and max(errors.values()) < 1e-7
    assert gradient_check(gru_forward, gru_backward, seed=21, T=3, B=2, D=3, H=4)

    def rounded(*args):
        return gru_forward(*args).astype(np.float32).astype(np.float64)

    message = _message(gradient_check, rounded, gru_backward, case)
    assert "float32" in message and "float64" in message

    def tanh_derivative(*args):
        return gru_backward_variant(*args, dtanh="1-h")

    message = _message(gradient_check, gru_forward, tanh_derivative, case)
    assert "tanh derivative" in message


def test_gradient_check_never_trusts_a_numerical_gradient_of_the_notebook(case):
    """Red team (9): a zero backward pass and a zero numerical_gradient agreed, and passed."""

    def zeros_backward(dhs, x, h0, hs, params):
        return {"dx": np.zeros_like(x), "dh0": np.zeros_like(h0)} | {
            "d" + name: np.zeros_like(value) for name, value in params.items()
        }

    assert "Gradient check for" in _message(gradient_check, gru_forward, zeros_backward, case)


def test_call_gives_the_gru_shapes_after_a_shape_error():
    message = _message(_call, np.matmul, np.ones((2, 3)), np.ones((2, 3)))
    assert GRU_SHAPES in message and "W_h is (H, H)" not in message

    def stub(x):
        raise NotImplementedError()

    assert "stub is not implemented yet" in _message(_call, stub, 1)
