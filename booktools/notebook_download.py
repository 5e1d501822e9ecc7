"""A ".ipynb" entry in every chapter's download menu: the chapter as an executed notebook, outputs
included, so a reader can open it in JupyterLab with every figure in place and run it again.

Chapters are MyST Markdown notebooks. sphinx-book-theme offers the `.ipynb` only when a launch
service (Binder, JupyterHub, Colab) is configured, and this book configures none: nothing it links
to may need the network. It would also serve a notebook without outputs: MyST-NB writes
`_build/jupyter_execute/<page>.ipynb` before merging the outputs of a chapter taken from the
execution cache. So this extension takes that notebook, merges the cached outputs into it (a chapter
executed in this build already has them), writes it to `_sources/<page>.ipynb` and tells the theme,
which lists it beside the `.md` source and the PDF.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

# Before sphinx-book-theme's header buttons (priority 501) read `ipynb_source`.
PRIORITY = 400


def _has_outputs(notebook: nbformat.NotebookNode) -> bool:
    return any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def executed_notebook(app: Sphinx, pagename: str) -> nbformat.NotebookNode | None:
    """The page's notebook with its outputs, or None for a page that is not a notebook."""
    written = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if not written.is_file():
        return None  # not a notebook page, or one without code
    notebook = nbformat.read(written, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.strip()]
    if not code or _has_outputs(notebook):
        return notebook
    from jupyter_cache import get_cache  # installed with MyST-NB

    cache_path = Path(app.srcdir) / (app.config.nb_execution_cache_path or ".jupyter_cache")
    try:
        _, merged = get_cache(str(cache_path)).merge_match_into_notebook(notebook)
    except KeyError as missing:
        # Never serve a notebook whose outputs do not belong to the page's code.
        raise ExtensionError(f"{pagename}: no cached execution matches its code") from missing
    return merged


def offer_executed_notebook(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Write the page's executed notebook into `_sources/` and point the download menu at it."""
    if doctree is None:
        return  # search, index and other generated pages
    notebook = executed_notebook(app, pagename)
    if notebook is None:
        return
    served = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    served.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, served)
    context["ipynb_source"] = f"{pagename}.ipynb"


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("html-page-context", offer_executed_notebook, priority=PRIORITY)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
