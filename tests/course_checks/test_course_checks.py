"""Unit tests of ``course_checks``, the helpers that the exercises' test cells call.

Fast (no kernels): each test feeds a helper a right or a known-wrong answer and checks the verdict
and the words of the message, so that a helper that stops explaining itself fails here first.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_checks import (
    CheckFailure,
    call,
    check_close,
    check_gradient,
    check_true,
    expect_keys,
    expect_tuple,
    forbid_calls,
    rel_error,
    worst_entry,
)
from course_checks.calls import crash_target
from course_checks.ex1_rnn.references import (
    numpy_weights_from_torch,
    random_rnn_case,
    torch_clip_grad_norm,
    torch_hidden_gradient_norms,
    torch_rnn_cell_forward,
    torch_rnn_forward,
    torch_rnn_gradients,
)
from course_checks.ex1_rnn.rnn_numpy import check_rnn_backward
from course_checks.ex1_rnn.rnn_torch import (
    RNN_BUILTINS,
    check_loaded_weights,
    check_module_gradients,
    check_no_builtin_rnn_modules,
    check_rnn_outputs,
    check_rnn_parameters,
    check_torch_rnn_step,
    no_builtin_rnn,
    run_rnn_module,
    set_rnn_parameters,
)
from course_checks.ex1_rnn.wrong_answers import (
    _backward,
    _batch_major_forward,
    backward_mistakes,
    cell_mistakes,
    clip_mistakes,
    finite_difference_mistakes,
    forward_mistakes,
    gradient_norm_mistakes,
    load_mistakes,
)


def numpy_forward(x, h0, W_x, W_h, b):
    """The RNN written out independently of torch, to test the torch-based references."""
    h, states = h0, []
    for x_t in x:
        h = np.tanh(x_t @ W_x + h @ W_h + b)
        states.append(h)
    return np.stack(states)


class TinyRNN(nn.Module):
    """A correct from-scratch module, the yardstick for the module checks."""

    def __init__(self, input_size, hidden_size, dtype=torch.float64, detach=False, cell=False):
        super().__init__()
        self.hidden_size, self.detach = hidden_size, detach
        bound = 1 / math.sqrt(hidden_size)
        self.W_x = nn.Parameter(
            torch.empty(input_size, hidden_size, dtype=dtype).uniform_(-bound, bound)
        )
        self.W_h = nn.Parameter(
            torch.empty(hidden_size, hidden_size, dtype=dtype).uniform_(-bound, bound)
        )
        self.b = nn.Parameter(torch.empty(hidden_size, dtype=dtype).uniform_(-bound, bound))
        if cell:
            self.cell = nn.RNNCell(input_size, hidden_size, dtype=dtype)

    def forward(self, x, h0=None):
        if h0 is None:
            h = torch.zeros(x.shape[1], self.hidden_size, dtype=x.dtype, device=x.device)
        else:
            h = h0[0]  # nn.RNN's layout: h0 and h_n are (1, B, H)
        states = []
        for x_t in x:
            if self.detach == "every step":
                h = h.detach()
            h = torch.tanh(x_t @ self.W_x + h @ self.W_h + self.b)
            states.append(h)
            if self.detach is True:
                h = h.detach()
        return torch.stack(states), states[-1][None]


@pytest.fixture
def case():
    return random_rnn_case(seed=0, T=4, B=2, D=3, H=5)


# ------------------------------------------------------------------------------- compare.py


def test_rel_error_is_one_ratio_of_norms_per_array():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # ‖(0, 2)‖ / (‖(1, 3)‖ + ‖(1, 1)‖)
    expected = 2.0 / (math.sqrt(10.0) + math.sqrt(2.0))
    assert rel_error(np.array([1.0, 3.0]), np.array([1.0, 1.0])) == pytest.approx(expected)
    # Both arrays tiny: the 1e-12 floor keeps the error finite.
    assert rel_error(np.array([0.0]), np.array([1e-13])) == pytest.approx(0.1)
    assert rel_error(torch.tensor([2.0]), np.array([2.0])) == 0.0
    # One tiny entry with a large relative error no longer decides: the old element-wise rule
    # gave 0.2 here, the norm of the whole array gives 4e-11.
    a = np.array([1.0, -2.0, 2.5e-5])
    assert rel_error(a, a + np.array([0.0, 0.0, 1e-5])) < 1e-5
    assert np.isnan(rel_error(np.array([np.nan]), np.array([1.0])))


def test_worst_entry_is_the_largest_difference():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    b = a + np.array([[0.0, 1e-9], [-3e-9, 0.0]])
    assert worst_entry(a, b) == ((1, 0), 3.0, 3.0 - 3e-9)


def test_check_close_accepts_equal_values_and_names_the_quantity_otherwise():
    check_close("h", np.ones(3), np.ones(3))
    with pytest.raises(CheckFailure, match=r"h_t has the right shape \(3,\) but the wrong value"):
        check_close("h_t", np.array([1.0, 2.0, 3.0]), np.ones(3))
    with pytest.raises(CheckFailure, match="total_norm has a number but the wrong value"):
        check_close("total_norm", 2.0, 1.0)


def test_check_close_names_a_matching_mistake_but_not_an_invisible_one():
    expected = np.array([1.0, 2.0])
    with pytest.raises(CheckFailure, match="Likely mistake: the bias is missing"):
        check_close("h", np.array([0.0, 1.0]), expected, mistakes={"the bias is missing": [0, 1]})
    # A "mistake" that equals the right answer explains nothing and must not be named.
    with pytest.raises(CheckFailure) as failure:
        check_close("h", np.array([5.0, 5.0]), expected, mistakes={"invisible": expected})
    assert "Likely mistake" not in str(failure.value)


def test_check_close_names_an_unstable_formula_by_its_nans_only_when_asked():
    """Exercise 5's log-softmax: inf / inf = NaN where the student's code overflows."""
    expected = np.array([-0.5, -1000.0, -2000.0])
    unstable = np.array([np.nan, -np.inf, -np.inf])
    mistakes = {"exp(u) overflows": unstable, "another": np.array([np.nan, -np.inf, 0.0])}
    with pytest.raises(CheckFailure) as failure:
        check_close("log_softmax(u)", unstable.copy(), expected, mistakes=mistakes)
    assert "Likely mistake" not in str(failure.value) and "NaN" in str(failure.value)
    with pytest.raises(CheckFailure, match=r"Likely mistake: exp\(u\) overflows\. Your result"):
        check_close(
            "log_softmax(u)", unstable.copy(), expected, mistakes=mistakes, nan_matches=True
        )


@pytest.mark.parametrize(
    ("got", "words"),
    [
        (None, "returned None"),
        (np.ones((4, 3)), "transposed"),
        (np.ones(3, dtype=np.float32), "float32"),
        (np.array([np.nan, 1.0, 1.0]), "NaN"),
        ([np.ones(3), np.ones(3)], "np.stack"),
        ([torch.ones(3)], "torch.stack"),
        (torch.ones(3, dtype=torch.float64), "expected a NumPy array"),
    ],
)
def test_check_close_explains_each_kind_of_wrong_answer(got, words):
    expected = np.ones((3, 4)) if words == "transposed" else np.ones(3)
    with pytest.raises(CheckFailure, match=words.replace(".", r"\.")):
        check_close("q", got, expected, kind="numpy" if "NumPy" in words else None)


def test_check_close_names_every_mistake_that_gives_the_same_value():
    expected = np.array([1.0, 2.0])
    same = np.array([0.0, 1.0])
    with pytest.raises(CheckFailure) as failure:
        check_close("h", same, expected, mistakes={"reset before": same, "b_hn outside": same})
    message = str(failure.value)
    assert "one of these" in message and "reset before" in message and "b_hn outside" in message
    # Merged descriptions ("A; or: B") are listed one per line.
    with pytest.raises(CheckFailure) as failure:
        check_close("h", same, expected, mistakes={"first; or: second": same})
    assert "- first" in str(failure.value) and "- second" in str(failure.value)


def test_check_close_shows_enough_digits_to_see_a_small_difference():
    expected = np.array([2.121320343559642, -1.1441228056353687, 0.5])
    got = expected + np.array([0.0, 3e-8, 0.0])
    with pytest.raises(CheckFailure) as failure:
        check_close("h", got, expected, atol=1e-8)
    message = str(failure.value)
    assert "largest difference 3e-08 at index (1,)" in message
    assert "expected -1.144122806, got -1.144122776" in message  # they differ in print
    assert "the first is at index (1,)" in message


def test_check_close_says_float32_when_the_answer_is_right_to_float32():
    expected = np.array([0.123456789012, 1.5, -2.25])
    forward_difference = expected + 1e-6  # what a one-sided difference gives, say
    with pytest.raises(CheckFailure) as failure:
        check_close(
            "g",
            expected.astype(np.float32),
            expected,
            atol=1e-8,
            mistakes={"a forward difference": forward_difference},
        )
    message = str(failure.value)
    assert "float32" in message and "forward difference" not in message


def test_call_quotes_the_students_line_that_raised():
    def shapes_slip(a, b):
        total = a + b  # the line that raises
        return total

    with pytest.raises(CheckFailure) as failure:
        call(shapes_slip, np.ones((2, 4)), np.ones(3))
    message = str(failure.value)
    assert "total = a + b  # the line that raises" in message
    assert "shapes (2,4) and (3,)" in message

    def unpacks(pair):
        h, c, extra = pair
        return h + c + extra

    with pytest.raises(CheckFailure) as failure:
        call(unpacks, (1, 2))
    assert "h, c, extra = pair" in str(failure.value)
    assert "unpacks a value that holds 2 item(s) into 3 names" in str(failure.value)


def test_crash_target_reads_the_name_that_the_raising_line_assigns():
    def message(line: str) -> str:
        return (
            "f raised ValueError: boom\n  It was called with: x.\n"
            f"  The error came from this line of your f (line 3 of its cell):\n      {line}\n"
        )

    assert crash_target(message("db += da.sum(axis=1)")) == "db"
    assert crash_target(message("dx[t] = da @ W_x")) == "dx"
    assert crash_target(message('grads["W_xr"] += x[t].T @ da_r')) == "W_xr"
    assert crash_target(message("return {'db': db}")) is None
    assert crash_target("dx from rnn_backward is wrong") is None


def test_check_rnn_backward_charges_a_crash_to_its_own_gradient(case, capsys):
    def db_slip(dhs, x, h0, hs, W_x, W_h):
        grads = _backward(dhs, x, h0, hs, W_x, W_h)
        db = np.zeros(W_h.shape[0])
        db += dhs[0].sum(axis=1)  # (B,) into (H,): raises when B != H
        return grads

    with pytest.raises(CheckFailure, match=r"db \+= dhs\[0\]\.sum\(axis=1\)"):
        check_rnn_backward(db_slip, "db", case)
    check_rnn_backward(db_slip, "dW_x", case)  # checked again with B = D = H
    assert "on the line that computes db" in capsys.readouterr().out


def test_call_turns_warnings_and_stderr_into_a_note_on_stdout(capsys):
    import sys
    import warnings

    def noisy():
        warnings.warn("careful", UserWarning, stacklevel=1)
        print("debug", file=sys.stderr)
        return 3

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # as in a kernel: shown once per place
        assert call(noisy) == 3
    out, err = capsys.readouterr()
    assert err == ""
    assert "Note (no points lost): while the test ran" in out
    assert "UserWarning: careful" in out and "it wrote to stderr: debug" in out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a filter that raises still raises
        with pytest.raises(CheckFailure, match="UserWarning: careful"):
            call(noisy)


def test_check_close_names_float32_mistakes_with_a_float32_tolerance():
    wrong = np.array([0.1, 0.2, 0.3])
    with pytest.raises(CheckFailure, match="Likely mistake: sigmoid"):
        check_close("h", wrong.astype(np.float32), np.ones(3), mistakes={"sigmoid": wrong})


def test_call_returns_the_value_and_explains_errors():
    assert call(lambda a, b: a + b, 1, 2) == 3

    def stub(x):
        raise NotImplementedError()

    with pytest.raises(CheckFailure, match="stub is not implemented yet"):
        call(stub, 1)
    with pytest.raises(CheckFailure, match="time-major") as failure:
        call(np.matmul, np.ones((2, 3)), np.ones((2, 3)))
    assert "array(2, 3) float64" in str(failure.value)
    with pytest.raises(CheckFailure, match=r"\(3, 4\) and \(4, 3\) are transposes"):
        call(np.add, np.ones((3, 4)), np.ones((4, 3)))
    with pytest.raises(CheckFailure, match="weight_ih_l0 is"):
        call(torch.ones(3, 4).copy_, torch.ones(4, 3))
    with pytest.raises(CheckFailure, match="float32"):
        call(torch.matmul, torch.ones(2, 2), torch.ones(2, 2, dtype=torch.float64))
    parameter = nn.Parameter(torch.ones(2))
    with pytest.raises(CheckFailure, match="no_grad"):
        call(parameter.copy_, torch.zeros(2))
    with pytest.raises(CheckFailure, match=r"^own words$"):  # passes through unchanged
        call(lambda: check_true(False, "own words"))


def test_call_names_a_module_by_its_class_and_forward():
    layer = nn.Linear(2, 3)
    with pytest.raises(CheckFailure, match=r"^Linear\.forward raised"):
        call(layer, torch.ones(4, 5))


def test_expect_keys_and_expect_tuple():
    assert expect_keys({"a": 1, "b": 2}, ("a", "b"), "f")["b"] == 2
    with pytest.raises(CheckFailure, match="without the key"):
        expect_keys({"a": 1}, ("a", "b"), "f")
    with pytest.raises(CheckFailure, match="must return a dict"):
        expect_keys([1, 2], ("a",), "f")
    assert expect_tuple([1, 2], ("hs", "h_T"), "f") == (1, 2)
    with pytest.raises(CheckFailure, match=r"single Tensor of shape \(2, 3\)"):
        expect_tuple(torch.ones(2, 3), ("hs", "h_T"), "f")
    with pytest.raises(CheckFailure, match="returned 3"):
        expect_tuple((1, 2, 3), ("hs", "h_T"), "f")


def test_check_gradient_prints_passes_and_blames_the_right_side(capsys):
    a = np.array([1.0, 2.0, 3.0])
    assert check_gradient("dW", a, a + 1e-12) < 1e-7
    assert "dW: relative error" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match="must be below 1e-07"):
        check_gradient("dW", a, 2 * a)
    with pytest.raises(CheckFailure, match="backward pass: tanh"):
        check_gradient("dW", 2 * a, a, analytic_mistakes={"tanh": 2 * a})
    with pytest.raises(CheckFailure, match="numerical gradient: one-sided"):
        check_gradient("dW", a, a + 1e-3, numeric_mistakes={"one-sided": a + 1e-3})
    with pytest.raises(CheckFailure, match="has shape"):
        check_gradient("db", np.ones((2, 3)), np.ones(3))
    with pytest.raises(CheckFailure):  # NaN is not below the threshold
        check_gradient("db", np.array([np.nan]), np.array([1.0]))
    with pytest.raises(CheckFailure) as failure:  # the worst entry is shown, as a diagnostic
        check_gradient("dW", a, a + np.array([0.0, 1e-3, 0.0]))
    assert "largest difference at index (1,): analytic 2, numerical 2.001" in str(failure.value)
    with pytest.raises(CheckFailure, match="numerical gradient is float32"):
        check_gradient("dW", a, (a + 1e-3).astype(np.float32))


def test_check_gradient_accepts_a_tiny_entry_with_a_large_relative_error():
    # The case that the element-wise rule rejected: one entry of 2.5e-5 off by 8e-11.
    analytic = np.array([[0.3, -1.2], [2.5e-5, 0.8]])
    numeric = analytic + np.array([[1e-12, 0.0], [8e-11, -1e-12]])
    assert check_gradient("dW_hr", analytic, numeric) < 1e-10


# -------------------------------------------------------------------------------- guards.py


def test_forbid_calls_blocks_builtin_rnns_by_any_name_and_restores_them():
    from torch import rnn_tanh_cell  # bound before the guard: only the function mode sees it

    rnn = nn.RNN(3, 4, dtype=torch.float64)
    x = torch.ones(2, 1, 3, dtype=torch.float64)
    h = torch.zeros(1, 4, dtype=torch.float64)
    weights = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    attempts = {
        "torch.nn.RNN.forward": lambda: rnn(x),
        "torch.nn.RNNCell.forward": lambda: nn.RNNCell(3, 4, dtype=torch.float64)(x[0]),
        "torch.rnn_tanh_cell": lambda: torch.rnn_tanh_cell(x[0], h, *weights),
        "alias": lambda: rnn_tanh_cell(x[0], h, *weights),
        "C function": lambda: torch._C._VariableFunctions.rnn_tanh_cell(x[0], h, *weights),
        "functional_call": lambda: torch.func.functional_call(
            rnn, dict(rnn.named_parameters()), (x,)
        ),
    }
    with forbid_calls(RNN_BUILTINS, "Not allowed."):
        assert torch.tanh(x @ torch.ones(3, 4, dtype=torch.float64)).shape == (2, 1, 4)
        for label, attempt in attempts.items():
            with pytest.raises(CheckFailure, match=r"Your code called torch.*Not allowed\."):
                attempt()
            del label
    assert rnn(x)[0].shape == (2, 1, 4)  # everything is restored after the block
    assert rnn_tanh_cell(x[0], h, *weights).shape == (1, 4)


def test_no_builtin_rnn_names_the_rule():
    with pytest.raises(CheckFailure, match=r"yourself: nn\.RNN, nn\.RNNCell"), no_builtin_rnn():
        nn.RNNCell(2, 3)(torch.ones(1, 2))


def test_check_no_builtin_rnn_modules():
    check_no_builtin_rnn_modules(TinyRNN(2, 3))
    with pytest.raises(CheckFailure, match=r"self\.cell is an nn\.RNNCell"):
        check_no_builtin_rnn_modules(TinyRNN(2, 3, cell=True))
    with pytest.raises(CheckFailure, match=r"nn\.GRU"):
        check_no_builtin_rnn_modules(nn.Sequential(nn.GRU(2, 3)))


# ---------------------------------------------------------------------------- references.py


def test_references_follow_the_course_layout(case):
    x, h0, (W_x, W_h, b) = case.x, case.h0, case.weights
    np.testing.assert_allclose(
        torch_rnn_forward(x, h0, W_x, W_h, b), numpy_forward(x, h0, W_x, W_h, b), atol=1e-12
    )
    np.testing.assert_allclose(case.hs, numpy_forward(x, h0, W_x, W_h, b), atol=1e-12)
    np.testing.assert_allclose(
        torch_rnn_cell_forward(x[0], h0, W_x, W_h, b),
        np.tanh(x[0] @ W_x + h0 @ W_h + b),
        atol=1e-12,
    )


def test_numpy_weights_from_torch_inverts_torch_rnn_from_numpy(case):
    rnn = nn.RNN(3, 5, dtype=torch.float64)
    W_x, W_h, b = numpy_weights_from_torch(rnn)
    assert (W_x.shape, W_h.shape, b.shape) == ((3, 5), (5, 5), (5,))
    x = torch.from_numpy(case.x)
    with torch.no_grad():
        np.testing.assert_allclose(
            rnn(x, torch.from_numpy(case.h0)[None])[0].numpy(),
            numpy_forward(case.x, case.h0, W_x, W_h, b),
            atol=1e-12,
        )
    from course_checks.ex1_rnn.references import torch_rnn_from_numpy

    for got, want in zip(
        numpy_weights_from_torch(torch_rnn_from_numpy(*case.weights)), case.weights, strict=True
    ):
        np.testing.assert_array_equal(got, want)


def test_check_loaded_weights_names_a_forgotten_bias():
    torch.manual_seed(0)
    rnn, model = nn.RNN(3, 5, dtype=torch.float64), TinyRNN(3, 5)
    with torch.no_grad():
        model.W_x.copy_(rnn.weight_ih_l0.T)
        model.W_h.copy_(rnn.weight_hh_l0.T)
        model.b.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)
    check_loaded_weights(model, rnn)
    with torch.no_grad():
        model.b.copy_(rnn.bias_ih_l0)
    with pytest.raises(CheckFailure, match="bias_hh_l0 is missing"):
        check_loaded_weights(model, rnn)
    with torch.no_grad():
        model.W_h.copy_(rnn.weight_hh_l0)
    with pytest.raises(CheckFailure, match="without transposing"):
        check_loaded_weights(model, rnn)


def test_random_rnn_case_is_reproducible_and_shaped():
    one, two = random_rnn_case(3, T=2, B=4, D=5, H=6), random_rnn_case(3, T=2, B=4, D=5, H=6)
    assert one.sizes == (2, 4, 5, 6)
    assert [a.shape for a in (one.x, one.h0, one.W_x, one.W_h, one.b, one.dhs, one.hs)] == [
        (2, 4, 5), (4, 6), (5, 6), (6, 6), (6,), (2, 4, 6), (2, 4, 6)
    ]  # fmt: skip
    np.testing.assert_array_equal(one.W_h, two.W_h)
    assert not np.array_equal(one.x, random_rnn_case(4, T=2, B=4, D=5, H=6).x)


def test_torch_rnn_gradients_match_finite_differences(case):
    x, h0, (W_x, W_h, b), dhs = case.x, case.h0, case.weights, case.dhs
    grads = torch_rnn_gradients(x, h0, W_x, W_h, b, dhs)
    assert {k: v.shape for k, v in grads.items()} == {
        "dx": x.shape, "dh0": h0.shape, "dW_x": W_x.shape, "dW_h": W_h.shape, "db": b.shape
    }  # fmt: skip
    for name, array in (("dW_h", W_h), ("db", b), ("dh0", h0)):
        index = (0,) * array.ndim
        old, eps = array[index], 1e-6
        array[index] = old + eps
        plus = np.sum(dhs * numpy_forward(x, h0, W_x, W_h, b))
        array[index] = old - eps
        minus = np.sum(dhs * numpy_forward(x, h0, W_x, W_h, b))
        array[index] = old
        assert grads[name][index] == pytest.approx((plus - minus) / (2 * eps), rel=1e-6)


def test_torch_hidden_gradient_norms_follow_the_recursion(case):
    dh_T = case.dhs[-1]
    norms = torch_hidden_gradient_norms(case.x, case.h0, *case.weights, dh_T)
    assert norms.shape == (4,)
    assert norms[0] == pytest.approx(np.linalg.norm(dh_T))
    one_back = (dh_T * (1 - case.hs[-1] ** 2)) @ case.W_h.T
    assert norms[1] == pytest.approx(np.linalg.norm(one_back))


def test_torch_clip_grad_norm_rescales_copies_only_above_max_norm():
    grads = {"a": np.full(4, 3.0), "b": np.full(1, 4.0)}  # global norm sqrt(36 + 16)
    clipped, total = torch_clip_grad_norm(grads, max_norm=1.0)
    assert total == pytest.approx(math.sqrt(52))
    assert math.sqrt(sum(np.sum(g**2) for g in clipped.values())) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_array_equal(grads["a"], np.full(4, 3.0))
    unchanged, _ = torch_clip_grad_norm(grads, max_norm=100.0)
    np.testing.assert_array_equal(unchanged["b"], grads["b"])


# ------------------------------------------------------------------------- wrong_answers.py


def test_backward_baseline_is_the_right_answer(case):
    expected = torch_rnn_gradients(case.x, case.h0, *case.weights, case.dhs)
    got = _backward(case.dhs, case.x, case.h0, case.hs, case.W_x, case.W_h)
    for key, value in expected.items():
        np.testing.assert_allclose(got[key], value, atol=1e-12)


def test_every_catalogued_wrong_answer_is_visible_on_a_random_case(case):
    """A wrong answer equal to the right one could never be named; each must differ somewhere."""
    x, h0, (W_x, W_h, b), hs = case.x, case.h0, case.weights, case.hs

    def differs(wrong, right):
        return np.shape(wrong) != np.shape(right) or not np.allclose(wrong, right, atol=1e-6)

    for text, wrong in cell_mistakes(x[0], h0, W_x, W_h, b).items():
        assert differs(wrong, torch_rnn_cell_forward(x[0], h0, W_x, W_h, b)), text
    for text, wrong in forward_mistakes(x, h0, W_x, W_h, b).items():
        assert differs(wrong, hs), text
    expected = torch_rnn_gradients(x, h0, W_x, W_h, b, case.dhs)
    per_quantity = backward_mistakes(case.dhs, x, h0, hs, W_x, W_h)
    for text in per_quantity["dW_h"]:
        assert any(differs(per_quantity[k][text], expected[k]) for k in expected), text
    norms = torch_hidden_gradient_norms(x, h0, W_x, W_h, b, case.dhs[-1])
    for text, wrong in gradient_norm_mistakes(case.dhs[-1], hs, W_h).items():
        assert differs(wrong, norms), text
    grads = {"dW_x": W_x, "dW_h": W_h, "db": b}
    right, right_total = torch_clip_grad_norm(grads, 0.5)
    wrong_clipped, wrong_totals = clip_mistakes(grads, 0.5)
    for text in wrong_clipped["dW_h"]:
        if "already below" not in text:  # only visible below max_norm
            assert differs(wrong_clipped["dW_h"][text], right["dW_h"]), text
    for text, total in wrong_totals.items():
        assert differs(total, right_total), text


def test_finite_difference_mistakes_are_off_by_the_expected_orders():
    x = np.array([0.3, -1.2])
    wrong = finite_difference_mistakes(lambda v: float(np.sum(np.exp(v))), x, eps=1e-5)
    forward, half = wrong.values()
    np.testing.assert_allclose(half, 2 * np.exp(x), rtol=1e-8)  # divided by eps: twice the slope
    assert 1e-7 < np.max(np.abs(forward - np.exp(x))) < 1e-4  # O(eps) error
    np.testing.assert_array_equal(x, [0.3, -1.2])  # restored


def test_batch_major_variant_only_when_the_shapes_fit(case):
    assert _batch_major_forward(case.x, case.h0, *case.weights) is None  # T=4, B=2: error
    one_step = random_rnn_case(1, T=1, B=2, D=3, H=4)
    assert _batch_major_forward(one_step.x, one_step.h0, *one_step.weights).shape == (1, 2, 4)


def test_load_mistakes_are_the_unmapped_weights():
    wrong = load_mistakes(np.ones((2, 3)), np.eye(2), np.zeros(2), np.ones(2))
    assert any("transposing" in text for text in wrong["W_h"])
    assert any(
        np.array_equal(v, np.zeros(2)) and "bias_hh_l0 is missing" in t
        for t, v in wrong["b"].items()
    )


# ---------------------------------------------------------------------------- rnn_checks.py


def test_check_rnn_backward_accepts_autograd_and_names_a_mistake(case):
    def right(dhs, x, h0, hs, W_x, W_h):
        return torch_rnn_gradients(x, h0, W_x, W_h, case.b, dhs)

    def no_carry(dhs, x, h0, hs, W_x, W_h):
        return _backward(dhs, x, h0, hs, W_x, W_h, carry=False)

    for quantity in ("dx", "dh0", "dW_x", "dW_h", "db"):
        check_rnn_backward(right, quantity, case)
    with pytest.raises(CheckFailure, match=r"(?s)dW_h from rnn_backward \(4 time steps.*next step"):
        check_rnn_backward(no_carry, "dW_h", case)
    with pytest.raises(CheckFailure, match="without the key"):
        check_rnn_backward(lambda *args: {"dx": 0}, "db", case)


def test_check_rnn_parameters_accepts_a_correct_module_and_explains_wrong_ones():
    torch.manual_seed(0)
    check_rnn_parameters(TinyRNN(30, 20), D=30, H=20)
    with pytest.raises(CheckFailure, match="float32"):
        check_rnn_parameters(TinyRNN(3, 5, dtype=torch.float32), D=3, H=5)
    with pytest.raises(CheckFailure, match=r"shape \(3, 5\), expected \(5, 3\).*transposed"):
        check_rnn_parameters(TinyRNN(3, 5), D=5, H=3)
    with pytest.raises(CheckFailure, match=r"nn\.RNNCell"):
        check_rnn_parameters(TinyRNN(3, 5, cell=True), D=3, H=5)
    plain = TinyRNN(3, 5)
    del plain.W_x
    plain.W_x = torch.zeros(3, 5, dtype=torch.float64)
    with pytest.raises(CheckFailure, match=r"not an nn\.Parameter"):
        check_rnn_parameters(plain, D=3, H=5)
    zero = TinyRNN(3, 5)
    with torch.no_grad():
        zero.W_h.zero_()
    with pytest.raises(CheckFailure, match=r"(?s)constant.*uniform"):
        check_rnn_parameters(zero, D=3, H=5)


def test_module_checks_pass_a_correct_module_and_name_detach(case):
    model = TinyRNN(3, 5)
    set_rnn_parameters(model, *case.weights)
    h0 = torch.from_numpy(case.h0)[None]  # (1, B, H), as nn.RNN takes it
    hs, h_n = run_rnn_module(model, torch.from_numpy(case.x), h0)
    assert check_rnn_outputs("TinyRNN", hs, h_n, case.x, case.h0, *case.weights) < 1e-12
    sigmoid = forward_mistakes(case.x, case.h0, *case.weights)[
        "sigmoid instead of tanh as the activation"
    ]
    with pytest.raises(CheckFailure, match="Likely mistake: sigmoid"):
        check_rnn_outputs("TinyRNN", torch.from_numpy(sigmoid), h_n, case.x, case.h0, *case.weights)
    with pytest.raises(CheckFailure, match=r"num_layers axis, \(1, B, H\)"):
        check_rnn_outputs("TinyRNN", hs, h_n[0], case.x, case.h0, *case.weights)
    with pytest.raises(CheckFailure, match="must return a tuple"):
        run_rnn_module(lambda x, h0: x, torch.from_numpy(case.x), h0)
    check_module_gradients(TinyRNN, case)
    with pytest.raises(CheckFailure, match="detached between steps"):
        check_module_gradients(lambda D, H: TinyRNN(D, H, detach=True), case)
    one_step = random_rnn_case(seed=3, T=1, B=2, D=3, H=5)
    with pytest.raises(CheckFailure, match="the state leaves the graph") as failure:
        check_module_gradients(lambda D, H: TinyRNN(D, H, detach="every step"), one_step)
    assert "ignore" not in str(failure.value)

    class NoGrad(TinyRNN):
        def forward(self, x, h0=None):
            with torch.no_grad():
                return super().forward(x, h0)

    with pytest.raises(CheckFailure, match=r"do not require grad.*\.numpy\(\)"):
        check_module_gradients(NoGrad, case)


def test_check_torch_rnn_step_checks_values_gradients_and_the_guard():
    def step(x_t, h_prev, W_x, W_h, b):
        return torch.tanh(x_t @ W_x + h_prev @ W_h + b)

    def through_numpy(x_t, h_prev, W_x, W_h, b):
        return torch.from_numpy(np.tanh((x_t @ W_x + h_prev @ W_h + b).detach().numpy()))

    def fused(x_t, h_prev, W_x, W_h, b):
        return torch.rnn_tanh_cell(x_t, h_prev, W_x.T, W_h.T, b)

    check_torch_rnn_step(step, seed=0, B=2, D=3, H=4, guarded=True)
    check_torch_rnn_step(fused, seed=0, B=2, D=3, H=4)  # unguarded, the fused cell is right
    with pytest.raises(CheckFailure, match="rnn_tanh_cell"):
        check_torch_rnn_step(fused, seed=0, B=2, D=3, H=4, guarded=True)
    with pytest.raises(CheckFailure, match="does not require grad"):
        check_torch_rnn_step(through_numpy, seed=0, B=2, D=3, H=4)
    with pytest.raises(CheckFailure, match=r"(?s)h_prev = 0.*Likely mistake: the bias b"):
        check_torch_rnn_step(
            lambda x_t, h_prev, W_x, W_h, b: step(x_t, h_prev, W_x, W_h, 0 * b), 0, B=2, D=3, H=4
        )


def test_forbid_calls_catches_aten_overloads_and_survives_read_only_targets():
    import torch

    from course_checks import CheckFailure
    from course_checks.ex1_rnn.rnn_torch import RNN_BUILTINS
    from course_checks.guards import forbid_calls

    x, h = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    w_ih, w_hh = torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 4, dtype=torch.float64)
    read_only = ("torch._C._VariableFunctions.rnn_tanh_cell",)
    with (
        pytest.raises(CheckFailure, match="rnn_tanh_cell"),
        forbid_calls(RNN_BUILTINS + read_only, "write it yourself"),
    ):
        torch.ops.aten.rnn_tanh_cell.default(x, h, w_ih, w_hh)
    # After the block every built-in works again.
    assert torch.rnn_tanh_cell(x, h, w_ih, w_hh).shape == (2, 4)
    assert torch.nn.RNN(3, 4)(torch.zeros(1, 2, 3))[0].shape == (1, 2, 4)
