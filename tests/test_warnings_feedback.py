"""A warning from correct code never costs points, and the feedback shows it as a note.

nbgrader scores a test cell 0 when its output holds anything on stderr, and Python prints
warnings there. These tests grade, with the real grader (real nbgrader, real kernels, the replay
re-check), correct solutions written in ways that make PyTorch warn: ``float(loss)`` on a tensor
that requires grad, ``torch.tensor`` of a tensor, the deprecated ``nn.utils.clip_grad_norm``, in
each PyTorch notebook. Each must keep full marks, and the feedback of the cell that ran the code
must show the warning as a note (``course_checks.student_output``).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import run_grader
from tests.factory import student_solution, write

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
    warning: str  # words of the warning that the note quotes


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
    for variant in VARIANTS:
        assignment, name = variant.notebook.split("/")
        write(
            _variant_notebook(variant),
            root / "submitted" / variant.id / assignment / f"{name}.ipynb",
        )
    done = run_grader(
        "autograde", str(root / "submitted"), "--out", str(root / "out"), "--jobs", "2", "--quiet"
    )
    assert done.returncode == 0, done.stderr
    notebooks = {variant.id: variant.notebook.split("/")[1] for variant in VARIANTS}
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
    assert "Note (no points lost)" in message and variant.warning in message, message
    assignment, name = variant.notebook.split("/")
    page = (out / "feedback" / variant.id / assignment / f"{name}.html").read_text("utf-8")
    assert html.escape(variant.warning) in page, "the feedback page shows the note"
