"""The checks that ``solutions/ex4_lstm/lstm_torch.ipynb`` imports, from the modules that hold them:
the step, the layer and its forget-gate bias (``layer.py``), the training functions
(``training.py``)."""

from __future__ import annotations

from course_checks.ex4_lstm.layer import (
    LSTM_BUILTINS,
    LSTM_LAYOUT,
    NO_BUILTIN_LSTM_REASON,
    PARAMETER_NAMES,
    LSTMCase,
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
    random_lstm_case,
)
from course_checks.ex4_lstm.training import (
    KINDS,
    check_evaluate,
    check_train_model,
    check_train_step,
    reference_evaluate,
    reference_train_model,
    reference_train_step,
    tiny_regressor,
)

__all__ = [
    "KINDS",
    "LSTM_BUILTINS",
    "LSTM_LAYOUT",
    "NO_BUILTIN_LSTM_REASON",
    "PARAMETER_NAMES",
    "LSTMCase",
    "call_lstm",
    "check_evaluate",
    "check_forget_bias",
    "check_lstm_device",
    "check_lstm_gradients",
    "check_lstm_module",
    "check_lstm_parameters",
    "check_lstm_step",
    "check_no_builtin_lstm_modules",
    "check_state_default",
    "check_train_model",
    "check_train_step",
    "no_builtin_lstm",
    "random_lstm_case",
    "reference_evaluate",
    "reference_train_model",
    "reference_train_step",
    "tiny_regressor",
]
