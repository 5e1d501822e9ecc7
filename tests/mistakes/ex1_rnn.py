"""Realistic wrong implementations of Exercise 1 (vanilla RNN), and what the tests must say.

Each mistake edits one solution cell of ``solutions/ex1_rnn`` (each ``old`` text occurs exactly
once in that cell). ``loses`` lists every graded cell the mistake makes fail, and each of those
cells' messages contains every word of ``says``: the feedback names the mistake wherever the
student loses points.
"""

from __future__ import annotations

from .catalogue import Mistake

NUMPY = "ex1_rnn/rnn_numpy"
TORCH = "ex1_rnn/rnn_torch"

# Graded cells of rnn_numpy, grouped by what a mistake in one function makes fail.
CELL = "test_rnn_cell_forward"
FORWARD = "test_rnn_forward"
GRADIENT_CHECK = "test_gradient_check"
NUMERICAL = "test_numerical_gradient"
NORMS = "test_hidden_gradient_norms"
CLIP = "test_clip_grad_norm"
DW_X, DW_H, DB = "test_rnn_backward_dw_x", "test_rnn_backward_dw_h", "test_rnn_backward_db"
DX, DH0 = "test_rnn_backward_dx", "test_rnn_backward_dh0"
ALL_BACKWARD = (DW_X, DW_H, DB, DX, DH0)

# Graded cells of rnn_torch.
STEP = "test_rnn_step"
PARAMETERS, FORWARD_T, H0_DEFAULT = "test_parameters", "test_forward", "test_h0_default"
LOAD, GRADIENTS, DEVICE = "test_load_from_torch", "test_gradients", "test_device"
# Every torch test that runs the module's forward pass (all but test_rnn_step, test_parameters).
RUNS_FORWARD = (FORWARD_T, H0_DEFAULT, LOAD, GRADIENTS, DEVICE)

_STEP = "return torch.tanh(x_t @ W_x + h_prev @ W_h + b)"
_LOOP = """        hs = []
        for t in range(T):
            h = rnn_step(x[t], h, self.W_x, self.W_h, self.b)
            hs.append(h)
        return torch.stack(hs), h[None]"""

MISTAKES: list[Mistake] = [
    # ---------------------------------------------------------------- rnn_cell_forward
    Mistake(
        id="ex1_cell_no_bias",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(("a_t = x_t @ W_x + h_prev @ W_h + b", "a_t = x_t @ W_x + h_prev @ W_h"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("bias",),
        description="The bias b is left out of the pre-activation.",
    ),
    Mistake(
        id="ex1_cell_sigmoid",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(("h_t = np.tanh(a_t)", "h_t = 1 / (1 + np.exp(-a_t))"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("sigmoid",),
        description="The logistic sigmoid is used as the activation instead of tanh.",
    ),
    Mistake(
        id="ex1_cell_relu",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(("h_t = np.tanh(a_t)", "h_t = np.maximum(a_t, 0)"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("relu",),
        description="ReLU is used as the activation instead of tanh.",
    ),
    Mistake(
        id="ex1_cell_no_activation",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(("h_t = np.tanh(a_t)", "h_t = a_t"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("activation is missing",),
        description="The pre-activation is returned without tanh.",
    ),
    Mistake(
        id="ex1_cell_W_h_transposed",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(
            ("a_t = x_t @ W_x + h_prev @ W_h + b", "a_t = x_t @ W_x + h_prev @ W_h.T + b"),
        ),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("transposed",),
        description="The recurrent weight is used transposed (H × H, so the shapes still fit).",
    ),
    # ---------------------------------------------------------------- rnn_forward
    Mistake(
        id="ex1_forward_last_state_only",
        notebook=NUMPY,
        cell="rnn_forward",
        replacements=(("    return hs\n", "    return h\n"),),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("last state",),
        description="Only the final state h_T is returned instead of all states.",
    ),
    Mistake(
        id="ex1_forward_h0_every_step",
        notebook=NUMPY,
        cell="rnn_forward",
        replacements=(
            ("rnn_cell_forward(x[t], h, W_x, W_h, b)", "rnn_cell_forward(x[t], h0, W_x, W_h, b)"),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("not carried forward",),
        description="Every step starts from h0: the state is not carried from step to step.",
    ),
    Mistake(
        id="ex1_forward_states_shifted",
        notebook=NUMPY,
        cell="rnn_forward",
        replacements=(
            (
                "h = rnn_cell_forward(x[t], h, W_x, W_h, b)\n        hs[t] = h",
                "hs[t] = h\n        h = rnn_cell_forward(x[t], h, W_x, W_h, b)",
            ),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("shifted",),
        description="The state is stored before the update, so hs holds h_0 … h_{T-1}.",
    ),
    Mistake(
        id="ex1_forward_batch_major",
        notebook=NUMPY,
        cell="rnn_forward",
        replacements=(
            ("rnn_cell_forward(x[t], h, W_x, W_h, b)", "rnn_cell_forward(x[:, t], h, W_x, W_h, b)"),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("time",),
        description="x is indexed as batch-major (x[:, t]) although it is time-major (T, B, D).",
    ),
    Mistake(
        id="ex1_cell_bias_broadcast_crash",
        notebook=NUMPY,
        cell="rnn_cell_forward",
        replacements=(
            ("a_t = x_t @ W_x + h_prev @ W_h + b", "a_t = x_t @ W_x + h_prev @ W_h + b[:, None]"),
        ),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("b[:, None]", "are combined element-wise"),
        description="The bias is made a column, (H, 1): a broadcast error that the message "
        "shows with the student's own line.",
        keeps=(*ALL_BACKWARD, NORMS, CLIP),
        named_in=CELL,
    ),
    # ---------------------------------------------------------------- rnn_backward
    Mistake(
        id="ex1_backward_tanh_derivative_1_minus_h",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("da = dh * (1 - hs[t] ** 2)", "da = dh * (1 - hs[t])"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("tanh derivative",),
        description="tanh'(a) is written as 1 - h instead of 1 - h**2.",
    ),
    Mistake(
        id="ex1_backward_tanh_derivative_missing",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("da = dh * (1 - hs[t] ** 2)", "da = dh"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("tanh derivative",),
        description="The gradient skips the activation: da = dh.",
    ),
    Mistake(
        id="ex1_backward_no_accumulation",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("dh = dhs[t] + dh_next", "dh = dhs[t]"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("next step",),
        description="The gradient arriving from step t + 1 is not added to dhs[t].",
    ),
    Mistake(
        id="ex1_backward_W_h_not_transposed",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("dh_next = da @ W_h.T", "dh_next = da @ W_h"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("not transposed",),
        description="The backward recurrence multiplies by W_h instead of W_h.T.",
    ),
    Mistake(
        id="ex1_backward_dW_h_current_state",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("dW_h += h_prev.T @ da", "dW_h += hs[t].T @ da"),),
        loses=(DW_H, GRADIENT_CHECK),
        says=("previous state",),
        description="dW_h uses the current state h_t instead of the previous state h_{t-1}.",
    ),
    Mistake(
        id="ex1_backward_h0_wraps_around",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t - 1]"),),
        loses=(DW_H, GRADIENT_CHECK),
        says=("h0",),
        description="At t = 0 the previous state is taken as hs[-1] (the last state), not h0.",
    ),
    Mistake(
        id="ex1_backward_forward_in_time",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("for t in reversed(range(T)):", "for t in range(T):"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("reversed",),
        description="The backward loop runs forwards in time.",
    ),
    Mistake(
        id="ex1_backward_db_not_summed_over_batch",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("db += da.sum(axis=0)", "db = db + da"),),
        loses=(DB, GRADIENT_CHECK),
        says=("batch",),
        description="db keeps the batch axis, shape (B, H) instead of (H,).",
    ),
    Mistake(
        id="ex1_backward_db_summed_over_all_axes",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("db += da.sum(axis=0)", "db += da.sum()"),),
        loses=(DB, GRADIENT_CHECK),
        says=("every axis",),
        description="da is summed over all axes, so every entry of db is the same number.",
    ),
    Mistake(
        id="ex1_backward_dx_W_x_not_transposed",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("dx[t] = da @ W_x.T", "dx[t] = da @ W_x"),),
        loses=(DX, GRADIENT_CHECK),
        says=("transpose", "dx[t] = da @ W_x"),
        description="dx multiplies by W_x instead of W_x.T (a shape error since D != H). Only "
        "dx's test is charged: the others check their gradients on a case with B = D = H.",
        keeps=(DW_X, DW_H, DB, DH0),
        named_in=DX,
    ),
    Mistake(
        id="ex1_backward_dW_x_transposed",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("dW_x += x[t].T @ da", "dW_x += da.T @ x[t]"),),
        loses=(DW_X, GRADIENT_CHECK),
        says=("transpose", "dW_x += da.T @ x[t]"),
        description="dW_x is accumulated as da.T @ x[t], shape (H, D) instead of (D, H): a "
        "shape error charged to dW_x's test only.",
        keeps=(DW_H, DB, DX, DH0),
        named_in=DW_X,
    ),
    Mistake(
        id="ex1_backward_db_axis_slip_crashes",
        notebook=NUMPY,
        cell="rnn_backward",
        replacements=(("db += da.sum(axis=0)", "db += da.sum(axis=1)"),),
        loses=(DB, GRADIENT_CHECK),
        says=("db += da.sum(axis=1)", "shapes (4,), (2,) and (4,)"),
        description="db sums over the hidden axis: (B,) added to (H,) raises a broadcast error. "
        "The error is db's; the four other backward tests check theirs on a B = D = H case.",
        keeps=(DW_X, DW_H, DX, DH0),
        named_in=DB,
    ),
    # ---------------------------------------------------------------- numerical_gradient
    Mistake(
        id="ex1_numgrad_float32_storage",
        notebook=NUMPY,
        cell="numerical_gradient",
        replacements=(("grad = np.zeros(x.shape)", "grad = np.zeros(x.shape, dtype=np.float32)"),),
        loses=(NUMERICAL,),
        says=("float32",),
        not_says=("forward difference", "divided by eps"),
        description="The gradient is stored in a float32 array: right to float32's precision, "
        "and told so, not mistaken for a one-sided difference.",
        named_in=NUMERICAL,
    ),
    Mistake(
        id="ex1_numgrad_fixed_step",
        notebook=NUMPY,
        cell="numerical_gradient",
        replacements=(
            ("x[index] = old + eps", "x[index] = old + 1e-3"),
            ("x[index] = old - eps", "x[index] = old - 1e-3"),
            (
                "grad[index] = (f_plus - f_minus) / (2 * eps)",
                "grad[index] = (f_plus - f_minus) / 2e-3",
            ),
        ),
        loses=(NUMERICAL,),
        keeps=(GRADIENT_CHECK,),  # the gradient check computes its own differences
        says=("largest difference", "at index"),
        description="A fixed step of 1e-3 instead of eps: values agree to 4 digits, so the "
        "message must show the difference and where it is, with enough digits.",
        named_in=NUMERICAL,
    ),
    Mistake(
        id="ex1_numgrad_forward_difference",
        notebook=NUMPY,
        cell="numerical_gradient",
        replacements=(
            ("x[index] = old - eps", "x[index] = old"),
            ("/ (2 * eps)", "/ eps"),
        ),
        loses=(NUMERICAL,),
        keeps=(GRADIENT_CHECK,),  # the gradient check computes its own differences
        says=("centered difference",),
        description="A one-sided (forward) difference, whose error is O(eps) instead of O(eps²).",
    ),
    Mistake(
        id="ex1_numgrad_divides_by_eps",
        notebook=NUMPY,
        cell="numerical_gradient",
        replacements=(("/ (2 * eps)", "/ eps"),),
        loses=(NUMERICAL,),
        keeps=(GRADIENT_CHECK,),  # the gradient check computes its own differences
        says=("2 * eps",),
        description="The centered difference is divided by eps instead of 2 * eps.",
    ),
    Mistake(
        id="ex1_numgrad_not_restored",
        notebook=NUMPY,
        cell="numerical_gradient",
        replacements=(
            ("        x[index] = old  # restore it before probing the next entry\n", ""),
        ),
        loses=(NUMERICAL,),
        keeps=(GRADIENT_CHECK,),  # the gradient check computes its own differences
        says=("restore",),
        description="Each probed entry is left at old - eps instead of being restored.",
    ),
    # ---------------------------------------------------------------- hidden_gradient_norms
    Mistake(
        id="ex1_norms_no_tanh_derivative",
        notebook=NUMPY,
        cell="hidden_gradient_norms",
        replacements=(("dh = (dh * (1 - hs[t] ** 2)) @ W_h.T", "dh = dh @ W_h.T"),),
        loses=(NORMS,),
        says=("tanh derivative",),
        description="The step back multiplies by W_h.T only, forgetting tanh'.",
    ),
    Mistake(
        id="ex1_norms_W_h_not_transposed",
        notebook=NUMPY,
        cell="hidden_gradient_norms",
        replacements=(("@ W_h.T", "@ W_h"),),
        loses=(NORMS,),
        says=("not transposed",),
        description="The step back multiplies by W_h instead of W_h.T.",
    ),
    Mistake(
        id="ex1_norms_wrong_step",
        notebook=NUMPY,
        cell="hidden_gradient_norms",
        replacements=(("hs[t] ** 2", "hs[t - 1] ** 2"),),
        loses=(NORMS,),
        says=("wrong step",),
        description="tanh' is evaluated at h_{t-1} instead of h_t (off by one step).",
    ),
    Mistake(
        id="ex1_norms_time_order",
        notebook=NUMPY,
        cell="hidden_gradient_norms",
        replacements=(("norms[k] = ", "norms[t] = "),),
        loses=(NORMS,),
        says=("order",),
        description="The norms are stored by time t instead of by distance k from the end.",
    ),
    Mistake(
        id="ex1_norms_squared",
        notebook=NUMPY,
        cell="hidden_gradient_norms",
        replacements=(("np.sqrt(np.sum(dh**2))", "np.sum(dh**2)"),),
        loses=(NORMS,),
        says=("squared",),
        description="Squared norms are returned.",
    ),
    # ---------------------------------------------------------------- clip_grad_norm
    Mistake(
        id="ex1_clip_per_tensor",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(
            (
                "clipped = {name: g * scale for name, g in grads.items()}",
                "clipped = {\n        name: g * min(1.0, max_norm / (np.sqrt(np.sum(g**2)) + 1e-6))"
                "\n        for name, g in grads.items()\n    }",
            ),
        ),
        loses=(CLIP,),
        says=("global norm",),
        description="Each gradient is clipped by its own norm instead of the global norm.",
    ),
    Mistake(
        id="ex1_clip_elementwise",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(
            (
                "clipped = {name: g * scale for name, g in grads.items()}",
                "clipped = {name: np.clip(g, -max_norm, max_norm) for name, g in grads.items()}",
            ),
        ),
        loses=(CLIP,),
        says=("element-wise",),
        description="Value clipping with np.clip instead of rescaling by the norm.",
    ),
    Mistake(
        id="ex1_clip_always_rescales",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(
            (
                "scale = min(1.0, max_norm / (total_norm + 1e-6))",
                "scale = max_norm / (total_norm + 1e-6)",
            ),
        ),
        loses=(CLIP,),
        says=("already below max_norm",),
        description="Gradients are rescaled (scaled up) even when their norm is below max_norm.",
    ),
    Mistake(
        id="ex1_clip_sum_of_norms",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(
            (
                "total_norm = np.sqrt(sum(np.sum(g**2) for g in grads.values()))",
                "total_norm = sum(np.sqrt(np.sum(g**2)) for g in grads.values())",
            ),
        ),
        loses=(CLIP,),
        says=("sum of the gradients' norms",),
        description="The global norm is computed as the sum of the per-gradient norms.",
    ),
    Mistake(
        id="ex1_clip_returns_norm_after_clipping",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(("return clipped, total_norm", "return clipped, total_norm * scale"),),
        loses=(CLIP,),
        says=("before clipping",),
        description="The norm after clipping is returned instead of the norm before.",
    ),
    Mistake(
        id="ex1_clip_in_place",
        notebook=NUMPY,
        cell="clip_grad_norm",
        replacements=(
            (
                "clipped = {name: g * scale for name, g in grads.items()}",
                "for g in grads.values():\n        g *= scale\n    clipped = grads",
            ),
        ),
        loses=(CLIP,),
        says=("changed the arrays",),
        description="The caller's gradient arrays are scaled in place instead of copied.",
    ),
    # ---------------------------------------------------------------- RNNFromScratch.__init__
    Mistake(
        id="ex1_torch_plain_tensors",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            ("nn.Parameter(W_x.uniform_(-bound, bound))", "W_x.uniform_(-bound, bound)"),
            ("nn.Parameter(W_h.uniform_(-bound, bound))", "W_h.uniform_(-bound, bound)"),
            ("nn.Parameter(b.uniform_(-bound, bound))", "b.uniform_(-bound, bound)"),
        ),
        loses=(PARAMETERS, LOAD, GRADIENTS, DEVICE),
        says=("nn.Parameter",),
        description="The weights are plain tensors, so the module does not register them.",
    ),
    Mistake(
        id="ex1_torch_float32_parameters",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            (
                "torch.empty(input_size, hidden_size, dtype=dtype,",
                "torch.empty(input_size, hidden_size, dtype=torch.float32,",
            ),
            (
                "torch.empty(hidden_size, hidden_size, dtype=dtype,",
                "torch.empty(hidden_size, hidden_size, dtype=torch.float32,",
            ),
            (
                "torch.empty(hidden_size, dtype=dtype,",
                "torch.empty(hidden_size, dtype=torch.float32,",
            ),
        ),
        loses=(PARAMETERS, *RUNS_FORWARD),
        says=("float32",),
        description="The parameters are created in float32 instead of the requested float64.",
    ),
    Mistake(
        id="ex1_torch_zero_init",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            ("nn.Parameter(W_x.uniform_(-bound, bound))", "nn.Parameter(W_x.zero_())"),
            ("nn.Parameter(W_h.uniform_(-bound, bound))", "nn.Parameter(W_h.zero_())"),
        ),
        loses=(PARAMETERS,),
        says=("uniform",),
        description="The weights are initialised to zero instead of nn.RNN's uniform init.",
    ),
    Mistake(
        id="ex1_torch_rnncell_submodule",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            (
                "self.b = nn.Parameter(b.uniform_(-bound, bound))",
                "self.b = nn.Parameter(b.uniform_(-bound, bound))\n        self.cell = "
                "nn.RNNCell(input_size, hidden_size, dtype=dtype, device=device)",
            ),
            (
                "h = rnn_step(x[t], h, self.W_x, self.W_h, self.b)",
                "h = self.cell(x[t], h)",
            ),
        ),
        loses=(PARAMETERS, *RUNS_FORWARD),
        says=("nn.RNNCell",),
        description="An nn.RNNCell submodule does the work instead of the module's parameters.",
    ),
    # ---------------------------------------------------------------- rnn_step (torch)
    Mistake(
        id="ex1_torch_sigmoid",
        notebook=TORCH,
        cell="rnn_step",
        replacements=(("torch.tanh(", "torch.sigmoid("),),
        loses=(STEP, *RUNS_FORWARD),
        says=("sigmoid",),
        description="The sigmoid is used as the activation instead of tanh.",
    ),
    Mistake(
        id="ex1_torch_W_h_transposed",
        notebook=TORCH,
        cell="rnn_step",
        replacements=((_STEP, "return torch.tanh(x_t @ W_x + h_prev @ W_h.T + b)"),),
        loses=(STEP, *RUNS_FORWARD),
        says=("transposed",),
        description="The recurrent weight is used transposed.",
    ),
    Mistake(
        id="ex1_torch_no_bias",
        notebook=TORCH,
        cell="rnn_step",
        replacements=((_STEP, "return torch.tanh(x_t @ W_x + h_prev @ W_h)"),),
        loses=(STEP, *RUNS_FORWARD),
        says=("bias",),
        description="The bias is left out.",
    ),
    Mistake(
        id="ex1_torch_step_through_numpy",
        notebook=TORCH,
        cell="rnn_step",
        replacements=(
            (
                _STEP,
                "a_t = (x_t @ W_x + h_prev @ W_h + b).detach().numpy()\n"
                "    return torch.from_numpy(np.tanh(a_t))",
            ),
        ),
        loses=(STEP, GRADIENTS),
        says=(".numpy()",),
        description="The step leaves autograd through NumPy: right values, no gradients.",
    ),
    Mistake(
        id="ex1_torch_rnn_tanh_cell",
        notebook=TORCH,
        cell="rnn_step",
        replacements=((_STEP, "return torch.rnn_tanh_cell(x_t, h_prev, W_x.T, W_h.T, b)"),),
        loses=(STEP, FORWARD_T),
        says=("rnn_tanh_cell",),
        description="The step calls PyTorch's fused cell; only the hidden guards catch it.",
    ),
    # ---------------------------------------------------------------- RNNFromScratch.forward
    Mistake(
        id="ex1_torch_list_not_stacked",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("return torch.stack(hs), h[None]", "return hs, h[None]"),),
        loses=RUNS_FORWARD,
        says=("torch.stack",),
        description="forward returns a Python list of states instead of one (T, B, H) tensor.",
    ),
    Mistake(
        id="ex1_torch_h0_default_float32",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            (
                "h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)",
                "h = torch.zeros(B, self.hidden_size)",
            ),
        ),
        loses=(FORWARD_T, H0_DEFAULT, DEVICE),  # test_forward's hidden part calls model(x)
        says=("float32",),
        description="The default zero state is created without dtype/device (float32, CPU).",
    ),
    Mistake(
        id="ex1_torch_detach_between_steps",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("hs.append(h)", "hs.append(h)\n            h = h.detach()"),),
        loses=(GRADIENTS,),
        says=("detach",),
        description="The state is detached between steps, so no gradient flows through time.",
    ),
    Mistake(
        id="ex1_torch_wraps_nn_rnn",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            (
                _LOOP,
                """        factory = {"dtype": x.dtype, "device": x.device}
        rnn = nn.RNN(self.input_size, self.hidden_size, **factory)
        weights = {
            "weight_ih_l0": self.W_x.T,
            "weight_hh_l0": self.W_h.T,
            "bias_ih_l0": self.b,
            "bias_hh_l0": torch.zeros_like(self.b),
        }
        return torch.func.functional_call(rnn, weights, (x, h[None]))""",
            ),
        ),
        loses=(FORWARD_T,),
        says=("nn.RNN",),
        description="forward runs a throw-away nn.RNN on the module's weights (functional_call).",
    ),
    Mistake(
        id="ex1_torch_h0_keeps_layer_axis",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            ("h = h0[0]  # drop nn.RNN's num_layers axis: (1, B, H) -> (B, H)", "h = h0"),
        ),
        loses=(FORWARD_T, LOAD, GRADIENTS),
        says=("num_layers axis", "h0[0]"),
        description="h0 (1, B, H) is used as the step's state (B, H) without dropping its axis.",
        keeps=(STEP, PARAMETERS, H0_DEFAULT, DEVICE),
        named_in=FORWARD_T,
    ),
    Mistake(
        id="ex1_torch_h_n_without_layer_axis",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("return torch.stack(hs), h[None]", "return torch.stack(hs), h"),),
        loses=RUNS_FORWARD,
        says=("(1, B, H)", "h[None]"),
        description="h_n is returned as (B, H), without nn.RNN's num_layers axis.",
        keeps=(STEP, PARAMETERS),
    ),
    Mistake(
        id="ex1_torch_detach_every_step",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(
            (
                "h = rnn_step(x[t], h, self.W_x, self.W_h, self.b)",
                "h = rnn_step(x[t], h.detach(), self.W_x, self.W_h, self.b)",
            ),
        ),
        loses=(GRADIENTS,),
        says=("leaves the graph",),
        not_says=("ignore",),
        description="The state, h0 included, is detached before every step: on one step the "
        "outputs are right and only h0.grad is None, which is a cut graph, not an ignored h0.",
        named_in=GRADIENTS,
    ),
    # ---------------------------------------------------------------- load_from_torch
    Mistake(
        id="ex1_torch_load_W_h_not_transposed",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("self.W_h.copy_(rnn.weight_hh_l0.T)", "self.W_h.copy_(rnn.weight_hh_l0)"),),
        loses=(LOAD,),
        says=("without transposing",),
        description="weight_hh_l0 is copied as is; the course's W_h is its transpose.",
    ),
    Mistake(
        id="ex1_torch_load_W_x_not_transposed",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("self.W_x.copy_(rnn.weight_ih_l0.T)", "self.W_x.copy_(rnn.weight_ih_l0)"),),
        loses=(LOAD,),
        says=("transpose",),
        description="weight_ih_l0 (H, D) is copied into W_x (D, H) without transposing.",
    ),
    Mistake(
        id="ex1_torch_load_no_bias_hh",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("rnn.bias_ih_l0 + rnn.bias_hh_l0", "rnn.bias_ih_l0"),),
        loses=(LOAD,),
        says=("bias_hh_l0",),
        description="Only bias_ih_l0 is copied; nn.RNN adds bias_hh_l0 as well.",
    ),
    Mistake(
        id="ex1_torch_load_without_no_grad",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("with torch.no_grad():", "if True:  # copies without torch.no_grad"),),
        loses=(LOAD,),
        says=("no_grad",),
        description="Parameters are changed in place while autograd records (a RuntimeError).",
    ),
    Mistake(
        id="ex1_torch_load_assigns_tensor",
        notebook=TORCH,
        cell="rnn_from_scratch",
        replacements=(("self.W_x.copy_(rnn.weight_ih_l0.T)", "self.W_x = rnn.weight_ih_l0.T"),),
        loses=(LOAD,),
        says=("copy",),
        description="A plain tensor is assigned over a registered nn.Parameter (a TypeError).",
    ),
]
