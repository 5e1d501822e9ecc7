"""Finding and validating submitted notebooks before any of them reaches nbgrader.

A submission folder holds ``<student_id>/<assignment>/<notebook>.ipynb``. Every problem found here
becomes a status for that student's rows in grades.csv; none of them stops the batch.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from grader.course import Assignment
from grader.json_limits import NotebookRejected, parse_notebook
from grader.results import Status
from grader.student_files import (
    UnsafeFile,
    list_folder,
    open_folder,
    printable,
    read_regular_file,
)

# nbgrader uses ids in paths and the gradebook; keep them to characters that are safe in both.
# Used with fullmatch: "$" alone would accept a name that ends with a newline.
STUDENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}")
MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SubmittedNotebook:
    """One expected notebook of one student: where it is and whether it can be graded.

    ``status`` is ``"ok"`` or the reason it cannot be graded (``missing_notebook``,
    ``invalid_notebook``, ``wrong_kernel``); ``detail`` explains it in words. ``sha256`` is the
    digest of the bytes validated: :func:`load_submission` grades those bytes and no others.
    """

    student_id: str
    assignment: str
    notebook: str
    path: Path
    status: str
    detail: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class StrayFolder:
    """Something in the submission folder that matches no student or assignment."""

    student_id: str
    assignment: str
    status: str
    detail: str


class SubmissionChanged(Exception):
    """A notebook can no longer be read as it was validated; ``status``/``detail`` as for a row."""

    def __init__(self, status: str, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def find_submissions(
    submitted: Path, assignments: list[Assignment]
) -> tuple[list[SubmittedNotebook], list[StrayFolder]]:
    """Every (student, assignment, notebook) expected under ``submitted``, validated.

    A student folder counts as a submission for an assignment when it holds that assignment's
    folder; an assignment folder that is absent yields no rows (the student did not submit it).
    No symbolic link below ``submitted`` is followed: a linked student folder is a stray
    ``not_a_folder``, and a linked assignment folder or notebook makes that notebook
    ``invalid_notebook``.
    """
    known = {a.name: a for a in assignments}
    notebooks: list[SubmittedNotebook] = []
    strays: list[StrayFolder] = []
    inodes: dict[int, tuple[int, int, int]] = {}  # notebook index → (device, inode, links)
    with open_folder(str(submitted)) as root:
        for student in list_folder(root):
            if student.name.startswith("."):
                continue
            student_id = printable(student.name)
            if student.kind != "folder":
                strays.append(
                    StrayFolder(
                        student_id, "", Status.NOT_A_FOLDER, f"is {student.kind}, not a folder"
                    )
                )
                continue
            if not STUDENT_ID.fullmatch(student.name):
                strays.append(
                    StrayFolder(
                        student_id, "", Status.INVALID_STUDENT_ID, "letters, digits, _ . @ - only"
                    )
                )
                continue
            try:
                with open_folder(student.name, root) as student_fd:
                    _find_assignments(
                        submitted, student.name, student_fd, known, notebooks, strays, inodes
                    )
            except UnsafeFile as error:  # replaced by a link since it was listed
                strays.append(StrayFolder(student_id, "", Status.NOT_A_FOLDER, error.reason))
    return _outside_links_refused(notebooks, inodes), strays


def _outside_links_refused(
    notebooks: list[SubmittedNotebook], inodes: dict[int, tuple[int, int, int]]
) -> list[SubmittedNotebook]:
    """Refuse a notebook whose file also has a name outside the submissions (a hard link to
    ``solutions/``, say). Names that all lie inside are graded each: refusing them would let one
    student's link cost a classmate their grade (a copy is the instructor's to judge)."""
    names: dict[tuple[int, int], int] = {}
    for device, number, _ in inodes.values():
        names[(device, number)] = names.get((device, number), 0) + 1
    checked = list(notebooks)
    for index, (device, number, links) in inodes.items():
        if links > names[(device, number)]:
            submission = checked[index]
            checked[index] = dataclasses.replace(
                submission,
                status=Status.INVALID_NOTEBOOK,
                detail=f"{submission.path.name} is a hard link to a file outside the submissions",
                sha256="",
            )
    return checked


def _find_assignments(
    submitted: Path,
    student_id: str,
    student_fd: int,
    known: dict[str, Assignment],
    notebooks: list[SubmittedNotebook],
    strays: list[StrayFolder],
    inodes: dict[int, tuple[int, int, int]],
) -> None:
    for entry in list_folder(student_fd):
        if entry.name.startswith("."):
            continue
        assignment = known.get(entry.name)
        if assignment is None:
            if entry.kind == "folder":
                strays.append(
                    StrayFolder(
                        student_id,
                        printable(entry.name),
                        Status.UNKNOWN_ASSIGNMENT,
                        f"no assignment named {printable(entry.name)!r} in this course",
                    )
                )
            continue
        folder = submitted / student_id / assignment.name
        expected = [f"{notebook.name}.ipynb" for notebook in assignment.notebooks]
        if entry.kind != "folder":
            reason = (
                f"the folder {assignment.name} is {entry.kind}, not a folder; it was not opened"
            )
            notebooks += [
                SubmittedNotebook(
                    student_id,
                    assignment.name,
                    nb.name,
                    folder / name,
                    Status.INVALID_NOTEBOOK,
                    reason,
                )
                for nb, name in zip(assignment.notebooks, expected, strict=True)
            ]
            continue
        try:
            with open_folder(assignment.name, student_fd) as folder_fd:
                names = list_folder(folder_fd)
                for extra in names:
                    if extra.name.endswith(".ipynb") and extra.name not in expected:
                        strays.append(
                            StrayFolder(
                                student_id,
                                assignment.name,
                                Status.EXTRA_NOTEBOOK,
                                f"{printable(extra.name)} is not part of {assignment.name}; "
                                "it was not graded",
                            )
                        )
                for notebook, name in zip(assignment.notebooks, expected, strict=True):
                    status, detail, digest, inode = _validate_in(folder_fd, name)
                    if inode is not None:
                        inodes[len(notebooks)] = inode
                    notebooks.append(
                        SubmittedNotebook(
                            student_id,
                            assignment.name,
                            notebook.name,
                            folder / name,
                            status,
                            detail,
                            digest,
                        )
                    )
        except UnsafeFile as error:  # the folder was replaced by a link since it was listed
            notebooks += [
                SubmittedNotebook(
                    student_id,
                    assignment.name,
                    nb.name,
                    folder / name,
                    Status.INVALID_NOTEBOOK,
                    f"the folder {assignment.name} {error.reason}",
                )
                for nb, name in zip(assignment.notebooks, expected, strict=True)
            ]


def validate_notebook(path: Path) -> tuple[str, str]:
    """Return ``("ok", "")`` for a readable, valid notebook, else a status and a reason.

    Only the file itself is checked for links here; :func:`find_submissions` also refuses
    linked folders on the way to it.
    """
    try:
        with open_folder(str(path.parent)) as parent:
            status, detail, _, inode = _validate_in(parent, path.name)
        if inode is not None and inode[2] > 1:
            return Status.INVALID_NOTEBOOK, f"{path.name} is a hard link, not a file of its own"
    except UnsafeFile as error:
        return Status.MISSING_NOTEBOOK, f"{path.name} was not submitted ({error.reason})"
    return status, detail


def load_submission(submission: SubmittedNotebook) -> NotebookNode:
    """The notebook ``submission`` names, read again with every check of validation.

    The path is walked from the submission root (``path.parents[2]``) without following any
    link, the bytes are read once from the checked descriptor and parsed with the same limits.
    They must be the bytes :func:`find_submissions` validated (same SHA-256), so that a file
    swapped after validation is not graded. A submission the grader built itself, without a
    digest (the canary's reference solution), must pass the same checks now instead.
    Raises :class:`SubmissionChanged` otherwise.
    """
    root, (student, assignment, name) = submission.path.parents[2], submission.path.parts[-3:]
    try:
        with (
            open_folder(str(root)) as root_fd,
            open_folder(student, root_fd) as student_fd,
            open_folder(assignment, student_fd) as folder_fd,
        ):
            data, _ = read_regular_file(name, folder_fd, MAX_NOTEBOOK_BYTES, hard_links=True)
    except (UnsafeFile, OSError) as error:
        reason = error.reason if isinstance(error, UnsafeFile) else str(error.strerror)
        detail = f"{name} changed during grading ({reason})"
        raise SubmissionChanged(Status.INVALID_NOTEBOOK, detail) from None
    if submission.sha256 and hashlib.sha256(data).hexdigest() != submission.sha256:
        raise SubmissionChanged(
            Status.INVALID_NOTEBOOK, f"{name} changed during grading; submit it once, unchanged"
        )
    status, detail, notebook = _check_bytes(data, name)
    if notebook is None or status != "ok":
        raise SubmissionChanged(status, detail)
    return notebook


def _check_bytes(data: bytes, name: str) -> tuple[str, str, NotebookNode | None]:
    """Every check of a notebook's bytes: (status, detail, the notebook if it parsed)."""
    if not data:
        return Status.INVALID_NOTEBOOK, f"{name} is empty", None
    try:
        notebook = parse_notebook(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        return Status.INVALID_NOTEBOOK, f"{name} is not valid JSON ({error})", None
    except NotebookRejected as error:
        return Status.INVALID_NOTEBOOK, f"{name} {error.reason}", None
    status, detail = _kernel_status(notebook, name)
    return status, detail, notebook


def _validate_in(folder_fd: int, name: str) -> tuple[str, str, str, tuple[int, int, int] | None]:
    """Validate the notebook ``name`` in the folder ``folder_fd``: (status, detail, sha256, and
    the file's (device, inode, number of names), for the caller's check of hard links)."""
    try:
        data, info = read_regular_file(name, folder_fd, MAX_NOTEBOOK_BYTES, hard_links=True)
    except FileNotFoundError:
        return Status.MISSING_NOTEBOOK, f"{name} was not submitted", "", None
    except UnsafeFile as error:
        return Status.INVALID_NOTEBOOK, f"{name} {error.reason}", "", None
    except OSError as error:
        return Status.INVALID_NOTEBOOK, f"{name} cannot be read ({error.strerror})", "", None
    status, detail, _ = _check_bytes(data, name)
    digest = hashlib.sha256(data).hexdigest() if status == "ok" else ""
    return status, detail, digest, (info.st_dev, info.st_ino, info.st_nlink)


def _kernel_status(notebook: NotebookNode, name: str) -> tuple[str, str]:
    """``("ok", "")`` for a notebook saved with a Python kernel, else ``wrong_kernel``."""
    kernelspec = notebook.metadata.get("kernelspec") or {}
    language_info = notebook.metadata.get("language_info") or {}
    if not isinstance(kernelspec, dict) or not isinstance(language_info, dict):
        return Status.INVALID_NOTEBOOK, f"{name} has malformed kernel metadata"
    language = str(kernelspec.get("language") or language_info.get("name", "python"))
    kernel = str(kernelspec.get("name", "python3"))
    if language.lower() != "python" or not kernel.lower().startswith("python"):
        return (
            Status.WRONG_KERNEL,
            f"{name} was saved with the kernel {printable(kernel)!r} ({printable(language)}); "
            "the exercises are Python notebooks: open it with the Python 3 kernel and submit it "
            "again",
        )
    return "ok", ""
