"""Re-check each passed test cell in the grader's own process, from the answers the kernel recorded.

The student's kernel runs the test cells and records what the student's functions returned
(``course_checks.replay``). This nbgrader preprocessor, run right after execution, replays each test
cell that passed there: the instructor's test code, references and comparisons run in the grading
process, where no student code has ever run, with every call of student code answered from the
record. A test that passed in the kernel but fails here was fooled inside the kernel: it gets an
error output (``VerdictMismatch``), so nbgrader awards nothing, and the grader reports it as
``tampered``. The records are removed from the notebook, so they never reach feedback.

A test that failed in the kernel is replayed too, for its message: what the student reads about
a failed test is the re-check's own (``GraderVerdict``), computed here from the recorded answers,
never text the kernel produced (a student's exception message or printed text could quote the
hidden tests, which the kernel ran). The kernel's outputs stay for the instructor.

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
VERDICT_ERROR = "GraderVerdict"  # the re-check's message about a test that failed in the kernel
# Errors nbgrader and the grader themselves put in a cell: their text is the grader's, not the
# kernel's (a cell stopped for time or output); such a cell's records are incomplete.
GRADER_ERRORS = frozenset({"CellTimeoutError", "KeyboardInterrupt", "OutputLimitExceeded"})
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

    def verdict(
        self, source: str, records: list[Any], label: str, student_sources: list[str] = ()
    ) -> str | None:
        """Replay a test cell; ``None`` when it passes, else why it failed."""
        failure = self.failure(source, records, label, student_sources)
        return None if failure is None else f"{failure[0]}: {failure[1]}"

    def failure(
        self, source: str, records: list[Any], label: str, student_sources: list[str] = ()
    ) -> tuple[str, str] | None:
        """Replay a test cell; ``None`` when it passes, else (error name, message)."""
        try:
            with (
                replay.replaying(records, student_sources=student_sources),
                _quiet(),
                _time_limit(self.cell_timeout),
            ):
                exec(compile(_python(source), f"<test {label}>", "exec"), self.namespace)
        except BaseException as error:  # every way a test can fail is a verdict
            return type(error).__name__, str(error)
        return None


class ReplayVerdicts(NbGraderPreprocessor):
    """Keep a passed test cell's points only if its replay in the grader passes too."""

    cell_timeout = Integer(60, help="Seconds a replayed cell may take").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        session = ReplaySession(self.cell_timeout) if replay_enabled(nb) else None
        if session is not None:
            _single_threaded()
        student_sources = [
            cell.source
            for cell in nb.cells
            if cell.cell_type == "code"
            and (utils.is_solution(cell) or cell.get("id", "").startswith(STUDENT_CELL_PREFIX))
        ]
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            records = take_records(cell)
            if session is None:
                continue
            if utils.is_grade(cell) and not utils.is_solution(cell):
                label = cell.metadata.nbgrader.grade_id
                errors = [o for o in cell.outputs if o.get("output_type") == "error"]
                if any(o.get("ename") in GRADER_ERRORS for o in errors):
                    continue  # stopped by the grader: its own message says why
                failure = session.failure(cell.source, records, label, student_sources)
                if errors:
                    cell.outputs.append(_verdict(failure))
                elif failure is not None:
                    cell.outputs.append(_mismatch(f"{failure[0]}: {failure[1]}"))
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


def _verdict(failure: tuple[str, str] | None) -> NotebookNode:
    """The re-check's message about a test that failed in the kernel: the student's to read."""
    name, message = failure if failure and failure[0] != "ReplayError" else ("CheckFailure", "")
    message = message or (
        "This test failed when your notebook ran; the grader's re-check of the answers your "
        "functions returned could not say more. Run the notebook from the top in JupyterLab "
        "and look at the first test that fails."
    )
    # ename "GraderVerdict:CheckFailure": whose message it is, and what the re-check raised.
    return new_output("error", ename=f"{VERDICT_ERROR}:{name}", evalue=message, traceback=[message])


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
