"""``grader check``: prove the course consistent before anything reaches students.

1. nbgrader accepts every source notebook (metadata, markers, unique grade ids), and our own rules
   hold (graded test cells have points, solutions carry no outputs, hidden tests are marked,
   manually graded answers hold a model answer and a rubric worth their points: grader.rubric);
2. exercises/ is exactly what ``grader release`` produces, and holds no solution, hidden test,
   model answer or rubric;
3. under real nbgrader autograding, every solution notebook gets full marks on its autograded
   cells (its manually graded answers await the instructor) and every released notebook gets zero.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader.autograde import AutogradeOptions, autograde
from grader.course import Assignment, load_course
from grader.nbgrader_runner import sqlite_url
from grader.paths import EXERCISES_DIR, SOLUTIONS_DIR
from grader.release import ReleaseError, generate_assignments
from grader.results import Status
from grader.rubric import RUBRIC_HEADER, is_manual, leak_lines, rubric_problems

LEAK_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check(
    solutions_dir: Path = SOLUTIONS_DIR, exercises_dir: Path = EXERCISES_DIR, jobs: int = 1
) -> CheckReport:
    """Run every consistency check; the report lists problems (empty when consistent)."""
    report = CheckReport()
    assignments = load_course(solutions_dir)
    if not assignments:
        report.problems.append("solutions/ holds no assignment")
        return report
    for assignment in assignments:
        for notebook in assignment.notebooks:
            report.problems += [f"{notebook.path}: {p}" for p in source_problems(notebook.path)]
    with tempfile.TemporaryDirectory(prefix="grader-check-") as tmp:
        work = Path(tmp)
        try:
            released = generate_assignments(
                assignments, work / "release", sqlite_url(work / "gb.db")
            )
        except ReleaseError as error:
            report.problems.append(str(error))
            return report
        report.problems += release_problems(assignments, released, exercises_dir)
        report.problems += _grading_problems(assignments, released, work, jobs, report)
    return report


def source_problems(path: Path) -> list[str]:
    """Rules of this course that nbgrader itself does not enforce."""
    problems = []
    notebook = json.loads(path.read_text(encoding="utf-8"))
    graded = 0
    for index, cell in enumerate(notebook.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        source = "".join(cell.get("source", ""))
        where = f"cell {index} ({meta.get('grade_id', 'no grade_id')})"
        if cell.get("outputs") or cell.get("execution_count"):
            problems.append(f"{where} stores outputs; clear them before committing")
        if meta.get("grade"):
            graded += 1
            if not meta.get("points"):
                problems.append(f"{where} is graded but has no points")
        if source.count("### BEGIN HIDDEN TESTS") != source.count("### END HIDDEN TESTS"):
            problems.append(f"{where} has unbalanced hidden-test markers")
        if "### BEGIN HIDDEN TESTS" in source and not (meta.get("grade") and meta.get("locked")):
            problems.append(f"{where} has hidden tests but is not a locked graded cell")
        if meta.get("solution") and "### BEGIN SOLUTION" not in source:
            problems.append(f"{where} is a solution cell without ### BEGIN SOLUTION")
        elif is_manual(cell) and meta.get("points"):
            problems += [f"{where} {p}" for p in rubric_problems(source, float(meta["points"]))]
    if graded == 0:
        problems.append("no graded test cell")
    kernel = notebook.get("metadata", {}).get("kernelspec", {}).get("name")
    if kernel != "python3":
        problems.append(f"kernel is {kernel!r}; the course uses 'python3'")
    return problems


def release_problems(
    assignments: list[Assignment], released: Path, exercises_dir: Path
) -> list[str]:
    """exercises/ must equal a fresh release, file for file, and leak nothing."""
    problems = []
    expected = {p.relative_to(released) for p in released.rglob("*") if p.is_file()}
    actual = (
        {p.relative_to(exercises_dir) for p in exercises_dir.rglob("*") if p.is_file()}
        if exercises_dir.exists()
        else set()
    )
    stale = "exercises/ is out of date: run `python -m grader release` and commit the result"
    for path in sorted(expected - actual):
        problems.append(f"{stale} ({path} is missing)")
    for path in sorted(actual - expected):
        problems.append(f"{stale} ({path} is not produced by release)")
    for path in sorted(expected & actual):
        if (released / path).read_bytes() != (exercises_dir / path).read_bytes():
            problems.append(f"{stale} ({path} differs)")
    for path in sorted(actual):
        if path.suffix == ".ipynb":
            text = (exercises_dir / path).read_text(encoding="utf-8", errors="replace")
            problems += [f"exercises/{path} leaks `{m}`" for m in LEAK_MARKERS if m in text]
    problems += _answer_leaks(assignments, exercises_dir)
    return problems


def _answer_leaks(assignments: list[Assignment], exercises_dir: Path) -> list[str]:
    """No line of a manually graded answer's model answer or rubric may reach a student."""
    problems = []
    for assignment in assignments:
        for notebook in assignment.notebooks:
            released = exercises_dir / assignment.name / f"{notebook.name}.ipynb"
            if not released.exists():
                continue
            try:
                cells = json.loads(released.read_text(encoding="utf-8")).get("cells", [])
            except (UnicodeDecodeError, json.JSONDecodeError):
                problems.append(f"exercises/{assignment.name}/{released.name} is not a notebook")
                continue
            text = "\n".join("".join(cell.get("source", "")) for cell in cells)
            source = json.loads(notebook.path.read_text(encoding="utf-8")).get("cells", [])
            # A line the instructions or given code also show (an equation, say) is no secret;
            # a rubric's header always is.
            given = {
                line.strip()
                for cell in source
                if not cell.get("metadata", {}).get("nbgrader", {}).get("solution")
                for line in "".join(cell.get("source", "")).split("\n")
            }
            for cell in source:
                if not is_manual(cell):
                    continue
                grade_id = cell["metadata"]["nbgrader"].get("grade_id")
                leaked = [
                    line
                    for line in leak_lines("".join(cell["source"]))
                    if line in text and (line not in given or RUBRIC_HEADER.search(line))
                ]
                if leaked:
                    problems.append(
                        f"exercises/{assignment.name}/{released.name} leaks the model answer or "
                        f"rubric of {grade_id}: {leaked[0]!r}"
                    )
    return problems


def _grading_problems(
    assignments: list[Assignment], released: Path, work: Path, jobs: int, report: CheckReport
) -> list[str]:
    """Autograde the solutions (must score full) and the released notebooks (must score zero)."""
    submitted = work / "submitted"
    for assignment in assignments:
        for notebook in assignment.notebooks:
            name = f"{notebook.name}.ipynb"
            for student, source in (("solution", notebook.path), ("released", None)):
                target = submitted / student / assignment.name / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source or released / assignment.name / name, target)
    started = time.monotonic()
    result = autograde(
        submitted,
        work / "graded",
        # The solutions are what is graded here, each reported: no canary of them first. They are
        # the course's own notebooks, so they may be graded where kernels cannot be isolated.
        AutogradeOptions(jobs=jobs, quiet=True, canary=False, unisolated=True),
        assignments=assignments,
    )
    report.lines.append(
        f"autograded {result.notebooks_graded} notebooks in {time.monotonic() - started:.1f} s"
    )
    problems = []
    manual = {
        (a.name, nb.name, cell.grade_id)
        for a in assignments
        for nb in a.notebooks
        for cell in nb.graded_cells
        if not cell.autograded
    }
    for row in result.results:
        where = f"{row.assignment}/{row.notebook} {row.grade_id}"
        if (row.assignment, row.notebook, row.grade_id) in manual:
            # A written answer cannot pass by itself: the solution's awaits the instructor.
            if row.student_id == "solution" and row.status != Status.NEEDS_MANUAL_GRADE:
                problems.append(
                    f"solution notebook's manually graded answer {where} is {row.status}, "
                    f"not needs_manual_grade: {row.message.splitlines()[0] if row.message else ''}"
                )
        elif row.student_id == "solution" and (
            row.status != Status.PASSED or row.score != row.max_score
        ):
            problems.append(
                f"solution notebook loses points in {where}: {row.status} {row.score:g}/"
                f"{row.max_score:g}: {row.message.splitlines()[0] if row.message else ''}"
            )
        if row.student_id == "released" and row.score != 0:
            problems.append(
                f"released notebook earns {row.score:g} points in {where} without any code"
            )
    for assignment in assignments:
        for notebook in assignment.notebooks:
            report.lines.append(
                f"{assignment.name}/{notebook.name}: {len(notebook.graded_cells)} graded cells, "
                f"{notebook.max_score:g} points"
            )
            by_hand = [cell for cell in notebook.graded_cells if not cell.autograded]
            if by_hand:
                report.lines.append(
                    f"{assignment.name}/{notebook.name}: {len(by_hand)} of them graded by the "
                    f"instructor ({sum(c.points for c in by_hand):g} points; `grader manual`)"
                )
    return problems
