"""Fixes to what the theme and its plug-ins put on every page, found by the browser tests
(tests/test_browser.py): each one is a console error, a useless script or an accessibility failure.

- sphinx-thebe adds its configuration script once per read of the sources, so an incremental build
  declares `const THEBE_JS_URL` twice: a console error on every page. Thebe (live code through
  Binder) is not configured in this book, so its scripts, stylesheet and page configuration are
  dropped; if it is configured one day, only duplicates are dropped.
- MyST-NB labels the "Show code cell source" toggles "Toggle hidden content", a name that does not
  contain their visible text (WCAG 2.5.3, axe `label-content-name-mismatch`): the label is removed,
  so the visible text is the name.
- docutils marks the bibliography `role="list"` but its entries `role="doc-biblioentry"`, so the
  list has no list items (axe `aria-required-children`, critical): the entries become list items.

The theme's search button and colour-mode switch had the label failure too; their fixed templates
are in `book/_templates/`.
"""

from __future__ import annotations

import re
from typing import Any

from sphinx.application import Sphinx

_BIBLIOENTRY = re.compile(r'(<div class="citation" id="[^"]*") role="doc-biblioentry"')
_THEBE_CONFIG = re.compile(r'\s*<script type="text/x-thebe-config">.*?</script>', re.S)


def _thebe_enabled(app: Sphinx) -> bool:
    launch = app.config.html_theme_options.get("launch_buttons", {}) or {}
    return bool(launch.get("thebe"))


def fix_page(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Edit the page's assets and body before the template renders them."""
    thebe = _thebe_enabled(app)
    scripts, seen = [], set()
    for script in context.get("script_files", []):
        body = getattr(script, "attributes", {}).get("body", "")
        name = getattr(script, "filename", None) or ""
        is_thebe = "THEBE_JS_URL" in body or "thebe" in name
        key = (name, body)
        if (is_thebe and not thebe) or key in seen:
            continue
        seen.add(key)
        scripts.append(script)
    context["script_files"] = scripts
    if not thebe:
        context["css_files"] = [
            css
            for css in context.get("css_files", [])
            if "thebe" not in (getattr(css, "filename", None) or "")
        ]
    body = context.get("body")
    if body:
        body = body.replace('<summary aria-label="Toggle hidden content">', "<summary>")
        body = _BIBLIOENTRY.sub(r'\1 role="listitem"', body)
        if not thebe:
            body = _THEBE_CONFIG.sub("", body)
        context["body"] = body


def setup(app: Sphinx) -> dict[str, Any]:
    # After every other handler has added its scripts (sphinx-book-theme's run at 500 and 501).
    app.connect("html-page-context", fix_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
