"""Re-check each passed test cell in the grader's own process, from the answers the kernel recorded.

The student's kernel runs the test cells and records what the student's functions returned
(``course_checks.replay``). This nbgrader preprocessor, run right after execution, replays each test
cell that passed there: the instructor's test code, references and comparisons run in the grading
process, where no student code has ever run, with every call of student code answered from the
record. A test that passed in the kernel but fails here was fooled inside the kernel: it gets an
error output (``VerdictMismatch``), so nbgrader awards nothing, and the grader reports it as
``tampered``. The records are removed from the notebook, so they never reach feedback.

Replay is on for notebooks whose metadata has ``gru_course.verdicts == "replay"`` (set in
``solutions/``); the other notebooks keep the kernel's verdict until their tests are replayable.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import signal
from collections.abc import Iterator
from typing import Any

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Integer

from course_checks import replay
from grader.tamper import defined_names

MISMATCH_ERROR = "VerdictMismatch"
STUDENT_CELL_PREFIX = "student-cell-"  # the ids grader.integrity gives the cells a student added


def replay_enabled(notebook: NotebookNode) -> bool:
    """Whether the instructor made this notebook's tests replayable (notebook metadata)."""
    return notebook.metadata.get("gru_course", {}).get("verdicts") == "replay"


def take_records(cell: NotebookNode) -> list[Any]:
    """Remove the recorded calls from ``cell``'s outputs and return them, in order."""
    records: list[Any] = []
    kept = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if replay.MIME_TYPE in data:
            records.append(data[replay.MIME_TYPE])
        else:
            kept.append(output)
    cell.outputs = kept
    return records


class _NoShell:
    """``get_ipython()`` in the replay: magics (``%matplotlib``, ``%time``) do nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class ReplaySession:
    """The namespace in which one notebook's given code and test cells are replayed."""

    def __init__(self, cell_timeout: int = 60) -> None:
        shell = _NoShell()
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "get_ipython": lambda: shell,
        }
        self.cell_timeout = cell_timeout

    def run_given(self, source: str) -> None:
        """Run the instructor's given code; code that needs the student's answers just stops."""
        with contextlib.suppress(Exception), _quiet(), _time_limit(self.cell_timeout):
            exec(compile(_python(source), "<given cell>", "exec"), self.namespace)

    def bind_student_names(self, source: str) -> None:
        """Stand-ins for what a student's cell defines: only recorded calls can use them.

        A name the instructor's code already bound keeps that value: the replay runs the tests
        as written, so re-importing ``numpy`` or redefining a test helper changes nothing here.
        """
        for name in defined_names(source, imports=False) - self.namespace.keys():
            self.namespace[name] = replay.Stub(name)

    def verdict(self, source: str, records: list[Any], label: str) -> str | None:
        """Replay a test cell; ``None`` when it passes, else why it failed."""
        try:
            with replay.replaying(records), _quiet(), _time_limit(self.cell_timeout):
                exec(compile(_python(source), f"<test {label}>", "exec"), self.namespace)
        except BaseException as error:  # every way a test can fail is a verdict
            return f"{type(error).__name__}: {error}"
        return None


class ReplayVerdicts(NbGraderPreprocessor):
    """Keep a passed test cell's points only if its replay in the grader passes too."""

    cell_timeout = Integer(60, help="Seconds a replayed cell may take").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        session = ReplaySession(self.cell_timeout) if replay_enabled(nb) else None
        if session is not None:
            _single_threaded()
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            records = take_records(cell)
            if session is None:
                continue
            if utils.is_grade(cell) and not utils.is_solution(cell):
                if any(output.get("output_type") == "error" for output in cell.outputs):
                    continue  # failed in the kernel: nothing to confirm
                problem = session.verdict(cell.source, records, cell.metadata.nbgrader.grade_id)
                if problem:
                    cell.outputs.append(_mismatch(problem))
            elif utils.is_solution(cell) or cell.get("id", "").startswith(STUDENT_CELL_PREFIX):
                session.bind_student_names(cell.source)
            else:
                session.run_given(cell.source)
        return nb, resources


def _mismatch(problem: str) -> NotebookNode:
    message = (
        "This test passed inside your notebook, but failed when the grader checked the answers "
        f"your functions returned, in a clean process: {problem}"
    )
    return new_output("error", ename=MISMATCH_ERROR, evalue=message, traceback=[message])


def _python(source: str) -> str:
    return TransformerManager().transform_cell(source)


def _single_threaded() -> None:
    """Small tensors; one thread also keeps the forked grading process clear of thread pools."""
    with contextlib.suppress(ImportError):
        import torch

        torch.set_num_threads(1)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


class ReplayTimeout(Exception):
    """A replayed cell ran longer than its limit."""


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    def expire(signum: int, frame: Any) -> None:
        raise ReplayTimeout(f"the re-check took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
