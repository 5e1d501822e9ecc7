"""Helpers that the exercises' test cells call, so that a failing test explains itself.

Import in a notebook with ``from course_checks import check_close, call, rel_error``; a notebook's
own checks come from its assignment's package. The shared core:

- ``compare``: comparisons whose failures say which quantity is wrong and the likely mistake;
- ``errors``: ``CheckFailure``, the exception of a check that found a wrong answer;
- ``guards``: hidden-test guards against torch's built-in recurrent modules and kernels
  (``BuiltinGuard``, configured by each exercise);
- ``layouts``: calls of student code in a PyTorch exercise's layout, with hints;
- ``gradients``: what the NumPy backward-pass checks share (finite differences, retries);
- ``variants``: what the wrong-answer tables share;
- ``adding``: the adding problem, shared with Chapter 2 and the experiments;
- ``dates``: the date-normalisation task, shared with Chapter 6 and the experiments;
- ``cases``: what test cases share, and ``hidden_seed`` (hidden tests' seeds, per grading run);
- ``probes``: the part of a test that runs the student's objects and returns data, recorded;
- ``replay``: the record of the student's answers, replayed by the grader's re-check;
- ``student_output``: warnings and stderr of student code, turned into notes on stdout.

One package per assignment, ``<assignment>/``: a module per notebook, named like it
(``ex3_gru_torch/gru_torch.py`` serves ``solutions/ex3_gru_torch/gru_torch.ipynb``), and the
assignment's ``references.py`` (what PyTorch computes) and ``wrong_answers.py`` (what known
mistakes produce). No assignment imports another's; ``rnn_checks`` and the other ``*_checks``
modules are the old names, kept for one release.
"""

from course_checks.calls import call, call_in_place, changed_arguments
from course_checks.compare import (
    as_numpy,
    check_close,
    check_gradient,
    check_true,
    expect_keys,
    expect_tuple,
    rel_error,
    worst_entry,
)
from course_checks.errors import CheckFailure
from course_checks.guards import BuiltinGuard, forbid_calls
from course_checks.probes import run_probe

__all__ = [
    "BuiltinGuard",
    "CheckFailure",
    "as_numpy",
    "call",
    "call_in_place",
    "changed_arguments",
    "check_close",
    "check_gradient",
    "check_true",
    "expect_keys",
    "expect_tuple",
    "forbid_calls",
    "rel_error",
    "run_probe",
    "worst_entry",
]
