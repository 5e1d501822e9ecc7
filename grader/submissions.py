"""Finding and validating submitted notebooks before any of them reaches nbgrader.

A submission folder holds ``<student_id>/<assignment>/<notebook>.ipynb``. Every problem found here
becomes a status for that student's rows in grades.csv; none of them stops the batch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from grader.course import Assignment

# nbgrader uses ids in paths and the gradebook; keep them to characters that are safe in both.
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SubmittedNotebook:
    """One expected notebook of one student: where it is and whether it can be graded.

    ``status`` is ``"ok"`` or the reason it cannot be graded (``missing_notebook``,
    ``invalid_notebook``, ``wrong_kernel``); ``detail`` explains it in words.
    """

    student_id: str
    assignment: str
    notebook: str
    path: Path
    status: str
    detail: str = ""


@dataclass(frozen=True)
class StrayFolder:
    """Something in the submission folder that matches no student or assignment."""

    student_id: str
    assignment: str
    status: str
    detail: str


def find_submissions(
    submitted: Path, assignments: list[Assignment]
) -> tuple[list[SubmittedNotebook], list[StrayFolder]]:
    """Every (student, assignment, notebook) expected under ``submitted``, validated.

    A student folder counts as a submission for an assignment when it holds that assignment's
    folder; an assignment folder that is absent yields no rows (the student did not submit it).
    """
    known = {a.name: a for a in assignments}
    notebooks: list[SubmittedNotebook] = []
    strays: list[StrayFolder] = []
    for student_dir in sorted(p for p in submitted.iterdir() if not p.name.startswith(".")):
        student_id = student_dir.name
        if not student_dir.is_dir():
            strays.append(StrayFolder(student_id, "", "not_a_folder", "expected a folder"))
            continue
        if not STUDENT_ID.match(student_id):
            strays.append(
                StrayFolder(student_id, "", "invalid_student_id", "letters, digits, _ . @ - only")
            )
            continue
        for assignment_dir in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if assignment_dir.name.startswith("."):
                continue
            assignment = known.get(assignment_dir.name)
            if assignment is None:
                strays.append(
                    StrayFolder(
                        student_id,
                        assignment_dir.name,
                        "unknown_assignment",
                        f"no assignment named {assignment_dir.name!r} in this course",
                    )
                )
                continue
            expected = {f"{notebook.name}.ipynb" for notebook in assignment.notebooks}
            for extra in sorted(assignment_dir.glob("*.ipynb")):
                if extra.name not in expected:
                    strays.append(
                        StrayFolder(
                            student_id,
                            assignment.name,
                            "extra_notebook",
                            f"{extra.name} is not part of {assignment.name}; it was not graded",
                        )
                    )
            for notebook in assignment.notebooks:
                path = assignment_dir / f"{notebook.name}.ipynb"
                status, detail = validate_notebook(path)
                notebooks.append(
                    SubmittedNotebook(
                        student_id, assignment.name, notebook.name, path, status, detail
                    )
                )
    return notebooks, strays


def validate_notebook(path: Path) -> tuple[str, str]:
    """Return ``("ok", "")`` for a readable, valid notebook, else a status and a reason."""
    if not path.is_file():
        return "missing_notebook", f"{path.name} was not submitted"
    size = path.stat().st_size
    if size == 0:
        return "invalid_notebook", f"{path.name} is empty"
    if size > MAX_NOTEBOOK_BYTES:
        return "invalid_notebook", f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MiB"
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return "invalid_notebook", f"{path.name} is not valid JSON ({error})"
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        return "invalid_notebook", f"{path.name} is JSON but not a Jupyter notebook"
    if raw["nbformat"] != 4:
        return "invalid_notebook", f"{path.name} uses nbformat {raw['nbformat']}; expected 4"
    try:
        notebook = nbformat.reads(text, as_version=4)
        nbformat.validate(notebook)
    except Exception as error:
        reason = str(error).splitlines()[0][:200]
        return "invalid_notebook", f"{path.name} is not a valid notebook ({reason})"
    kernelspec = notebook.metadata.get("kernelspec") or {}
    language = str(
        kernelspec.get("language")
        or notebook.metadata.get("language_info", {}).get("name", "python")
    )
    name = str(kernelspec.get("name", "python3"))
    if language.lower() != "python" or not name.lower().startswith("python"):
        return (
            "wrong_kernel",
            f"{path.name} was saved with the kernel {name!r} ({language}); the exercises are "
            "Python notebooks: open it with the Python 3 kernel and submit it again",
        )
    return "ok", ""
