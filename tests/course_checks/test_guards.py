"""The hidden tests' guard against torch's built-in recurrent kernels, by every route.

The guard (``course_checks.guards.no_builtin_recurrent``, shared by the RNN, GRU and LSTM
exercises) blocks the recurrent operators at torch's dispatcher, so that no Python-level name
goes around it: the modules' forward, ``torch.gru_cell``, ``torch._VF``,
``torch._C._VariableFunctions`` inside ``torch._C.DisableTorchFunction()``, ``torch.ops.aten``
overloads, and torch's own Python decompositions. Each route below computes the right answer
(it passes the unguarded test) and fails every guarded test, in all three torch notebooks, with
the message naming the rule; honest code passes guarded.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import warnings

import pytest
import torch
from torch import nn

from course_checks import CheckFailure
from course_checks.ex1_rnn.rnn_torch import check_rnn_module, check_torch_rnn_step, no_builtin_rnn
from course_checks.ex3_gru_torch.layer import check_gru_cell, check_gru_module, no_builtin_gru
from course_checks.ex4_lstm.layer import check_lstm_module, check_lstm_step, no_builtin_lstm
from course_checks.guards import block_recurrent_kernels

ROUTES = ("module", "torch", "_VF", "_C disabled", "aten.default", "aten.layer", "decomp", "caught")
RNN_RULE = r"Compute h_t = tanh\(x_t @ W_x \+ h_prev @ W_h \+ b\) yourself"
GRU_RULE = r"Compute the gates r and z.*may only be used by the tests"
LSTM_RULE = r"Compute the gates i, f, g, o.*may only be used by the tests"


def _fused(route: str, name: str, module: type, x_t, state, weights):
    """One step of torch's fused ``name`` cell (``rnn_tanh``, ``gru``, ``lstm``) by ``route``."""
    layer_state = tuple(s[None] for s in state) if isinstance(state, tuple) else state[None]
    layer_args = (x_t[None], layer_state, list(weights), True, 1, 0.0, False, False, False)
    if name == "lstm":  # lstm's layer takes its two states as a list
        layer_args = (x_t[None], list(layer_state), *layer_args[2:])

    def from_layer(out):
        if name == "lstm":
            return out[1][0], out[2][0]
        return out[1][0]

    if route == "module":
        D, H = x_t.shape[1], weights[1].shape[1]
        cell = module(D, H, dtype=x_t.dtype)
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        parameters = dict(zip(names, weights, strict=True))
        return torch.func.functional_call(cell, parameters, (x_t, state))
    if route == "torch":
        return getattr(torch, f"{name}_cell")(x_t, state, *weights)
    if route == "_VF":
        return getattr(torch._VF, f"{name}_cell")(x_t, state, *weights)
    if route == "_C disabled":
        with torch._C.DisableTorchFunction():
            return getattr(torch._C._VariableFunctions, f"{name}_cell")(x_t, state, *weights)
    if route == "aten.default":
        return getattr(torch.ops.aten, f"{name}_cell").default(x_t, state, *weights)
    if route == "aten.layer":
        return from_layer(getattr(torch.ops.aten, name).input(*layer_args))
    if route == "decomp":
        import torch._decomp.decompositions as decompositions

        impl = {"rnn_tanh": "rnn_tanh_input", "gru": "gru_impl", "lstm": "lstm_impl"}[name]
        return from_layer(getattr(decompositions, impl)(*layer_args))
    raise AssertionError(route)


# --------------------------------------------------------------------------- the vanilla RNN


def rnn_step_by(route):
    def rnn_step(x_t, h_prev, W_x, W_h, b):
        honest = torch.tanh(x_t @ W_x + h_prev @ W_h + b)
        weights = (W_x.T, W_h.T, b, torch.zeros_like(b))
        if route == "caught":  # try the kernel, and fall back on one's own code when it fails
            with contextlib.suppress(Exception):
                torch.rnn_tanh_cell(x_t, h_prev, *weights)
            return honest
        return _fused(route, "rnn_tanh", nn.RNNCell, x_t, h_prev, weights)

    return rnn_step


class RNNBy(nn.Module):
    def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None, *, step=None):
        super().__init__()
        self.hidden_size, self.step = hidden_size, step
        bound = 1 / hidden_size**0.5
        for name, shape in {"W_x": (input_size, hidden_size), "W_h": (hidden_size, hidden_size),
                            "b": (hidden_size,)}.items():  # fmt: skip
            value = torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)
            setattr(self, name, nn.Parameter(value))

    def forward(self, x, h0=None):
        h = torch.zeros(x.shape[1], self.hidden_size, dtype=x.dtype) if h0 is None else h0[0]
        states = []
        for x_t in x:
            h = self.step(x_t, h, self.W_x, self.W_h, self.b)
            states.append(h)
        return torch.stack(states), h[None]


@pytest.mark.parametrize("route", ROUTES)
def test_rnn_routes_pass_unguarded_and_fail_the_guarded_tests(route):
    step = rnn_step_by(route)
    check_torch_rnn_step(step, seed=0, B=2, D=3, H=4)
    with pytest.raises(CheckFailure, match=RNN_RULE):
        check_torch_rnn_step(step, seed=8118, B=5, D=6, H=3, guarded=True)

    def module(D, H, **kw):
        return RNNBy(D, H, step=step, **kw)

    check_rnn_module(module, seed=50, T=2, B=2, D=3, H=5)
    with pytest.raises(CheckFailure, match=RNN_RULE):
        check_rnn_module(module, seed=9431, T=3, B=3, D=4, H=6, guarded=True)


def test_honest_rnn_code_passes_guarded():
    step = lambda x_t, h_prev, W_x, W_h, b: torch.tanh(x_t @ W_x + h_prev @ W_h + b)  # noqa: E731
    check_torch_rnn_step(step, seed=8118, B=5, D=6, H=3, guarded=True)
    module = lambda D, H, **kw: RNNBy(D, H, step=step, **kw)  # noqa: E731
    check_rnn_module(module, seed=9431, T=7, B=3, D=4, H=6, guarded=True, also_without_h0=True)


# ------------------------------------------------------------------------------------- GRU


class GRUCellBy(nn.Module):
    def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None, *, route="x"):
        super().__init__()
        self.input_size, self.hidden_size, self.route = input_size, hidden_size, route
        bound = 1 / hidden_size**0.5
        H, D = hidden_size, input_size
        shapes = {"weight_ih": (3 * H, D), "weight_hh": (3 * H, H)}
        shapes.update({"bias_ih": (3 * H,), "bias_hh": (3 * H,)})
        for name, shape in shapes.items():
            value = torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)
            setattr(self, name, nn.Parameter(value))

    def honest(self, x_t, h):
        gi = x_t @ self.weight_ih.T + self.bias_ih
        gh = h @ self.weight_hh.T + self.bias_hh
        i_r, i_z, i_n = gi.chunk(3, dim=1)
        h_r, h_z, h_n = gh.chunk(3, dim=1)
        r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return z * h + (1 - z) * n

    def forward(self, x_t, h):
        weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if self.route == "honest":
            return self.honest(x_t, h)
        if self.route == "caught":
            with contextlib.suppress(Exception):
                torch.gru_cell(x_t, h, *weights)
            return self.honest(x_t, h)
        return _fused(self.route, "gru", nn.GRUCell, x_t, h, weights)


class GRUBy(nn.Module):
    def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None, *, route="x"):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell = GRUCellBy(input_size, hidden_size, dtype, device, route=route)

    def forward(self, x, h0=None):
        h = torch.zeros(x.shape[1], self.hidden_size, dtype=x.dtype) if h0 is None else h0[0]
        output = []
        for x_t in x:
            h = self.cell(x_t, h)
            output.append(h)
        return torch.stack(output), h[None]


@pytest.mark.parametrize("route", ROUTES)
def test_gru_routes_pass_unguarded_and_fail_the_guarded_tests(route):
    cell = lambda D, H: GRUCellBy(D, H, route=route)  # noqa: E731
    check_gru_cell(cell, seed=0, B=2, D=3, H=4)
    with pytest.raises(CheckFailure, match=GRU_RULE):
        check_gru_cell(cell, seed=8123, B=5, D=6, H=3, guarded=True)
    module = lambda D, H, **kw: GRUBy(D, H, route=route, **kw)  # noqa: E731
    check_gru_module(module, seed=50, T=2, B=2, D=3, H=5)
    with pytest.raises(CheckFailure, match=GRU_RULE):
        check_gru_module(module, seed=9431, T=3, B=3, D=4, H=6, guarded=True)


def test_honest_gru_code_passes_guarded():
    assert check_gru_cell(lambda D, H: GRUCellBy(D, H, route="honest"), 8123, 5, 6, 3, guarded=True)
    module = lambda D, H, **kw: GRUBy(D, H, route="honest", **kw)  # noqa: E731
    check_gru_module(module, seed=9431, T=7, B=3, D=4, H=6, guarded=True)


# ------------------------------------------------------------------------------------ LSTM


def lstm_step_by(route):
    def honest(x_t, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        a = x_t @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
        i, f, g, o = a.chunk(4, dim=1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    def lstm_cell(x_t, h, c, weight_ih, weight_hh, bias_ih, bias_hh):
        weights = (weight_ih, weight_hh, bias_ih, bias_hh)
        if route == "honest":
            return honest(x_t, h, c, *weights)
        if route == "caught":
            with contextlib.suppress(Exception):
                torch.lstm_cell(x_t, (h, c), *weights)
            return honest(x_t, h, c, *weights)
        return tuple(_fused(route, "lstm", nn.LSTMCell, x_t, (h, c), weights))

    return lstm_cell


class LSTMBy(nn.Module):
    def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None, *, step=None):
        super().__init__()
        self.input_size, self.hidden_size, self.step = input_size, hidden_size, step
        bound = 1 / hidden_size**0.5
        H, D = hidden_size, input_size
        shapes = {"weight_ih_l0": (4 * H, D), "weight_hh_l0": (4 * H, H)}
        shapes.update({"bias_ih_l0": (4 * H,), "bias_hh_l0": (4 * H,)})
        for name, shape in shapes.items():
            value = torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)
            setattr(self, name, nn.Parameter(value))

    def forward(self, x, state=None):
        B, H = x.shape[1], self.hidden_size
        if state is None:
            h, c = torch.zeros(B, H, dtype=x.dtype), torch.zeros(B, H, dtype=x.dtype)
        else:
            h, c = state[0][0], state[1][0]
        weights = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, self.bias_hh_l0)
        output = []
        for x_t in x:
            h, c = self.step(x_t, h, c, *weights)
            output.append(h)
        return torch.stack(output), (h[None], c[None])


@pytest.mark.parametrize("route", ROUTES)
def test_lstm_routes_pass_unguarded_and_fail_the_guarded_tests(route):
    step = lstm_step_by(route)
    check_lstm_step(step, seed=0, B=2, D=3, H=4)
    with pytest.raises(CheckFailure, match=LSTM_RULE):
        check_lstm_step(step, seed=8123, B=5, D=6, H=3, guarded=True)
    module = lambda D, H, **kw: LSTMBy(D, H, step=step, **kw)  # noqa: E731
    check_lstm_module(module, seed=50, T=2, B=2, D=3, H=5)
    with pytest.raises(CheckFailure, match=LSTM_RULE):
        check_lstm_module(module, seed=9431, T=3, B=3, D=4, H=6, guarded=True)


def test_honest_lstm_code_passes_guarded():
    step = lstm_step_by("honest")
    assert check_lstm_step(step, seed=8123, B=5, D=6, H=3, guarded=True) < 1e-12
    module = lambda D, H, **kw: LSTMBy(D, H, step=step, **kw)  # noqa: E731
    check_lstm_module(module, seed=9431, T=7, B=3, D=4, H=6, guarded=True)


# ------------------------------------------------------------------------ the guard itself


@pytest.mark.parametrize("guard", [no_builtin_rnn, no_builtin_gru, no_builtin_lstm])
def test_each_exercises_guard_blocks_every_recurrent_kernel_and_restores_them(guard):
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w4, u4 = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    w12, u12 = torch.randn(12, 3, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64)
    w16, u16 = torch.randn(16, 3, dtype=torch.float64), torch.randn(16, 4, dtype=torch.float64)
    calls = {
        "rnn_tanh_cell": lambda: torch._C._VariableFunctions.rnn_tanh_cell(x, h, w4, u4),
        "rnn_relu_cell": lambda: torch._C._VariableFunctions.rnn_relu_cell(x, h, w4, u4),
        "gru_cell": lambda: torch._C._VariableFunctions.gru_cell(x, h, w12, u12),
        "lstm_cell": lambda: torch._C._VariableFunctions.lstm_cell(x, (h, h), w16, u16),
    }
    # The block as a whole fails too at its end, since the failures inside were caught.
    with pytest.raises(CheckFailure, match="aten::rnn_tanh_cell"), guard():
        for name, run in calls.items():
            disabled = torch._C.DisableTorchFunction()
            with (
                disabled,
                torch.inference_mode(),
                pytest.raises(CheckFailure, match=f"aten::{name}"),
            ):
                run()
            with pytest.raises(CheckFailure, match=name):
                run()
        assert torch.tanh(x @ w4.T).shape == (2, 4)  # ordinary operations work
    for run in calls.values():
        run()  # restored


def test_a_caught_failure_still_fails_the_block():
    x, h = torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 4, dtype=torch.float64)
    failing = pytest.raises(CheckFailure, match="aten::rnn_tanh_cell")
    with failing, block_recurrent_kernels("the rule"):
        w, u = torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, 4, dtype=torch.float64)
        with contextlib.suppress(CheckFailure):
            torch.rnn_tanh_cell(x, h, w, u)


def test_the_override_warning_never_reaches_the_student():
    code = (
        "import warnings, torch\n"
        "warnings.simplefilter('error')\n"  # a student's filter: warnings as errors
        "from course_checks.guards import block_recurrent_kernels\n"
        "from course_checks.ex3_gru_torch.gru_torch import no_builtin_gru\n"
        "for _ in range(3):\n"
        "    with no_builtin_gru():\n"
        "        torch.tanh(torch.zeros(2))\n"
        "print('ok')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr == "", done.stderr


def test_the_guard_is_cheap():
    with warnings.catch_warnings(), block_recurrent_kernels("warm up"):
        pass
    start = time.perf_counter()
    for _ in range(20):
        with block_recurrent_kernels("the rule"):
            pass
    per_block = (time.perf_counter() - start) / 20
    print(f"block_recurrent_kernels: {1000 * per_block:.2f} ms per block")
    assert per_block < 0.05
