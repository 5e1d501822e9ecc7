"""The ``python -m grader`` command line: release, check, autograde, manual."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from grader.paths import EXERCISES_DIR, SOLUTIONS_DIR


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand; return the process exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m grader", description="The GRU course's instructor toolkit around nbgrader."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    release = commands.add_parser("release", help="regenerate exercises/ from solutions/")
    release.add_argument("--to", type=Path, default=EXERCISES_DIR, help="release folder")
    release.set_defaults(run=_release)

    check = commands.add_parser("check", help="prove the course consistent")
    check.add_argument("--jobs", type=int, default=_default_jobs())
    check.set_defaults(run=_check)

    grade = commands.add_parser(
        "autograde", help="grade SUBMITTED/<student_id>/<assignment>/<notebook>.ipynb"
    )
    grade.add_argument("submitted", type=Path, metavar="SUBMITTED")
    grade.add_argument("--out", type=Path, required=True, metavar="OUT")
    grade.add_argument("--jobs", type=int, default=_default_jobs(), help="notebooks at once")
    grade.add_argument("--cell-timeout", type=int, default=60, help="seconds per cell")
    grade.add_argument("--notebook-timeout", type=int, default=600, help="seconds per notebook")
    grade.add_argument(
        "--db", default=None, help="gradebook URL (default: sqlite OUT/gradebook.db)"
    )
    grade.add_argument("--keep-work", action="store_true", help="keep nbgrader's work folders")
    grade.add_argument(
        "--cold-kernels",
        action="store_true",
        help="start every kernel from scratch instead of forking it from a warm sandbox",
    )
    grade.add_argument("--quiet", action="store_true", help="no progress lines")
    grade.add_argument(
        "--unisolated",
        action="store_true",
        help="where bubblewrap cannot isolate the kernels, grade with resource limits only "
        "(kernels then see this machine's files): only for submissions you trust",
    )
    grade.add_argument(
        "--solutions",
        type=Path,
        default=SOLUTIONS_DIR,
        metavar="DIR",
        help="the course's source notebooks (default: solutions/)",
    )
    grade.set_defaults(run=_autograde)

    manual = commands.add_parser(
        "manual",
        help="review pages and a score sheet for the manually graded answers in OUT; "
        "with --scores, import the filled sheet",
    )
    manual.add_argument("out", type=Path, metavar="OUT", help="the output folder of autograde")
    manual.add_argument(
        "--scores", type=Path, metavar="SHEET", help="record this filled score sheet"
    )
    manual.add_argument(
        "--db", default=None, help="gradebook URL (default: sqlite OUT/gradebook.db)"
    )
    manual.add_argument(
        "--force",
        action="store_true",
        help="rewrite OUT/manual/scores.csv even if it holds scores not imported yet",
    )
    manual.add_argument(
        "--solutions",
        type=Path,
        default=SOLUTIONS_DIR,
        metavar="DIR",
        help="the course's source notebooks (default: solutions/)",
    )
    manual.set_defaults(run=_manual)
    return parser


def _default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


def _release(args: argparse.Namespace) -> int:
    from grader.release import ReleaseError, release

    try:
        written = release(args.to)
    except ReleaseError as error:
        print(f"release failed: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(f"released {path}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from grader.check import check

    report = check(jobs=args.jobs)
    for line in report.lines:
        print(line)
    if report.ok:
        print("course is consistent")
        return 0
    print(f"{len(report.problems)} problem(s):", file=sys.stderr)
    for problem in report.problems:
        print(f"- {problem}", file=sys.stderr)
    return 1


def _autograde(args: argparse.Namespace) -> int:
    from grader.autograde import AutogradeOptions, NotIsolated, autograde
    from grader.canary import CanaryFailed
    from grader.course import load_course
    from grader.release import ReleaseError

    if not args.submitted.is_dir():
        print(f"autograde: {args.submitted} is not a folder", file=sys.stderr)
        return 2
    options = AutogradeOptions(
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
        notebook_timeout=args.notebook_timeout,
        db_url=args.db,
        keep_work=args.keep_work,
        quiet=args.quiet,
        warm_kernels=not args.cold_kernels,
        unisolated=args.unisolated,
    )
    from grader.sandbox import detect_mode

    mode = detect_mode()
    note = "bubblewrap" if mode.isolated else f"LIMITS ONLY, NOT ISOLATED ({mode.reason})"
    if mode.isolated:
        note += ", warm kernels" if options.warm_kernels else ", cold kernels"
    if mode.isolated or options.unisolated:  # else autograde refuses, and says why
        print(f"sandbox: {note}", file=sys.stderr)
    try:
        report = autograde(args.submitted, args.out, options, load_course(args.solutions))
    except ReleaseError as error:
        print(f"autograde: the course itself does not generate: {error}", file=sys.stderr)
        return 1
    except CanaryFailed as error:
        print(f"autograde: stopped: {error}", file=sys.stderr)
        return 3
    except NotIsolated as reason:
        print(
            f"autograde: refusing to grade untrusted notebooks without isolation: {reason}. "
            "Install bubblewrap and run as root (`make sandbox` does both where it can), or "
            "pass --unisolated to grade with resource limits only, for submissions you trust.",
            file=sys.stderr,
        )
        return 2
    students = {r.student_id for r in report.results}
    score = sum(r.score for r in report.results)
    print(
        f"graded {report.notebooks_graded} notebooks of {len(students)} students in "
        f"{report.seconds:.1f} s; {score:g} points awarded; wrote {args.out / 'grades.csv'}"
    )
    return 0


def _manual(args: argparse.Namespace) -> int:
    from grader.course import load_course
    from grader.manual import ManualGradingError, gradebook_url, import_scores, write_review

    try:
        db_url = gradebook_url(args.out, args.db)
        assignments = load_course(args.solutions)
        if args.scores is None:
            review = write_review(args.out, assignments, db_url, force=args.force)
        else:
            done = import_scores(args.out, args.scores, assignments, db_url)
    except ManualGradingError as error:
        what = "nothing was recorded" if args.scores else "nothing was written"
        print(f"manual: {len(error.problems)} problem(s); {what}:", file=sys.stderr)
        for problem in error.problems:
            print(f"- {problem}", file=sys.stderr)
        return 1
    if args.scores is None:
        print(
            f"wrote {len(review.pages)} review page(s) ({review.index}): {review.answers} "
            f"answers, {review.awaiting} awaiting a grade"
        )
        if review.sheet_written:
            print(f"wrote {review.sheet}: fill the score column, then --scores {review.sheet}")
        else:
            print(
                f"kept {review.sheet}: {review.kept_because} (import it with --scores, or "
                "rewrite it with --force)",
                file=sys.stderr,
            )
        return 0
    print(
        f"recorded {done.recorded} manual score(s) ({done.blank} blank row(s) left as they are); "
        f"{done.awaiting} answer(s) still await a grade; rewrote "
        + ", ".join(str(path) for path in done.written)
    )
    return 0
