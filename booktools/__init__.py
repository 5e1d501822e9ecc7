"""What the book's build needs beyond Jupyter Book: Sphinx extensions that make the HTML work
offline and for every reader (`page_fixes`, `notebook_download`) and that rebuild a page when the
package it imports changes (`sphinx_dependencies`), the chapters' helpers that pass computed numbers
to the text (`glue`), and the figures' colour palette (`palette`).

The extensions are listed in `_config.yml` (`sphinx.extra_extensions`).
"""
