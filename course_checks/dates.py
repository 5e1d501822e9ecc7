"""Date normalisation, the controlled sequence-to-sequence task that Chapter 6, Exercise 6's checks
and the experiments (``experiments.seq2seq``) share: dates written as people write them, in many
languages and styles, to be rewritten as ISO 8601 (``2021-03-03``).

The written forms come from the Unicode CLDR locale data that the pinned ``babel`` ships
(``babel.dates.format_date`` and ``format_skeleton``; CLDR is © Unicode, Inc., under the Unicode
License v3): ``"3. März 2021"``, ``"Wednesday, March 3, 2021"``, ``"2021. március 3., szerda"``,
``"3 de março de 2021"``. A *format* is one locale's pattern (``("de_DE", "d. MMMM y")``); only
patterns that name the month are used, so that every written form has one reading (a numeric
``03/04/21`` is 3 April in London and 4 March in New York).

Length is controlled by the number of dates in one input: ``n`` dates of one format, joined by
``"; "``, are rewritten as their ISO forms joined by a space. Each format belongs, by a hash of
its locale and pattern (SHA-256, the same on every machine), to one split: ``train``, ``valid``
or ``test``; a model is measured on formats it never saw, whose locale's month names it saw in
other formats (every locale keeps at least one training format).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from babel import Locale
from babel.dates import format_date

__all__ = [
    "DATE_RANGE",
    "END",
    "LOCALES",
    "PAD",
    "SEPARATOR",
    "SPLITS",
    "START",
    "TARGET_ALPHABET",
    "DateFormat",
    "DatePairs",
    "date_formats",
    "date_pairs",
    "decode_target",
    "encode_source",
    "encode_target",
    "iso",
    "write_date",
]

# Latin-script locales, so that the source alphabet stays small enough to read (about 100
# characters); each writes month names its own way.
LOCALES = (
    "en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "pt_BR", "pt_PT", "nl_NL", "sv_SE",
    "da_DK", "nb_NO", "fi_FI", "pl_PL", "cs_CZ", "sk_SK", "sl_SI", "hr_HR", "hu_HU", "ro_RO",
    "tr_TR", "id_ID", "ms_MY", "ca_ES", "gl_ES", "eu_ES", "lt_LT", "lv_LV", "et_EE", "is_IS",
    "ga_IE", "cy_GB", "sq_AL", "sw_KE", "af_ZA", "vi_VN",
)  # fmt: skip
# CLDR's named formats and skeletons (a skeleton names the fields; the locale orders and spells
# them): each locale contributes the distinct patterns among these that spell the month.
NAMED = ("medium", "long", "full")
SKELETONS = ("yMMMd", "yMMMMd", "yMMMEd", "yMMMMEEEEd", "yMMMMEd")
DATE_RANGE = (datetime.date(1900, 1, 1), datetime.date(2099, 12, 31))
SPLITS = ("train", "valid", "test")
_SHARES = (("train", 0.7), ("valid", 0.85))  # cumulative: the rest of the formats are "test"

SEPARATOR = "; "  # between two dates of one source
PAD, START, END = "\x00", "\x02", "\x03"  # id 0 pads; the target's start and end tokens
TARGET_ALPHABET = PAD + START + END + "0123456789- "
_SPACES = {"\u00a0": " ", "\u202f": " ", "\u2009": " "}  # CLDR's no-break and thin spaces


@dataclass(frozen=True)
class DateFormat:
    """One locale's pattern: ``write(date)`` is the date as that locale writes it."""

    locale: str
    pattern: str

    def write(self, date: datetime.date) -> str:
        text = format_date(date, self.pattern, locale=self.locale)
        return "".join(_SPACES.get(c, c) for c in text)

    @property
    def split(self) -> str:
        digest = hashlib.sha256(f"{self.locale}|{self.pattern}".encode()).digest()
        share = int.from_bytes(digest[:8], "big") / 2**64
        return next((name for name, upper in _SHARES if share < upper), "test")


def _spells_month(pattern: str) -> bool:
    """Whether a CLDR pattern writes the month as a word (``MMM``/``LLL`` and longer), outside
    quoted literals."""
    unquoted = "".join(part for i, part in enumerate(pattern.split("'")) if i % 2 == 0)
    return "MMM" in unquoted or "LLL" in unquoted


@cache
def date_formats() -> tuple[DateFormat, ...]:
    """Every format of the task, in a fixed order (locale, then pattern)."""
    formats = []
    for name in LOCALES:
        locale = Locale.parse(name)
        patterns = [locale.date_formats[n].pattern for n in NAMED]
        patterns += [locale.datetime_skeletons[s].pattern for s in SKELETONS if s in
                     locale.datetime_skeletons]  # fmt: skip
        for pattern in sorted(set(filter(_spells_month, patterns))):
            formats.append(DateFormat(name, pattern))
    return tuple(formats)


@cache
def formats_of(split: str) -> tuple[DateFormat, ...]:
    """The formats of ``split``; a locale none of whose formats hashed to ``train`` gives its
    first one to it, so that its month names are seen in training."""
    formats = date_formats()
    trained = {f.locale for f in formats if f.split == "train"}
    first = {}
    for f in formats:
        first.setdefault(f.locale, f)
    chosen = [
        f
        for f in formats
        if (f.split == split and (f.locale in trained or first[f.locale] != f))
        or (split == "train" and f.locale not in trained and first[f.locale] == f)
    ]
    return tuple(chosen)


def iso(date: datetime.date) -> str:
    """ISO 8601: ``2021-03-03``."""
    return date.isoformat()


def write_date(date: datetime.date, form: DateFormat) -> str:
    """``date`` as ``form`` writes it."""
    return form.write(date)


@cache
def _source_alphabet() -> str:
    """Every character any format writes (each month and weekday once), then the separator's;
    id 0 pads."""
    characters = set("0123456789" + SEPARATOR)
    for form in date_formats():
        for month in range(1, 13):  # 2024: its Januaries … Decembers cover the weekdays too
            for day in (1, 2, 3, 4, 5, 6, 7):
                characters.update(form.write(datetime.date(2024, month, day)))
    return PAD + "".join(sorted(characters))


@cache
def _source_index() -> dict[str, int]:
    return {c: i for i, c in enumerate(_source_alphabet())}


def __getattr__(name: str) -> str:
    # SOURCE_ALPHABET is computed on first use (about a second of formatting), not at import: the
    # experiments' runner and the grader's preloads import this module without needing it.
    if name == "SOURCE_ALPHABET":
        return _source_alphabet()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_TARGET_INDEX = {c: i for i, c in enumerate(TARGET_ALPHABET)}


def encode_source(text: str) -> list[int]:
    """The source's ids (no start or end token; 0 is padding)."""
    index = _source_index()
    return [index[c] for c in text]


def encode_target(text: str) -> list[int]:
    """``START``, the target's ids, ``END``."""
    return [_TARGET_INDEX[START], *(_TARGET_INDEX[c] for c in text), _TARGET_INDEX[END]]


def decode_target(ids: Sequence[int]) -> str:
    """The text of target ids, up to the first ``END`` (start and padding dropped)."""
    out = []
    for i in ids:
        character = TARGET_ALPHABET[int(i)]
        if character == END:
            break
        if character not in (PAD, START):
            out.append(character)
    return "".join(out)


@dataclass(frozen=True)
class DatePairs:
    """``n`` examples: the sources and targets as text, the format and the number of dates of
    each."""

    sources: tuple[str, ...]
    targets: tuple[str, ...]
    formats: tuple[DateFormat, ...]
    counts: tuple[int, ...]  # dates per example

    def __len__(self) -> int:
        return len(self.sources)


def date_pairs(split: str, n: int, seed: int, dates: Sequence[int] = (1,)) -> DatePairs:
    """``n`` examples of ``split``'s formats from ``seed``: each draws a format, a number of dates
    from ``dates`` and that many days uniformly from :data:`DATE_RANGE`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    rng = np.random.default_rng(seed)
    formats = formats_of(split)
    first, last = (d.toordinal() for d in DATE_RANGE)
    sources, targets, chosen, counts = [], [], [], []
    for _ in range(n):
        form = formats[int(rng.integers(len(formats)))]
        count = int(dates[int(rng.integers(len(dates)))])
        days = [datetime.date.fromordinal(int(d)) for d in rng.integers(first, last + 1, count)]
        sources.append(SEPARATOR.join(form.write(d) for d in days))
        targets.append(" ".join(iso(d) for d in days))
        chosen.append(form)
        counts.append(count)
    return DatePairs(tuple(sources), tuple(targets), tuple(chosen), tuple(counts))
