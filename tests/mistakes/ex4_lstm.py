"""Realistic wrong implementations of Exercise 4 (the LSTM, GRU vs. LSTM), and what tests must say.

Each mistake edits one solution cell of ``solutions/ex4_lstm/lstm_numpy.ipynb`` or
``lstm_torch.ipynb`` (each ``old`` text occurs exactly once in that cell). ``loses`` lists the
graded cells the mistake makes fail; the feedback of at least one of them contains every word of
``says``. Several mistakes carry a habit over from the GRU (one gate that both keeps and writes,
the block order of another library), which is wrong for the LSTM. The written answers of
``lstm_torch`` are graded by hand and have no mistakes here.
"""

from __future__ import annotations

from .catalogue import Mistake

NUMPY = "ex4_lstm/lstm_numpy"
TORCH = "ex4_lstm/lstm_torch"

# lstm_numpy's graded cells. A wrong step fails every test that runs it.
GATES, CELL, FORWARD = "test_lstm_gates", "test_lstm_cell_forward", "test_lstm_forward"
SPLIT, AGAINST, COUNT = "test_split_torch_weights", "test_against_torch", "test_count_parameters"
RUNS_CELL = (CELL, FORWARD, AGAINST)

# lstm_torch's graded cells.
STEP, PARAMETERS, LAYER = "test_lstm_step", "test_lstm_parameters", "test_lstm_forward"
STATE, GRADIENTS, DEVICE = "test_state_default", "test_lstm_gradients", "test_lstm_device"
FORGET_BIAS, TRAIN_STEP = "test_forget_bias", "test_train_step"
EVALUATE, TRAIN_MODEL = "test_evaluate", "test_train_model"
# Every test that runs the layer's forward pass; a wrong step fails all of them.
RUNS_LAYER = (LAYER, STATE, GRADIENTS, DEVICE)

_CELL_UPDATE = "c_t = f_t * c_prev + i_t * g_t  # keep"  # the docstring has the formula too
_GATES = "gates = x_t @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh"
_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

MISTAKES: list[Mistake] = [
    # ------------------------------------------------------------------ lstm_numpy: the blocks
    Mistake(
        id="ex4_candidate_sigmoid",
        notebook=NUMPY,
        cell="lstm_gates",
        replacements=(('g_t = np.tanh(a["g"])', 'g_t = sigmoid(a["g"])'),),
        loses=(GATES, *RUNS_CELL),
        says=("cell candidate g_t uses a sigmoid",),
        description="The candidate is squashed like a gate, so the cell can only grow.",
    ),
    Mistake(
        id="ex4_gates_returned_ifog",
        notebook=NUMPY,
        cell="lstm_gates",
        replacements=(("return i_t, f_t, g_t, o_t", "return i_t, f_t, o_t, g_t"),),
        loses=(GATES, *RUNS_CELL),
        says=("wrong order",),
        description="The gates are returned in char-rnn's order i, f, o, g.",
    ),
    # -------------------------------------------------------------------- lstm_numpy: the cell
    Mistake(
        id="ex4_cell_without_input_gate",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=((_CELL_UPDATE, "c_t = f_t * c_prev + g_t  # keep"),),
        loses=RUNS_CELL,
        says=("input gate is missing",),
        description="c_t = f ⊙ c + g: everything the candidate proposes is written.",
    ),
    Mistake(
        id="ex4_cell_from_hidden_state",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=((_CELL_UPDATE, "c_t = f_t * h_prev + i_t * g_t  # keep"),),
        loses=RUNS_CELL,
        says=("hidden state h_{t−1} where the previous cell",),
        description="The forget gate scales h_{t−1} instead of the cell c_{t−1}.",
    ),
    Mistake(
        id="ex4_forget_gate_on_candidate",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=((_CELL_UPDATE, "c_t = i_t * c_prev + f_t * g_t  # keep"),),
        loses=RUNS_CELL,
        says=("forget gate is applied to g_t",),
        description="The input and forget gates are swapped in the cell update.",
    ),
    Mistake(
        id="ex4_cell_coupled_like_gru",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=((_CELL_UPDATE, "c_t = f_t * c_prev + (1 - f_t) * g_t  # keep"),),
        loses=RUNS_CELL,
        says=("GRU's interpolation",),
        description="The GRU's habit: one gate keeps and 1 − gate writes; the LSTM has i_t.",
    ),
    Mistake(
        id="ex4_hidden_without_tanh",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=(("h_t = o_t * np.tanh(c_t)", "h_t = o_t * c_t"),),
        loses=RUNS_CELL,
        says=("tanh is missing",),
        description="h_t = o ⊙ c: the cell is shown without squashing.",
    ),
    Mistake(
        id="ex4_cell_returns_c_h",
        notebook=NUMPY,
        cell="lstm_cell_forward",
        replacements=(("return h_t, c_t", "return c_t, h_t"),),
        loses=RUNS_CELL,
        says=("(h_t, c_t)",),
        description="The step returns (c_t, h_t) instead of nn.LSTMCell's order (h_t, c_t).",
    ),
    # -------------------------------------------------------------- lstm_numpy: forward pass
    Mistake(
        id="ex4_forward_unpacks_three",
        notebook=NUMPY,
        cell="lstm_forward",
        replacements=(
            (
                "h, c = lstm_cell_forward(x[t], h, c, params)",
                "h, c, _ = lstm_cell_forward(x[t], h, c, params)",
            ),
        ),
        loses=(FORWARD, AGAINST),
        says=("h, c, _ = lstm_cell_forward", "holds 2 item(s) into 3 names"),
        description="The cell's pair is unpacked into three names: a ValueError, which the "
        "message explains with the student's own line and the numbers.",
        keeps=(GATES, CELL, SPLIT, COUNT),
        named_in=FORWARD,
    ),
    Mistake(
        id="ex4_forward_cell_not_carried",
        notebook=NUMPY,
        cell="lstm_forward",
        replacements=(
            (
                "h, c = lstm_cell_forward(x[t], h, c, params)",
                "h, _ = lstm_cell_forward(x[t], h, c, params)",
            ),
        ),
        loses=(FORWARD, AGAINST),
        says=("c0",),
        description="Only h is carried from step to step; the cell stays c0.",
    ),
    # ------------------------------------------------------- lstm_numpy: PyTorch's layout, count
    Mistake(
        id="ex4_split_order_ifog",
        notebook=NUMPY,
        cell="split_torch_weights",
        replacements=(('enumerate("ifgo")', 'enumerate("ifog")'),),
        loses=(SPLIT, AGAINST),
        says=("wrong order i, f, o, g",),
        description="The blocks are read in char-rnn's order i, f, o, g instead of i, f, g, o.",
    ),
    Mistake(
        id="ex4_split_order_igfo",
        notebook=NUMPY,
        cell="split_torch_weights",
        replacements=(('enumerate("ifgo")', 'enumerate("igfo")'),),
        loses=(SPLIT, AGAINST),
        says=("wrong order i, g, f, o",),
        description="The blocks are read in TensorFlow's BasicLSTMCell order i, g (j), f, o.",
    ),
    Mistake(
        id="ex4_split_not_transposed",
        notebook=NUMPY,
        cell="split_torch_weights",
        replacements=(
            ('params["W_x" + gate] = weight_ih[rows].T', 'params["W_x" + gate] = weight_ih[rows]'),
            ('params["W_h" + gate] = weight_hh[rows].T', 'params["W_h" + gate] = weight_hh[rows]'),
        ),
        loses=(SPLIT, AGAINST),
        says=("transposed",),
        description="PyTorch's blocks are used as they are, without the transpose to (D, H).",
    ),
    Mistake(
        id="ex4_split_one_bias",
        notebook=NUMPY,
        cell="split_torch_weights",
        replacements=(("bias_ih[rows] + bias_hh[rows]", "bias_ih[rows]"),),
        loses=(SPLIT, AGAINST),
        says=("bias_ih alone",),
        description="Only bias_ih is read; the gates add bias_hh too.",
    ),
    Mistake(
        id="ex4_count_one_bias",
        notebook=NUMPY,
        cell="count_parameters",
        replacements=(("D * H + H * H + 2 * H", "D * H + H * H + H"),),
        loses=(COUNT,),
        says=("two bias vectors",),
        description="One bias vector per block, as in the equations, not PyTorch's two.",
    ),
    Mistake(
        id="ex4_count_lstm_three_blocks",
        notebook=NUMPY,
        cell="count_parameters",
        replacements=(('"lstm": 4', '"lstm": 3'),),
        loses=(COUNT,),
        says=("you counted 3",),
        description="The LSTM counted with three blocks, like the GRU (its three gates).",
    ),
    # ------------------------------------------------------------------ lstm_torch: the step
    Mistake(
        id="ex4t_chunks_ifog",
        notebook=TORCH,
        cell="lstm_cell",
        replacements=(
            (
                "i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's order: i, f, g, o",
                "i, f, o, g = gates.chunk(4, dim=1)",
            ),
        ),
        loses=(STEP, *RUNS_LAYER),
        says=("wrong order i, f, o, g",),
        description="The chunks are read in the order i, f, o, g instead of PyTorch's i, f, g, o.",
    ),
    Mistake(
        id="ex4t_candidate_sigmoid",
        notebook=TORCH,
        cell="lstm_cell",
        replacements=(("g = torch.tanh(g)  # the cell candidate", "g = torch.sigmoid(g)"),),
        loses=(STEP, *RUNS_LAYER),
        says=("squashed with a sigmoid",),
        description="All four chunks go through the sigmoid.",
    ),
    Mistake(
        id="ex4t_bias_hh_missing",
        notebook=TORCH,
        cell="lstm_cell",
        replacements=((_GATES, "gates = x_t @ weight_ih.T + bias_ih + h @ weight_hh.T"),),
        loses=(STEP, *RUNS_LAYER),
        says=("bias_hh is missing",),
        description="One bias vector, as in the equations; nn.LSTM adds both.",
    ),
    Mistake(
        id="ex4t_weight_ih_not_transposed",
        notebook=TORCH,
        cell="lstm_cell",
        replacements=(("gates = x_t @ weight_ih.T", "gates = x_t @ weight_ih"),),
        loses=(STEP, *RUNS_LAYER),
        says=("without transposing",),
        description="x_t @ weight_ih, a shape error: PyTorch stores (4H, D), one row per unit.",
    ),
    Mistake(
        id="ex4t_fused_lstm_cell",
        notebook=TORCH,
        cell="lstm_cell",
        replacements=(
            (
                _GATES,
                "return torch.lstm_cell(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)\n"
                "    " + _GATES,
            ),
        ),
        loses=(STEP, LAYER),
        says=("torch.lstm_cell",),
        description="The step calls PyTorch's fused cell; only the hidden guards catch it.",
    ),
    # ----------------------------------------------------------------- lstm_torch: the layer
    Mistake(
        id="ex4t_parameters_without_l0",
        notebook=TORCH,
        cell="lstm_module",
        replacements=(
            *((f"self.{name}_l0 = nn.Parameter", f"self.{name} = nn.Parameter") for name in _NAMES),
            (
                "weights = (self.weight_ih_l0, self.weight_hh_l0, self.bias_ih_l0, "
                "self.bias_hh_l0)",
                "weights = (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)",
            ),
        ),
        loses=(PARAMETERS, *RUNS_LAYER, FORGET_BIAS),
        says=("weight_ih_l0",),
        description="nn.LSTMCell's names: load_state_dict from nn.LSTM no longer fits.",
    ),
    Mistake(
        id="ex4t_state_detached",
        notebook=TORCH,
        cell="lstm_module",
        replacements=(
            ("output.append(h)", "output.append(h)\n            h, c = h.detach(), c.detach()"),
        ),
        loses=(GRADIENTS,),
        says=("detached between steps",),
        description="Both states are detached at every step: no gradient flows through time.",
    ),
    Mistake(
        id="ex4t_default_state_float32",
        notebook=TORCH,
        cell="lstm_module",
        replacements=(
            (
                "h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)",
                "h = torch.zeros(B, self.hidden_size)",
            ),
            (
                "c = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)",
                "c = torch.zeros(B, self.hidden_size)",
            ),
        ),
        loses=(STATE, DEVICE),
        says=("float32",),
        description="The default zero states are made without dtype and device (float32, CPU).",
    ),
    # ------------------------------------------------------------- lstm_torch: the forget bias
    Mistake(
        id="ex4t_forget_bias_in_input_block",
        notebook=TORCH,
        cell="set_forget_bias",
        replacements=(("lstm.bias_ih_l0[H : 2 * H] = value", "lstm.bias_ih_l0[:H] = value"),),
        loses=(FORGET_BIAS,),
        says=("input gate i",),
        description="The value goes to the first block, which is the input gate.",
    ),
    Mistake(
        id="ex4t_forget_bias_zeroes_other_biases",
        notebook=TORCH,
        cell="set_forget_bias",
        replacements=(
            (
                "lstm.bias_ih_l0[H : 2 * H] = value",
                "lstm.bias_ih_l0.zero_()\n        lstm.bias_hh_l0.zero_()\n"
                "        lstm.bias_ih_l0[H : 2 * H] = value",
            ),
        ),
        loses=(FORGET_BIAS,),
        says=("other biases were set to 0",),
        description="Every other bias is zeroed too: Chapter 4's forget bias changes the forget "
        "block only and keeps PyTorch's initialisation elsewhere.",
        named_in=FORGET_BIAS,
    ),
    Mistake(
        id="ex4t_forget_bias_hh_not_zeroed",
        notebook=TORCH,
        cell="set_forget_bias",
        replacements=(
            ("        lstm.bias_hh_l0[H : 2 * H] = 0.0  # the gate adds both vectors\n", ""),
        ),
        loses=(FORGET_BIAS,),
        says=("was not set to 0",),
        description="bias_hh's forget block keeps its random value, which the gate adds.",
        named_in=FORGET_BIAS,
    ),
    Mistake(
        id="ex4t_init_bound_one_over_H",
        notebook=TORCH,
        cell="lstm_module",
        replacements=(("bound = 1.0 / math.sqrt(H)", "bound = 1.0 / H"),),
        loses=(PARAMETERS,),
        says=("uniform",),
        description="The weights are drawn on [-1/H, 1/H]: test_lstm_parameters says so, and "
        "test_forget_bias, which compares the layer with itself built without the option, does "
        "not charge it again.",
        keeps=(FORGET_BIAS, *RUNS_LAYER),
        named_in=PARAMETERS,
    ),
    Mistake(
        id="ex4t_detach_every_step",
        notebook=TORCH,
        cell="lstm_module",
        replacements=(
            (
                "h, c = lstm_cell(x[t], h, c, *weights)",
                "h, c = lstm_cell(x[t], h.detach(), c.detach(), *weights)",
            ),
        ),
        loses=(GRADIENTS,),
        says=("leaves the graph",),
        not_says=("ignore",),
        description="Both states, h0 and c0 included, are detached before every step: on one "
        "step only h0.grad is None, a cut graph, not an ignored state.",
        named_in=GRADIENTS,
    ),
    # ---------------------------------------------------------------- lstm_torch: training
    Mistake(
        id="ex4t_train_step_no_zero_grad",
        notebook=TORCH,
        cell="train_step",
        replacements=(("    optimizer.zero_grad()\n", ""),),
        loses=(TRAIN_STEP,),
        says=("zero_grad",),
        description="Gradients accumulate over all steps.",
    ),
    Mistake(
        id="ex4t_evaluate_sum",
        notebook=TORCH,
        cell="evaluate",
        replacements=(("torch.mean((model(x) - y) ** 2)", "torch.sum((model(x) - y) ** 2)"),),
        loses=(EVALUATE,),
        says=("sum of the squared errors",),
        description="The test error is summed over the sequences instead of averaged.",
    ),
    Mistake(
        id="ex4t_train_model_optimizer_in_loop",
        notebook=TORCH,
        cell="train_model",
        replacements=(
            ("    optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n", ""),
            (
                "    for k in range(steps):\n",
                "    for k in range(steps):\n"
                "        optimizer = torch.optim.Adam(model.parameters(), lr=lr)\n",
            ),
        ),
        loses=(TRAIN_MODEL,),
        says=("inside the loop",),
        description="A new Adam at every step: its running averages never build up.",
    ),
]
