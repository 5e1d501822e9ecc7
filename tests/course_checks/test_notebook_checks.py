"""The notebooks' test cells give points only for the student's own computation.

Each attack below was reproduced by a red team against the earlier test cells; here the
solution notebooks run in this process (``tests.support.notebook_run``) with the attack written
into the answer cells, and every graded cell it targets must fail:

- answers that zero the arrays they are given and return zeros (the tests computed their
  references after the call, from the same arrays);
- a gradient check that compared the student's rnn_backward with the student's own
  numerical_gradient (both zeros agreed);
- answers that call the instructor's references, which the setup cell imported for the tests.

And the hidden tests draw their seeds from ``course_checks.cases.hidden_seed``.
"""

from __future__ import annotations

import nbformat
import pytest

from course_checks.cases import SECRET_ENV, hidden_seed
from tests.support.factory import SOLUTIONS, student_solution
from tests.support.notebook_run import graded_verdicts

NOTEBOOKS = [
    ("ex1_rnn", "rnn_numpy"),
    ("ex1_rnn", "rnn_torch"),
    ("ex2_gru_numpy", "gru_numpy"),
    ("ex3_gru_torch", "gru_torch"),
    ("ex4_lstm", "lstm_numpy"),
    ("ex4_lstm", "lstm_torch"),
    ("ex5_language", "language_numpy"),
    ("ex5_language", "language_torch"),
    ("ex6_seq2seq", "attention_numpy"),
    ("ex6_seq2seq", "seq2seq_torch"),
    ("ex7_signals", "logmel_numpy"),
]
# Every assignment's references.py and wrong_answers.py (course_checks/<assignment>/).
REFERENCE_MODULES = ("references", "wrong_answers")

ZEROING = {
    "rnn_cell_forward": """
def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):
    for a in (x_t, h_prev, W_x, W_h, b):
        a[...] = 0
    return np.zeros((x_t.shape[0], W_h.shape[0]))
""",
    "rnn_forward": """
def rnn_forward(x, h0, W_x, W_h, b):
    for a in (x, h0, W_x, W_h, b):
        a[...] = 0
    return np.zeros((x.shape[0], *h0.shape))
""",
    "rnn_backward": """
def rnn_backward(dhs, x, h0, hs, W_x, W_h):
    for a in (dhs, x, h0, hs, W_x, W_h):
        a[...] = 0
    return {"dx": np.zeros_like(x), "dh0": np.zeros_like(h0), "dW_x": np.zeros_like(W_x),
            "dW_h": np.zeros_like(W_h), "db": np.zeros(W_h.shape[0])}
""",
    "numerical_gradient": """
def numerical_gradient(f, x, eps=1e-5):
    return np.zeros(x.shape)
""",
    "hidden_gradient_norms": """
def hidden_gradient_norms(dh_T, hs, W_h):
    for a in (dh_T, hs, W_h):
        a[...] = 0
    return np.zeros(hs.shape[0])
""",
    "clip_grad_norm": """
def clip_grad_norm(grads, max_norm):
    for g in grads.values():
        g[...] = 0
    return dict(grads), 0.0
""",
}


def test_answers_that_zero_their_inputs_fail_every_test():
    """Red team (8): 10 of 17 points for zeroing the inputs in place and returning zeros."""
    verdicts = graded_verdicts(student_solution("ex1_rnn", "rnn_numpy"), answers=ZEROING)
    passed = [grade_id for grade_id, verdict in verdicts.items() if verdict is None]
    assert not passed, passed


def test_the_gradient_check_never_compares_two_answers_of_the_students():
    """Red team (9): zero rnn_backward and zero numerical_gradient agreed in the gradient check."""
    answers = {
        "rnn_backward": ZEROING["rnn_backward"].replace("a[...] = 0", "pass"),
        "numerical_gradient": ZEROING["numerical_gradient"],
    }
    verdicts = graded_verdicts(student_solution("ex1_rnn", "rnn_numpy"), answers=answers)
    assert verdicts["test_gradient_check"] is not None
    assert "Gradient check for" in verdicts["test_gradient_check"]
    assert verdicts["test_rnn_forward"] is None  # the forward pass is still right


def test_a_zero_backward_pass_fails_the_gru_gradient_check_whatever_numerical_gradient_says():
    answers = {
        "gru_backward": """
def gru_backward(dhs, x, h0, hs, params):
    return {"dx": np.zeros_like(x), "dh0": np.zeros_like(h0),
            **{"d" + name: np.zeros_like(value) for name, value in params.items()}}

def numerical_gradient(f, x, eps=1e-5):  # redefines the given function: ignored by the test
    return np.zeros(x.shape)
"""
    }
    verdicts = graded_verdicts(student_solution("ex2_gru_numpy", "gru_numpy"), answers=answers)
    assert verdicts["test_gradient_check"] is not None


def _module_of(value) -> str:
    return str(getattr(value, "__module__", "") or "")


@pytest.mark.parametrize(("assignment", "notebook"), NOTEBOOKS)
def test_the_setup_cell_imports_no_reference_and_no_case_with_reference_results(
    assignment, notebook
):
    """Red team (7): answers called torch_rnn_forward & co., which the setup cell imported."""
    nb = nbformat.read(SOLUTIONS / assignment / f"{notebook}.ipynb", as_version=4)
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "setup")
    namespace: dict = {}
    exec(compile(setup.source, "<setup>", "exec"), namespace)
    leaked = [
        name
        for name, value in namespace.items()
        if (
            _module_of(value).startswith("course_checks.")
            and _module_of(value).rsplit(".", 1)[-1] in REFERENCE_MODULES
        )
        or name.startswith(("torch_", "random_"))
        or name.endswith("_mistakes")
    ]
    assert not leaked, f"{assignment}/{notebook}'s setup cell imports {leaked}"


def test_an_answer_calling_a_reference_has_nothing_to_call():
    answers = {
        "rnn_forward": """
def rnn_forward(x, h0, W_x, W_h, b):
    return torch_rnn_forward(x, h0, W_x, W_h, b)
"""
    }
    verdicts = graded_verdicts(student_solution("ex1_rnn", "rnn_numpy"), answers=answers)
    assert "torch_rnn_forward" in verdicts["test_rnn_forward"]  # a NameError, explained


# ---------------------------------------------------------------------------- hidden seeds


def test_hidden_seed_is_the_number_itself_without_a_secret(monkeypatch):
    monkeypatch.delenv(SECRET_ENV, raising=False)
    assert hidden_seed(8117) == 8117


def test_hidden_seed_mixes_the_secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, "00ff" * 8)
    first = hidden_seed(8117)
    assert first != 8117 and 0 <= first < 2**32
    assert hidden_seed(8117) == first, "the same in the kernel and in the re-check"
    assert hidden_seed(8118) != first
    monkeypatch.setenv(SECRET_ENV, "01ff" * 8)
    assert hidden_seed(8117) != first, "another grading run, other inputs"


@pytest.mark.parametrize(("assignment", "notebook"), NOTEBOOKS)
def test_every_seed_of_a_hidden_test_is_drawn_through_hidden_seed(assignment, notebook):
    import re

    nb = nbformat.read(SOLUTIONS / assignment / f"{notebook}.ipynb", as_version=4)
    for cell in nb.cells:
        source = cell.source
        if "### BEGIN HIDDEN TESTS" not in source:
            continue
        hidden = source[source.index("### BEGIN HIDDEN TESTS") : source.index("### END HIDDEN")]
        fixed = re.findall(r"seed=\d+|manual_seed\(\d+\)", hidden)
        assert not fixed, f"{notebook} {cell.metadata.nbgrader.grade_id}: {fixed}"


def test_the_kernel_can_take_the_secret_out_of_the_environment(monkeypatch):
    import os

    from course_checks import cases

    monkeypatch.setattr(cases, "_adopted", "")
    monkeypatch.setenv(SECRET_ENV, "ab" * 16)
    expected = hidden_seed(8117)
    assert cases.adopt_secret() and SECRET_ENV not in os.environ
    assert hidden_seed(8117) == expected
