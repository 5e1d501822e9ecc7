"""Unit tests of ``course_checks.ex3_gru_torch.gru_torch``: the checks of Exercise 3 (GRU, PyTorch).

Fast (no kernels): each test hands a check a right answer, which must pass, and known wrong ones,
which must fail with words that name the mistake, so that a check that stops catching or stops
explaining fails here first. The right answers are small independent implementations below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from course_checks import CheckFailure
from course_checks.adding import reference_adding_problem
from course_checks.ex3_gru_torch.layer import (
    GRU_BUILTINS,
    call_gru,
    check_cell_parameters,
    check_gru_cell,
    check_gru_device,
    check_gru_gradients,
    check_gru_module,
    check_h0_default,
    check_load_from_torch,
    check_no_builtin_gru_modules,
    no_builtin_gru,
)
from course_checks.ex3_gru_torch.references import random_gru_case, reference_cell, reference_gru
from course_checks.ex3_gru_torch.training import (
    check_adding_problem,
    check_adding_trained,
    check_train,
)
from course_checks.ex3_gru_torch.wrong_answers import _variant_step, cell_mistakes, forward_mistakes

# ------------------------------------------------------------------ yardsticks and wrong versions


class TinyCell(nn.Module):
    """A GRU step in PyTorch's layout; the keyword switches each introduce one mistake."""

    def __init__(
        self,
        input_size,
        hidden_size,
        dtype=torch.float64,
        device=None,
        *,
        order="rzn",
        swap=False,
        reset_before=False,
        fused=False,
        plain=False,
        transposed=False,
        constant=False,
    ):
        super().__init__()
        self.hidden_size = hidden_size
        self.order, self.swap, self.reset_before, self.fused = order, swap, reset_before, fused
        H, D = hidden_size, input_size
        bound = 1 / math.sqrt(H)
        shapes = {"weight_ih": (D, 3 * H) if transposed else (3 * H, D), "weight_hh": (3 * H, H)}
        shapes.update({"bias_ih": (3 * H,), "bias_hh": (3 * H,)})
        for name, shape in shapes.items():
            value = torch.empty(shape, dtype=dtype, device=device).uniform_(-bound, bound)
            if constant:
                value.fill_(0.01)
            setattr(self, name, value if plain and name == "weight_ih" else nn.Parameter(value))

    def forward(self, x_t, h):
        if self.fused:
            return torch.gru_cell(
                x_t, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh
            )
        H = self.hidden_size
        gi = x_t @ self.weight_ih.T + self.bias_ih
        gh = h @ self.weight_hh.T + self.bias_hh
        blocks_i = dict(zip(self.order, gi.chunk(3, dim=1), strict=True))
        blocks_h = dict(zip(self.order, gh.chunk(3, dim=1), strict=True))
        r = torch.sigmoid(blocks_i["r"] + blocks_h["r"])
        z = torch.sigmoid(blocks_i["z"] + blocks_h["z"])
        if self.reset_before:
            n = torch.tanh(
                blocks_i["n"] + (r * h) @ self.weight_hh[2 * H :].T + self.bias_hh[2 * H :]
            )
        else:
            n = torch.tanh(blocks_i["n"] + r * blocks_h["n"])
        return (1 - z) * h + z * n if self.swap else z * h + (1 - z) * n


class TinyGRU(nn.Module):
    """A GRU layer with nn.GRU's conventions; the keyword switches each introduce one mistake."""

    def __init__(
        self,
        input_size,
        hidden_size,
        dtype=torch.float64,
        device=None,
        *,
        cell=None,
        batch_first=False,
        last_only=False,
        no_axis=False,
        detach=False,
        wrap_builtin=False,
        h0_float32=False,
        with_h0=False,
        load="right",
    ):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell = (cell or TinyCell)(input_size, hidden_size, dtype=dtype, device=device)
        self.batch_first, self.last_only, self.no_axis = batch_first, last_only, no_axis
        self.detach, self.wrap_builtin, self.h0_float32 = detach, wrap_builtin, h0_float32
        self.load, self.with_h0 = load, with_h0

    def forward(self, x, h0=None):
        B = x.shape[0] if self.batch_first else x.shape[1]
        if h0 is None:
            dtype = {} if self.h0_float32 else {"dtype": x.dtype, "device": x.device}
            h = torch.zeros(B, self.hidden_size, **dtype)
        else:
            h = h0[0]
        if self.wrap_builtin:
            gru = nn.GRU(self.input_size, self.hidden_size, dtype=x.dtype)
            weights = {f"{name}_l0": p for name, p in self.cell.named_parameters()}
            return torch.func.functional_call(gru, weights, (x, h[None]))
        steps = x.transpose(0, 1) if self.batch_first else x
        output = [h] if self.with_h0 else []
        for x_t in steps:
            h = self.cell(x_t, h)
            output.append(h)
            if self.detach:
                h = h.detach()
        if self.last_only:
            return h[None]
        return torch.stack(output), (h if self.no_axis else h[None])

    def load_from_torch(self, gru):
        if self.load == "no_grad_missing":
            self.cell.weight_ih.copy_(gru.weight_ih_l0)
        with torch.no_grad():
            if self.load == "transposed":
                self.cell.weight_ih.copy_(gru.weight_ih_l0.T)
            self.cell.weight_ih.copy_(gru.weight_ih_l0)
            self.cell.weight_hh.copy_(gru.weight_hh_l0)
            if self.load == "summed":
                self.cell.bias_ih.copy_(gru.bias_ih_l0 + gru.bias_hh_l0)
                self.cell.bias_hh.zero_()
                return
            self.cell.bias_ih.copy_(gru.bias_ih_l0)
            if self.load != "forgot_bias_hh":
                self.cell.bias_hh.copy_(gru.bias_hh_l0)


def make(cell=None, **switches):
    """A module class (D, H) -> TinyGRU with the given mistakes, as the notebooks pass classes."""
    return lambda D, H, **kw: TinyGRU(D, H, cell=cell, **kw, **switches)


def make_cell(**switches):
    return lambda D, H: TinyCell(D, H, **switches)


def numpy_gru(x, h0, p):
    """The GRU of Chapter 2 written out in NumPy, independently of torch, in PyTorch's layout."""

    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    H = h0.shape[1]
    r_, z_, n_ = slice(0, H), slice(H, 2 * H), slice(2 * H, 3 * H)
    W_i, W_h, b_i, b_h = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    h, states = h0, []
    for x_t in x:
        r = sigmoid(x_t @ W_i[r_].T + b_i[r_] + h @ W_h[r_].T + b_h[r_])
        z = sigmoid(x_t @ W_i[z_].T + b_i[z_] + h @ W_h[z_].T + b_h[z_])
        n = np.tanh(x_t @ W_i[n_].T + b_i[n_] + r * (h @ W_h[n_].T + b_h[n_]))
        h = z * h + (1 - z) * n
        states.append(h)
    return np.stack(states)


def fails(words, function, *args, **kwargs):
    """``function(*args)`` raises CheckFailure whose message contains every one of ``words``."""
    with pytest.raises(CheckFailure) as caught:
        function(*args, **kwargs)
    message = str(caught.value).lower()
    for word in words:
        assert word.lower() in message, f"{word!r} not in:\n{caught.value}"
    return str(caught.value)


# -------------------------------------------------------------------------------- references


def test_references_match_an_independent_numpy_gru():
    case = random_gru_case(1, T=5, B=3, D=4, H=2)
    output, h_n = reference_gru(case.x, case.h0, case.params)
    expected = numpy_gru(case.x, case.h0, case.params)
    assert np.abs(output - expected).max() < 1e-12
    assert np.abs(h_n[0] - expected[-1]).max() < 1e-12
    step = reference_cell(case.x[0], case.h0, case.params)
    assert np.abs(step - expected[0]).max() < 1e-12


def test_variant_step_defaults_to_pytorch_and_every_mistake_differs():
    case = random_gru_case(2, T=1, B=3, D=4, H=5)
    right = reference_cell(case.x[0], case.h0, case.params)
    x, h = torch.from_numpy(case.x[0]), torch.from_numpy(case.h0)
    assert np.abs(_variant_step(x, h, case.params).numpy() - right).max() < 1e-12
    mistakes = cell_mistakes(case.x[0], case.h0, case.params)
    assert len(mistakes) >= 14
    for text, wrong in mistakes.items():
        assert np.abs(wrong - right).max() > 1e-3, text
    case = random_gru_case(3, T=4, B=3, D=4, H=5)  # over several steps, every bookkeeping slip
    right = reference_gru(case.x, case.h0, case.params)[0]
    for text, wrong in forward_mistakes(case.x, case.h0, case.params).items():
        assert np.abs(wrong - right).max() > 1e-3, text


def test_reference_adding_problem():
    x, y = reference_adding_problem(200, 12, seed=3)
    assert x.shape == (12, 200, 2) and y.shape == (200,)
    assert torch.equal(x[:6, :, 1].sum(0), torch.ones(200))
    assert torch.equal(x[6:, :, 1].sum(0), torch.ones(200))
    assert torch.allclose(y, (x[..., 0] * x[..., 1]).sum(0))
    assert torch.equal(reference_adding_problem(200, 12, seed=3)[0], x)


# ------------------------------------------------------------------------------------ guards


def _gru_routes():
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w, u = torch.randn(12, 3, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64)
    b = torch.randn(12, dtype=torch.float64)
    gru, cell = nn.GRU(3, 4, dtype=torch.float64), nn.GRUCell(3, 4, dtype=torch.float64)
    flat = [gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0]
    return {
        "nn.GRU": lambda: gru(x[None]),
        "nn.GRUCell": lambda: cell(x, h),
        "functional_call": lambda: torch.func.functional_call(gru, {}, x[None]),
        "torch.gru_cell": lambda: torch.gru_cell(x, h, w, u, b, b),
        "torch._VF.gru_cell": lambda: torch._VF.gru_cell(x, h, w, u, b, b),
        "_VariableFunctions": lambda: torch._C._VariableFunctions.gru_cell(x, h, w, u, b, b),
        "aten.gru_cell.default": lambda: torch.ops.aten.gru_cell.default(x, h, w, u, b, b),
        "torch.gru": lambda: torch.gru(x[None], h[None], flat, True, 1, 0.0, False, False, False),
        "aten.gru.input": lambda: torch.ops.aten.gru.input(
            x[None], h[None], flat, True, 1, 0.0, False, False, False
        ),
    }  # fmt: skip


@pytest.mark.parametrize("route", list(_gru_routes()))
def test_no_builtin_gru_blocks_every_route_and_restores_it(route):
    call = _gru_routes()[route]
    with pytest.raises(CheckFailure, match="may only be used by the tests"), no_builtin_gru():
        call()
    call()  # restored after the block
    with no_builtin_gru():  # ordinary torch operations still work
        assert torch.tanh(torch.zeros(2)).sum() == 0


def test_gru_builtins_name_the_modules_and_functions():
    for path in ("torch.nn.GRU.forward", "torch.nn.GRUCell.forward", "torch.gru_cell"):
        assert path in GRU_BUILTINS
    assert not any(path.startswith("torch._C.") for path in GRU_BUILTINS)  # read-only there


@pytest.mark.filterwarnings("ignore:torch.quantize_per_tensor")
def test_check_no_builtin_gru_modules():
    check_no_builtin_gru_modules(TinyGRU(2, 3))
    fails(["nn.GRUCell", "self.cell"], check_no_builtin_gru_modules, make(cell=nn.GRUCell)(2, 3))
    wrapper = nn.Sequential(nn.GRU(2, 3))
    fails(["nn.GRU"], check_no_builtin_gru_modules, wrapper)
    quantized = torch.ao.nn.quantized.dynamic.GRU(2, 3)
    fails(["built-in recurrent module"], check_no_builtin_gru_modules, quantized)


def test_call_gru_explains_stubs_and_transposed_weights():
    def stub(*args):
        raise NotImplementedError()

    fails(["not implemented yet"], call_gru, stub, 1)
    cell = TinyCell(3, 4)
    with torch.no_grad():
        cell.weight_ih = nn.Parameter(cell.weight_ih.T.contiguous())  # (D, 3H)
    x = torch.zeros(2, 3, dtype=torch.float64)
    fails(["without transposing"], call_gru, lambda x: x @ cell.weight_ih.T, x)


# ------------------------------------------------------------------------------------- cell


def test_check_cell_parameters():
    check_cell_parameters(TinyCell(24, 16), D=24, H=16)
    fails(["float32"], check_cell_parameters, TinyCell(3, 5, dtype=torch.float32), 3, 5)
    fails(["nn.Parameter"], check_cell_parameters, TinyCell(3, 5, plain=True), 3, 5)
    fails(["transposed"], check_cell_parameters, TinyCell(3, 5, transposed=True), 3, 5)
    fails(["constant"], check_cell_parameters, TinyCell(3, 5, constant=True), 3, 5)
    loaded = TinyCell(3, 5)
    with torch.no_grad():
        loaded.bias_ih.fill_(3.0)
    fails(["uniform"], check_cell_parameters, loaded, 3, 5)
    check_cell_parameters(loaded, 3, 5, initialised=False)


def test_check_gru_cell_passes_the_right_step():
    assert check_gru_cell(make_cell(), seed=0, B=2, D=3, H=4, guarded=True) < 1e-12


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"order": "zrn"}, ["wrong order z, r, n"]),
        ({"order": "rnz"}, ["wrong order r, n, z"]),
        ({"swap": True}, ["z and 1 − z are swapped"]),
        ({"reset_before": True}, ["before the matrix product"]),
        ({"plain": True}, ["nn.Parameter"]),
        ({"transposed": True}, ["shape"]),
    ],
)
def test_check_gru_cell_names_mistakes(switches, words):
    fails(words, check_gru_cell, make_cell(**switches), seed=0, B=2, D=3, H=4)


def test_check_gru_cell_catches_the_fused_cell_only_when_guarded():
    check_gru_cell(make_cell(fused=True), seed=0, B=2, D=3, H=4)
    fails(["torch.gru_cell"], check_gru_cell, make_cell(fused=True), 0, 2, 3, 4, guarded=True)


# ------------------------------------------------------------------------------------ layer


def test_layer_checks_pass_the_right_layer():
    assert check_gru_module(make(), seed=1, T=6, B=2, D=3, H=5, guarded=True) < 1e-12
    assert check_h0_default(make(), seed=2, T=4, B=2, D=3, H=5) < 1e-12
    assert check_load_from_torch(make(), seed=3, T=6, B=3, D=4, H=5) < 1e-12
    check_gru_gradients(make(), random_gru_case(seed=4, T=6, B=2, D=3, H=5))
    assert check_gru_device(make(), "cpu", seed=5, T=5, B=3, D=2, H=4) < 1e-12


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"batch_first": True}, ["time-major"]),
        ({"last_only": True}, ["(output, h_n)"]),
        ({"no_axis": True}, ["(1, B, H)"]),
        ({"cell": nn.GRUCell}, ["nn.GRUCell"]),
        ({"cell": lambda D, H, **kw: TinyCell(D, H, order="zrn", **kw)}, ["wrong order"]),
    ],
)
def test_check_gru_module_names_mistakes(switches, words):
    fails(words, check_gru_module, make(**switches), seed=1, T=6, B=2, D=3, H=5)


def test_check_gru_module_tells_one_step_too_many_from_the_wrong_axis():
    # With T = 1 and B = 2, a batch-first loop also returns T + 1 = 2 "steps".
    fails(["time-major"], check_gru_module, make(batch_first=True), seed=1, T=1, B=2, D=3, H=5)
    fails(["not h_0"], check_gru_module, make(with_h0=True), seed=1, T=1, B=2, D=3, H=5)


def test_check_gru_module_catches_a_wrapped_nn_gru_only_when_guarded():
    check_gru_module(make(wrap_builtin=True), seed=1, T=6, B=2, D=3, H=5)
    fails(["nn.GRU"], check_gru_module, make(wrap_builtin=True), 1, 6, 2, 3, 5, guarded=True)


def test_check_h0_default_names_a_float32_state():
    fails(["float32"], check_h0_default, make(h0_float32=True), seed=2, T=4, B=2, D=3, H=5)


@pytest.mark.parametrize(
    ("load", "words"),
    [
        ("transposed", ["no transpose"]),
        ("summed", ["apart"]),
        ("forgot_bias_hh", ["bias_hh was not changed"]),
        ("no_grad_missing", ["no_grad"]),
    ],
)
def test_check_load_from_torch_names_mistakes(load, words):
    fails(words, check_load_from_torch, make(load=load), seed=3, T=6, B=3, D=4, H=5)


def test_check_gru_gradients_names_a_detached_state():
    case = random_gru_case(seed=4, T=6, B=2, D=3, H=5)
    fails(["detached between steps"], check_gru_gradients, make(detach=True), case)


# ---------------------------------------------------------------------------- adding problem


def test_check_adding_problem_passes_the_reference():
    check_adding_problem(reference_adding_problem, n=1000, T=10, seed=0)
    check_adding_problem(reference_adding_problem, n=3, T=11, seed=7)


def _markers_anywhere(n, T, seed):
    generator = torch.Generator().manual_seed(seed)
    numbers = torch.rand(T, n, generator=generator)
    markers = torch.zeros(T, n)
    for column in range(2):
        markers[torch.randint(0, T, (n,), generator=generator), torch.arange(n)] = 1.0
        del column
    return torch.stack([numbers, markers], dim=-1), (numbers * markers).sum(0)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda n, T, s: (reference_adding_problem(n, T, s)[0], reference_adding_problem(n, T, s)[
            0][..., 0].sum(0)), ["marked numbers only"]),
        (lambda n, T, s: (reference_adding_problem(n, T, s)[0].transpose(0, 1),
                          reference_adding_problem(n, T, s)[1]), ["time-major"]),
        (lambda n, T, s: reference_adding_problem(n, T, 0), ["seed is ignored"]),
        (lambda n, T, s: tuple(v.double() for v in reference_adding_problem(n, T, s)), ["float32"]),
        (lambda n, T, s: (reference_adding_problem(n, T, s)[0],
                          reference_adding_problem(n, T, s)[1][:, None]), ["(n,)"]),
        (_markers_anywhere, ["half"]),
    ],
)  # fmt: skip
def test_check_adding_problem_names_mistakes(wrong, words):
    fails(words, check_adding_problem, wrong, n=1000, T=10, seed=0)


# -------------------------------------------------------------------------------- training


def adding_problem(n, T, seed):
    """The notebook's global that a student's train calls; check_train swaps in its own."""
    raise AssertionError("check_train must replace adding_problem by the reference")


def make_train(*, zero_grad=True, clip=True, same_batch=False, target="same", item=True):
    def train(model, steps, T, batch_size=64, lr=0.01, max_norm=1.0, seed=0, show_progress=True):
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        parameter = next(model.parameters())
        losses = []
        for step in range(steps):
            x, y = adding_problem(batch_size, T, seed=seed if same_batch else seed + step)
            x, y = x.to(parameter), y.to(parameter)
            goal = y.view(-1, 1) if target == "column" else y
            loss = torch.mean((model(x) - goal) ** 2)
            if zero_grad:
                optimizer.zero_grad()
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            optimizer.step()
            losses.append(loss.item() if item else loss)
        return losses

    return train


def test_check_train_passes_the_reference_loop():
    check_train(make_train(), seed=3)
    check_train(make_train(), seed=4242, steps=5, T=7, batch_size=4, lr=0.03, max_norm=0.02)
    assert adding_problem.__doc__.startswith("The notebook's global")  # restored afterwards


@pytest.mark.parametrize(
    ("switches", "words"),
    [
        ({"zero_grad": False}, ["zero_grad"]),
        ({"clip": False}, ["not clipped"]),
        ({"same_batch": True}, ["same batch"]),
        ({"target": "column"}, ["broadcast"]),
        ({"item": False}, ["loss.item()"]),
    ],
)
def test_check_train_names_mistakes(switches, words):
    fails(words, check_train, make_train(**switches), seed=3)
    fails(words, check_train, make_train(**switches), seed=4242, steps=5, T=7, batch_size=4,
          lr=0.03, max_norm=0.02, hidden_size=4)  # fmt: skip


class Oracle(nn.Module):
    """Answers the adding problem exactly (or always 1.0, the baseline)."""

    def __init__(self, baseline=False):
        super().__init__()
        self.baseline = baseline
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        if self.baseline:
            return self.scale * torch.ones(x.shape[1])
        return self.scale * (x[..., 0] * x[..., 1]).sum(0)


def test_check_adding_trained():
    mse, baseline = check_adding_trained(Oracle(), [0.1] * 5, steps=5, T=20, seed=1)
    assert mse < 1e-10 and 0.14 < baseline < 0.19
    fails(["0.1 × baseline"], check_adding_trained, Oracle(baseline=True), [0.1] * 5, 5, 20, 1)
    fails(["did not run to its end"], check_adding_trained, Oracle(), None, 5, 20, 1)
    fails(["run the training cell"], check_adding_trained, None, None, 5, 20, 1)
    # A training cell that crashed on a model of mixed dtypes is told so, not sent to tests that
    # pass; and the message of a model that did not learn names no cause it cannot see.
    mixed = Oracle()
    mixed.extra = nn.Linear(1, 1, dtype=torch.float32)
    mixed.scale = nn.Parameter(torch.ones((), dtype=torch.float64))
    fails(["2 dtypes", "pass dtype and device on"], check_adding_trained, mixed, None, 5, 20, 1)
    with pytest.raises(CheckFailure) as failure:
        check_adding_trained(Oracle(baseline=True), [0.1] * 5, 5, 20, 1)
    assert "zero_grad" not in str(failure.value) and "which test_train names" not in str(
        failure.value
    )


def test_check_gru_module_asks_for_the_dtype_to_reach_the_cell():
    class IgnoresDtype(TinyGRU):
        def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None):
            super().__init__(input_size, hidden_size)  # the cell gets float64 whatever is asked

    fails(
        ["dtype=torch.float32", "pass dtype and device on"],
        check_gru_module,
        IgnoresDtype,
        seed=1,
        T=3,
        B=2,
        D=3,
        H=4,
    )


def test_check_adding_problem_asks_to_leave_the_global_random_state_alone():
    def seeded_globally(n, T, seed):
        torch.manual_seed(seed)
        return reference_adding_problem(n, T, seed)

    np_state = np.random.get_state()
    fails(
        ["global random state", "torch.manual_seed"],
        check_adding_problem,
        seeded_globally,
        n=100,
        T=6,
        seed=3,
    )

    def numpy_seeded(n, T, seed):
        np.random.seed(seed)
        return reference_adding_problem(n, T, seed)

    fails(["NumPy's global random state"], check_adding_problem, numpy_seeded, n=100, T=6, seed=3)
    np.random.set_state(np_state)
