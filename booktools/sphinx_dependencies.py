"""A Sphinx extension: a page that imports ``experiments`` is rebuilt when the package changes.

Sphinx re-reads a page only when its source or a noted dependency changed, and Jupyter Book's
execution cache re-runs a notebook only when its code cells changed. A page whose results come from
this package must follow the package too, or it would show stale numbers: this extension notes every
module of the package as a dependency of such a page (Sphinx then re-reads it), and the page asks
myst-nb to execute it whenever it is read (``mystnb: execution_mode: force`` in its front matter);
results that did not change come from the runner's cache.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PACKAGE = Path(__file__).resolve().parents[1] / "experiments"  # the package pages follow


def _note_package(app: Any, docname: str, source: list[str]) -> None:
    if "from experiments" in source[0] or "import experiments" in source[0]:
        for path in sorted(PACKAGE.rglob("*.py")):
            app.env.note_dependency(str(path))


def setup(app: Any) -> dict[str, bool]:
    """Sphinx entry point (``sphinx: extra_extensions`` in ``_config.yml``)."""
    app.connect("source-read", _note_package)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
