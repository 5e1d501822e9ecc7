"""A Sphinx extension: a page that imports ``experiments`` is rebuilt when code it runs changes.

Sphinx re-reads a page only when its source or a noted dependency changed, and Jupyter Book's
execution cache re-runs a notebook only when its code cells changed. A page whose results come from
the ``experiments`` package must follow that code too, or it would show stale numbers: this
extension notes, as dependencies of such a page, the modules of the course's own packages that its
code cells import, directly or through each other (:func:`page_modules`), and the page asks myst-nb
to execute it whenever it is read (``mystnb: execution_mode: force`` in its front matter); results
that did not change come from the runner's cache. A page follows only its own modules: editing
Chapter 7's speech code re-executes Chapter 7, not Chapter 4.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("experiments", "course_checks", "booktools")  # the course's own code a page can run
TRIGGER = "experiments"  # pages that import it are followed
RUNNER = ROOT / "experiments" / "runner.py"  # loads a protocol's module by name (load_protocol)

_CODE_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)
_LOAD_PROTOCOL = re.compile(r"\bload_protocol\(\s*(?:(?:name\s*=\s*)?[\"'](\w+)[\"'])?\s*\)")


def page_modules(source: str) -> set[Path]:
    """The files of :data:`PACKAGES` that the code cells of a MyST page import, with every module
    they import in turn and the protocol modules its ``load_protocol(...)`` calls load by name.
    A cell that does not parse (an IPython magic) makes the page follow all of them."""
    names: set[str] = set()
    protocols, default = _protocols()
    for cell in _CODE_CELL.findall(source):
        code = "\n".join(line for line in _body(cell) if not line.lstrip().startswith(("%", "!")))
        try:
            names |= _imports(ast.parse(code), package="")
        except SyntaxError:
            return {path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
        for match in _LOAD_PROTOCOL.finditer(code):
            name = match.group(1) or default
            if name in protocols:
                names.add(protocols[name])
    return _closure(names)


def _body(cell: str) -> list[str]:
    """A code cell's lines without its options (``:tags: [...]`` lines, a ``:  figure:`` block or
    a ``---`` block)."""
    lines = cell.splitlines()
    if lines and lines[0].strip() == "---":
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "---"), 0)
        lines = lines[end + 1 :]
    while lines and lines[0].startswith(":"):  # no Python line starts with a colon
        lines = lines[1:]
    return lines


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Dotted names of the course's modules that ``tree`` imports (``package``: for relative
    imports), including ``from package import submodule``."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {name for name in found if name.split(".")[0] in PACKAGES and _file(name)}


def _file(name: str) -> Path | None:
    """The source file of a module or package of the course, or None (a class, a function)."""
    path = ROOT.joinpath(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _closure(names: set[str]) -> set[Path]:
    """The files of ``names``, of their parent packages' ``__init__.py`` (importing a module runs
    them) and, recursively, of every course module they import: one walk of the import graph,
    read afresh on every call (a long-lived Sphinx process must see an edited import)."""
    seen: dict[str, Path] = {}
    todo = list(names)
    while todo:
        parts = todo.pop().split(".")
        for prefix in (".".join(parts[:i]) for i in range(1, len(parts) + 1)):
            path = None if prefix in seen else _file(prefix)
            if path is None:
                continue
            seen[prefix] = path
            package = prefix if path.name == "__init__.py" else prefix.rpartition(".")[0]
            todo += _imports(ast.parse(path.read_text()), package)
    return set(seen.values())


def _protocols() -> tuple[dict[str, str], str]:
    """The runner's ``PROTOCOLS`` (name → module) and ``load_protocol``'s default name, read from
    its source without importing it (importing it would import PyTorch into Sphinx)."""
    protocols, default = {}, ""
    for node in ast.parse(RUNNER.read_text()).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PROTOCOLS" for t in node.targets
        ):
            protocols = ast.literal_eval(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name == "load_protocol":
            default = ast.literal_eval(node.args.defaults[0])
    return protocols, default


def _note_modules(app: Any, docname: str, source: list[str]) -> None:
    if f"from {TRIGGER}" in source[0] or f"import {TRIGGER}" in source[0]:
        for path in sorted(page_modules(source[0])):
            app.env.note_dependency(str(path))


def setup(app: Any) -> dict[str, bool]:
    """Sphinx entry point (``sphinx: extra_extensions`` in ``_config.yml``)."""
    app.connect("source-read", _note_modules)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
