"""Release: turn solutions/ into student notebooks with ``nbgrader generate_assignment``."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import nbgrader

from grader.course import Assignment, load_course
from grader.nbgrader_runner import copy_assignment_sources, run_nbgrader, sqlite_url
from grader.paths import EXERCISES_DIR, REPO_ROOT, SOLUTIONS_DIR

# Generated templates, one folder per content key (see `template`). Outside the sandbox's reach:
# kernels see the file system read-only. GRU_GRADER_TEMPLATE_CACHE moves it; "off" disables it.
TEMPLATE_CACHE = Path(
    os.environ.get("GRU_GRADER_TEMPLATE_CACHE", REPO_ROOT / "_build" / ".grader-templates")
)


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


def _template_key(assignments: list[Assignment]) -> str:
    """Everything `generate_assignments` reads: the assignments' source folders, nbgrader's
    version and the grader code that drives it."""
    digest = hashlib.sha256(f"template v1 nbgrader {nbgrader.__version__}\n".encode())
    for module in ("release.py", "nbgrader_runner.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    for assignment in assignments:
        folder = assignment.notebooks[0].path.parent
        digest.update(f"assignment {assignment.name}\n".encode())
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{path.relative_to(folder)}\n".encode() + path.read_bytes())
    return digest.hexdigest()[:32]


def template(assignments: list[Assignment], workdir: Path) -> tuple[Path, Path]:
    """The template gradebook and released notebooks of ``assignments``, in ``workdir``.

    Generating them runs nbgrader once per assignment (seconds each, on every grading batch), so
    the result is kept in TEMPLATE_CACHE under a key of everything it depends on and copied from
    there when the sources have not changed. Returns (gradebook, release folder).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    database, released = workdir / "gradebook.db", workdir / "course" / "release"
    cached = None if str(TEMPLATE_CACHE) == "off" else TEMPLATE_CACHE / _template_key(assignments)
    if cached is not None and (cached / "gradebook.db").is_file():
        shutil.copyfile(cached / "gradebook.db", database)
        shutil.copytree(cached / "release", released)
        return database, released
    generate_assignments(assignments, workdir, sqlite_url(database))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{cached.name}.", dir=cached.parent))
        shutil.copytree(released, staging / "release")
        shutil.copyfile(database, staging / "gradebook.db")
        try:
            staging.rename(cached)  # atomic; another batch may have stored the same entry first
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)
    return database, released


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
