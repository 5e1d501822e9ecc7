"""Every page is re-read when the table of contents changes, so none keeps a stale "previous/next"
link or sidebar.

Sphinx rewrites only the pages whose source changed; after a chapter is added to `_toc.yml`, the
pages around it kept pointing past it (found by tests/test_browser.py on an incremental build).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment


def _toc_digest(app: Sphinx) -> str:
    toc = Path(app.srcdir) / (getattr(app.config, "external_toc_path", None) or "_toc.yml")
    return hashlib.sha256(toc.read_bytes()).hexdigest() if toc.is_file() else ""


def reread_all_when_toc_changes(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """All pages, if the table of contents differs from the one of the last build; else none."""
    digest = _toc_digest(app)
    previous = getattr(env, "booktools_toc_digest", None)
    env.booktools_toc_digest = digest
    if previous is not None and previous != digest:
        return sorted(env.found_docs - added - changed)
    return []


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("env-get-outdated", reread_all_when_toc_changes)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "env_version": 1}
