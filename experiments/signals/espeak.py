"""Speech synthesised offline by eSpeak NG: the one implementation is
:mod:`course_checks.speech` (which Exercise 7b's checks will share), whose subprocess entry,
``python -m course_checks.speech``, synthesises each utterance in a freshly forked child. This
module keeps the chapter's names."""

from __future__ import annotations

from course_checks.speech import SAMPLE_RATE, Utterance, synthesise, version

__all__ = ["SAMPLE_RATE", "Utterance", "synthesise", "version"]
