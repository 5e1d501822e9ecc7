"""Warnings and stderr of student code, caught so that they never cost points.

nbgrader scores a test cell 0 as soon as its output holds anything on stderr
(``nbgrader.utils.determine_grade``), and Python prints warnings on stderr. So a correct answer
that makes PyTorch warn (``float(loss)`` on a tensor that requires grad, ``torch.tensor`` of a
tensor, the deprecated ``nn.utils.clip_grad_norm``) would lose a test's points for nothing. Every
call of student code made by a test (``course_checks.call``, ``call_in_layout``, ``run_probe``:
they all pass through ``replay.through``) runs inside :func:`caught`: warnings are recorded
instead of printed, and writes to ``sys.stderr`` are kept; after the call they are printed on
stdout as one note, which never affects the verdict. The grader reports each graded cell's notes
in its feedback, but only as fixed sentences (:func:`feedback_notes`): the kernel's output is the
student's to forge, and a warning's text is the student's to choose, so no text of theirs reaches
the feedback (it could carry a hidden test's inputs out); the full note is in their own notebook.

A warning keeps the filters the student would have: what Python would not print (an ignored
category, a repeat at the same place) is not noted, and a filter that turns warnings into errors
still raises.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import re
import sys
import warnings
from collections.abc import Iterable, Iterator

__all__ = [
    "NOTE_PREFIX",
    "caught",
    "feedback_notes",
    "format_notes",
]

NOTE_PREFIX = "Note (no points lost): "
_MAX_NOTES = 5
_MAX_CHARS = 600
_depth = 0


@contextlib.contextmanager
def caught(what: str) -> Iterator[None]:
    """Run the block with warnings and stderr caught; print them afterwards as a note on stdout.

    Only the outermost block catches (a probe that calls ``call`` inside is one call of student
    code). ``what`` names the student's function or class in the note.
    """
    global _depth
    if _depth > 0:
        yield
        return
    _depth += 1
    stderr = io.StringIO()
    records: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as records, contextlib.redirect_stderr(stderr):
            yield
    finally:
        _depth -= 1
        notes = format_notes(what, records, stderr.getvalue())
        if notes:
            print("\n".join(notes), file=sys.stdout, flush=True)


def format_notes(what: str, records: list, stderr_text: str) -> list[str]:
    """The note lines for the warnings ``records`` and the text written to stderr (may be [])."""
    texts: list[str] = []
    for record in records:
        message = str(getattr(record, "message", record))
        message = message.split("(Triggered internally at")[0].strip()
        category = getattr(getattr(record, "category", None), "__name__", "Warning")
        text = f"{category}: {' '.join(message.split())}"
        if text not in texts:
            texts.append(text)
    written = " ".join(stderr_text.split())
    if written:
        texts.append(f"it wrote to stderr: {written}")
    notes = [
        f"{NOTE_PREFIX}while the test ran {what}, " + _shorten(text)
        if text.startswith("it wrote")
        else f"{NOTE_PREFIX}while the test ran {what}, Python warned: " + _shorten(text)
        for text in texts[:_MAX_NOTES]
    ]
    if len(texts) > _MAX_NOTES:
        notes.append(f"{NOTE_PREFIX}and {len(texts) - _MAX_NOTES} more warning(s).")
    return notes


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


# Python's own warning categories: the only words of a note that feedback repeats.
_BUILTIN_WARNINGS = frozenset(
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, Warning)
)
_WARNED = re.compile(r"Python warned: (\w+):")


def feedback_notes(lines: Iterable[str]) -> list[str]:
    """Fixed sentences for a graded cell's feedback, from the note lines its output holds.

    Each line that starts with :data:`NOTE_PREFIX` becomes one of a few fixed sentences, naming at
    most a built-in warning category; nothing else of the line is kept, since the kernel that
    printed it ran the student's code.
    """
    kinds: list[str] = []
    for line in lines:
        if not line.startswith(NOTE_PREFIX):
            continue
        found = _WARNED.search(line)
        if found:
            category = found.group(1)
            kind = f"a {category}" if category in _BUILTIN_WARNINGS else "a warning"
        elif "it wrote to stderr" in line:
            kind = "output on stderr"
        else:
            continue
        if kind not in kinds:
            kinds.append(kind)
    return [
        f"{NOTE_PREFIX}your code gave {kind} while this test ran it; run the test cell in "
        "JupyterLab to read it."
        for kind in kinds[:_MAX_NOTES]
    ]
