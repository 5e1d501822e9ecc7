"""Autograde a folder of submissions with real nbgrader, one notebook at a time, N at once.

Data flow: validate every expected notebook → give each valid one a private nbgrader course folder
and gradebook copy → ``nbgrader autograde`` it (in parallel) → read its scores and the messages of
its test cells → write grades.csv, results.json, feedback HTML and the central gradebook.
A broken submission only ever changes its own rows.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_checks.replay import RECORD_ENV
from course_checks.student_output import NOTE_PREFIX, feedback_notes
from grader.course import Assignment, Notebook, load_course
from grader.feedback import write_feedback
from grader.gradebook import read_scores, record_results
from grader.integrity import rebuild
from grader.limited_execute import OUTPUT_LIMIT_ERROR
from grader.manual import AWAITING_MESSAGE, apply_manual_grades
from grader.nbgrader_runner import jupyter_dir, run_nbgrader, sqlite_url
from grader.release import generate_assignments, template
from grader.replay_verdicts import MISMATCH_ERROR
from grader.results import CellResult, write_grades_csv, write_results_json
from grader.sandbox import Limits, detect_mode, kernel_argv, write_kernelspec
from grader.submissions import StrayFolder, SubmittedNotebook, find_submissions
from grader.tamper import scan_cells, test_helpers
from grader.warm_kernels import WarmKernels, Zygote

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FAILED_CHECK_ERRORS = {"AssertionError", "CheckFailure"}
# nbgrader interrupts a cell that outlives Execute.timeout; only the grader sends that interrupt.
TIMEOUT_ERRORS = {"CellTimeoutError", "KeyboardInterrupt"}
# nbgrader's own list, with Execute replaced by one that caps a notebook's output, and every
# passed test re-checked in the grading process from the answers the kernel recorded.
AUTOGRADE_PREPROCESSORS = repr(
    [
        "grader.limited_execute.LimitedExecute",
        "grader.replay_verdicts.ReplayVerdicts",
        "nbgrader.preprocessors.IgnorePattern",
        "nbconvert.preprocessors.ClearMetadataPreprocessor",
        "nbgrader.preprocessors.LimitOutput",
        "nbgrader.preprocessors.SaveAutoGrades",
        "nbgrader.preprocessors.AssignLatePenalties",
        "nbgrader.preprocessors.CheckCellMetadata",
    ]
)


@dataclass(frozen=True)
class AutogradeOptions:
    """How to grade: parallelism, time limits and where grades go."""

    jobs: int = 1
    cell_timeout: int = 60
    notebook_timeout: int = 600
    db_url: str | None = None  # default: sqlite gradebook.db in the output folder
    keep_work: bool = False
    quiet: bool = False
    warm_kernels: bool = True  # fork kernels from a preloaded sandbox per slot (grader.zygote)
    limits: Limits = Limits()  # noqa: RUF009 (frozen, so one shared default is safe)


@dataclass(frozen=True)
class AutogradeReport:
    results: list[CellResult]
    seconds: float
    notebooks_graded: int


def autograde(
    submitted: Path,
    out: Path,
    options: AutogradeOptions = AutogradeOptions(),
    assignments: list[Assignment] | None = None,
) -> AutogradeReport:
    """Grade every ``<student>/<assignment>/<notebook>.ipynb`` under ``submitted`` into ``out``.

    Writes ``out/grades.csv``, ``out/results.json``, ``out/feedback/<student>/…html``,
    ``out/autograded/`` (instructor copies) and the gradebook. Returns the results in the order of
    grades.csv.
    """
    started = time.monotonic()
    assignments = assignments if assignments is not None else load_course()
    out.mkdir(parents=True, exist_ok=True)
    db_url = options.db_url or sqlite_url(out / "gradebook.db")
    notebooks, strays = find_submissions(submitted, assignments)
    work = Path(tempfile.mkdtemp(prefix="grader-autograde-"))
    work.chmod(0o711)  # sandbox users may pass through to their own job's folders, not list them
    try:
        template_db, release_dir = template(assignments, work / "template")
        _prepare_central_gradebook(db_url, template_db, assignments, work)
        by_name = {(a.name, nb.name): nb for a in assignments for nb in a.notebooks}
        gradable = [n for n in notebooks if n.status == "ok"]
        graded = _grade_all(
            gradable, by_name, template_db, release_dir, work, out / "autograded", options
        )
        results: list[CellResult] = []
        for submission in notebooks:
            definition = by_name[(submission.assignment, submission.notebook)]
            if submission.status == "ok":
                results += graded[_key(submission)]
            else:
                results += _zero_results(submission, definition, submission.status)
        results += [_stray_result(stray) for stray in strays]
        results.sort(key=_row_order(assignments))
        record_results(db_url, results, notebooks)
        # Scores an instructor gave written answers (grader manual) outlive a new grading run.
        results = apply_manual_grades(db_url, results)
        write_grades_csv(results, out / "grades.csv")
        write_results_json(results, out / "results.json")
        write_feedback(results, notebooks, by_name, out / "autograded", out / "feedback")
    finally:
        if not options.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return AutogradeReport(results, time.monotonic() - started, len(gradable))


def _grade_all(
    gradable: list[SubmittedNotebook],
    by_name: dict[tuple[str, str], Notebook],
    template_db: Path,
    release_dir: Path,
    work: Path,
    autograded_dir: Path,
    options: AutogradeOptions,
) -> dict[tuple[str, str, str], list[CellResult]]:
    """Grade the valid notebooks, ``options.jobs`` at a time; results keyed by submission."""
    jobs = max(1, options.jobs)
    # Share the cores between simultaneous kernels instead of oversubscribing them.
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    graded: dict[tuple[str, str, str], list[CellResult]] = {}
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for slot in range(jobs):
        slots.put(slot)
    warm = None
    if gradable and options.warm_kernels and WarmKernels.wanted():
        warm = WarmKernels(work / "slots", min(jobs, len(gradable)), options.limits, threads)
        warm.start()

    def grade_in_slot(*args) -> tuple[list[CellResult], float]:
        slot = slots.get()  # one sandbox uid (and warm-kernel sandbox) per running job
        try:
            zygote = warm.get(slot) if warm is not None else None
            return _timed(grade_notebook)(*args, slot=slot, zygote=zygote)
        finally:
            slots.put(slot)

    started = time.monotonic()
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {
                pool.submit(
                    grade_in_slot,
                    submission,
                    by_name[(submission.assignment, submission.notebook)],
                    template_db,
                    release_dir,
                    work / "jobs" / f"{index:05d}",
                    autograded_dir,
                    options,
                    env,
                ): submission
                for index, submission in enumerate(gradable)
            }
            for done, future in enumerate(as_completed(futures), start=1):
                submission = futures[future]
                results, seconds = future.result()
                graded[_key(submission)] = results
                if not options.quiet:
                    elapsed = time.monotonic() - started
                    remaining = elapsed / done * (len(futures) - done)
                    _print_progress(done, len(futures), submission, results, seconds, remaining)
    finally:
        if warm is not None:
            warm.stop()
    return graded


def grade_notebook(
    submission: SubmittedNotebook,
    definition: Notebook,
    template_db: Path,
    release_dir: Path,
    job_dir: Path,
    autograded_dir: Path,
    options: AutogradeOptions,
    env: dict[str, str] | None = None,
    slot: int = 0,
    zygote: Zygote | None = None,
) -> list[CellResult]:
    """Autograde one valid notebook in a private nbgrader course folder: one result per cell.

    The notebook nbgrader sees is the release with the student's answers in it (grader.integrity);
    answers that reach into the grader are graded ``tampered`` without running (grader.tamper).
    The kernel is forked by the slot's ``zygote`` (grader.zygote), or started cold without one.
    """
    release = nbformat.read(
        release_dir / submission.assignment / f"{submission.notebook}.ipynb", as_version=4
    )
    rebuilt = rebuild(nbformat.read(submission.path, as_version=4), release)
    findings = scan_cells(rebuilt.student_cells, test_helpers(release))
    if findings:
        return _zero_results(
            submission,
            definition,
            "tampered",
            "Not graded: this code reaches into the grader, the tests or the libraries instead "
            "of answering the exercise (" + "; ".join(findings[:5]) + "). Your instructor will "
            "review it.",
        )
    course_root = job_dir / "course"
    (course_root / "source" / submission.assignment).mkdir(parents=True)
    submitted_dir = course_root / "submitted" / submission.student_id / submission.assignment
    submitted_dir.mkdir(parents=True)
    nbformat.write(rebuilt.notebook, submitted_dir / f"{submission.notebook}.ipynb")
    database = job_dir / "gradebook.db"
    shutil.copyfile(template_db, database)
    runtime = jupyter_dir(course_root) / "runtime"
    runtime.mkdir(parents=True)
    runtime.chmod(0o1777)  # the sandbox user creates the kernel's ipc sockets here
    if zygote is not None:  # the kernel's sockets go where the slot's sandbox can create them
        argv, ipc = zygote.kernel_argv(), zygote.paths.runtime / "kernel"
    else:
        work_dir = course_root / "autograded" / submission.student_id / submission.assignment
        argv = kernel_argv(
            work_dir.resolve(), runtime.resolve(), slot, options.limits, detect_mode()
        )
        ipc = runtime.resolve() / "kernel"
    write_kernelspec(jupyter_dir(course_root) / "data", argv)
    run = run_nbgrader(
        "autograde",
        [submission.assignment, "--student", submission.student_id, "--force"],
        course_root=course_root,
        db_url=sqlite_url(database),
        timeout=options.notebook_timeout,
        settings={
            "Execute.timeout": str(options.cell_timeout),
            "Autograde.autograde_preprocessors": AUTOGRADE_PREPROCESSORS,
            "LimitedExecute.max_output_bytes": str(options.limits.output_kb << 10),
            "ReplayVerdicts.cell_timeout": str(options.cell_timeout),
            "KernelManager.transport": "ipc",  # the sandbox has no network, not even loopback
            "KernelManager.ip": str(ipc),
        },
        # TMPDIR: where jupyter_client writes connection files; the record switch reaches a kernel
        # that runs without bubblewrap (with it, the kernel's environment is kernel_env()).
        env={**(env or {}), "TMPDIR": str(runtime), RECORD_ENV: "1"},
    )
    (job_dir / "nbgrader.log").write_text(run.log, encoding="utf-8")
    relative = Path(submission.student_id, submission.assignment, f"{submission.notebook}.ipynb")
    autograded = course_root / "autograded" / relative
    has_manual = any(not cell.autograded for cell in definition.graded_cells)
    if has_manual and (run.timed_out or not autograded.exists()):
        # Written answers do not depend on the code running: they still go to the instructor,
        # who reviews them in the notebook as graded (not executed).
        (autograded_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(rebuilt.notebook, autograded_dir / relative)
    if run.timed_out:
        return _zero_results(
            submission,
            definition,
            "timeout",
            f"The notebook did not finish within {options.notebook_timeout} s; "
            "look for an endless loop or a very slow cell.",
            manual_apart=True,
        )
    if not autograded.exists():
        crashed = "DeadKernelError" in run.log or "Kernel died" in run.log
        return _zero_results(
            submission,
            definition,
            "kernel_crashed" if crashed else "grader_error",
            "The Python kernel died while running your notebook (a crash, os._exit or running "
            "out of memory)."
            if crashed
            else "nbgrader could not grade this notebook; the instructor has the log.",
            manual_apart=True,
        )
    (autograded_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(autograded, autograded_dir / relative)
    scores = read_scores(
        sqlite_url(database), submission.student_id, submission.assignment, submission.notebook
    )
    messages = _cell_errors(autograded)
    notes = _cell_notes(autograded)
    return [
        _with_notes(
            _cell_result(submission, cell.grade_id, cell.points, cell.autograded, scores, messages),
            notes.get(cell.grade_id, []),
        )
        for cell in definition.graded_cells
    ]


def _with_notes(result: CellResult, notes: list[str]) -> CellResult:
    """``result`` with the cell's notes on warnings of the student's code (they cost nothing)."""
    if not notes:
        return result
    message = "\n".join([result.message, *notes] if result.message else notes)
    return dataclasses.replace(result, message=message)


def _cell_notes(path: Path) -> dict[str, list[str]]:
    """For each graded cell: the notes that ``course_checks.student_output`` printed on stdout,
    as the fixed sentences of :func:`feedback_notes` (the kernel ran student code: none of its
    text is kept).

    A warning or a write to stderr from the student's code during a test is printed as such a
    note instead of going to stderr, where nbgrader would take it for an error; the feedback
    shows it beside the cell's result.
    """
    notebook = nbformat.read(path, as_version=4)
    notes: dict[str, list[str]] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not grade_id or cell.get("cell_type") != "code":
            continue
        lines = [
            line.strip()
            for output in cell.get("outputs", [])
            if output.get("output_type") == "stream" and output.get("name") == "stdout"
            for line in ANSI_ESCAPE.sub("", str(output.get("text", ""))).splitlines()
        ]
        found = feedback_notes(line for line in lines if line.startswith(NOTE_PREFIX))
        if found:
            notes[grade_id] = found
    return notes


def _cell_result(
    submission: SubmittedNotebook,
    grade_id: str,
    points: float,
    autograded: bool,
    scores: dict[str, float | None],
    errors: dict[str, tuple[str, str] | None],
) -> CellResult:
    def result(score: float, status: str, message: str = "") -> CellResult:
        return CellResult(
            submission.student_id,
            submission.assignment,
            submission.notebook,
            grade_id,
            score,
            points,
            status,
            message,
        )

    if grade_id not in errors:
        return result(0.0, "missing_cell", "This graded cell is missing from the notebook.")
    score = scores.get(grade_id)
    if not autograded:
        return result(score or 0.0, "needs_manual_grade", AWAITING_MESSAGE)
    error = errors[grade_id]
    if score is not None and score >= points:
        return result(float(score), "passed")
    if error is None:
        return result(float(score or 0.0), "failed", "The test cell did not award full points.")
    ename, evalue = error
    if ename == OUTPUT_LIMIT_ERROR:
        return result(0.0, "output_limit", f"Not graded: {evalue}.")
    if ename in TIMEOUT_ERRORS:
        return result(0.0, "timeout", "This cell ran out of time (an endless loop?).")
    if ename == MISMATCH_ERROR:
        return result(0.0, "tampered", f"{evalue} Your instructor will review it.")
    status = "failed" if ename in FAILED_CHECK_ERRORS else "error"
    message = f"{ename}: {evalue}" if evalue else f"{ename} (no message)"
    return result(float(score or 0.0), status, message)


def _cell_errors(path: Path) -> dict[str, tuple[str, str] | None]:
    """For each graded cell of an autograded notebook: its first error as (name, value), or None."""
    notebook = nbformat.read(path, as_version=4)
    errors: dict[str, tuple[str, str] | None] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not grade_id:
            continue
        errors[grade_id] = None
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors[grade_id] = (
                    ANSI_ESCAPE.sub("", output.get("ename", "")),
                    ANSI_ESCAPE.sub("", output.get("evalue", "")),
                )
                break
    return errors


def _zero_results(
    submission: SubmittedNotebook,
    definition: Notebook,
    status: str,
    message: str = "",
    manual_apart: bool = False,
) -> list[CellResult]:
    """Zero for every graded cell, with ``status``; with ``manual_apart``, manually graded
    answers (which running the code does not affect) await the instructor instead."""
    return [
        CellResult(
            submission.student_id,
            submission.assignment,
            submission.notebook,
            cell.grade_id,
            0.0,
            cell.points,
            *(
                ("needs_manual_grade", AWAITING_MESSAGE)
                if manual_apart and not cell.autograded
                else (status, message or submission.detail)
            ),
        )
        for cell in definition.graded_cells
    ]


def _stray_result(stray: StrayFolder) -> CellResult:
    return CellResult(
        stray.student_id, stray.assignment, "", "", 0.0, 0.0, stray.status, stray.detail
    )


def _prepare_central_gradebook(
    db_url: str, template_db: Path, assignments: list[Assignment], work: Path
) -> None:
    """Make sure the instructors' gradebook knows every assignment before results are recorded."""
    if db_url.startswith("sqlite:///"):
        path = Path(db_url.removeprefix("sqlite:///"))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template_db, path)
            return
    generate_assignments(assignments, work / "central", db_url)


def _key(submission: SubmittedNotebook) -> tuple[str, str, str]:
    return (submission.student_id, submission.assignment, submission.notebook)


def _row_order(assignments: list[Assignment]) -> Callable[[CellResult], tuple]:
    """Sort rows by student, assignment, notebook, then the cell's position in its notebook."""
    position = {
        (a.name, nb.name, cell.grade_id): index
        for a in assignments
        for nb in a.notebooks
        for index, cell in enumerate(nb.graded_cells)
    }
    return lambda r: (
        r.student_id,
        r.assignment,
        r.notebook,
        position.get((r.assignment, r.notebook, r.grade_id), -1),
    )


def _timed(function: Callable[..., list[CellResult]]) -> Callable[..., tuple[list, float]]:
    def run(*args, **kwargs) -> tuple[list[CellResult], float]:
        started = time.monotonic()
        return function(*args, **kwargs), time.monotonic() - started

    return run


def _print_progress(
    done: int,
    total: int,
    submission: SubmittedNotebook,
    results: list[CellResult],
    seconds: float,
    remaining: float,
) -> None:
    score = sum(r.score for r in results)
    maximum = sum(r.max_score for r in results)
    statuses = sorted({r.status for r in results} - {"passed"})
    note = f" ({', '.join(statuses)})" if statuses else ""
    width = 20
    bar = "#" * (width * done // total) + "." * (width - width * done // total)
    print(
        f"[{bar}] {done}/{total} ~{remaining:.0f} s left | {submission.student_id} "
        f"{submission.assignment}/{submission.notebook}: {score:g}/{maximum:g}{note} "
        f"in {seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
