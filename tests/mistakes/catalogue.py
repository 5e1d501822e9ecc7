"""The shape of a catalogued mistake, and how a submission is made from one.

A mistake is one realistic wrong implementation of one solution cell, written as a text substitution
on the solution notebook's code (so the catalogue stays readable and breaks loudly if the solution
changes). ``tests/grader/test_mistakes.py`` autogrades every catalogued mistake with the real
grader and asserts that each loses points in the cells it names, and that its feedback names the
mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """One wrong implementation and what the tests must say about it.

    Attributes:
        id: short unique name, used as the synthetic student's id (letters, digits, ``_``).
        notebook: ``"<assignment>/<notebook>"`` without ``.ipynb``.
        cell: grade_id of the solution cell to alter.
        replacements: ``(old, new)`` pairs applied in order to that cell's code; each ``old`` must
            occur in it, so a changed solution breaks the catalogue instead of silently passing.
        loses: grade_ids of the graded test cells that must lose points.
        says: words (case-insensitive) that the feedback of at least one lost cell must contain,
            i.e. how the mistake is named to the student.
        description: the mistake in plain words, for people reading the catalogue.
        keeps: grade_ids of graded cells that must keep full points: one mistake is charged
            to the cells that test what it breaks, not to the ones the notebook isolates.
        not_says: words that no lost cell's feedback may contain (a cause the evidence does not
            support, a cause an earlier passing test ruled out).
        named_in: the grade_id whose feedback must contain every word of ``says`` (the first
            test where the student meets the mistake); empty: any lost cell's.
    """

    id: str
    notebook: str
    cell: str
    replacements: tuple[tuple[str, str], ...]
    loses: tuple[str, ...]
    says: tuple[str, ...]
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)
    keeps: tuple[str, ...] = ()
    not_says: tuple[str, ...] = ()
    named_in: str = ""

    @property
    def assignment(self) -> str:
        return self.notebook.split("/")[0]

    @property
    def notebook_name(self) -> str:
        return self.notebook.split("/")[1]
