"""One palette for every figure of the book, chosen to survive grayscale printing and the
common colour-vision deficiencies.

Colours are Okabe and Ito's (2008), designed to stay distinct for protanopes, deuteranopes and
tritanopes; tests/test_palette.py checks that with the simulation of Machado et al. (2009) and
keeps the subset that passes. No figure relies on colour alone: every series also has its own
marker and line style, which grayscale keeps. Chapters import from here; the same test fails if a
chapter's code names a colour of its own.
"""

from __future__ import annotations

BLACK = "#000000"
GREY = "#7f7f7f"
BLUE = "#0072b2"
VERMILLION = "#d55e00"
GREEN = "#009e73"
ORANGE = "#e69f00"
SKY_BLUE = "#56b4e9"
PURPLE = "#cc79a7"

# Series in the order figures use them: colour, marker and line style all differ.
# Okabe and Ito's green and orange are left out: green is too close to blue for tritanopes, and
# orange to vermillion for deuteranopes (the test measures it).
SERIES: tuple[dict[str, object], ...] = (
    {"color": BLUE, "marker": "o", "linestyle": "-"},
    {"color": VERMILLION, "marker": "s", "linestyle": "--"},
    {"color": SKY_BLUE, "marker": "^", "linestyle": "-."},
    {"color": PURPLE, "marker": "D", "linestyle": ":"},
)

# One colour and marker per model, the same in every chapter (line style is left to the figure).
MODEL: dict[str, dict[str, str]] = {
    "rnn": {"color": GREY, "marker": "s"},
    "gru": {"color": BLUE, "marker": "o"},
    "lstm": {"color": VERMILLION, "marker": "^"},
}

# Light fills and dark edges for the boxes of the GRU diagram (every box is also labelled).
DIAGRAM = {
    "gate_fill": "#fde3c8",
    "gate_edge": "#b3590a",
    "candidate_fill": "#dbe8f8",
    "candidate_edge": "#2c5d9e",
    "input_fill": "#e8f0fb",
    "loss_fill": "#fbeee8",
}


def series(index: int) -> dict[str, object]:
    """Matplotlib keyword arguments (color, marker, linestyle) for the `index`-th series."""
    return dict(SERIES[index])


def colours() -> set[str]:
    """Every colour the palette defines, as lower-case hex."""
    return {BLACK, GREY, BLUE, VERMILLION, GREEN, ORANGE, SKY_BLUE, PURPLE, *DIAGRAM.values()}


# Colour maps for values drawn behind characters (a unit's activation, a gate's value): Matplotlib's
# purple-orange map, diverging and readable by the common colour-vision deficiencies; black text
# stays legible on every shade because the maps are drawn at CHARACTER_ALPHA.
DIVERGING_MAP = "PuOr"
CHARACTER_ALPHA = 0.75

# A colour map for weights in [0, 1] (attention): Matplotlib's cividis, sequential and designed to
# read the same under colour-vision deficiencies and in grayscale (its lightness rises evenly).
SEQUENTIAL_MAP = "cividis"
