"""Helpers that the exercises' test cells call, so that a failing test explains itself.

Import in a notebook with ``from course_checks import check_close, call, rel_error``. Modules:

- ``compare``: comparisons whose failures say which quantity is wrong and the likely mistake;
- ``references``: reference values computed by PyTorch's own modules, in the course's layout;
- ``wrong_answers``: what known wrong implementations produce, so that feedback can name them;
- ``rnn_checks``: composite checks of the vanilla-RNN exercise;
- ``guards``: hidden-test guards against torch's built-in recurrent modules and kernels;
- ``cases``: what test cases share, and ``hidden_seed`` (hidden tests' seeds, per grading run);
- ``probes``: the part of a test that runs the student's objects and returns data, recorded;
- ``replay``: the record of the student's answers, replayed by the grader's re-check;
- ``student_output``: warnings and stderr of student code, turned into notes on stdout.
"""

from .compare import (
    CheckFailure,
    as_numpy,
    call,
    call_in_place,
    changed_arguments,
    check_close,
    check_gradient,
    check_true,
    expect_keys,
    expect_tuple,
    rel_error,
    worst_entry,
)
from .guards import RNN_BUILTINS, check_no_builtin_rnn_modules, forbid_calls, no_builtin_rnn
from .probes import run_probe

__all__ = [
    "RNN_BUILTINS",
    "CheckFailure",
    "as_numpy",
    "call",
    "call_in_place",
    "changed_arguments",
    "check_close",
    "check_gradient",
    "check_no_builtin_rnn_modules",
    "check_true",
    "expect_keys",
    "expect_tuple",
    "forbid_calls",
    "no_builtin_rnn",
    "rel_error",
    "run_probe",
    "worst_entry",
]
