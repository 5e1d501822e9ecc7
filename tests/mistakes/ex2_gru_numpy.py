"""Realistic wrong implementations of Exercise 2 (the GRU in NumPy), and what the tests must say.

Each mistake edits one solution cell of ``solutions/ex2_gru_numpy/gru_numpy.ipynb`` (each ``old``
text occurs exactly once in that cell). ``loses`` lists every graded cell the mistake makes fail,
and ``says`` the words that name the mistake in the feedback. Later functions call earlier ones
(the cell calls the gates, the forward pass calls the cell, the backward pass recomputes the gates),
so a mistake in a gate also costs the cells downstream, where the feedback names it too when the
wrong value matches a catalogued one.
"""

from __future__ import annotations

from .catalogue import Mistake

NOTEBOOK = "ex2_gru_numpy/gru_numpy"

SIGMOID = "test_sigmoid"
RESET, UPDATE = "test_reset_gate", "test_update_gate"
CANDIDATE = "test_candidate_state"
CELL = "test_gru_cell_forward"
FORWARD = "test_gru_forward"
SPLIT = "test_split_torch_weights"
DW_RESET, DW_UPDATE = "test_gru_backward_reset_gate", "test_gru_backward_update_gate"
DW_CANDIDATE = "test_gru_backward_candidate"
DX, DH0 = "test_gru_backward_dx", "test_gru_backward_dh0"
GRADIENT_CHECK = "test_gradient_check"
ALL_BACKWARD = (DW_RESET, DW_UPDATE, DW_CANDIDATE, DX, DH0)
# Every cell downstream of a gate or of the candidate: the cell, the forward pass, the backward
# pass (which recomputes the gates with the student's functions) and the gradient check.
DOWNSTREAM = (CELL, FORWARD, *ALL_BACKWARD, GRADIENT_CHECK)

_RESET_LINE = 'return sigmoid(x_t @ params["W_xr"] + h_prev @ params["W_hr"] + params["b_r"])'
_U_LINE = (
    'u = h_prev @ params["W_hh"] + params["b_hh"]  # the recurrent part, reset after the product'
)
_INTERPOLATION = "return z_t * h_prev + (1 - z_t) * h_tilde"
_DH_PREV = 'dh_prev += da_r @ params["W_hr"].T + da_z @ params["W_hz"].T + du @ params["W_hh"].T'

MISTAKES: list[Mistake] = [
    # ---------------------------------------------------------------- sigmoid
    Mistake(
        id="ex2_sigmoid_naive_overflow",
        notebook=NOTEBOOK,
        cell="sigmoid",
        replacements=(
            (
                "    e = np.exp(-np.abs(a))  # in (0, 1]: the exponential of a number <= 0 cannot "
                "overflow\n    return np.where(a >= 0, 1 / (1 + e), e / (1 + e))",
                "    return 1 / (1 + np.exp(-a))",
            ),
        ),
        loses=(SIGMOID,),
        says=("overflow", "stable"),
        description="The textbook formula 1 / (1 + exp(-a)): exp overflows for a = -1000.",
    ),
    Mistake(
        id="ex2_sigmoid_where_evaluates_both_branches",
        notebook=NOTEBOOK,
        cell="sigmoid",
        replacements=(
            (
                "np.where(a >= 0, 1 / (1 + e), e / (1 + e))",
                "np.where(a >= 0, 1 / (1 + np.exp(-a)), np.exp(a) / (1 + np.exp(a)))",
            ),
        ),
        loses=(SIGMOID,),
        says=("overflow", "both"),
        description="A 'stable' np.where whose branches both call exp on the raw a: np.where "
        "evaluates both branches everywhere, so exp still overflows.",
    ),
    Mistake(
        id="ex2_sigmoid_branches_swapped",
        notebook=NOTEBOOK,
        cell="sigmoid",
        replacements=(
            (
                "np.where(a >= 0, 1 / (1 + e), e / (1 + e))",
                "np.where(a >= 0, e / (1 + e), 1 / (1 + e))",
            ),
        ),
        loses=(SIGMOID, RESET, UPDATE, *DOWNSTREAM),
        says=("sign",),
        description="The two branches of the stable form are swapped, which computes sigmoid(-a).",
    ),
    # ---------------------------------------------------------------- gates
    Mistake(
        id="ex2_reset_gate_bias_missing",
        notebook=NOTEBOOK,
        cell="reset_gate",
        replacements=((' + params["b_r"])', ")"),),
        loses=(RESET, *DOWNSTREAM),
        says=("bias b_r is missing",),
        description="The bias b_r is left out of the reset gate.",
    ),
    Mistake(
        id="ex2_reset_gate_bias_doubled",
        notebook=NOTEBOOK,
        cell="reset_gate",
        replacements=(
            (
                _RESET_LINE,
                'a_x = x_t @ params["W_xr"] + params["b_r"]\n'
                '    a_h = h_prev @ params["W_hr"] + params["b_r"]  # two biases, as in PyTorch\n'
                "    return sigmoid(a_x + a_h)",
            ),
        ),
        loses=(RESET, *DOWNSTREAM),
        says=("added twice",),
        description="b_r is added on both the input and the hidden side, copying PyTorch's two "
        "biases, although b_r already is their sum.",
    ),
    Mistake(
        id="ex2_reset_gate_W_hr_transposed",
        notebook=NOTEBOOK,
        cell="reset_gate",
        replacements=(('h_prev @ params["W_hr"]', 'h_prev @ params["W_hr"].T'),),
        loses=(RESET, *DOWNSTREAM),
        says=("transposed",),
        description="W_hr is used transposed (H × H, so the shapes still fit).",
    ),
    Mistake(
        id="ex2_reset_gate_W_xr_transposed",
        notebook=NOTEBOOK,
        cell="reset_gate",
        replacements=(('x_t @ params["W_xr"]', 'x_t @ params["W_xr"].T'),),
        loses=(RESET, *DOWNSTREAM),
        says=("transposes (.t)",),
        description="W_xr is used transposed: a shape error since D != H.",
    ),
    Mistake(
        id="ex2_reset_gate_tanh",
        notebook=NOTEBOOK,
        cell="reset_gate",
        replacements=(("return sigmoid(", "return np.tanh("),),
        loses=(RESET, *DOWNSTREAM),
        says=("tanh instead of the sigmoid",),
        description="The reset gate uses tanh instead of the sigmoid.",
    ),
    Mistake(
        id="ex2_update_gate_uses_reset_weights",
        notebook=NOTEBOOK,
        cell="update_gate",
        replacements=(('x_t @ params["W_xz"]', 'x_t @ params["W_xr"]'),),
        loses=(UPDATE, *DOWNSTREAM),
        says=("mixed up",),
        description="Copied from reset_gate: the update gate uses W_xr, the reset gate's input "
        "weights (the gates' chunks mixed up).",
    ),
    Mistake(
        id="ex2_update_gate_bias_missing",
        notebook=NOTEBOOK,
        cell="update_gate",
        replacements=((' + params["b_z"])', ")"),),
        loses=(UPDATE, *DOWNSTREAM),
        says=("bias b_z is missing",),
        description="The bias b_z is left out of the update gate.",
    ),
    # ---------------------------------------------------------------- candidate
    Mistake(
        id="ex2_candidate_reset_before_matmul",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=(
            (_U_LINE, 'u = (r_t * h_prev) @ params["W_hh"] + params["b_hh"]'),
            ("+ r_t * u)", "+ u)"),
        ),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("before the matrix product",),
        description="The Cho et al. / D2L form (r_t * h_prev) @ W_hh, which is not torch.nn.GRU.",
    ),
    Mistake(
        id="ex2_candidate_b_hh_outside_reset",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=(
            (_U_LINE, 'u = h_prev @ params["W_hh"]'),
            ("+ r_t * u)", '+ r_t * u + params["b_hh"])'),
        ),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("outside the reset",),
        description="b_hh is added outside r_t * (...), so the reset does not scale it.",
    ),
    Mistake(
        id="ex2_candidate_b_hh_missing",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=((_U_LINE, 'u = h_prev @ params["W_hh"]'),),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("b_hh is missing",),
        description="The candidate's hidden-side bias b_hh is left out.",
    ),
    Mistake(
        id="ex2_candidate_sigmoid",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=(("return np.tanh(", "return sigmoid("),),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("sigmoid instead of tanh",),
        description="The candidate uses the sigmoid instead of tanh.",
    ),
    Mistake(
        id="ex2_candidate_W_hh_transposed",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=(('h_prev @ params["W_hh"]', 'h_prev @ params["W_hh"].T'),),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("transposed",),
        description="W_hh is used transposed (H × H, so the shapes still fit).",
    ),
    Mistake(
        id="ex2_candidate_no_reset",
        notebook=NOTEBOOK,
        cell="candidate_state",
        replacements=(("+ r_t * u)", "+ u)"),),
        loses=(CANDIDATE, *DOWNSTREAM),
        says=("not applied",),
        description="The reset gate is ignored: the candidate is a plain RNN step.",
    ),
    # ---------------------------------------------------------------- cell
    Mistake(
        id="ex2_cell_z_swapped",
        notebook=NOTEBOOK,
        cell="gru_cell_forward",
        replacements=((_INTERPOLATION, "return (1 - z_t) * h_prev + z_t * h_tilde"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("swapped",),
        description="z_t and 1 - z_t swapped (Chung et al.'s convention, not PyTorch's).",
    ),
    Mistake(
        id="ex2_cell_update_gate_given_to_candidate",
        notebook=NOTEBOOK,
        cell="gru_cell_forward",
        replacements=(
            (
                "candidate_state(x_t, h_prev, r_t, params)",
                "candidate_state(x_t, h_prev, z_t, params)",
            ),
        ),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("mixed up",),
        description="The update gate z_t is passed to the candidate instead of the reset gate.",
    ),
    Mistake(
        id="ex2_cell_one_minus_z_missing",
        notebook=NOTEBOOK,
        cell="gru_cell_forward",
        replacements=((_INTERPOLATION, "return z_t * h_prev + h_tilde"),),
        loses=(CELL, FORWARD, GRADIENT_CHECK),
        says=("1 - z_t is missing",),
        description="The candidate is added without its weight 1 - z_t.",
    ),
    Mistake(
        id="ex2_cell_float32",
        notebook=NOTEBOOK,
        cell="gru_cell_forward",
        replacements=((_INTERPOLATION, f"return ({_INTERPOLATION[7:]}).astype(np.float32)"),),
        loses=(CELL, GRADIENT_CHECK),
        says=("float32",),
        description="The new state is cast to float32: the cell test rejects the dtype, and "
        "the forward pass, which stores it in a float64 array, is right to 1e-6 but fails the "
        "gradient check.",
    ),
    # ---------------------------------------------------------------- forward
    Mistake(
        id="ex2_forward_last_state_only",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(("    return hs\n", "    return h\n"),),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("last state",),
        description="Only the final state h_T is returned instead of all states.",
    ),
    Mistake(
        id="ex2_forward_batch_major",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(
            (
                "gru_cell_forward(x[t], h, params)",
                "gru_cell_forward(x[:, t], h, params)",
            ),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("time",),
        description="x is indexed as batch-major (x[:, t]) although it is time-major (T, B, D).",
    ),
    Mistake(
        id="ex2_forward_T_from_batch_axis",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(("T = x.shape[0]", "T = x.shape[1]"),),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("batch axis",),
        description="The number of steps is read from axis 1 (the batch axis).",
    ),
    Mistake(
        id="ex2_forward_h0_every_step",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(
            (
                "gru_cell_forward(x[t], h, params)",
                "gru_cell_forward(x[t], h0, params)",
            ),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("not carried forward",),
        description="Every step starts from h0: the state is not carried from step to step.",
    ),
    Mistake(
        id="ex2_forward_float32_array",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(
            ("hs = np.zeros((T, *h0.shape))", "hs = np.zeros((T, *h0.shape), dtype=np.float32)"),
        ),
        loses=(FORWARD, GRADIENT_CHECK),
        says=("float32",),
        description="The states are stored in a float32 array.",
    ),
    Mistake(
        id="ex2_forward_float32_rounding",
        notebook=NOTEBOOK,
        cell="gru_forward",
        replacements=(("hs[t] = h", "hs[t] = h.astype(np.float32)  # save memory"),),
        loses=(GRADIENT_CHECK,),
        says=("float32", "float64"),
        description="Each state is rounded through float32 before it is stored in the float64 "
        "array: right to 1e-6, so the forward test passes, but the centered differences of the "
        "gradient check are noise.",
    ),
    # ---------------------------------------------------------------- split_torch_weights
    Mistake(
        id="ex2_split_keras_gate_order",
        notebook=NOTEBOOK,
        cell="split_torch_weights",
        replacements=(
            ("r, z, n = slice(0, H), slice(H, 2 * H)", "z, r, n = slice(0, H), slice(H, 2 * H)"),
        ),
        loses=(SPLIT,),
        says=("wrong order",),
        description="The chunks are read in Keras's order z, r, h instead of PyTorch's r, z, n.",
    ),
    Mistake(
        id="ex2_split_not_transposed",
        notebook=NOTEBOOK,
        cell="split_torch_weights",
        replacements=(('"W_hh": weight_hh[n].T,', '"W_hh": weight_hh[n],'),),
        loses=(SPLIT,),
        says=("not transposed",),
        description="A recurrent block is copied without transposing it.",
    ),
    Mistake(
        id="ex2_split_one_gate_bias",
        notebook=NOTEBOOK,
        cell="split_torch_weights",
        replacements=(('"b_r": bias_ih[r] + bias_hh[r],', '"b_r": bias_ih[r],'),),
        loses=(SPLIT,),
        says=("sum",),
        description="b_r takes only the input-side bias; it is the sum of PyTorch's two.",
    ),
    Mistake(
        id="ex2_split_b_hh_folded_into_b_xh",
        notebook=NOTEBOOK,
        cell="split_torch_weights",
        replacements=(('"b_xh": bias_ih[n],', '"b_xh": bias_ih[n] + bias_hh[n],'),),
        loses=(SPLIT,),
        says=("apart",),
        description="The candidate's two biases are summed as for the gates.",
    ),
    # ---------------------------------------------------------------- backward
    Mistake(
        id="ex2_backward_no_direct_path",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("dh_prev = dh * z  # the direct path", "dh_prev = np.zeros_like(dh)"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("direct path",),
        description="The gradient through z_t * h_{t-1} (the direct path) is forgotten.",
    ),
    Mistake(
        id="ex2_backward_z_swapped",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(
            ("dh_tilde = dh * (1 - z)", "dh_tilde = dh * z"),
            ("dh_prev = dh * z  # the direct path", "dh_prev = dh * (1 - z)"),
        ),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("swapped",),
        description="z and 1 - z swapped in the backward pass.",
    ),
    Mistake(
        id="ex2_backward_dz_sign",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("dz = dh * (h_prev - h_tilde)", "dz = dh * (h_tilde - h_prev)"),),
        loses=(DW_UPDATE, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_RESET, DW_CANDIDATE),
        named_in=DW_UPDATE,
        says=("wrong sign",),
        description="dL/dz_t with the wrong sign.",
    ),
    Mistake(
        id="ex2_backward_sigmoid_derivative",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(
            ("da_r = dr * r * (1 - r)", "da_r = dr * r"),
            ("da_z = dz * z * (1 - z)", "da_z = dz * z"),
        ),
        loses=(DW_RESET, DW_UPDATE, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_CANDIDATE,),
        says=("sigmoid derivative",),
        description="sigmoid'(a) taken as sigmoid(a) instead of sigmoid(a) (1 - sigmoid(a)).",
    ),
    Mistake(
        id="ex2_backward_update_sigmoid_derivative",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("da_z = dz * z * (1 - z)", "da_z = dz * z"),),
        loses=(DW_UPDATE, DX, DH0, GRADIENT_CHECK),
        says=("sigmoid derivative of the update gate",),
        description="Only the update gate's sigmoid derivative is wrong: charged to the update "
        "gate's test (and dx, dh0, which collect every path), not to the reset gate's, whose "
        "several-step case zeroes W_hz and W_hh.",
        keeps=(DW_RESET, DW_CANDIDATE),
        named_in=DW_UPDATE,
    ),
    Mistake(
        id="ex2_backward_tanh_derivative",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("(1 - h_tilde**2)", "(1 - h_tilde)"),),
        loses=(DW_RESET, DW_CANDIDATE, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_UPDATE,),
        says=("tanh derivative",),
        description="tanh'(a) written as 1 - h_tilde instead of 1 - h_tilde**2.",
    ),
    Mistake(
        id="ex2_backward_reset_path_missing",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=((_DH_PREV, 'dh_prev += da_z @ params["W_hz"].T + du @ params["W_hh"].T'),),
        loses=(DW_RESET, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_UPDATE, DW_CANDIDATE),
        says=("reset gate's path",),
        description="The reset gate's contribution to dL/dh_{t-1} is forgotten.",
    ),
    Mistake(
        id="ex2_backward_not_through_time",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("dh = dhs[t] + dh_next", "dh = dhs[t]"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("next step",),
        description="The gradient arriving from step t + 1 is not added to dhs[t].",
    ),
    Mistake(
        id="ex2_backward_W_hh_not_accumulated",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["W_hh"] += ', 'grads["W_hh"] = '),),
        loses=(DW_CANDIDATE, GRADIENT_CHECK),
        says=("not accumulated over time",),
        description="dW_hh is overwritten at every step instead of summed over time.",
    ),
    Mistake(
        id="ex2_backward_dW_hh_without_reset",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["W_hh"] += h_prev.T @ du', 'grads["W_hh"] += h_prev.T @ da_h'),),
        loses=(DW_CANDIDATE, GRADIENT_CHECK),
        says=("reset gate is missing from dw_hh",),
        description="dW_hh forgets that h_prev @ W_hh is multiplied by r_t.",
    ),
    Mistake(
        id="ex2_backward_dr_without_b_hh",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(
            (
                'u = h_prev @ params["W_hh"] + params["b_hh"]',
                'u = h_prev @ params["W_hh"]',
            ),
        ),
        loses=(DW_RESET, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_UPDATE, DW_CANDIDATE),
        says=("b_hh is missing from dl/dr_t",),
        description="dL/dr_t uses h_prev @ W_hh without b_hh.",
    ),
    Mistake(
        id="ex2_backward_W_hh_not_transposed",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('du @ params["W_hh"].T', 'du @ params["W_hh"]'),),
        loses=(DW_CANDIDATE, DX, DH0, GRADIENT_CHECK),
        keeps=(DW_RESET, DW_UPDATE),
        says=("not transposed",),
        description="The backward recurrence multiplies by W_hh instead of W_hh.T.",
    ),
    Mistake(
        id="ex2_backward_dW_hr_current_state",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["W_hr"] += h_prev.T @ da_r', 'grads["W_hr"] += hs[t].T @ da_r'),),
        loses=(DW_RESET, GRADIENT_CHECK),
        says=("previous state",),
        description="dW_hr uses the current state h_t instead of the previous state h_{t-1}.",
    ),
    Mistake(
        id="ex2_backward_h0_wraps_around",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("h_prev = hs[t - 1] if t > 0 else h0", "h_prev = hs[t - 1]"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("h0",),
        description="At t = 0 the previous state is taken as hs[-1] (the last state), not h0.",
    ),
    Mistake(
        id="ex2_backward_forward_in_time",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(("for t in reversed(range(T)):", "for t in range(T):"),),
        loses=(*ALL_BACKWARD, GRADIENT_CHECK),
        says=("reversed",),
        description="The backward loop runs forwards in time.",
    ),
    Mistake(
        id="ex2_backward_dx_candidate_term_missing",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=((' + da_h @ params["W_xh"].T', ""),),
        loses=(DX, GRADIENT_CHECK),
        says=("candidate's term is missing from dx",),
        description="dx forgets the candidate's term da_h @ W_xh.T.",
    ),
    Mistake(
        id="ex2_backward_db_z_summed_over_all_axes",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["b_z"] += da_z.sum(axis=0)', 'grads["b_z"] += da_z.sum()'),),
        loses=(DW_UPDATE, GRADIENT_CHECK),
        says=("every axis",),
        description="db_z is summed over all axes, so every entry is the same number.",
    ),
    Mistake(
        id="ex2_backward_db_r_summed_over_hidden_axis",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["b_r"] += da_r.sum(axis=0)', 'grads["b_r"] += da_r.sum(axis=1)'),),
        loses=(DW_RESET, GRADIENT_CHECK),
        keeps=(DW_UPDATE, DW_CANDIDATE, DX, DH0),
        named_in=DW_RESET,
        says=("batch axis",),
        description="db_r sums over axis 1 (hidden units) instead of axis 0 (the batch): a "
        "shape error since B != H.",
    ),
    Mistake(
        id="ex2_backward_dW_xh_transposed",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('grads["W_xh"] += x[t].T @ da_h', 'grads["W_xh"] += da_h.T @ x[t]'),),
        loses=(DW_CANDIDATE, GRADIENT_CHECK),
        keeps=(DW_RESET, DW_UPDATE, DX, DH0),
        named_in=DW_CANDIDATE,
        says=("transposes (.t)",),
        description="dW_xh accumulated as da_h.T @ x[t], shape (H, D) instead of (D, H).",
    ),
    Mistake(
        id="ex2_backward_dh0_is_dh1",
        notebook=NOTEBOOK,
        cell="gru_backward",
        replacements=(('"dh0": dh_next', '"dh0": dh'),),
        loses=(DH0, GRADIENT_CHECK),
        says=("gradient of h_1",),
        description="dh0 returns dL/dh_1 (the gradient before the last step back).",
    ),
]
