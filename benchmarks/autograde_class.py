"""Benchmark: autograde a synthetic class with plain nbgrader, then with ``python -m grader``.

Run: ``.venv/bin/python benchmarks/autograde_class.py [--students 40] [--jobs 2] [--seed 0]
[--keep] [--skip-plain]``. Builds ``submitted/<student>/<assignment>/<notebook>.ipynb`` for every
notebook of the course (about 60 % correct, 25 % with a catalogued mistake, 15 % blank), grades it
the way an instructor would with stock nbgrader (one ``nbgrader autograde <assignment> --create``
per assignment) and with the grader, compares the scores and times both, then measures where the
grader's time goes per notebook. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import nbformat
from nbformat import NotebookNode

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from grader.course import Assignment, Notebook, load_course  # noqa: E402
from grader.nbgrader_runner import copy_assignment_sources, sqlite_url  # noqa: E402
from grader.paths import COURSE_ID, EXERCISES_DIR, SOLUTIONS_DIR, tool_env  # noqa: E402
from tests.mistakes.catalogue import Mistake  # noqa: E402
from tests.support.factory import all_mistakes, student_solution, with_mistake  # noqa: E402

HIDDEN_TESTS = re.compile(r"### BEGIN HIDDEN TESTS\n.*?### END HIDDEN TESTS\n?", re.DOTALL)
# The grader's progress line for the breakdown's only student: "… probe a/nb: 20/20 in 5.1 s".
PROGRESS = re.compile(r"\bprobe (\S+/\S+): .* in ([\d.]+) s$")
Key = tuple[str, str, str]  # (student_id, assignment, notebook)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_class(
    submitted: Path, assignments: list[Assignment], students: int, seed: int
) -> dict[Key, str]:
    """Write every student's notebooks under ``submitted``; return {(student, a, nb): kind}."""
    rng = random.Random(seed)
    mistakes = all_mistakes()
    kinds: dict[Key, str] = {}
    for index in range(students):
        student = f"s{index:03d}"
        for assignment in assignments:
            for notebook in assignment.notebooks:
                draw = rng.random()
                kind = "correct" if draw < 0.60 else "wrong" if draw < 0.85 else "blank"
                path = submitted / student / assignment.name / f"{notebook.name}.ipynb"
                path.parent.mkdir(parents=True, exist_ok=True)
                if kind == "blank":  # the released notebook, untouched
                    shutil.copyfile(EXERCISES_DIR / assignment.name / path.name, path)
                else:
                    nbformat.write(make_submission(notebook, kind, rng, mistakes), path)
                kinds[(student, assignment.name, notebook.name)] = kind
    return kinds


def make_submission(
    notebook: Notebook, kind: str, rng: random.Random, mistakes: list[Mistake]
) -> NotebookNode:
    """The solution as a student hands it in (no markers, no hidden tests), maybe with a mistake."""
    nb = student_solution(notebook.assignment, notebook.name)
    if kind == "wrong":
        name = f"{notebook.assignment}/{notebook.name}"
        try:
            nb = with_mistake(rng.choice([m for m in mistakes if m.notebook == name]))
        except (IndexError, AssertionError):  # none catalogued, or the catalogue is out of date
            log(f"  no usable catalogued mistake for {name}: stubbing one solution cell instead")
            nb = with_one_stub(nb, notebook)
    for cell in nb.cells:
        cell.source = HIDDEN_TESTS.sub("", cell.source)
    return nb


def with_one_stub(nb: NotebookNode, notebook: Notebook) -> NotebookNode:
    """Replace the first solution cell's code by its released stub (raise NotImplementedError)."""
    released = nbformat.read(EXERCISES_DIR / notebook.assignment / notebook.path.name, 4)
    stubs = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in released.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    }
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in stubs:
            cell.source = stubs[grade_id]
            break
    return nb


def timed(function: Callable[[], object]) -> float:
    """Wall-clock seconds that ``function()`` takes."""
    started = time.monotonic()
    function()
    return time.monotonic() - started


def nbgrader(args: list[str], course: Path, log_file: Path) -> None:
    """Run the stock ``nbgrader`` program in ``course`` with private Jupyter/IPython folders."""
    private = course.parent / "plain-jupyter"
    for sub in ("config", "data", "runtime", "ipython"):
        (private / sub).mkdir(parents=True, exist_ok=True)
    env = tool_env(
        JUPYTER_CONFIG_DIR=str(private / "config"),
        JUPYTER_DATA_DIR=str(private / "data"),
        JUPYTER_RUNTIME_DIR=str(private / "runtime"),
        IPYTHONDIR=str(private / "ipython"),
    )
    argv = [
        str(Path(sys.executable).parent / "nbgrader"),
        *args,
        f"--CourseDirectory.root={course}",
        f"--CourseDirectory.course_id={COURSE_ID}",
        f"--CourseDirectory.db_url={sqlite_url(course / 'gradebook.db')}",
    ]
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write(f"$ nbgrader {' '.join(args)}\n")
        handle.flush()
        done = subprocess.run(argv, cwd=course, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        log(f"  nbgrader {' '.join(args)} exited {done.returncode}; see {log_file}")


def run_plain(submitted: Path, course: Path, assignments: list[Assignment]) -> tuple[float, float]:
    """Generate every assignment, then autograde each over the whole class; return both times."""
    for assignment in assignments:
        copy_assignment_sources(
            SOLUTIONS_DIR / assignment.name, course / "source" / assignment.name
        )
    shutil.copytree(submitted, course / "submitted")
    log_file = course.parent / "plain-nbgrader.log"
    log("plain nbgrader: generate_assignment …")
    generate = timed(
        lambda: [
            nbgrader(["generate_assignment", a.name, "--force"], course, log_file)
            for a in assignments
        ]
    )
    grade = 0.0
    for assignment in assignments:
        log(f"plain nbgrader: autograde {assignment.name} …")
        args = ["autograde", assignment.name, "--force", "--create", "--Execute.timeout=60"]
        grade += timed(lambda args=args: nbgrader(args, course, log_file))
        log(f"  done after {grade:.1f} s of autograding")
    return generate, grade


def plain_scores(course: Path, keys: list[Key]) -> dict[Key, float]:
    """Each submission's total score in plain nbgrader's gradebook (absent when not graded)."""
    from nbgrader.api import Gradebook, MissingEntry

    scores: dict[Key, float] = {}
    with Gradebook(sqlite_url(course / "gradebook.db")) as gradebook:
        for student, assignment, notebook in keys:
            try:
                found = gradebook.find_submission_notebook(notebook, assignment, student)
            except MissingEntry:
                continue
            scores[(student, assignment, notebook)] = float(found.score)
    return scores


def run_grader(submitted: Path, out: Path, jobs: int, quiet: bool = True) -> tuple[float, str]:
    """``python -m grader autograde`` as a subprocess; return its wall time and stderr."""
    argv = [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out)]
    argv += ["--jobs", str(jobs), *(["--quiet"] if quiet else [])]
    started = time.monotonic()
    done = subprocess.run(argv, cwd=REPO, env=tool_env(), capture_output=True, text=True)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"grader exited {done.returncode}:\n{done.stderr[-3000:]}")
    return seconds, done.stderr


def grader_scores(out: Path) -> dict[Key, float]:
    """Each submission's total score in the grader's ``grades.csv``."""
    scores: dict[Key, float] = defaultdict(float)
    with (out / "grades.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            key = (row["student_id"], row["assignment"], row["notebook"])
            if row["notebook"]:
                scores[key] += float(row["score"])
    return scores


def compare(kinds: dict[Key, str], plain: dict[Key, float], ours: dict[Key, float]) -> None:
    """Print, per kind of submission, how many totals agree, then the disagreements."""
    disagreements = []
    for kind in ("correct", "wrong", "blank"):
        keys = [k for k, v in kinds.items() if v == kind]
        differ = [k for k in keys if abs(plain.get(k, -1.0) - ours.get(k, -2.0)) >= 1e-6]
        print(f"  {kind:8} {len(keys) - len(differ):4d} / {len(keys):4d} notebooks: same total")
        disagreements += [(k, kind) for k in differ]
    for (student, assignment, notebook), kind in disagreements[:25]:
        print(
            f"    differs ({kind}): {student} {assignment}/{notebook}: nbgrader "
            f"{plain.get((student, assignment, notebook), 'missing')}, grader "
            f"{ours.get((student, assignment, notebook), 'missing')}"
        )
    if len(disagreements) > 25:
        print(f"    … and {len(disagreements) - 25} more")


def median_of(function: Callable[[], object], runs: int = 3) -> float:
    return statistics.median(timed(function) for _ in range(runs))


def kernel_round_trip() -> None:
    """Start a python3 kernel, wait until it answers, shut it down."""
    from jupyter_client import KernelManager

    manager = KernelManager(kernel_name="python3")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)
    client.stop_channels()
    manager.shutdown_kernel(now=False)


def warm_kernel_times(tmp: Path) -> tuple[float, float] | None:
    """Seconds to start a slot's zygote (preload), and per warm kernel start + ready + shutdown."""
    from jupyter_client import KernelManager
    from jupyter_client.kernelspec import KernelSpec

    from grader import uids
    from grader.sandbox import Limits
    from grader.warm_kernels import WarmKernels

    if not WarmKernels.wanted():
        return None
    root = tmp / "warm"
    root.mkdir()
    root.chmod(0o711)
    block = uids.reserve()
    kernels = WarmKernels(root, [block.uid(0)], Limits(), "1")
    preload = timed(kernels.start)
    zygote = kernels.get(0)
    if zygote is None:
        return None
    folder = root / "notebook"
    folder.mkdir()

    def round_trip() -> None:
        manager = KernelManager(
            transport="ipc",
            ip=str(zygote.paths.runtime / "kernel"),
            connection_file=str(root / "kernel.json"),
        )
        manager._kernel_spec = KernelSpec(
            argv=zygote.kernel_argv(root / "status"), language="python", interrupt_mode="message"
        )
        manager.start_kernel(cwd=str(folder))
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        client.stop_channels()
        manager.shutdown_kernel(now=False)

    try:
        return preload, median_of(round_trip)
    finally:
        kernels.stop()
        block.release()


def run_all(path: Path, workdir: Path) -> float:
    """Execute a copy of a solution notebook with nbclient ("Run all"); return the seconds."""
    from nbclient import NotebookClient

    copy = workdir / path.name
    shutil.copyfile(path, copy)
    notebook = nbformat.read(copy, as_version=4)
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    return timed(client.execute)


def breakdown(tmp: Path, assignments: list[Assignment]) -> None:
    """Time one correct notebook of each kind through the grader, and its parts from outside."""
    import os

    from grader.sandbox import detect_mode

    os.environ.update(tool_env())
    probe = tmp / "probe-submitted"
    for assignment in assignments:
        for notebook in assignment.notebooks:
            nb = make_submission(notebook, "correct", random.Random(0), [])
            path = probe / "probe" / assignment.name / notebook.path.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
    log("breakdown: grader --jobs 1 on one correct submission of each notebook …")
    total, stderr = run_grader(probe, tmp / "probe-out", jobs=1, quiet=False)
    per_notebook = {m[1]: float(m[2]) for m in map(PROGRESS.search, stderr.splitlines()) if m}
    if not per_notebook:
        log("  could not read per-notebook times from the grader's progress lines")
    log("breakdown: nbclient Run all, kernel start, imports …")
    (tmp / "run-all").mkdir()
    python = [sys.executable, "-c"]
    kernel = median_of(kernel_round_trip)
    imports = median_of(
        lambda: subprocess.run([*python, "import numpy, torch, course_checks"], cwd=tmp, check=True)
    )
    bare = median_of(lambda: subprocess.run([*python, "pass"], cwd=tmp, check=True))
    warm = warm_kernel_times(tmp)
    print(
        f"\nwhere the grader's time goes (one correct notebook each, --jobs 1, "
        f"sandbox: {detect_mode().name}):"
    )
    print(f"  {'notebook':28} {'grader':>8} {'Run all':>8} {'rest':>8}")
    for assignment in assignments:
        for notebook in assignment.notebooks:
            name = f"{assignment.name}/{notebook.name}"
            graded = per_notebook.get(name, float("nan"))
            executed = run_all(notebook.path, tmp / "run-all")
            print(f"  {name:28} {graded:7.1f}s {executed:7.1f}s {graded - executed:7.1f}s")
    print(
        f"  whole batch {total:.1f} s; outside the notebooks (startup, template gradebook, "
        f"reports): {total - sum(per_notebook.values()):.1f} s"
    )
    print(f"  kernel start + ready + shutdown (jupyter_client): {kernel:5.2f} s")
    print(
        f"  python -c 'import numpy, torch, course_checks':   {imports:5.2f} s "
        f"(bare interpreter {bare:.2f} s)"
    )
    if warm is not None:
        preload, warm_kernel = warm
        print(
            f"  warm kernel (forked by the slot's zygote, imports done) start + ready + shutdown: "
            f"{warm_kernel:5.2f} s; the zygote's start and preload, once per slot: {preload:.2f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=2, help="the grader's --jobs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--skip-plain", action="store_true", help="do not time plain nbgrader")
    args = parser.parse_args()
    assignments = load_course()
    tmp = Path(tempfile.mkdtemp(prefix="autograde-class-bench-"))
    try:
        submitted = tmp / "submitted"
        kinds = build_class(submitted, assignments, args.students, args.seed)
        count = len(kinds)
        mix = {k: list(kinds.values()).count(k) for k in ("correct", "wrong", "blank")}
        log(f"class: {args.students} students, {count} notebooks {mix} in {submitted}")
        times: dict[str, float] = {}
        if not args.skip_plain:
            generate, grade = run_plain(submitted, tmp / "plain-course", assignments)
            times["plain nbgrader (autograde only)"] = grade
            times["plain nbgrader (generate + autograde)"] = generate + grade
        log(f"grader: autograde --jobs {args.jobs} …")
        times[f"python -m grader --jobs {args.jobs}"], _ = run_grader(
            submitted, tmp / "grader-out", args.jobs
        )
        print(f"\n{count} notebooks ({args.students} students; {mix}):")
        for label, seconds in times.items():
            print(f"  {label:40} {seconds:7.1f} s  {count / seconds * 60:6.1f} notebooks/min")
        if not args.skip_plain:
            ours = times[f"python -m grader --jobs {args.jobs}"]
            for label in list(times)[:2]:
                print(f"  ratio {label} / grader: {times[label] / ours:.2f}")
            print("scores, plain nbgrader vs grader (total per student × notebook):")
            plain = plain_scores(tmp / "plain-course", list(kinds))
            compare(kinds, plain, grader_scores(tmp / "grader-out"))
        breakdown(tmp, assignments)
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
