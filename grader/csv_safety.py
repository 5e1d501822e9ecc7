"""CSV cells that a spreadsheet will not run as formulas (OWASP's rule for CSV injection).

Folder names, ids and comments reach the grader's CSV files (grades.csv, the manual-grading score
sheet). A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return can be read
as a formula by Excel, LibreOffice or Google Sheets (``=HYPERLINK(…)``, ``=cmd|'…'!A0``), so it is
written with a single quote in front. Honest ids start with a letter or a digit and are unchanged;
so are plain numbers such as ``-1`` or ``-0.5``, which spreadsheets read as numbers anyway.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def csv_cell(value: object) -> str:
    """``value`` as a CSV cell no spreadsheet takes for a formula."""
    text = str(value)
    if _NUMBER.fullmatch(text):
        return text
    # A value that already starts with quotes before a formula character gets one more, so
    # that read_csv_cell, which removes one, gives it back exactly.
    if text.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + text
    return text


def read_csv_cell(text: str) -> str:
    """A cell of one of our CSV files as it was before :func:`csv_cell` protected it."""
    if text.startswith("'") and text.lstrip("'").startswith(FORMULA_STARTS):
        return text[1:]
    return text
