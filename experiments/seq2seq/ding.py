"""Chapter 6's real task: German → English sentence pairs from the Ding dictionary.

Ding's German–English word list (Frank Richter, TU Chemnitz, https://dict.tu-chemnitz.de/; GNU
General Public License version 2 or later) ships as Debian's ``trans-de-en``, at
:data:`DICTIONARY`; ``make dictionary`` installs it (``make book`` and ``make test`` do it first).
A line is ``German :: English``; each side holds sub-entries separated by ``" | "`` (aligned
between the two sides), and a sub-entry holds alternatives separated by ``"; "``, with annotations
in braces, brackets and parentheses (``{m}``, ``[ugs.]``, ``(des Bodenprofils)``).

- :func:`sentence_pairs`: the sub-entries that are sentences (the German ends in ``.``, ``?`` or
  ``!``) of 4 to 12 words on both sides, their first alternatives, annotations removed, each German
  sentence once, split by a hash of the German sentence into train, valid and test;
- :func:`word_dictionary`: the one-word entries (German word → English), for the word-by-word
  baseline, :func:`translate_word_by_word`.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DICTIONARY = Path("/usr/share/trans/de-en")
WORDS = (4, 12)  # words per side (punctuation is not a word)
SPLITS = ("train", "valid", "test")
_SHARES = (("train", 0.9), ("valid", 0.95))  # cumulative: the rest are "test"
_ANNOTATION = re.compile(r"\{[^}]*\}|\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PRONOUNS = re.compile(r"^(?:ich/er/sie|er/sie|ich/du/er/sie|du) ")
_ENGLISH_PRONOUNS = re.compile(r"^(?:I/he/she|he/she|I/you/he/she|you) ")


class MissingDictionary(RuntimeError):
    """The Ding dictionary is not installed."""


@cache
def _lines() -> tuple[str, ...]:
    if not DICTIONARY.exists():
        raise MissingDictionary(
            f"Chapter 6 reads Debian's trans-de-en dictionary at {DICTIONARY}: run "
            "`make dictionary` (as root: apt-get install trans-de-en)."
        )
    text = DICTIONARY.read_text(encoding="utf-8")
    return tuple(line for line in text.splitlines() if " :: " in line and not line.startswith("#"))


def _clean(alternative: str) -> str:
    return " ".join(_ANNOTATION.sub("", alternative).split())


def tokens(text: str) -> list[str]:
    """Lower-cased words and punctuation marks: ``"Bellende Hunde beißen nicht."`` →
    ``["bellende", "hunde", "beißen", "nicht", "."]``."""
    return _TOKEN.findall(text.lower())


def _words(text: str) -> int:
    return sum(1 for token in _TOKEN.findall(text) if token[0].isalnum())


def _split(german: str) -> str:
    share = int.from_bytes(hashlib.sha256(german.encode()).digest()[:8], "big") / 2**64
    return next((name for name, upper in _SHARES if share < upper), "test")


@dataclass(frozen=True)
class Pairs:
    """Sentence pairs of one split, as text."""

    german: tuple[str, ...]
    english: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.german)


@cache
def _all_pairs() -> dict[str, Pairs]:
    seen: set[str] = set()
    chosen: dict[str, tuple[list[str], list[str]]] = {s: ([], []) for s in SPLITS}
    for line in _lines():
        de, en = line.split(" :: ", 1)
        de_parts, en_parts = de.split(" | "), en.split(" | ")
        if len(de_parts) != len(en_parts):
            continue
        for d, e in zip(de_parts, en_parts, strict=True):
            d, e = _clean(d.split("; ")[0]), _clean(e.split("; ")[0])
            if not d or d[-1] not in ".?!" or d in seen:
                continue
            if WORDS[0] <= _words(d) <= WORDS[1] and WORDS[0] <= _words(e) <= WORDS[1]:
                seen.add(d)
                german, english = chosen[_split(d)]
                german.append(d)
                english.append(e)
    return {s: Pairs(tuple(g), tuple(e)) for s, (g, e) in chosen.items()}


def sentence_pairs(split: str) -> Pairs:
    """The sentence pairs of ``split``, in the dictionary's order."""
    return _all_pairs()[split]


@cache
def word_candidates() -> dict[str, tuple[str, ...]]:
    """German word (lower-cased) → every English alternative (of at most three words) of its
    one-word entries, in the dictionary's order; an inflected verb ``er/sie geht`` counts as the
    word ``geht``, and a verb's ``to`` is dropped."""
    table: dict[str, list[str]] = {}
    for line in _lines():
        de, en = line.split(" :: ", 1)
        de_parts, en_parts = de.split(" | "), en.split(" | ")
        if len(de_parts) != len(en_parts):
            continue
        for d, e in zip(de_parts, en_parts, strict=True):
            english = []
            for alternative in e.split("; "):
                text = _ENGLISH_PRONOUNS.sub("", _clean(alternative)).lower()
                text = text[3:] if text.startswith("to ") else text
                if text and len(text.split()) <= 3:
                    english.append(text)
            for alternative in d.split("; "):
                word = _PRONOUNS.sub("", _clean(alternative)).lower()
                if word.isalpha():
                    table.setdefault(word, []).extend(english)
    return {word: tuple(dict.fromkeys(options)) for word, options in table.items()}


def word_dictionary(pairs: Pairs) -> dict[str, str]:
    """The baseline's table: for each German word of ``pairs``, the dictionary's English
    alternative that co-occurs most often with it in ``pairs`` (all its words in the English
    sentence of a pair whose German has the word; ties go to the dictionary's order). Ding's
    first alternative is often a rare sense (``ich`` → ``ego``, the noun); the training pairs pick
    the common one."""
    candidates = word_candidates()
    german = [set(tokens(g)) for g in pairs.german]
    english = [set(tokens(e)) for e in pairs.english]
    scores: dict[str, Counter] = {}
    for de, en in zip(german, english, strict=True):
        for word in de:
            for option in candidates.get(word, ()):
                if set(tokens(option)) <= en:
                    scores.setdefault(word, Counter())[option] += 1
    table = {}
    for word in set().union(*german):
        if word in scores:
            best = max(scores[word].values())
            table[word] = next(o for o in candidates[word] if scores[word][o] == best)
        elif candidates.get(word):
            table[word] = candidates[word][0]
    return table


def translate_word_by_word(german: str, table: dict[str, str]) -> list[str]:
    """The baseline: each German token replaced by its table entry's tokens, or kept as it is
    (names, numbers and punctuation mostly are the same in English)."""
    out: list[str] = []
    for token in tokens(german):
        out += tokens(table[token]) if token in table else [token]
    return out


def vocabulary(texts: Sequence[str], min_count: int) -> list[str]:
    """Padding, start, end, unknown, then the tokens seen at least ``min_count`` times in
    ``texts``, most frequent first (ties alphabetical)."""
    counts = Counter(token for text in texts for token in tokens(text))
    kept = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
    return ["<pad>", "<s>", "</s>", "<unk>", *kept]
