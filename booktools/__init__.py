"""What the book's build needs beyond Jupyter Book: Sphinx extensions that make the HTML work
offline and for every reader (`page_fixes`, `notebook_download`), and the figures' colour palette
(`palette`).

The extensions are listed in `_config.yml` (`sphinx.extra_extensions`).
"""
