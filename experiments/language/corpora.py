"""The real text of Chapter 5, from Python itself: nothing is downloaded.

Two corpora, each split into training, validation and test text **by document**, never by
position inside one, so that no test sentence has its neighbours in the training text:

- ``python_source``: the standard library's own modules (the ``.py`` files at the top of
  ``Lib/``, less the generated ``_sysconfigdata_*.py``), one document per file: the analogue of
  Karpathy's char-rnn on the Linux source.
- ``python_docs``: the English prose of ``pydoc_data/topics.py`` (the reference manual's topics
  that ``help()`` prints), one document per topic.

Both are © Python Software Foundation, under the PSF License Version 2 (the documentation's
code examples also under the Zero-Clause BSD licence); they ship with every CPython. A document
goes to a split by a hash of its name (not Python's salted ``hash``), so the split is the same on
every machine and does not move when a Python release adds or removes a file. The exact text
does depend on the Python release (3.11 here), which is why every number the chapter prints is
computed at build time.

Text is reduced to printable ASCII plus newline (tabs become four spaces, anything else becomes
``UNKNOWN``), which keeps the vocabulary small and the same across splits. Documents of a split
are joined with ``SEPARATOR``, a character of the vocabulary that models learn to predict like
any other: a language model and an n-gram baseline see the same stream.
"""

from __future__ import annotations

import hashlib
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

SEPARATOR = "\x1e"  # ASCII record separator: between two documents of a split
UNKNOWN = "\x1a"  # ASCII substitute: any character outside the alphabet
ALPHABET = "".join(chr(c) for c in range(32, 127)) + "\n" + SEPARATOR + UNKNOWN
SPLITS = ("train", "valid", "test")
FRACTIONS = {"train": 0.8, "valid": 0.1}  # of the documents; the test split takes the rest
LICENCE = (
    "© Python Software Foundation; PSF License Version 2 (https://docs.python.org/3/license.html)"
)


@dataclass(frozen=True)
class Corpus:
    """One corpus: its texts by split, the document names in each, and where it comes from."""

    name: str
    source: str
    licence: str
    texts: Mapping[str, str]
    documents: Mapping[str, tuple[str, ...]]

    def __post_init__(self) -> None:
        # The chapter's claim "split by document" is this property.
        seen: set[str] = set()
        for split in SPLITS:
            overlap = seen & set(self.documents[split])
            if overlap:
                raise ValueError(f"{sorted(overlap)[:3]} in two splits of {self.name}")
            seen |= set(self.documents[split])


def clean(text: str) -> str:
    """``text`` in the corpus alphabet: tabs as four spaces, CR dropped, other characters
    outside printable ASCII and newline replaced by ``UNKNOWN``."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    allowed = set(ALPHABET) - {SEPARATOR}
    return "".join(c if c in allowed else UNKNOWN for c in text)


def split_of(name: str) -> str:
    """The split a document of this name belongs to: a fixed function of the name alone."""
    bucket = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") / 2**64
    if bucket < FRACTIONS["train"]:
        return "train"
    if bucket < FRACTIONS["train"] + FRACTIONS["valid"]:
        return "valid"
    return "test"


def from_documents(
    name: str, source: str, documents: Iterable[tuple[str, str]], licence: str = LICENCE
) -> Corpus:
    """A corpus from ``(document name, text)`` pairs: cleaned, split by name, joined in name
    order with ``SEPARATOR``."""
    by_split: dict[str, list[tuple[str, str]]] = {split: [] for split in SPLITS}
    for doc_name, text in documents:
        by_split[split_of(doc_name)].append((doc_name, clean(text)))
    for docs in by_split.values():
        docs.sort()
    return Corpus(
        name=name,
        source=source,
        licence=licence,
        texts={split: SEPARATOR.join(text for _, text in docs) for split, docs in by_split.items()},
        documents={split: tuple(n for n, _ in docs) for split, docs in by_split.items()},
    )


def _stdlib() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@cache
def python_source() -> Corpus:
    """The standard library's top-level modules, one document per file."""
    # _sysconfigdata_*.py is generated when Python is built (this machine's build settings): data
    # that differs from machine to machine, not source anyone wrote.
    files = sorted(p for p in _stdlib().glob("*.py") if not p.name.startswith("_sysconfigdata"))
    return from_documents(
        "python_source",
        f"the Python {_version()} standard library's modules ({_stdlib()}/*.py)",
        ((path.name, path.read_text(encoding="utf-8", errors="replace")) for path in files),
    )


@cache
def python_docs() -> Corpus:
    """The reference manual's topics of ``pydoc_data.topics``, one document per topic."""
    from pydoc_data.topics import topics

    return from_documents(
        "python_docs",
        f"the Python {_version()} reference manual's topics (pydoc_data/topics.py)",
        sorted(topics.items()),
    )


CORPORA = {"python_source": python_source, "python_docs": python_docs}


def load(name: str) -> Corpus:
    """The corpus of this name (``python_source`` or ``python_docs``)."""
    return CORPORA[name]()


def _version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"
