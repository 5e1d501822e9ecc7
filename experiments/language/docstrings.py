"""Chapter 5's labelled text: which part of the standard library a docstring comes from.

Every function and class docstring in a few of the standard library's packages (its first
paragraph, as a reader of ``help()`` sees it first) is labelled with its package: a topic
classification of real English technical prose, of very different lengths, that ships with
Python itself (© Python Software Foundation, PSF License Version 2). The packages are ones every
CPython installs, Debian's minimal ``python3.11`` included (so no ``tkinter``, ``idlelib``,
``lib2to3`` or ``distutils``); the files are parsed with :mod:`ast`, never imported.

A whole top-level definition goes to one split (by a hash of its module path and name, as in
:mod:`corpora`): a class's docstring and its methods' stay together, so that no test docstring has
a sibling method's docstring in the training set. (A split by module would be stricter still, but
``logging`` has three modules: some classes would be missing from the test set.)
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cache

import numpy as np

from experiments.language import corpora

# Labels: a package, or several that share a topic (the web).
CLASSES: dict[str, tuple[str, ...]] = {
    "asyncio": ("asyncio",),
    "email": ("email",),
    "importlib": ("importlib",),
    "logging": ("logging",),
    "multiprocessing": ("multiprocessing", "concurrent"),
    "unittest": ("unittest",),
    "web": ("http", "urllib", "xmlrpc", "wsgiref"),
    "xml": ("xml",),
}
MIN_CHARS = 20  # shorter first paragraphs ("Constructor.") say nothing about a topic
MAX_CHARS = 200  # longer ones are cut: the classifier reads at most this many characters


@dataclass(frozen=True)
class Docstrings:
    """The data set: per split, the texts, their labels (indices into ``classes``), and the
    top-level definitions (``module:name``) they come from."""

    classes: tuple[str, ...]
    texts: dict[str, list[str]]
    labels: dict[str, np.ndarray]
    units: dict[str, tuple[str, ...]]
    source: str
    licence: str = corpora.LICENCE


def first_paragraph(doc: str) -> str:
    """The docstring's first paragraph on one line, in the corpus alphabet, cut to MAX_CHARS."""
    paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    return corpora.clean(paragraph)[:MAX_CHARS]


def module_docstrings(source: str) -> list[tuple[str, str]]:
    """``(top-level name, first paragraph)`` of every function's and class's docstring (of at
    least MIN_CHARS) in a module's source, in the order they appear; nested definitions carry
    the name of the top-level one they are in."""
    found = []
    for top in ast.parse(source).body:
        if not isinstance(top, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        for node in ast.walk(top):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                doc = ast.get_docstring(node)
                if doc and len(text := first_paragraph(doc)) >= MIN_CHARS:
                    found.append((top.name, text))
    return found


@cache
def load() -> Docstrings:
    """The labelled docstrings of this Python's standard library, split by module."""
    root = corpora._stdlib()
    texts: dict[str, list[str]] = {split: [] for split in corpora.SPLITS}
    labels: dict[str, list[int]] = {split: [] for split in corpora.SPLITS}
    units: dict[str, list[str]] = {split: [] for split in corpora.SPLITS}
    for label, packages in enumerate(CLASSES.values()):
        for package in packages:
            for path in sorted((root / package).rglob("*.py")):
                relative = path.relative_to(root).as_posix()
                if "/test" in relative:  # test suites are not the library's documentation
                    continue
                source = path.read_text(encoding="utf-8", errors="replace")
                for top, text in module_docstrings(source):
                    split = corpora.split_of(f"{relative}:{top}")
                    texts[split].append(text)
                    labels[split].append(label)
                    units[split].append(f"{relative}:{top}")
    return Docstrings(
        classes=tuple(CLASSES),
        texts=texts,
        labels={split: np.array(values, dtype=np.int64) for split, values in labels.items()},
        units={split: tuple(values) for split, values in units.items()},
        source=f"docstrings of the Python {corpora._version()} standard library ({root})",
    )
