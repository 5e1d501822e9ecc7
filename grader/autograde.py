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
import secrets
import shutil
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course_checks.replay import RECORD_ENV
from course_checks.student_output import NOTE_PREFIX, feedback_notes
from grader import canary, uids
from grader.active_content import sanitize_file
from grader.course import Assignment, Notebook, load_course
from grader.feedback import write_feedback
from grader.gradebook import read_scores, record_results
from grader.integrity import Rebuilt, rebuild
from grader.manual import AWAITING_MESSAGE, apply_manual_grades
from grader.nbgrader_runner import RunResult, jupyter_dir, run_nbgrader, sqlite_url
from grader.preprocessors.limited_execute import OUTPUT_LIMIT_ERROR
from grader.preprocessors.replay_verdicts import MISMATCH_ERROR, VERDICT_ERROR
from grader.release import generate_assignments, template
from grader.results import CellResult, Status, write_grades_csv, write_results_json
from grader.safe_tree import remove_tree
from grader.sandbox import Limits, detect_mode, kernel_argv, write_kernelspec
from grader.submissions import (
    StrayFolder,
    SubmissionChanged,
    SubmittedNotebook,
    find_submissions,
    load_submission,
)
from grader.tamper import scan_notebook
from grader.warm_kernels import WarmKernels, Zygote
from grader.zygote import STARTED

SECRET_ENV = "GRU_COURSE_SECRET"  # hidden tests draw their inputs from it (course_checks.cases)
SECRET_FILE = ".grading-secret"  # in OUT: the same class graded again gets the same inputs
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# The one table from the error a graded cell ended with (its name, as nbgrader and the
# preprocessors write it) to the cell's status; any other error is Status.ERROR.
ERROR_STATUSES = {
    "AssertionError": Status.FAILED,
    "CheckFailure": Status.FAILED,
    # nbgrader interrupts a cell that outlives Execute.timeout; only the grader sends it.
    "CellTimeoutError": Status.TIMEOUT,
    "KeyboardInterrupt": Status.TIMEOUT,
    OUTPUT_LIMIT_ERROR: Status.OUTPUT_LIMIT,
    MISMATCH_ERROR: Status.TAMPERED,  # the re-check's verdict differs from the kernel's
}
# nbgrader's own list, with Execute replaced by one that caps a notebook's output, and every
# passed test re-checked in the grading process from the answers the kernel recorded.
AUTOGRADE_PREPROCESSORS = repr(
    [
        "grader.preprocessors.LimitedExecute",
        "grader.preprocessors.ReplayVerdicts",
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
    secret: str = ""  # hidden tests' inputs; default: OUT/.grading-secret, drawn on first use
    canary: bool = True  # grade the solutions first, and stop if they lose points (grader.canary)
    # Grade even where bubblewrap cannot isolate the kernels (limits only): trusted notebooks only.
    unisolated: bool = False


class NotIsolated(RuntimeError):
    """The kernels could not be isolated here, and the options did not allow grading without."""


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
    grades.csv. Raises :class:`NotIsolated`, before anything is written, where bubblewrap cannot
    isolate the kernels and ``options.unisolated`` is not set: a kernel that sees the machine's
    files could rewrite this checkout's ``course_checks``, and so every other student's grade.
    """
    mode = detect_mode()
    if not mode.isolated and not options.unisolated:
        raise NotIsolated(mode.reason)
    started = time.monotonic()
    assignments = assignments if assignments is not None else load_course()
    out.mkdir(parents=True, exist_ok=True)
    options = dataclasses.replace(options, secret=options.secret or grading_secret(out))
    db_url = options.db_url or sqlite_url(out / "gradebook.db")
    notebooks, strays = find_submissions(submitted, assignments)
    work = Path(tempfile.mkdtemp(prefix="grader-autograde-"))
    work.chmod(0o711)  # sandbox users may pass through to their own job's folders, not list them
    try:
        template_db, release_dir = template(assignments, work / "template")
        by_name = {(a.name, nb.name): nb for a in assignments for nb in a.notebooks}
        gradable = [n for n in notebooks if n.status == "ok"]
        graded = _grade_all(
            gradable, by_name, template_db, release_dir, work, out / "autograded", options
        )
        _prepare_central_gradebook(db_url, template_db, assignments, work)
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
            remove_tree(work)  # kernels wrote in there: no recursion, no link followed
    return AutogradeReport(results, time.monotonic() - started, len(gradable))


def grading_secret(out: Path) -> str:
    """The secret hidden tests draw their inputs from: ``OUT/.grading-secret``, made on first use.

    A student never sees it, so inputs a hidden test used once cannot be hard-coded; the same
    class graded again into the same OUT gets the same inputs, hence the same grades.
    """
    path = out / SECRET_FILE
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(16) + "\n")
    text = path.read_text(encoding="ascii").strip()
    if not re.fullmatch(r"[0-9a-f]{32,128}", text):
        raise ValueError(f"{path} is not a grading secret (hex digits); delete it to draw anew")
    return text


def _grade_all(
    gradable: list[SubmittedNotebook],
    by_name: dict[tuple[str, str], Notebook],
    template_db: Path,
    release_dir: Path,
    work: Path,
    autograded_dir: Path,
    options: AutogradeOptions,
) -> dict[tuple[str, str, str], list[CellResult]]:
    """Grade the valid notebooks, ``options.jobs`` at a time; results keyed by submission.

    The canary (the reference solution of each notebook in the batch) goes first, in the same
    slots: if it does not get full marks, nothing is graded (:class:`grader.canary.CanaryFailed`).
    """
    if not gradable:
        return {}
    jobs = max(1, options.jobs)
    # Share the cores between simultaneous kernels instead of oversubscribing them.
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    env = {name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    env[SECRET_ENV] = options.secret
    canaries = [
        SubmittedNotebook(
            canary.CANARY_ID,
            definition.assignment,
            definition.name,
            canary.reference_submission(
                definition, work / "canary" / definition.assignment / f"{definition.name}.ipynb"
            ),
            "ok",
        )
        for definition in dict.fromkeys(by_name[(n.assignment, n.notebook)] for n in gradable)
        if options.canary
    ]
    block = uids.reserve()  # sandbox uids no other batch on this machine uses meanwhile
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    slot_count = min(jobs, len(gradable) + len(canaries))
    for slot in range(slot_count):
        slots.put(slot)
    warm = None
    if options.warm_kernels and WarmKernels.wanted():
        slot_uids = [block.uid(slot) for slot in range(slot_count)]
        warm = WarmKernels(
            work / "slots", slot_uids, options.limits, threads, {SECRET_ENV: options.secret}
        )
        warm.start()
    stop = threading.Event()

    def grade_in_slot(submission: SubmittedNotebook, index: int) -> tuple[list[CellResult], float]:
        definition = by_name[(submission.assignment, submission.notebook)]
        if stop.is_set():
            return [], 0.0
        slot = slots.get()  # one sandbox uid (and warm-kernel sandbox) per running job
        started = time.monotonic()
        try:
            zygote = warm.get(slot) if warm is not None else None
            for attempt in range(2):
                job = work / "jobs" / f"{index:05d}-{attempt}"
                try:
                    results, kernel_started = grade_notebook(
                        GradingJob(
                            submission,
                            definition,
                            template_db,
                            release_dir,
                            job,
                            # the canary's graded notebooks are no one's to read
                            work / "canary-autograded"
                            if submission in canaries
                            else autograded_dir,
                            options,
                            env,
                            zygote=zygote,
                            uid=block.uid(slot),
                        )
                    )
                except Exception:  # a bug of ours, or an input nothing else caught: this row only
                    print(
                        f"grader: grading {_key(submission)} failed:\n{traceback.format_exc()}",
                        file=sys.stderr,
                    )
                    return _zero_results(
                        submission,
                        definition,
                        Status.GRADER_ERROR,
                        "The grader failed on this notebook; the instructor has the log.",
                        manual_apart=True,
                    ), time.monotonic() - started
                if kernel_started or zygote is None:
                    break
                # The slot's zygote gave no kernel (it had died): not this notebook's doing.
                print(
                    f"grader: no kernel for {_key(submission)}; grading it again on a fresh one",
                    file=sys.stderr,
                )
                zygote = warm.get(slot, fresh=True) if warm is not None else None
            return results, time.monotonic() - started
        finally:
            slots.put(slot)

    started = time.monotonic()
    graded: dict[tuple[str, str, str], list[CellResult]] = {}
    found: list[str] = []
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            checks = {
                pool.submit(grade_in_slot, submission, index): submission
                for index, submission in enumerate(canaries)
            }
            futures = {
                pool.submit(grade_in_slot, submission, len(canaries) + index): submission
                for index, submission in enumerate(gradable)
            }
            for future in as_completed(checks):
                submission = checks[future]
                definition = by_name[(submission.assignment, submission.notebook)]
                found += canary.problems(definition, future.result()[0])
                if found:
                    stop.set()
                    for pending in futures:
                        pending.cancel()
            if found:
                raise canary.CanaryFailed(canary.failure_message(found))
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
        block.release()
    return graded


@dataclass(frozen=True)
class GradingJob:
    """One notebook to grade, and everything its grading needs (one slot of the batch)."""

    submission: SubmittedNotebook
    definition: Notebook
    template_db: Path  # the batch's template gradebook, copied into the job's course folder
    release_dir: Path
    job_dir: Path  # the job's private nbgrader course folder
    autograded_dir: Path  # where the graded notebook goes
    options: AutogradeOptions
    env: dict[str, str] | None = None
    zygote: Zygote | None = None  # the slot's warm zygote; None: a cold kernel as ``uid``
    uid: int = uids.FIRST_UID


def grade_notebook(job: GradingJob) -> tuple[list[CellResult], bool]:
    """Autograde one valid notebook in a private nbgrader course folder: one result per cell.

    The notebook nbgrader sees is the release with the student's answers in it (grader.integrity);
    answers that reach into the grader are graded ``tampered`` without running (grader.tamper).
    The kernel is forked by the slot's zygote (grader.zygote), or started cold as the job's uid
    without one. Also returns whether a kernel started (``False`` only when a zygote gave none).
    """
    submission, definition, options = job.submission, job.definition, job.options
    template_db, release_dir, job_dir = job.template_db, job.release_dir, job.job_dir
    autograded_dir, env, zygote, uid = job.autograded_dir, job.env, job.zygote, job.uid
    release = nbformat.read(
        release_dir / submission.assignment / f"{submission.notebook}.ipynb", as_version=4
    )
    try:  # the bytes validated, read again without following links, or a status
        submitted_notebook = load_submission(submission)
    except SubmissionChanged as error:
        return _zero_results(submission, definition, error.status, error.detail), True
    rebuilt = rebuild(submitted_notebook, release)
    findings = scan_notebook(rebuilt.student_cells, release)
    if findings:
        return _zero_results(
            submission,
            definition,
            Status.TAMPERED,
            "Not graded: this code reaches into the grader, the tests or the libraries instead "
            "of answering the exercise (" + "; ".join(findings[:5]) + "). Your instructor will "
            "review it.",
        ), True
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
    status_file = job_dir / "kernel-status"  # the stub writes "started" once it has a kernel
    if zygote is not None:  # the kernel's sockets go where the slot's sandbox can create them
        argv, ipc = zygote.kernel_argv(status_file), zygote.paths.runtime / "kernel"
    else:
        extra = {name: value for name, value in (env or {}).items() if name in _KERNEL_ENV}
        argv = kernel_argv(runtime.resolve(), uid, options.limits, detect_mode(), extra)
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
    started = zygote is None or _read_status(status_file) == STARTED
    return _results_of_run(
        submission, definition, run, rebuilt, course_root, database, autograded_dir, options
    ), started


# What a cold kernel in bubblewrap gets of the job's environment (the rest is kernel_env()).
_KERNEL_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", SECRET_ENV)


def _read_status(path: Path) -> str:
    """The stub's status file (root's, outside the sandbox): ``started`` or empty."""
    try:
        return path.read_text(encoding="utf-8", errors="replace")[:20].strip()
    except OSError:
        return ""


def _results_of_run(
    submission: SubmittedNotebook,
    definition: Notebook,
    run: RunResult,
    rebuilt: Rebuilt,
    course_root: Path,
    database: Path,
    autograded_dir: Path,
    options: AutogradeOptions,
) -> list[CellResult]:
    """One result per graded cell, from nbgrader's run: its gradebook and autograded notebook."""
    relative = Path(submission.student_id, submission.assignment, f"{submission.notebook}.ipynb")
    autograded = course_root / "autograded" / relative
    has_manual = any(not cell.autograded for cell in definition.graded_cells)
    if has_manual and (run.timed_out or not autograded.exists()):
        # Written answers do not depend on the code running: they still go to the instructor,
        # who reviews them in the notebook as graded (not executed).
        (autograded_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(rebuilt.notebook, autograded_dir / relative)
        sanitize_file(autograded_dir / relative)  # what formgrader renders: nothing active
    if run.timed_out:
        return _zero_results(
            submission,
            definition,
            Status.TIMEOUT,
            f"The notebook did not finish within {options.notebook_timeout} s; "
            "look for an endless loop or a very slow cell.",
            manual_apart=True,
        )
    if not autograded.exists():
        crashed = "DeadKernelError" in run.log or "Kernel died" in run.log
        return _zero_results(
            submission,
            definition,
            Status.KERNEL_CRASHED if crashed else Status.GRADER_ERROR,
            "The Python kernel died while running your notebook (a crash, os._exit or running "
            "out of memory)."
            if crashed
            else "nbgrader could not grade this notebook; the instructor has the log.",
            manual_apart=True,
        )
    (autograded_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(autograded, autograded_dir / relative)
    sanitize_file(autograded_dir / relative)
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
        return result(0.0, Status.MISSING_CELL, "This graded cell is missing from the notebook.")
    score = scores.get(grade_id)
    if not autograded:
        return result(score or 0.0, Status.NEEDS_MANUAL_GRADE, AWAITING_MESSAGE)
    error = errors[grade_id]
    if score is not None and score >= points:
        return result(float(score), Status.PASSED)
    if error is None:
        return result(
            float(score or 0.0), Status.FAILED, "The test cell did not award full points."
        )
    ename, evalue = error
    status = ERROR_STATUSES.get(ename, Status.ERROR)
    if status == Status.OUTPUT_LIMIT:
        return result(0.0, status, f"Not graded: {evalue}.")
    if status == Status.TIMEOUT:
        return result(0.0, status, "This cell ran out of time (an endless loop?).")
    if status == Status.TAMPERED:
        return result(0.0, status, f"{evalue} Your instructor will review it.")
    message = f"{ename}: {evalue}" if evalue else f"{ename} (no message)"
    return result(float(score or 0.0), status, message)


def _cell_errors(path: Path) -> dict[str, tuple[str, str] | None]:
    """For each graded cell of an autograded notebook: its error as (name, value), or None.

    The grader's own re-check message (``GraderVerdict:<name>``) comes first: the kernel's error
    text is student code's to choose, so it is shown only where the re-check is off.
    """
    notebook = nbformat.read(path, as_version=4)
    errors: dict[str, tuple[str, str] | None] = {}
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if not grade_id:
            continue
        found = [
            (ANSI_ESCAPE.sub("", o.get("ename", "")), ANSI_ESCAPE.sub("", o.get("evalue", "")))
            for o in cell.get("outputs", [])
            if o.get("output_type") == "error"
        ]
        verdicts = [
            (name.removeprefix(f"{VERDICT_ERROR}:"), value)
            for name, value in found
            if name.startswith(f"{VERDICT_ERROR}:")
        ]
        errors[grade_id] = (verdicts or found or [None])[0]
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
                (Status.NEEDS_MANUAL_GRADE, AWAITING_MESSAGE)
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
    statuses = sorted({r.status for r in results} - {Status.PASSED})
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
