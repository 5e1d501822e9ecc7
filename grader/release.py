"""Release: turn solutions/ into student notebooks with ``nbgrader generate_assignment``."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from grader.course import Assignment, load_course
from grader.nbgrader_runner import copy_assignment_sources, run_nbgrader, sqlite_url
from grader.paths import EXERCISES_DIR, SOLUTIONS_DIR


class ReleaseError(RuntimeError):
    """nbgrader refused to generate an assignment (invalid metadata, unbalanced markers …)."""


def generate_assignments(assignments: list[Assignment], workdir: Path, db_url: str) -> Path:
    """Generate every assignment with nbgrader in ``workdir``; return the folder of released copies.

    The gradebook at ``db_url`` learns each assignment's notebooks, graded cells and checksums,
    which ``nbgrader autograde`` needs later.
    """
    course_root = workdir / "course"
    for assignment in assignments:
        destination = course_root / "source" / assignment.name
        if not destination.exists():
            copy_assignment_sources(assignment.notebooks[0].path.parent, destination)
        result = run_nbgrader(
            "generate_assignment",
            [assignment.name, "--force"],
            course_root=course_root,
            db_url=db_url,
            timeout=300,
        )
        if not result.ok:
            raise ReleaseError(
                f"nbgrader generate_assignment {assignment.name} failed:\n{_tail(result.log)}"
            )
    return course_root / "release"


def release(exercises_dir: Path = EXERCISES_DIR, solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    """Regenerate ``exercises_dir`` from ``solutions_dir``; return the released notebooks' paths."""
    assignments = load_course(solutions_dir)
    with tempfile.TemporaryDirectory(prefix="grader-release-") as tmp:
        released = generate_assignments(assignments, Path(tmp), sqlite_url(Path(tmp) / "gb.db"))
        written = []
        # Folders of assignments that no longer exist in solutions/ go too.
        for stale in (p for p in exercises_dir.glob("*") if p.is_dir()):
            shutil.rmtree(stale)
        for assignment in assignments:
            target = exercises_dir / assignment.name
            shutil.copytree(released / assignment.name, target)
            written += sorted(target.rglob("*.ipynb"))
    return written


def _tail(log: str, lines: int = 25) -> str:
    return "\n".join(log.strip().splitlines()[-lines:])
