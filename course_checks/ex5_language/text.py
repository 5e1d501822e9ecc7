"""The text of Exercise 5's PyTorch notebook: the reference manual's topics, from Python itself.

``pydoc_data/topics.py`` holds the English prose that ``help()`` prints (one document per topic:
``"assert"``, ``"calls"``, …); it ships with every CPython, so nothing is downloaded, and it is
© Python Software Foundation, under the PSF License Version 2. Each topic goes, by a hash of its
name (SHA-256, the same on every machine), to one of three splits: ``train`` (about 80 % of the
topics), ``valid`` (the notebook's held-out text) and ``test`` (the hidden test's held-out text).
Splitting by topic, not by position, keeps a held-out sentence's neighbours out of the training
text.

The text is reduced to the :data:`ALPHABET`: printable ASCII and the newline; tabs become four
spaces, anything else becomes ``UNKNOWN``, and the topics of a split are joined with
``SEPARATOR``, a character of the alphabet like any other. Ids are positions in the alphabet.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

import numpy as np

__all__ = ["ALPHABET", "SEPARATOR", "SPLITS", "UNKNOWN", "Text", "decode", "encode", "load_text"]

SEPARATOR = "\x1e"  # ASCII record separator: between two topics of a split
UNKNOWN = "\x1a"  # ASCII substitute: a character outside the alphabet
ALPHABET = "".join(map(chr, range(32, 127))) + "\n" + SEPARATOR + UNKNOWN
SPLITS = ("train", "valid", "test")
_SHARES = (("train", 0.8), ("valid", 0.9))  # cumulative: the rest of the topics are "test"
_INDEX = {character: i for i, character in enumerate(ALPHABET)}


@dataclass(frozen=True)
class Text:
    """The notebook's corpus: each split's text, its topics, and the alphabet of its ids."""

    alphabet: str
    texts: dict[str, str]
    topics: dict[str, tuple[str, ...]]

    def ids(self, split: str) -> np.ndarray:
        """The split's text as ids into :attr:`alphabet`, int64."""
        return encode(self.texts[split])


def split_of(topic: str) -> str:
    """The split a topic belongs to: a fixed function of its name alone."""
    digest = hashlib.sha256(topic.encode("utf-8")).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return next((split for split, share in _SHARES if position < share), "test")


def _cleaned(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    return "".join(c if c in _INDEX and c != SEPARATOR else UNKNOWN for c in text)


@cache
def load_text() -> Text:
    """The topics of ``pydoc_data.topics``, cleaned and split (computed once per process)."""
    from pydoc_data.topics import topics

    by_split: dict[str, list[str]] = {split: [] for split in SPLITS}
    for name in sorted(topics):
        by_split[split_of(name)].append(name)
    return Text(
        alphabet=ALPHABET,
        texts={s: SEPARATOR.join(_cleaned(topics[n]) for n in by_split[s]) for s in SPLITS},
        topics={s: tuple(names) for s, names in by_split.items()},
    )


def encode(text: str) -> np.ndarray:
    """``text`` (characters of :data:`ALPHABET`) as an int64 array of ids."""
    return np.fromiter((_INDEX[c] for c in text), dtype=np.int64, count=len(text))


def decode(ids: object) -> str:
    """The characters of a sequence of ids (a list, an array or a tensor)."""
    return "".join(ALPHABET[int(i)] for i in np.asarray(ids).ravel())
