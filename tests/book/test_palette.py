"""Colour choices survive grayscale and the common colour-vision deficiencies
(booktools/palette.py), and no chapter picks a colour of its own."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from booktools import palette
from tests.conftest import REPO

# Machado, Oliveira and Fernandes (2009), severity 1.0, on linear RGB.
DEFICIENCIES = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                   [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                     [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                   [0.004733, 0.691367, 0.303900]],
}  # fmt: skip
MIN_DELTA_E = 20.0  # CIE76; about 2.3 is a just-noticeable difference, 20 is clearly different


def linear_rgb(colour: str) -> np.ndarray:
    srgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


def lab(linear: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of a linear RGB colour."""
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    x, y, z = (xyz @ np.clip(linear, 0, 1)) / np.array([0.95047, 1.0, 1.08883])
    f = [v ** (1 / 3) if v > 216 / 24389 else (24389 / 27 * v + 16) / 116 for v in (x, y, z)]
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def seen_as(colour: str, deficiency: str | None) -> np.ndarray:
    linear = linear_rgb(colour)
    if deficiency:
        linear = np.array(DEFICIENCIES[deficiency]) @ linear
    return lab(linear)


SERIES_COLOURS = [style["color"] for style in palette.SERIES]
MODEL_COLOURS = [style["color"] for style in palette.MODEL.values()]


@pytest.mark.parametrize("deficiency", [None, *DEFICIENCIES])
@pytest.mark.parametrize("group", [SERIES_COLOURS, MODEL_COLOURS], ids=["series", "models"])
def test_colours_that_share_a_figure_stay_distinct(group, deficiency):
    for a, b in itertools.combinations(group, 2):
        distance = np.linalg.norm(seen_as(a, deficiency) - seen_as(b, deficiency))
        assert distance >= MIN_DELTA_E, f"{a} and {b} under {deficiency}: ΔE = {distance:.1f}"


def test_the_simulation_can_tell_a_bad_pair():
    """Red and green, the classic failure, are caught for deuteranopes but not for other readers."""
    red, green = "#d62728", "#2ca02c"  # matplotlib's tab:red and tab:green
    normal = np.linalg.norm(seen_as(red, None) - seen_as(green, None))
    deutan = np.linalg.norm(seen_as(red, "deuteranopia") - seen_as(green, "deuteranopia"))
    assert normal > MIN_DELTA_E > deutan


@pytest.mark.parametrize("group", [palette.SERIES, list(palette.MODEL.values())])
def test_series_differ_by_shape_as_well_as_colour_so_grayscale_keeps_them_apart(group):
    markers = [style["marker"] for style in group]
    assert len(set(markers)) == len(markers)
    if all("linestyle" in style for style in group):
        styles = [str(style["linestyle"]) for style in group]
        assert len(set(styles)) == len(styles)


COLOUR_LITERAL = re.compile(
    r"""["'](tab:\w+|C\d|#[0-9a-fA-F]{6}|red|green|blue|orange|purple|brown|pink|cyan|magenta)["']"""
)


@pytest.mark.parametrize("page", sorted((REPO / "book").glob("*.md")), ids=lambda p: p.name)
def test_chapters_take_their_colours_from_the_palette(page):
    allowed = {colour.lower() for colour in palette.colours()}
    own = [
        match.group(1)
        for match in COLOUR_LITERAL.finditer(page.read_text())
        if match.group(1).lower() not in allowed
    ]
    assert own == [], f"{page.name} picks colours outside booktools/palette.py: {own}"
