"""Realistic wrong implementations of Exercise 3 (the GRU in PyTorch), and what the tests must say.

Each mistake edits one solution cell of ``solutions/ex3_gru_torch/gru_torch.ipynb`` (each ``old``
text occurs exactly once in that cell). ``loses`` lists the graded cells the mistake makes fail;
the feedback of at least one of them contains every word of ``says``. Several mistakes carry a
habit over from Exercise 1 (transposing nn.RNN's weights, adding its two biases), which is wrong
for the GRU's layout.
"""

from __future__ import annotations

from .catalogue import Mistake

NB = "ex3_gru_torch/gru_torch"

# Graded cells, grouped by what a mistake in one place makes fail.
CELL_PARAMETERS, CELL_FORWARD = "test_cell_parameters", "test_cell_forward"
GRU_FORWARD, H0_DEFAULT, LOAD = "test_gru_forward", "test_h0_default", "test_load_from_torch"
GRADIENTS, DEVICE = "test_gradients", "test_device"
ADDING, TRAIN, TRAINED = "test_adding_problem", "test_train", "test_adding_trained"
# Every test that runs the layer's forward pass; a wrong step fails all of them.
RUNS_LAYER = (GRU_FORWARD, H0_DEFAULT, LOAD, GRADIENTS, DEVICE)

_CHUNKS = """        gx_r, gx_z, gx_n = gx.chunk(3, dim=1)  # PyTorch's order: r, z, n
        gh_r, gh_z, gh_n = gh.chunk(3, dim=1)"""
_LOOP = """        output = []
        for t in range(T):
            h = self.cell(x[t], h)
            output.append(h)
        return torch.stack(output), h[None]"""
_PARAMETERS = ("weight_ih", "3 * H, D"), ("weight_hh", "3 * H, H"), ("bias_ih", "3 * H")

MISTAKES: list[Mistake] = [
    # ---------------------------------------------------------------- GRUCellFromScratch
    Mistake(
        id="ex3_chunks_z_r_n",
        notebook=NB,
        cell="gru_cell",
        replacements=(
            (
                _CHUNKS,
                "        gx_z, gx_r, gx_n = gx.chunk(3, dim=1)\n"
                "        gh_z, gh_r, gh_n = gh.chunk(3, dim=1)",
            ),
        ),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("wrong order z, r, n",),
        description="The blocks are read as z, r, n (Keras-like) instead of PyTorch's r, z, n.",
    ),
    Mistake(
        id="ex3_update_swapped",
        notebook=NB,
        cell="gru_cell",
        replacements=(("return z * h + (1 - z) * n", "return (1 - z) * h + z * n"),),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("z and 1 − z are swapped",),
        description="Chung et al.'s update, (1 − z) ⊙ h + z ⊙ n, instead of PyTorch's.",
    ),
    Mistake(
        id="ex3_reset_before_product",
        notebook=NB,
        cell="gru_cell",
        replacements=(
            (
                "n = torch.tanh(gx_n + r * gh_n)",
                "W_hn, b_hn = self.weight_hh[2 * self.hidden_size :], "
                "self.bias_hh[2 * self.hidden_size :]\n"
                "        n = torch.tanh(gx_n + (r * h) @ W_hn.T + b_hn)",
            ),
        ),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("before the matrix product",),
        description="The reset-before candidate of Cho et al. and D2L: (r ⊙ h) W_hn^T + b_hn.",
    ),
    Mistake(
        id="ex3_b_hn_outside_reset",
        notebook=NB,
        cell="gru_cell",
        replacements=(
            (
                "gx = x_t @ self.weight_ih.T + self.bias_ih",
                "gx = x_t @ self.weight_ih.T + self.bias_ih + self.bias_hh",
            ),
            ("gh = h @ self.weight_hh.T + self.bias_hh", "gh = h @ self.weight_hh.T"),
        ),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("outside the reset product",),
        named_in=CELL_FORWARD,
        description="Both biases go to the input side, so b_hn is outside r ⊙ (…).",
    ),
    Mistake(
        id="ex3_bias_hh_missing",
        notebook=NB,
        cell="gru_cell",
        replacements=(("gh = h @ self.weight_hh.T + self.bias_hh", "gh = h @ self.weight_hh.T"),),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("bias_hh is missing",),
        description="bias_hh is never added.",
    ),
    Mistake(
        id="ex3_weight_ih_not_transposed",
        notebook=NB,
        cell="gru_cell",
        replacements=(("gx = x_t @ self.weight_ih.T", "gx = x_t @ self.weight_ih"),),
        loses=(CELL_FORWARD, *RUNS_LAYER, TRAINED),
        says=("without transposing",),
        description="x_t @ weight_ih, a shape error: PyTorch stores (3H, D), one row per unit.",
    ),
    Mistake(
        id="ex3_candidate_sigmoid",
        notebook=NB,
        cell="gru_cell",
        replacements=(("n = torch.tanh(", "n = torch.sigmoid("),),
        loses=(CELL_FORWARD, *RUNS_LAYER),
        says=("sigmoid", "tanh"),
        description="The candidate is squashed with a sigmoid instead of tanh.",
    ),
    Mistake(
        id="ex3_torch_gru_cell",
        notebook=NB,
        cell="gru_cell",
        replacements=(
            (
                "gx = x_t @ self.weight_ih.T",
                "return torch.gru_cell(\n"
                "            x_t, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh\n"
                "        )\n        gx = x_t @ self.weight_ih.T",
            ),
        ),
        loses=(CELL_FORWARD, GRU_FORWARD),
        says=("torch.gru_cell",),
        description="The step calls PyTorch's fused cell; only the hidden guards catch it.",
    ),
    Mistake(
        id="ex3_float32_parameters",
        notebook=NB,
        cell="gru_cell",
        replacements=(
            (
                'factory = {"dtype": dtype, "device": device}',
                'factory = {"dtype": torch.float32, "device": device}',
            ),
        ),
        loses=(CELL_PARAMETERS, CELL_FORWARD, *RUNS_LAYER),
        says=("float32",),
        description="The parameters are created in float32 whatever dtype is asked for.",
    ),
    Mistake(
        id="ex3_plain_tensors",
        notebook=NB,
        cell="gru_cell",
        replacements=tuple(
            (
                f"self.{name} = nn.Parameter(torch.empty({shape}, **factory)"
                ".uniform_(-bound, bound))",
                f"self.{name} = torch.empty({shape}, **factory).uniform_(-bound, bound)",
            )
            for name, shape in _PARAMETERS
        ),
        loses=(CELL_PARAMETERS, CELL_FORWARD, *RUNS_LAYER, TRAINED),
        says=("nn.Parameter",),
        description="Three of the weights are plain tensors, which the module does not register.",
    ),
    # ---------------------------------------------------------------- GRUFromScratch
    Mistake(
        id="ex3_builtin_gru_cell_submodule",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "self.cell = GRUCellFromScratch(input_size, hidden_size, dtype=dtype, "
                "device=device)",
                "self.cell = nn.GRUCell(input_size, hidden_size, dtype=dtype, device=device)",
            ),
        ),
        loses=(*RUNS_LAYER, TRAINED),
        says=("nn.GRUCell",),
        description="The layer uses nn.GRUCell (same parameter names) instead of its own cell.",
    ),
    Mistake(
        id="ex3_wraps_nn_gru",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                _LOOP,
                "        gru = nn.GRU(self.input_size, self.hidden_size, dtype=x.dtype, "
                "device=x.device)\n"
                '        weights = {f"{name}_l0": p for name, p in self.cell.named_parameters()}\n'
                "        return torch.func.functional_call(gru, weights, (x, h[None]))",
            ),
        ),
        loses=(GRU_FORWARD,),
        says=("nn.GRU",),
        description="forward runs a throw-away nn.GRU on the cell's weights (functional_call).",
    ),
    Mistake(
        id="ex3_batch_first_loop",
        notebook=NB,
        cell="gru_module",
        replacements=(
            ("T, B, _ = x.shape", "B, T, _ = x.shape"),
            ("h = self.cell(x[t], h)", "h = self.cell(x[:, t], h)"),
        ),
        loses=(*RUNS_LAYER, TRAINED),
        says=("time-major",),
        description="The loop reads x as batch-first: step t taken as x[:, t].",
    ),
    Mistake(
        id="ex3_last_state_only",
        notebook=NB,
        cell="gru_module",
        replacements=(("return torch.stack(output), h[None]", "return h[None]"),),
        loses=(*RUNS_LAYER, TRAINED),
        says=("(output, h_n)",),
        description="forward returns only the final state instead of nn.GRU's pair.",
    ),
    Mistake(
        id="ex3_h_n_without_layer_axis",
        notebook=NB,
        cell="gru_module",
        replacements=(("return torch.stack(output), h[None]", "return torch.stack(output), h"),),
        loses=(*RUNS_LAYER, TRAINED),
        says=("(1, B, H)",),
        description="h_n is returned as (B, H), without nn.GRU's num_layers axis.",
    ),
    Mistake(
        id="ex3_h0_ignored",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "h = h0[0]  # drop nn.GRU's num_layers axis: (1, B, H) -> (B, H)",
                "h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)",
            ),
        ),
        loses=(GRU_FORWARD, LOAD, GRADIENTS),
        says=("h0 is ignored",),
        description="The recurrence always starts from zeros, even when h0 is given.",
    ),
    Mistake(
        id="ex3_h0_default_float32",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "h = torch.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device)",
                "h = torch.zeros(B, self.hidden_size)",
            ),
        ),
        loses=(H0_DEFAULT, DEVICE),
        says=("float32",),
        description="The default zero state is made without dtype/device (float32, CPU).",
    ),
    Mistake(
        id="ex3_detach_between_steps",
        notebook=NB,
        cell="gru_module",
        replacements=(("output.append(h)", "output.append(h)\n            h = h.detach()"),),
        loses=(GRADIENTS, TRAINED),
        says=("detached between steps",),
        description="The state is detached at every step: no gradient flows through time.",
    ),
    Mistake(
        id="ex3_output_shifted",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "h = self.cell(x[t], h)\n            output.append(h)",
                "output.append(h)\n            h = self.cell(x[t], h)",
            ),
        ),
        loses=(GRU_FORWARD, H0_DEFAULT, LOAD, GRADIENTS, DEVICE),
        says=("shifted by one step",),
        description="output[t] is the state before step t instead of after it.",
    ),
    Mistake(
        id="ex3_cell_built_without_dtype",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "self.cell = GRUCellFromScratch(input_size, hidden_size, dtype=dtype, "
                "device=device)",
                "self.cell = GRUCellFromScratch(input_size, hidden_size)",
            ),
        ),
        loses=(GRU_FORWARD, TRAINED),
        says=("pass dtype and device on",),
        not_says=("the tests above it say which function is wrong",),
        description="The layer builds its cell without dtype and device: every float64 test "
        "passes, the float32 training then crashes; test_gru_forward says why, and so does "
        "the trained model's test, instead of pointing at tests that pass.",
        keeps=(CELL_PARAMETERS, CELL_FORWARD, H0_DEFAULT, LOAD, GRADIENTS, DEVICE, TRAIN),
        named_in=GRU_FORWARD,
    ),
    Mistake(
        id="ex3_detach_every_step",
        notebook=NB,
        cell="gru_module",
        replacements=(("h = self.cell(x[t], h)", "h = self.cell(x[t], h.detach())"),),
        loses=(GRADIENTS, TRAINED),
        says=("leaves the graph",),
        not_says=("ignore",),
        description="The state, h0 included, is detached before every step: on one step only "
        "h0.grad is None, which is a cut graph, not an ignored h0.",
        named_in=GRADIENTS,
    ),
    # ---------------------------------------------------------------- load_from_torch
    Mistake(
        id="ex3_load_transposed",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "self.cell.weight_ih.copy_(gru.weight_ih_l0)",
                "self.cell.weight_ih.copy_(gru.weight_ih_l0.T)",
            ),
            (
                "self.cell.weight_hh.copy_(gru.weight_hh_l0)",
                "self.cell.weight_hh.copy_(gru.weight_hh_l0.T)",
            ),
        ),
        loses=(LOAD,),
        says=("no transpose",),
        description="Exercise 1's habit: the weights are transposed, a shape error here.",
    ),
    Mistake(
        id="ex3_load_biases_summed",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "self.cell.bias_ih.copy_(gru.bias_ih_l0)",
                "self.cell.bias_ih.copy_(gru.bias_ih_l0 + gru.bias_hh_l0)",
            ),
            ("self.cell.bias_hh.copy_(gru.bias_hh_l0)", "self.cell.bias_hh.zero_()"),
        ),
        loses=(LOAD,),
        says=("apart",),
        description="Exercise 1's habit: the two biases are added into bias_ih, bias_hh zeroed.",
    ),
    Mistake(
        id="ex3_load_bias_hh_forgotten",
        notebook=NB,
        cell="gru_module",
        replacements=(("            self.cell.bias_hh.copy_(gru.bias_hh_l0)\n", ""),),
        loses=(LOAD,),
        says=("bias_hh was not changed",),
        description="bias_hh is not copied and keeps its random initial values.",
    ),
    Mistake(
        id="ex3_load_without_no_grad",
        notebook=NB,
        cell="gru_module",
        replacements=(
            (
                "with torch.no_grad():  # PyTorch's layout",
                "if True:  # copies without torch.no_grad; PyTorch's layout",
            ),
        ),
        loses=(LOAD,),
        says=("no_grad",),
        description="Parameters are changed in place while autograd records (a RuntimeError).",
    ),
    # ---------------------------------------------------------------- adding_problem
    Mistake(
        id="ex3_adding_markers_anywhere",
        notebook=NB,
        cell="adding_problem",
        replacements=(
            (
                "first = torch.randint(0, T // 2, (n,), generator=generator)",
                "first = torch.randint(0, T, (n,), generator=generator)",
            ),
            (
                "second = torch.randint(T // 2, T, (n,), generator=generator)",
                "second = torch.randint(0, T, (n,), generator=generator)",
            ),
        ),
        loses=(ADDING,),
        says=("half",),
        description="Both marker positions are drawn from the whole sequence (they may coincide).",
    ),
    Mistake(
        id="ex3_adding_sums_all_numbers",
        notebook=NB,
        cell="adding_problem",
        replacements=(("y = (numbers * markers).sum(dim=0)", "y = numbers.sum(dim=0)"),),
        loses=(ADDING, TRAINED),
        says=("marked numbers only",),
        description="The target is the sum of all numbers, not of the two marked ones.",
    ),
    Mistake(
        id="ex3_adding_sum_wrong_axis",
        notebook=NB,
        cell="adding_problem",
        replacements=(
            ("y = (numbers * markers).sum(dim=0)", "y = (numbers * markers).sum(dim=1)"),
        ),
        loses=(ADDING, TRAINED),
        says=("wrong axis",),
        description="The target sums over the batch axis instead of time: shape (T,).",
    ),
    Mistake(
        id="ex3_adding_normal_numbers",
        notebook=NB,
        cell="adding_problem",
        replacements=(
            (
                "numbers = torch.rand(T, n, generator=generator)",
                "numbers = torch.randn(T, n, generator=generator)",
            ),
        ),
        loses=(ADDING,),
        says=("uniform",),
        description="The numbers are drawn from a normal distribution (torch.randn).",
    ),
    Mistake(
        id="ex3_adding_seed_ignored",
        notebook=NB,
        cell="adding_problem",
        replacements=(("torch.Generator().manual_seed(seed)", "torch.Generator()"),),
        loses=(ADDING,),
        says=("seed is ignored",),
        description="The generator is never seeded, so every seed gives the same data.",
    ),
    Mistake(
        id="ex3_adding_batch_first",
        notebook=NB,
        cell="adding_problem",
        replacements=(
            (
                "x = torch.stack([numbers, markers], dim=-1)",
                "x = torch.stack([numbers, markers], dim=-1).transpose(0, 1)  # (n, T, 2)",
            ),
        ),
        loses=(ADDING, TRAINED),
        says=("time-major",),
        description="x is returned batch-first, (n, T, 2).",
    ),
    Mistake(
        id="ex3_adding_global_seed",
        notebook=NB,
        cell="adding_problem",
        replacements=(
            (
                "generator = torch.Generator().manual_seed(seed)",
                "torch.manual_seed(seed)  # the global generator\n    generator = None",
            ),
        ),
        loses=(ADDING,),
        says=("global random state", "torch.manual_seed"),
        description="The data are seeded through the global generator: reproducible, but the "
        "rule the notebook states (leave the global random state alone) is broken.",
        keeps=(TRAIN, TRAINED),
        named_in=ADDING,
    ),
    # ---------------------------------------------------------------- train
    Mistake(
        id="ex3_train_no_zero_grad",
        notebook=NB,
        cell="train",
        replacements=(("        optimizer.zero_grad()\n", ""),),
        loses=(TRAIN, TRAINED),
        says=("zero_grad",),
        description="Gradients accumulate over all steps.",
    ),
    Mistake(
        id="ex3_train_no_clipping",
        notebook=NB,
        cell="train",
        replacements=(("        nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n", ""),),
        loses=(TRAIN,),
        says=("not clipped",),
        description="The gradients are not clipped (training still succeeds on this task).",
    ),
    Mistake(
        id="ex3_train_same_batch",
        notebook=NB,
        cell="train",
        replacements=(("seed=seed + step", "seed=seed"),),
        loses=(TRAIN,),
        says=("same batch",),
        description="Every step trains on the same batch.",
    ),
    Mistake(
        id="ex3_train_target_broadcast",
        notebook=NB,
        cell="train",
        replacements=(
            (
                "loss = torch.mean((model(x) - y) ** 2)",
                "loss = nn.functional.mse_loss(model(x), y.view(-1, 1))",
            ),
        ),
        loses=(TRAIN, TRAINED),
        says=("broadcast",),
        description="Targets (B, 1) against predictions (B,): the loss is over a (B, B) matrix.",
    ),
    Mistake(
        id="ex3_train_step_before_backward",
        notebook=NB,
        cell="train",
        replacements=(
            (
                "        loss.backward()\n"
                "        nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n"
                "        optimizer.step()\n",
                "        optimizer.step()\n"
                "        loss.backward()\n"
                "        nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n",
            ),
        ),
        loses=(TRAIN, TRAINED),
        says=("optimizer.step()",),
        description="optimizer.step() runs before loss.backward(): the model never changes.",
    ),
    Mistake(
        id="ex3_train_keeps_loss_tensors",
        notebook=NB,
        cell="train",
        replacements=(("losses.append(loss.item())", "losses.append(loss)"),),
        loses=(TRAIN,),
        says=("loss.item()",),
        description="The losses are kept as tensors (with their graphs) instead of floats.",
    ),
    Mistake(
        id="ex3_train_batch_not_converted",
        notebook=NB,
        cell="train",
        replacements=(("        x, y = x.to(parameter), y.to(parameter)\n", ""),),
        loses=(TRAIN,),
        says=("dtype",),
        description="The float32 batch is not converted to the model's dtype (float64 fails).",
    ),
]
