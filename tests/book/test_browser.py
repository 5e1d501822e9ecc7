"""The built book in a real headless Chromium with the network cut off, as a student reads it
offline.

Every page of the table of contents, the search page and the index are opened once
(tests/support/browser.py); the tests below read what the browser saw. Screenshots of every page
are kept in `_build/browser/`, with `report.json` (requests, console errors, accessibility
violations by severity, page weight).
"""

from __future__ import annotations

import collections
import itertools
import json
import re
from pathlib import Path

import nbformat
import pytest

from tests.book.test_book import HTML, build_book, toc_pages
from tests.conftest import REPO
from tests.support.browser import Browser, PageReport, local_target, missing_tools

pytestmark = pytest.mark.slow

ARTIFACTS = REPO / "_build" / "browser"
TOC = [f"{page}.html" for page in toc_pages()]
PAGES = [*TOC, "search.html", "genindex.html"]
CHAPTERS = [page for page in TOC if re.match(r"book/\d\d_", page)]
BLOCKING = ("serious", "critical")  # axe-core impacts that fail the build; the others are reported


@pytest.fixture(scope="module")
def browser():
    missing = missing_tools()
    assert not missing, f"run `make browser` first; missing: {missing}"
    build_book()
    opened = Browser(HTML, ARTIFACTS)
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def reports(browser):
    """Each page opened once, on first use; a summary is written when the module ends."""
    seen: dict[str, PageReport] = {}

    def report(page: str) -> PageReport:
        if page not in seen:
            seen[page] = browser.visit(page)
        return seen[page]

    yield report
    summary = {
        page: {
            "requests": len(r.requests),
            "external_requests": r.external_requests,
            "console_errors": r.console_errors,
            "weight_bytes": r.weight_bytes,
            "axe": dict(collections.Counter(v["impact"] for v in r.axe_violations)),
            "axe_rules": sorted({f"{v['id']} ({v['impact']})" for v in r.axe_violations}),
            "screenshot": r.screenshot,
        }
        for page, r in seen.items()
    }
    (ARTIFACTS / "report.json").write_text(json.dumps(summary, indent=2))


@pytest.mark.parametrize("page", PAGES)
def test_page_makes_no_request_outside_the_book(reports, page):
    report = reports(page)
    assert report.requests, "the browser log recorded no request at all"
    assert report.external_requests == [], f"{page} needs the network: {report.external_requests}"
    assert report.failed_requests == [], f"{page}: requests failed: {report.failed_requests}"


@pytest.mark.parametrize("page", PAGES)
def test_page_logs_no_console_error(reports, page):
    assert reports(page).console_errors == []


@pytest.mark.parametrize("page", PAGES)
def test_math_is_typeset_without_errors(reports, page):
    report = reports(page)
    if report.has_math:
        assert report.math_state == "typeset", f"{page}: MathJax {report.math_state}"
        assert report.typeset > 0, f"{page}: math on the page, but MathJax typeset nothing"
    assert report.math_errors == [], f"{page}: MathJax could not typeset {report.math_errors}"
    assert report.raw_tex == [], f"{page} shows raw TeX to the reader: {report.raw_tex}"


@pytest.mark.parametrize("page", PAGES)
def test_every_image_loads_and_has_alt_text(reports, page):
    for image in reports(page).images:
        assert image["loaded"], f"{page}: image did not load: {image['src']}"
        alt = (image["alt"] or "").strip()
        assert len(alt) >= 10, f"{page}: image without a real alt text: {image['src']}"


def unplayable(player: dict) -> str | None:
    """Why an <audio> player the browser inspected cannot be heard, or None if it can: its sound
    must be in the page (a data URI: nothing to fetch offline), decode to at least 0.3 s, and not be
    silent."""
    if not player["src"].startswith("data:audio/"):
        return f"its sound is not embedded in the page: {player['src']}"
    if player["metadata"] != "loaded":
        return f"the player could not load it ({player['metadata']})"
    if not player["decoded"]:
        return f"it does not decode: {player.get('error')}"
    if player["decoded"]["seconds"] < 0.3 or player["decoded"]["peak"] < 0.01:
        return f"it is silent or empty: {player['decoded']}"
    return None


@pytest.mark.parametrize("page", PAGES)
def test_every_audio_player_plays_offline(reports, page):
    for player in reports(page).audio:
        why = unplayable(player)
        assert why is None, f"{page}: an audio player cannot be heard: {why}"
        assert player["controls"], f"{page}: an audio player without controls"


def test_chapter_7_lets_the_reader_hear_speech_and_music(reports):
    """Synthesised digits (training and unseen voices), a digit string, and the sampled chorale
    with its real continuation: at least five players, every one decodable offline."""
    players = reports("book/07_signals.html").audio
    assert len(players) >= 5, players
    assert {p["src"].split(";")[0] for p in players} >= {"data:audio/wav", "data:audio/ogg"}
    assert [unplayable(p) for p in players] == [None] * len(players)


@pytest.mark.parametrize("page", PAGES)
def test_every_internal_link_and_anchor_resolves(browser, reports, page):
    anchors: dict[Path, set[str]] = {}
    broken = []
    for href in reports(page).links:
        target = local_target(browser, href)
        if target is None:
            assert href.startswith(("https://", "http://", "mailto:")), href
            continue
        path, fragment = target
        if not path.is_file():
            broken.append(f"{href} (no such file)")
            continue
        if fragment and path.suffix == ".html":
            if path not in anchors:
                anchors[path] = set(re.findall(r'\sid="([^"]+)"', path.read_text("utf-8")))
            if fragment not in anchors[path]:
                broken.append(f"{href} (no anchor #{fragment})")
    assert broken == [], f"{page} links to: {broken}"


@pytest.mark.parametrize("page", PAGES)
def test_no_serious_or_critical_accessibility_violation(reports, page):
    blocking = [v for v in reports(page).axe_violations if v["impact"] in BLOCKING]
    assert blocking == [], json.dumps(blocking, indent=1)


@pytest.mark.parametrize("page", PAGES)
def test_screenshot_of_the_whole_page_is_kept(reports, page):
    shot = Path(reports(page).screenshot)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, shot
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= 1000 and height >= 800, (shot, width, height)


def test_previous_and_next_follow_the_table_of_contents(browser, reports):
    for before, after in itertools.pairwise(TOC):
        assert reports(before).next_href == browser.url(after), f"{before}: next is not {after}"
        assert reports(after).prev_href == browser.url(before), f"{after}: previous is not {before}"


@pytest.mark.parametrize("page", CHAPTERS)
def test_chapter_offers_its_notebook_for_download(browser, reports, page):
    offered = reports(page).notebook_downloads
    assert len(offered) == 1, f"{page}: download menu offers {offered}"
    status, text = browser.fetch_text(offered[0])
    assert status == 200, (offered[0], status)
    notebook = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    outputs = [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]
    figures = [out for out in outputs if "image/png" in out.get("data", {})]
    assert figures, f"{page}: the notebook offered has no computed figures (outputs missing)"


def test_exercise_downloads_are_valid_notebooks(browser, reports):
    links = {href for page in TOC for href in reports(page).links if "/_downloads/" in href}
    released = {path.name for path in (REPO / "exercises").rglob("*.ipynb")}
    assert {href.rsplit("/", 1)[1] for href in links if href.endswith(".ipynb")} == released
    for href in links:
        status, text = browser.fetch_text(href)
        assert status == 200, (href, status)
        nbformat.validate(nbformat.reads(text, as_version=4))


@pytest.mark.parametrize(
    ("term", "chapter"),
    [
        ("spectral radius", "book/01_rnn_vanishing_gradients.html"),
        ("reset gate", "book/02_gru_equations.html"),
        ("centred difference", "book/03_gru_numpy.html"),
        ("forget-gate bias", "book/04_gru_vs_lstm.html"),
        ("perplexity", "book/05_gru_language.html"),
        ("beam search", "book/06_encoder_decoder.html"),
        ("chorales", "book/07_signals.html"),
    ],
)
def test_search_finds_the_chapter_by_a_key_term(browser, term, chapter):
    results = browser.search(term)
    assert any(href.split("#")[0].split("?")[0].endswith(chapter) for href in results), results


def test_the_probes_catch_a_broken_page(browser):
    """The checks above can fail: a page with a CDN script, raw TeX, a broken image without alt
    text, a console error, an audio player whose sound is truncated and one whose sound is not
    embedded is caught on every count."""
    probe = ARTIFACTS / "probe" / "broken.html"
    probe.parent.mkdir(parents=True, exist_ok=True)
    probe.write_text(
        "<!DOCTYPE html><html lang='en'><head><title>broken</title>"
        "<script src='https://cdn.example.org/render.js'></script></head>"
        "<body><main><p>The update is \\begin{equation} z_t \\end{equation}</p>"
        "<img src='missing.png'><script>console.error('boom')</script>"
        "<audio controls><source src='data:audio/wav;base64,UklGRiQAAABXQVZF' type='audio/wav'>"
        "</audio><audio controls src='clip.ogg'></audio></main></body></html>"
    )
    report = browser.visit(browser.server.base + "browser/probe/broken.html", screenshot=False)
    assert report.external_requests == ["https://cdn.example.org/render.js"]
    assert any("missing.png" in failure for failure in report.failed_requests)
    assert any("boom" in error for error in report.console_errors)
    assert report.raw_tex and not report.images[0]["loaded"] and not report.images[0]["alt"]
    assert {"image-alt"} <= {v["id"] for v in report.axe_violations if v["impact"] in BLOCKING}
    truncated, remote = report.audio
    assert "does not decode" in unplayable(truncated) or "could not load" in unplayable(truncated)
    assert "not embedded" in unplayable(remote)
