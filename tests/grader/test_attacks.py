"""The attack catalogue: hostile submissions graded in one batch with honest ones.

Each attack must gain nothing (no points beyond what its honest content earns, which here is
none), get the status named in the catalogue, and leave every honest student's grade, the
gradebook and the instructor's files exactly as they are without it in the batch.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from course_checks import replay
from tests.conftest import read_csv, run_grader
from tests.support.factory import EXERCISES, REPO, hidden_test_lines, student_solution, write

ASSIGNMENT, NOTEBOOK = "ex1_rnn", "rnn_numpy"
SOLUTION_CELL = "rnn_cell_forward"  # the first answer cell: attacks go in there


@dataclass(frozen=True)
class Attack:
    id: str
    status: str  # what every graded cell of the attacker's notebook must report
    code: str = ""  # appended to the blank answer cell; {out}, {submitted} are filled in
    description: str = ""
    cell: str = SOLUTION_CELL  # the answer cell the code goes in
    assignment: str = ASSIGNMENT  # the notebook the attack is handed in as
    notebook: str = NOTEBOOK

    @property
    def student(self) -> str:
        return self.id.replace("_", "-")


ATTACKS = [
    Attack(
        "patch_allclose",
        "tampered",
        "import numpy\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = print",
        "the issue's first attack: comparisons always true",
    ),
    Attack(
        "patch_helpers",
        "tampered",
        "import course_checks.compare as cc\ncc.check_close = lambda *a, **k: None",
        "replace the test helpers",
    ),
    Attack(
        "alias_patch",
        "tampered",
        "import numpy as np\nfor m in [np]:\n    m.allclose = lambda *a, **k: True",
        "patch through an alias the scan cannot resolve",
    ),
    Attack(
        "solution_search",
        "tampered",
        "import os, json\nfor root, _, files in os.walk('/'):\n"
        "    for f in files:\n        if f.endswith('.ipynb'):\n"
        "            for c in json.load(open(os.path.join(root, f)))['cells']:\n"
        "                if 'BEGIN SOLUTION' in ''.join(c['source']):\n"
        "                    exec(''.join(c['source']))",
        "the issue's second attack: run the instructor's solution cells",
    ),
    Attack(
        "read_solutions_by_path",
        "failed",
        f"text = open({str(REPO / 'solutions' / ASSIGNMENT / (NOTEBOOK + '.ipynb'))!r}).read()",
        "open() is allowed, but the sandbox has no solutions/ to read",
    ),
    Attack(
        "corrupt_gradebook",
        "failed",
        "with open({out!r} + '/gradebook.db', 'r+b') as f:\n    f.write(b'\\0' * 4096)",
        "the issue's third attack, by plain file writes: the gradebook is not in the sandbox",
    ),
    Attack(
        "read_peer",
        "failed",
        "peer = open({submitted!r} + '/alice/ex1_rnn/rnn_numpy.ipynb').read()",
        "copy a classmate's submission",
    ),
    Attack(
        "overwrite_instructor_file",
        "failed",
        f"open({str(REPO / 'README.md')!r}, 'w').write('owned')",
        "delete or overwrite the instructor's files",
    ),
    Attack(
        "shadow_helpers",
        "tampered",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n    return h_prev * 0\n"
        "def check_rnn_cell(*args, **kwargs):\n    pass",
        "replace a test helper by defining one of the same name",
    ),
    Attack(
        "hidden_rebinding",
        "tampered",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n    return h_prev * 0\n"
        "def _quiet():\n    global check_rnn_cell\n    check_rnn_cell = print\n_quiet()",
        "the same, from inside a function (the replay catches it too: "
        "tests/course_checks/test_replay.py)",
    ),
    Attack(
        "exception_hook",
        "tampered",
        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)",
        "swallow every test failure with an IPython exception handler",
    ),
    Attack(
        "excepthook_via_sys",
        "tampered",
        "import sys\nsys.excepthook = lambda *a: None",
        "the interpreter's exception hook",
    ),
    Attack(
        "hang",
        "timeout",
        "def rnn_cell_forward(*args, **kwargs):\n    while True:\n        pass",
        "an endless loop under the tests",
    ),
    Attack("crash", "kernel_crashed", "exit()", "the kernel exits under the tests"),
    Attack("flood", "output_limit", "while True:\n    print('spam' * 1000)", "a flood of output"),
    Attack("memory_hog", "failed", "hog = bytearray(64 * 2**30)", "64 GiB: MemoryError, no OOM"),
    # The outside red team's attacks (issue 15), each with the defence that stops it.
    Attack(
        "deep_tree_then_symlink",
        "tampered",
        "import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
        "os.symlink('/etc/shadow', 'rnn_numpy.ipynb')",
        "1, 2: a tree too deep for rmtree, then the graded notebook replaced by a link (the scan; "
        "and the kernel's folder is a tmpfs of its own: tests/grader/test_warm_kernels.py)",
    ),
    Attack(
        "read_graded_notebook",
        "failed",
        "def rnn_cell_forward(*args):\n    raise ValueError(open('rnn_numpy.ipynb').read()[:5000])",
        "4: the graded notebook (hidden tests restored) in the kernel's folder: it is not there",
    ),
    Attack(
        "history_leak",
        "tampered",
        "def rnn_cell_forward(*args):\n    raise ValueError(str(In[-1]))",
        "4: IPython's history holds the hidden tests the kernel ran",
    ),
    Attack(
        "leak_through_message",
        "failed",
        "def rnn_cell_forward(*args):\n    raise ValueError('LEAK' + '-MARKER ' * 40)",
        "4: any text of the kernel's in a message: feedback quotes only the grader's re-check",
    ),
    Attack(
        "torch_in_numpy_notebook",
        "tampered",
        "import torch\ndef rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n"
        "    return torch.tanh(torch.from_numpy(x_t @ W_x + h_prev @ W_h + b)).numpy()",
        "6: the NumPy notebooks forbid PyTorch",
    ),
    Attack(
        "call_the_reference",
        "no_points",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n"
        "    return torch_rnn_cell_forward(x_t, h_prev, W_x, W_h, b)",
        "7: the instructor's references are not the student's to call",
    ),
    Attack(
        "zero_the_inputs",
        "failed",
        "def rnn_cell_forward(x_t, h_prev, W_x, W_h, b):\n"
        "    for array in (x_t, h_prev, W_x, W_h, b):\n        array[...] = 0\n"
        "    return np.zeros((x_t.shape[0], W_h.shape[0]))",
        "8: zeroing the arrays a test passes: tests give copies and compute references first",
    ),
    Attack(
        "compare_with_itself",
        "no_points",
        "def rnn_backward(dhs, x, h0, hs, W_x, W_h):\n"
        "    return {{k: np.zeros(1) for k in ('dx', 'dh0', 'dW_x', 'dW_h', 'db')}}\n"
        "def numerical_gradient(f, x, eps=1e-5):\n    return np.zeros(x.shape)",
        "9: the gradient check compares with the instructor's numerical gradient",
        cell="numerical_gradient",  # after rnn_backward's answer cell, so both stand
    ),
    Attack(
        "builtin_self",
        "tampered",
        'getattr(print, "__self__").__import__("os").system("true")',
        "10: a builtin's __self__ is the builtins module",
    ),
    Attack(
        "module_of_a_module",
        "tampered",
        "np.ctypeslib.ctypes.CDLL(None)",
        "10: a library's attribute that is a module the exercise does not need",
    ),
    Attack(
        "constant_getattr",
        "tampered",
        'def f():\n    pass\nglobs = getattr(f, "__globals__")\nglobs["check_rnn_cell"] = print',
        "10: getattr with a constant dunder name",
    ),
    Attack(
        "attrgetter",
        "tampered",
        "import operator\noperator.attrgetter('__globals__')(print)",
        "10: attributes by string",
    ),
    Attack(
        "user_namespace",
        "tampered",
        "get_ipython().user_ns['check_rnn_cell'] = print",
        "10: IPython's user namespace",
    ),
    Attack(
        "code_in_a_magic",
        "tampered",
        "%timeit -n1 -r1 np.allclose = lambda *a, **k: True",
        "10: code inside an allowed magic is scanned",
    ),
    Attack(
        "script_in_outputs",
        "failed",
        "class Page:\n    def _repr_html_(self):\n        return '<script>alert(1)</script>'\n"
        "    def _repr_javascript_(self):\n        return 'alert(2)'\nPage()",
        "14: active content in outputs never reaches instructors' pages",
    ),
    Attack(
        "huge_display",
        "output_limit",
        "class Big:\n    def _repr_html_(self):\n        return 'x' * (3 << 20)\nBig()",
        "12: one display bigger than the notebook's output cap",
    ),
]
# 5: torch's fused kernels reached through torch._C, past the torch-function guards, in each of
# the three PyTorch notebooks (the dispatcher-level guard behind the scan:
# tests/course_checks/test_guards.py).
FUSED = "with torch._C.DisableTorchFunction():\n        return torch._C._VariableFunctions"
ATTACKS += [
    Attack(
        "fused_rnn",
        "tampered",
        f"def rnn_step(x_t, h_prev, W_x, W_h, b):\n    {FUSED}.rnn_tanh_cell("
        "x_t, h_prev, W_x.T.contiguous(), W_h.T.contiguous(), b, None)",
        "5: nn.RNN's fused cell through torch._C",
        cell="rnn_step",
        assignment="ex1_rnn",
        notebook="rnn_torch",
    ),
    Attack(
        "fused_gru",
        "tampered",
        "class GRUCellFromScratch(nn.Module):\n"
        "    def __init__(self, input_size, hidden_size, dtype=torch.float64, device=None):\n"
        "        super().__init__()\n"
        "        reference = nn.GRUCell(input_size, hidden_size, dtype=dtype, device=device)\n"
        "        self.weight_ih, self.weight_hh = reference.weight_ih, reference.weight_hh\n"
        "        self.bias_ih, self.bias_hh = reference.bias_ih, reference.bias_hh\n"
        "    def forward(self, x_t, h):\n"
        "        with torch._C.DisableTorchFunction():\n"
        "            return torch._C._VariableFunctions.gru_cell("
        "x_t, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)",
        "5: nn.GRU's fused cell through torch._C",
        cell="gru_cell",
        assignment="ex3_gru_torch",
        notebook="gru_torch",
    ),
    Attack(
        "fused_lstm",
        "tampered",
        "def lstm_cell(x_t, h, c, weight_ih, weight_hh, bias_ih, bias_hh):\n"
        f"    {FUSED}.lstm_cell(x_t, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)",
        "5: nn.LSTM's fused cell through torch._C",
        cell="lstm_cell",
        assignment="ex4_lstm",
        notebook="lstm_torch",
    ),
    # 6: the NumPy notebooks of the GRU and the LSTM answered with PyTorch's modules
    Attack(
        "torch_in_gru_numpy",
        "tampered",
        "import torch\ndef gru_cell_forward(x_t, h_prev, params):\n"
        "    cell = torch.nn.GRUCell(x_t.shape[1], h_prev.shape[1], dtype=torch.float64)\n"
        "    return cell(torch.from_numpy(x_t), torch.from_numpy(h_prev)).detach().numpy()",
        "6: PyTorch in the GRU's NumPy notebook",
        cell="gru_cell_forward",
        assignment="ex2_gru_numpy",
        notebook="gru_numpy",
    ),
    Attack(
        "torch_in_lstm_numpy",
        "tampered",
        "from torch import nn\ndef lstm_cell_forward(x_t, h_prev, c_prev, params):\n"
        "    return nn.LSTMCell(x_t.shape[1], h_prev.shape[1])",
        "6: PyTorch in the LSTM's NumPy notebook",
        cell="lstm_cell_forward",
        assignment="ex4_lstm",
        notebook="lstm_numpy",
    ),
]
OTHER_NOTEBOOKS = {a.student for a in ATTACKS if a.notebook != NOTEBOOK}


# The notebook's honest answers with one 600-term sum in them: a long expression, not an attack.
LONG_SUM = "    a_t = x_t @ W_x + h_prev @ W_h + b" + " + 0 * b" * 600 + "\n"


def _blank(assignment: str = ASSIGNMENT, notebook: str = NOTEBOOK) -> nbformat.NotebookNode:
    """The released notebook as handed out: every answer still raises NotImplementedError."""
    return nbformat.read(EXERCISES / assignment / f"{notebook}.ipynb", as_version=4)


def _with_attack(code: str, grade_id: str = SOLUTION_CELL, *where: str) -> nbformat.NotebookNode:
    nb = _blank(*where)
    assert grade_id in {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source += "\n" + code
    return nb


def _tampered_test_cells() -> nbformat.NotebookNode:
    """Blank answers, but every test cell rewritten to pass and worth 100 points, with outputs."""
    nb = _blank()
    for cell in nb.cells:
        info = cell.metadata.get("nbgrader", {})
        if info.get("grade") and not info.get("solution"):
            cell.source = "print('all tests passed')"
            info["points"] = 100
            cell.outputs = [nbformat.v4.new_output("stream", text="all tests passed\n")]
    return nb


def _structural_attacks() -> dict[str, tuple[nbformat.NotebookNode | str, str]]:
    """Attacks on the notebook file itself: name → (notebook or raw text, status)."""
    duplicated = _blank()
    tests = [c for c in duplicated.cells if c.metadata.get("nbgrader", {}).get("grade")]
    duplicated.cells += [nbformat.from_dict(json.loads(json.dumps(c))) for c in tests]
    retyped = _blank()
    for cell in retyped.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_"):
            cell.cell_type = "markdown"
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
    deleted = _blank()
    deleted.cells = [c for c in deleted.cells if not c.metadata.get("nbgrader", {}).get("grade")]
    r_kernel = student_solution(ASSIGNMENT, NOTEBOOK)
    r_kernel.metadata["kernelspec"] = {"name": "ir", "language": "R", "display_name": "R"}
    return {
        "edited_tests": (_tampered_test_cells(), "failed"),
        "duplicated_tests": (duplicated, "failed"),
        "retyped_tests": (retyped, "failed"),
        "deleted_tests": (deleted, "failed"),
        "wrong_kernel": (r_kernel, "wrong_kernel"),
        "invalid_json": ('{"cells": [', "invalid_notebook"),
        "empty_file": ("", "invalid_notebook"),
        "nbformat3": ('{"nbformat": 3, "nbformat_minor": 0, "worksheets": []}', "invalid_notebook"),
        # 3: 100 KB of JSON nested 50,000 deep (RecursionError in json.loads stopped the batch)
        "deep_json": ('{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}", "invalid_notebook"),
        "many_cells": (_many_cells(40_000), "invalid_notebook"),  # 12: 672 s for one notebook
    }


def _many_cells(count: int) -> nbformat.NotebookNode:
    nb = _blank()
    nb.cells += [nbformat.v4.new_code_cell(f"x{i} = {i}") for i in range(count)]
    return nb


# 11: submitted files that are links or not files at all, each made by a function of the folder.
def _link_to_solutions(path: Path, submitted: Path) -> None:
    path.symlink_to(REPO / "solutions" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")


def _link_to_peer(path: Path, submitted: Path) -> None:
    path.symlink_to(submitted / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")


def _hard_link_outside(path: Path, submitted: Path) -> None:
    """A second name for a file outside the submissions (here: a solution left lying around)."""
    stolen = write(student_solution(ASSIGNMENT, NOTEBOOK), submitted.parent / "stolen.ipynb")
    os.link(stolen, path)


def _fifo(path: Path, submitted: Path) -> None:
    os.mkfifo(path)


FILE_ATTACKS = {
    "link-to-solutions": _link_to_solutions,
    "link-to-peer": _link_to_peer,
    "hard-link-outside": _hard_link_outside,
    "fifo": _fifo,
}
# 13: folder names that a spreadsheet would run as formulas
FORMULA_FOLDERS = ('=HYPERLINK("http://attacker.example")', "=1+1+cmd|' /C calc'!A0")


STRUCTURAL_ATTACKS = _structural_attacks()


def _honest(submitted: Path) -> None:
    write(
        student_solution(ASSIGNMENT, NOTEBOOK),
        submitted / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb",
    )
    write(_blank(), submitted / "bob" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    long_sum = student_solution(ASSIGNMENT, NOTEBOOK)  # 3: the scan used to die on it
    for cell in long_sum.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == SOLUTION_CELL:
            cell.source = cell.source.replace("    a_t = x_t @ W_x + h_prev @ W_h + b\n", LONG_SUM)
            assert LONG_SUM in cell.source
    write(long_sum, submitted / "carol" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")


def _grade(submitted: Path, out: Path, *options: str) -> list[dict[str, str]]:
    result = run_grader(
        "autograde",
        str(submitted),
        "--out",
        str(out),
        "--jobs",
        "2",
        # The hang attack waits this long; the honest notebooks' slowest cell (Exercise 3's
        # training) must fit in it with the machine's two cores busy: 10 s did not on a loaded
        # machine, and the canary then stopped the whole batch, as it should.
        "--cell-timeout",
        "30",
        *options,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = read_csv(out / "grades.csv")
    mine = {NOTEBOOK, ""}
    return [r for r in rows if r["notebook"] in mine or r["student_id"] in OTHER_NOTEBOOKS]


def write_batch(submitted: Path, out: Path) -> None:
    """Write the honest students and every attack under ``submitted`` (graded into ``out``)."""
    _honest(submitted)
    for attack in ATTACKS:
        code = attack.code.format(out=str(out), submitted=str(submitted))
        write(
            _with_attack(code, attack.cell, attack.assignment, attack.notebook),
            submitted / attack.student / attack.assignment / f"{attack.notebook}.ipynb",
        )
    for name, make in FILE_ATTACKS.items():
        path = submitted / name / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True)
        make(path, submitted)
    (submitted / "link-to-folder").mkdir()
    (submitted / "link-to-folder" / ASSIGNMENT).symlink_to(submitted / "alice" / ASSIGNMENT)
    for name in FORMULA_FOLDERS:
        (submitted / name / ASSIGNMENT).mkdir(parents=True)
    for name, (content, _) in STRUCTURAL_ATTACKS.items():
        path = submitted / name.replace("_", "-") / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        if isinstance(content, str):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        else:
            write(content, path)


@pytest.fixture(scope="module")
def honest_only(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    root = tmp_path_factory.mktemp("honest")
    _honest(root / "honest")
    return _grade(root / "honest", root / "honest-out")


@pytest.fixture(scope="module", params=["warm", "cold"])
def batch(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    honest_only: list[dict[str, str]],
) -> dict:
    """Every attack in one batch with the honest students, with warm kernels, then cold ones."""
    root = tmp_path_factory.mktemp(f"attacks-{request.param}")
    submitted, out = root / "submitted", root / "out"
    readme = hashlib.sha256((REPO / "README.md").read_bytes()).hexdigest()
    write_batch(submitted, out)
    options = ("--cold-kernels",) if request.param == "cold" else ()
    rows = _grade(submitted, out, *options)
    return {"rows": rows, "honest_only": honest_only, "out": out, "readme": readme}


def _rows_of(rows: list[dict[str, str]], student: str) -> list[dict[str, str]]:
    return [r for r in rows if r["student_id"] == student]


@pytest.mark.slow
@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.id)
def test_attack_gains_nothing(batch: dict, attack: Attack) -> None:
    rows = [r for r in _rows_of(batch["rows"], attack.student) if r["notebook"] == attack.notebook]
    assert rows, f"no rows for {attack.id}"
    assert sum(float(r["score"]) for r in rows) == 0, attack.description
    statuses = {r["status"] for r in rows}
    if attack.status == "failed":  # the attack fails inside the sandbox: plain wrong answers
        assert statuses <= {"failed", "error"}, statuses
    elif attack.status == "no_points":  # stopped by the scan, or a plain failure: either way
        assert statuses <= {"failed", "error", "tampered"}, statuses
    else:
        assert attack.status in statuses, (attack.id, statuses)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(STRUCTURAL_ATTACKS))
def test_notebook_attack_gains_nothing(batch: dict, name: str) -> None:
    rows = _rows_of(batch["rows"], name.replace("_", "-"))
    expected = STRUCTURAL_ATTACKS[name][1]
    assert rows and sum(float(r["score"]) for r in rows) == 0
    assert sum(float(r["max_score"]) for r in rows) == 17, "points come from the instructor"
    statuses = {r["status"] for r in rows}
    assert statuses <= ({"failed", "error"} if expected == "failed" else {expected}), statuses


@pytest.mark.slow
def test_honest_grades_unchanged_by_attackers(batch: dict) -> None:
    def scores(rows):
        return sorted(
            (r["student_id"], r["grade_id"], r["score"], r["status"])
            for r in rows
            if r["student_id"] in ("alice", "bob", "carol")
        )

    assert scores(batch["rows"]) == scores(batch["honest_only"])
    assert sum(float(r["score"]) for r in _rows_of(batch["rows"], "alice")) == 17
    assert sum(float(r["score"]) for r in _rows_of(batch["rows"], "carol")) == 17, "long sum"


@pytest.mark.slow
def test_no_recorded_answers_reach_the_output(batch: dict) -> None:
    marker = replay.MIME_TYPE.encode()
    leaked = [p for p in batch["out"].rglob("*") if p.is_file() and marker in p.read_bytes()]
    assert not leaked, leaked


@pytest.mark.slow
def test_gradebook_and_instructor_files_intact(batch: dict) -> None:
    assert hashlib.sha256((REPO / "README.md").read_bytes()).hexdigest() == batch["readme"]
    with sqlite3.connect(batch["out"] / "gradebook.db") as db:
        assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
        manual = db.execute("select count(*) from grade where manual_score is not null").fetchone()
    assert manual[0] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [*FILE_ATTACKS, "link-to-folder"])
def test_linked_or_special_files_are_not_followed(batch: dict, name: str) -> None:
    rows = _rows_of(batch["rows"], name)
    assert rows and sum(float(r["score"]) for r in rows) == 0, rows
    assert "passed" not in {r["status"] for r in rows}, rows


@pytest.mark.slow
def test_no_formula_reaches_grades_csv(batch: dict) -> None:
    with (batch["out"] / "grades.csv").open(newline="", encoding="utf-8") as handle:
        fields = [field for row in csv.reader(handle) for field in row]
    assert not [f for f in fields if f[:1] in ("=", "+", "-", "@", "\t", "\r")], fields
    assert any(f.startswith("'=HYPERLINK") for f in fields), "the stray rows are there, quoted"


@pytest.mark.slow
def test_feedback_quotes_no_hidden_test_and_no_kernel_text(batch: dict) -> None:
    hidden = hidden_test_lines()
    for student in ("read-graded-notebook", "leak-through-message", "history-leak"):
        pages = list((batch["out"] / "feedback" / student).rglob("*.html"))
        texts = [p.read_text(encoding="utf-8") for p in pages]
        texts += [r["message"] for r in _results_of(batch["out"], student)]
        assert texts, student
        for text in texts:
            assert "LEAK-MARKER" not in text, student  # made at run time: the source has it apart
            assert not [line for line in hidden if line in text], student


@pytest.mark.slow
def test_no_active_content_reaches_instructors_pages(batch: dict) -> None:
    graded = batch["out"] / "autograded" / "script-in-outputs" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    outputs = [
        output
        for cell in nbformat.read(graded, as_version=4).cells
        for output in cell.get("outputs", [])
    ]
    kinds = {kind for output in outputs for kind in output.get("data", {})}
    assert not kinds & {"text/html", "application/javascript"}, kinds
    assert "alert(1)" in json.dumps(outputs), "kept, as text"


def _results_of(out: Path, student: str) -> list[dict]:
    return [r for r in json.loads((out / "results.json").read_text()) if r["student_id"] == student]


ORDERED = {  # graded one after another in one slot (--jobs 1), in this order
    "a1-deep-tree": "deep_tree_then_symlink",
    "a2-honest": None,
    "a3-read-graded": "read_graded_notebook",
    "a4-honest": None,
}


@pytest.mark.slow
@pytest.mark.parametrize("kernels", ["warm", "cold"])
def test_order_dependent_attacks_cost_the_next_student_nothing(
    tmp_path: Path, kernels: str
) -> None:
    by_id = {attack.id: attack for attack in ATTACKS}
    for student, attack_id in ORDERED.items():
        path = tmp_path / "in" / student / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
        if attack_id is None:
            write(student_solution(ASSIGNMENT, NOTEBOOK), path)
        else:
            write(_with_attack(by_id[attack_id].code, by_id[attack_id].cell), path)
    options = ["--cold-kernels"] if kernels == "cold" else []
    done = run_grader(
        "autograde", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1", *options
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_csv(tmp_path / "out" / "grades.csv")
    for student in ("a2-honest", "a4-honest"):
        mine = [r for r in rows if r["student_id"] == student and r["notebook"] == NOTEBOOK]
        assert {r["status"] for r in mine} == {"passed"}, mine
    for student in ("a1-deep-tree", "a3-read-graded"):
        assert sum(float(r["score"]) for r in rows if r["student_id"] == student) == 0
