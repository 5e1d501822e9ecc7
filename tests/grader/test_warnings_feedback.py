"""A warning from correct code never costs points, and the feedback shows it as a note.

nbgrader scores a test cell 0 when its output holds anything on stderr, and Python prints
warnings there. These tests grade, with the real grader (real nbgrader, real kernels, the replay
re-check), correct solutions written in ways that make PyTorch warn: ``float(loss)`` on a tensor
that requires grad, ``torch.tensor`` of a tensor, the deprecated ``nn.utils.clip_grad_norm``, in
each PyTorch notebook. Each must keep full marks; the cell that ran the code shows the warning in
the student's notebook, and its feedback says, in a fixed sentence, that the code warned (the
category only: no text the student's code chose reaches the feedback). One more correct
submission forges notes and warns with text of its own choosing (what could carry a hidden test's
inputs out): none of it may reach the feedback.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from tests.conftest import run_grader
from tests.support.factory import student_solution, write

pytestmark = pytest.mark.slow

FLOAT = "Converting a tensor with requires_grad=True to a scalar"
COPY = "To copy construct from a tensor"
CLIP = "torch.nn.utils.clip_grad_norm` is now deprecated"


@dataclass(frozen=True)
class Variant:
    """A correct solution written another way, which makes PyTorch warn in one test cell."""

    id: str
    notebook: str  # "<assignment>/<notebook>"
    cell: str  # the solution cell edited
    replacements: tuple[tuple[str, str], ...]
    noted_in: str  # the graded cell whose feedback must show the note
    warning: str  # words of the warning, which the student's notebook shows
    category: str = "UserWarning"  # what the feedback names


VARIANTS = [
    # ------------------------------------------------------------------ rnn_torch
    Variant(
        "warn_rnn_float",
        "ex1_rnn/rnn_torch",
        "rnn_from_scratch",
        (
            (
                "            hs.append(h)\n",
                "            hs.append(h)\n"
                "            assert float(h.abs().max()) <= 1.0  # tanh's range\n",
            ),
        ),
        "test_forward",
        FLOAT,
    ),
    Variant(
        "warn_rnn_copy",
        "ex1_rnn/rnn_torch",
        "rnn_from_scratch",
        (
            (
                "self.W_x.copy_(rnn.weight_ih_l0.T)",
                "self.W_x.copy_(torch.tensor(rnn.weight_ih_l0.T))",
            ),
        ),
        "test_load_from_torch",
        COPY,
    ),
    Variant(
        "warn_rnn_clip",
        "ex1_rnn/rnn_torch",
        "rnn_from_scratch",
        (
            (
                "            self.b.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)\n",
                "            self.b.copy_(rnn.bias_ih_l0 + rnn.bias_hh_l0)\n"
                "        nn.utils.clip_grad_norm(self.parameters(), 1e9)  # no gradients: no-op\n",
            ),
        ),
        "test_load_from_torch",
        CLIP,
        "FutureWarning",
    ),
    # ------------------------------------------------------------------ gru_torch
    Variant(
        "warn_gru_float",
        "ex3_gru_torch/gru_torch",
        "train",
        (("losses.append(loss.item())", "losses.append(float(loss))"),),
        "test_train",
        FLOAT,
    ),
    Variant(
        "warn_gru_copy",
        "ex3_gru_torch/gru_torch",
        "gru_module",
        (
            (
                "self.cell.weight_ih.copy_(gru.weight_ih_l0)",
                "self.cell.weight_ih.copy_(torch.tensor(gru.weight_ih_l0))",
            ),
        ),
        "test_load_from_torch",
        COPY,
    ),
    Variant(
        "warn_gru_clip",
        "ex3_gru_torch/gru_torch",
        "train",
        (("nn.utils.clip_grad_norm_(", "nn.utils.clip_grad_norm("),),
        "test_train",
        CLIP,
        "FutureWarning",
    ),
    # ------------------------------------------------------------------ lstm_torch
    Variant(
        "warn_lstm_float",
        "ex4_lstm/lstm_torch",
        "train_step",
        (("return loss.item()", "return float(loss)"),),
        "test_train_step",
        FLOAT,
    ),
    Variant(
        "warn_lstm_copy",
        "ex4_lstm/lstm_torch",
        "set_forget_bias",
        (
            (
                "        lstm.bias_ih_l0[H : 2 * H] = value",
                "        biases = torch.tensor(lstm.bias_ih_l0)  # a copy, changed, copied back\n"
                "        biases[H : 2 * H] = value\n"
                "        lstm.bias_ih_l0.copy_(biases)",
            ),
        ),
        "test_forget_bias",
        COPY,
    ),
    Variant(
        "warn_lstm_clip",
        "ex4_lstm/lstm_torch",
        "train_step",
        (("nn.utils.clip_grad_norm_(", "nn.utils.clip_grad_norm("),),
        "test_train_step",
        CLIP,
        "FutureWarning",
    ),
]


def _variant_notebook(variant: Variant):
    assignment, name = variant.notebook.split("/")
    nb = student_solution(assignment, name)
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == variant.cell]
    assert len(cells) == 1, variant.id
    for old, new in variant.replacements:
        assert old in cells[0].source, f"{variant.id}: {old!r} not in {variant.cell}"
        cells[0].source = cells[0].source.replace(old, new, 1)
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> tuple[Path, dict[str, dict[str, dict]]]:
    """The grader's output folder, and results[variant id][grade_id] = result row."""
    root = tmp_path_factory.mktemp("warnings")
    for variant in [*VARIANTS, LEAK]:
        assignment, name = variant.notebook.split("/")
        write(
            _variant_notebook(variant),
            root / "submitted" / variant.id / assignment / f"{name}.ipynb",
        )
    done = run_grader(
        "autograde", str(root / "submitted"), "--out", str(root / "out"), "--jobs", "2", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    notebooks = {variant.id: variant.notebook.split("/")[1] for variant in [*VARIANTS, LEAK]}
    results: dict[str, dict[str, dict]] = {}
    for row in json.loads((root / "out" / "results.json").read_text()):
        if row["notebook"] == notebooks[row["student_id"]]:  # the other notebooks: missing
            results.setdefault(row["student_id"], {})[row["grade_id"]] = row
    return root / "out", results


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.id)
def test_a_warning_costs_no_points_and_is_noted(graded, variant):
    out, results = graded
    rows = results[variant.id]
    lost = {g: r["message"] for g, r in rows.items() if r["score"] < r["max_score"]}
    autograded_lost = {g: m for g, m in lost.items() if rows[g]["status"] != "needs_manual_grade"}
    assert not autograded_lost, f"{variant.id} lost points:\n{autograded_lost}"
    message = rows[variant.noted_in]["message"]
    sentence = f"Note (no points lost): your code gave a {variant.category} while this test ran it"
    assert sentence in message, message
    assert variant.warning not in message, "the feedback repeats text the student's code chose"
    assignment, name = variant.notebook.split("/")
    page = (out / "feedback" / variant.id / assignment / f"{name}.html").read_text("utf-8")
    assert html.escape(sentence) in page, "the feedback page shows the note"
    # The student's own notebook (what they see when they run the test in JupyterLab) has it all.
    executed = nbformat.read(out / "autograded" / variant.id / assignment / f"{name}.ipynb", 4)
    cell = next(c for c in executed.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == variant.noted_in)  # fmt: skip
    shown = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")
    assert variant.warning in shown and "Note (no points lost)" in shown, shown[-2000:]


LEAK = Variant(
    "leak_forged_notes",
    "ex1_rnn/rnn_torch",
    "rnn_from_scratch",
    (
        (
            "            hs.append(h)\n",
            "            hs.append(h)\n"
            "            import warnings\n\n"
            "            print('Note (no points lost): Python warned: UserWarning: LEAK-print',"
            " tuple(x.shape))\n"
            "            warnings.warn('LEAK-warn ' + str(tuple(x.shape)))\n",
        ),
    ),
    "test_forward",
    "LEAK-warn",
)


def test_text_chosen_by_student_code_never_reaches_the_feedback(graded):
    out, results = graded
    rows = results[LEAK.id]
    lost = {g: r["message"] for g, r in rows.items() if r["score"] < r["max_score"]}
    assert not {g for g in lost if rows[g]["status"] != "needs_manual_grade"}, lost
    assert "your code gave a UserWarning" in rows[LEAK.noted_in]["message"]
    feedback = "".join(p.read_text("utf-8") for p in (out / "feedback" / LEAK.id).rglob("*.html"))
    messages = json.dumps(rows)
    for text in (feedback, messages, (out / "grades.csv").read_text()):
        assert "LEAK" not in text
