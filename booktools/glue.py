"""Numbers computed by a chapter's code, passed to its text (myst-nb's ``glue``, not displayed).

Every chapter sets up with ``from booktools.glue import glue_num, glue_sci`` (and ``glue_int``,
``glue_text`` where it needs them), so that one number reads the same way on every page.
"""

from __future__ import annotations

from myst_nb import glue

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def glue_num(name: str, value: float) -> None:
    """Glue a plain Python number, which the {glue:text} role can format (e.g. `name:.3f`)."""
    glue(name, float(value), display=False)


def glue_int(name: str, value: int) -> None:
    """Glue a whole number as text (the {glue:text} role would show a float as 3.0)."""
    glue(name, f"{int(value):,}", display=False)


def glue_text(name: str, text: object) -> None:
    """Glue a piece of text (a computed verdict, a list of lengths)."""
    glue(name, str(text), display=False)


def sci_text(value: float, digits: int = 1) -> str:
    """A number in scientific notation, e.g. 1.2 × 10⁻¹⁵ (and 1.2, not 1.2 × 10⁰; 0 as 0)."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{float(value):.{digits}e}".split("e")
    power = f" × 10{str(int(exponent)).translate(_SUPERSCRIPT)}" if int(exponent) else ""
    return mantissa + power


def glue_sci(name: str, value: float, digits: int = 1) -> None:
    """Glue a number as text in scientific notation (:func:`sci_text`)."""
    glue(name, sci_text(value, digits), display=False)
