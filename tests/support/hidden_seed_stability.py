"""Do the hidden tests' verdicts depend on a lucky seed? Run them under several grading secrets.

``python -m tests.support.hidden_seed_stability [--mistakes] [notebook …]`` runs each solution
notebook (in this process, ``tests.support.notebook_run``) without a secret and under a few
values of ``GRU_COURSE_SECRET``, so that every hidden test draws other inputs (``hidden_seed``): the
solution must pass every graded cell each time. With ``--mistakes``, every catalogued mistake
of those notebooks too: each must fail the same graded cells under every secret as without one.
Slow training cells (and the test that reads their result) are left out.
"""

from __future__ import annotations

import argparse
import os
import sys

from course_checks.cases import SECRET_ENV
from tests.support.factory import all_mistakes, student_solution, with_mistake
from tests.support.notebook_run import graded_verdicts

NOTEBOOKS = {
    "rnn_numpy": ("ex1_rnn", ()),
    "rnn_torch": ("ex1_rnn", ()),
    "gru_numpy": ("ex2_gru_numpy", ()),
    "gru_torch": ("ex3_gru_torch", ("train_gru", "test_adding_trained")),
    "lstm_numpy": ("ex4_lstm", ()),
    "lstm_torch": ("ex4_lstm", ("run_comparison",)),
    "language_numpy": ("ex5_language", ()),
    "language_torch": ("ex5_language", ("train_lm", "test_lm_trained", "samples", "units")),
    "attention_numpy": ("ex6_seq2seq", ()),
    "seq2seq_torch": (
        "ex6_seq2seq",
        ("train", "loss_curve", "test_trained", "heatmap", "beam_comparison"),
    ),
    "logmel_numpy": ("ex7_signals", ()),
}
SECRETS = ("5eed" * 8, "c0ffee" * 5 + "00", "0123456789abcdef" * 2)


def _failing(nb, skip) -> set[str]:
    return {grade_id for grade_id, verdict in graded_verdicts(nb, skip=skip).items() if verdict}


def check(notebooks: list[str], mistakes: bool) -> list[str]:
    """The problems found: "<what> under secret <s>: …"."""
    problems = []
    saved = os.environ.pop(SECRET_ENV, None)
    try:
        for name in notebooks:
            assignment, skip = NOTEBOOKS[name]
            subjects = [("solution", student_solution(assignment, name))]
            if mistakes:
                subjects += [
                    (m.id, with_mistake(m))
                    for m in all_mistakes()
                    if m.notebook == f"{assignment}/{name}"
                ]
            for label, nb in subjects:
                os.environ.pop(SECRET_ENV, None)
                plain = _failing(nb, skip)
                if label == "solution" and plain:
                    problems.append(f"{name} solution fails without a secret: {sorted(plain)}")
                for secret in SECRETS:
                    os.environ[SECRET_ENV] = secret
                    failing = _failing(nb, skip)
                    if failing != plain:
                        problems.append(
                            f"{name} {label} under secret {secret[:8]}…: fails {sorted(failing)}, "
                            f"without a secret {sorted(plain)}"
                        )
                print(f"{name} {label}: {'fails ' + str(sorted(plain)) if plain else 'passes'}")
    finally:
        os.environ.pop(SECRET_ENV, None)
        if saved is not None:
            os.environ[SECRET_ENV] = saved
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", default=list(NOTEBOOKS))
    parser.add_argument("--mistakes", action="store_true")
    args = parser.parse_args()
    problems = check(args.notebooks, args.mistakes)
    print("\n".join(problems) or "verdicts are the same under every secret")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
