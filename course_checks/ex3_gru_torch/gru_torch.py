"""The checks that ``solutions/ex3_gru_torch/gru_torch.ipynb`` imports, from the modules that hold
them: the cell and the layer (Parts 1–3, ``layer.py``), the adding problem and the training
(Part 4, ``training.py``)."""

from __future__ import annotations

from course_checks.ex3_gru_torch.layer import (
    GRU_BUILTINS,
    GRU_FUNCTION_NAMES,
    GRU_LAYOUT,
    NO_BUILTIN_GRU_REASON,
    call_gru,
    check_cell_parameters,
    check_gru_cell,
    check_gru_device,
    check_gru_gradients,
    check_gru_module,
    check_gru_outputs,
    check_h0_default,
    check_load_from_torch,
    check_no_builtin_gru_modules,
    no_builtin_gru,
    run_gru,
    set_gru_parameters,
)
from course_checks.ex3_gru_torch.training import (
    check_adding_problem,
    check_adding_trained,
    check_train,
)

__all__ = [
    "GRU_BUILTINS",
    "GRU_FUNCTION_NAMES",
    "GRU_LAYOUT",
    "NO_BUILTIN_GRU_REASON",
    "call_gru",
    "check_adding_problem",
    "check_adding_trained",
    "check_cell_parameters",
    "check_gru_cell",
    "check_gru_device",
    "check_gru_gradients",
    "check_gru_module",
    "check_gru_outputs",
    "check_h0_default",
    "check_load_from_torch",
    "check_no_builtin_gru_modules",
    "check_train",
    "no_builtin_gru",
    "run_gru",
    "set_gru_parameters",
]
