"""Parsing a student's notebook with limits: JSON depth, number of cells, size of their sources.

A submission is untrusted input to every parser it reaches. Python's ``json`` (and nbformat's
validation after it) recurse once per nesting level, so a 100 KB file of 50,000 nested lists
raises ``RecursionError``; tens of thousands of cells make nbformat, the rebuild and nbgrader slow.
:func:`parse_notebook` refuses such a file with a plain reason (a :class:`NotebookRejected`) before
the expensive parsers see it, so that only that student's notebook is affected.
"""

from __future__ import annotations

import json
import re

import nbformat
from nbformat import NotebookNode
from nbformat.v4.nbjson import JSONReader

MAX_DEPTH = 64  # a real notebook nests about 6 levels (outputs of widgets a few more)
# Lists and objects in all: a real notebook has about ten per cell. Bounds json.loads' memory
# (about 60 bytes per empty list) and the depth check's time.
MAX_CONTAINERS = 200_000
MAX_CELLS = 1_000  # the exercises have about 40 cells
MAX_CELL_SOURCE_CHARS = 256 * 1024
MAX_TOTAL_SOURCE_CHARS = 2 * 1024 * 1024

# A JSON string, or what is left of one at the end of a malformed file: possessive, so that it
# matches wherever a quote starts and removing every string stays linear in the file's size.
_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]++")


class NotebookRejected(Exception):
    """The text is not a notebook the grader will parse; ``reason`` says why, in words."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _brackets(text: str) -> str:
    """The brackets of JSON ``text`` outside its strings, ``{}`` written as ``[]``."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return brackets.replace("{", "[").replace("}", "]")


def nesting_exceeds(text: str, max_depth: int = MAX_DEPTH) -> bool:
    """Whether JSON ``text`` nests arrays and objects more than ``max_depth`` levels deep.

    Iterative: strings are removed, then each pass deletes the innermost empty pairs; a
    document of depth d is empty after d passes. Brackets that are merely unbalanced (a malformed
    file, which ``json`` reports better) leave no empty pair and stop the passes early.
    """
    return _too_deep(_brackets(text), max_depth)


def _too_deep(brackets: str, max_depth: int) -> bool:
    if "[" * (max_depth + 1) in brackets:  # a plain run of openings: no need for the passes
        return True
    for _ in range(max_depth):
        shorter = brackets.replace("[]", "")
        if shorter == brackets:
            return False
        brackets = shorter
    return "[]" in brackets


def parse_json(text: str, max_depth: int = MAX_DEPTH) -> object:
    """``json.loads(text)`` with a depth limit; every failure is a :class:`NotebookRejected`."""
    brackets = _brackets(text)
    if brackets.count("[") > MAX_CONTAINERS:
        raise NotebookRejected(f"holds more than {MAX_CONTAINERS} lists and objects")
    if _too_deep(brackets, max_depth):
        raise NotebookRejected(f"nests lists or objects more than {max_depth} levels deep")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise NotebookRejected(f"is not valid JSON ({error})") from error
    except (RecursionError, MemoryError) as error:  # the depth check should prevent these
        kind = type(error).__name__
        raise NotebookRejected(f"is too large or too deeply nested to read ({kind})") from None


def check_cells(raw: dict) -> None:
    """Refuse more than :data:`MAX_CELLS` cells, or sources longer than the limits (characters)."""
    cells = raw.get("cells")
    if not isinstance(cells, list):
        return  # nbformat's validation says what is wrong
    if len(cells) > MAX_CELLS:
        raise NotebookRejected(f"has {len(cells)} cells; the grader reads at most {MAX_CELLS}")
    total = 0
    for number, cell in enumerate(cells, start=1):
        source = cell.get("source", "") if isinstance(cell, dict) else ""
        if isinstance(source, list):
            size = sum(len(line) for line in source if isinstance(line, str))
        else:
            size = len(source) if isinstance(source, str) else 0
        if size > MAX_CELL_SOURCE_CHARS:
            raise NotebookRejected(
                f"cell {number} holds {size} characters; the grader reads at most "
                f"{MAX_CELL_SOURCE_CHARS} per cell"
            )
        total += size
    if total > MAX_TOTAL_SOURCE_CHARS:
        raise NotebookRejected(
            f"its cells hold {total} characters; the grader reads at most "
            f"{MAX_TOTAL_SOURCE_CHARS} in all"
        )


def parse_notebook(text: str) -> NotebookNode:
    """The nbformat 4 notebook in ``text``, validated, or :class:`NotebookRejected` saying why."""
    raw = parse_json(text)
    if not isinstance(raw, dict) or not isinstance(raw.get("nbformat"), int):
        raise NotebookRejected("is JSON but not a Jupyter notebook")
    if raw["nbformat"] != 4:
        raise NotebookRejected(f"uses nbformat {raw['nbformat']}; expected 4")
    check_cells(raw)
    try:
        # as nbformat.reads() does, without parsing the JSON again: list sources become strings
        notebook = JSONReader().to_notebook(raw)
        nbformat.validate(notebook)
    except Exception as error:  # nbformat and jsonschema raise many kinds; any is this student's
        lines = str(error).splitlines() or [type(error).__name__]
        raise NotebookRejected(f"is not a valid notebook ({lines[0][:200]})") from error
    return notebook
