"""What students and instructors see, as one file: grade the catalogues and write every verdict.

``python -m tests.support.grading_snapshot SNAPSHOT.json [--compare BEFORE.json] [--jobs 2]``
grades, with the real grader and a fixed grading secret, two batches: every catalogued mistake (one
synthetic student each, as ``tests/grader/test_mistakes.py``) with the reference solution of every
notebook, and the attack batch of ``tests/grader/test_attacks.py`` (warm kernels, default options).
It writes each graded cell's score, status and message, and each student's feedback text, with
the batch's own folder written as ``<root>``. With ``--compare``, it prints what differs from an
earlier snapshot and exits 1 if anything does.

For refactorings that must not change what anyone sees (issue 16): take a snapshot before, one
after, and compare them. The before snapshot can always be remade from an older commit, e.g. in
``git worktree add /tmp/before <commit>``.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from grader.canary import reference_submission
from grader.course import load_course
from tests.conftest import grader_env
from tests.grader.test_attacks import write_batch
from tests.support.factory import REPO, all_mistakes, with_mistake, write

SECRET = "5eed" * 8  # fixed, so that hidden tests draw the same inputs in every snapshot
TAGS = re.compile(r"<[^>]+>")


def _write_mistakes(submitted: Path) -> None:
    for mistake in all_mistakes():
        name = f"{mistake.notebook_name}.ipynb"
        write(with_mistake(mistake), submitted / mistake.id / mistake.assignment / name)
    for assignment in load_course():
        for notebook in assignment.notebooks:
            path = submitted / "reference" / assignment.name / f"{notebook.name}.ipynb"
            reference_submission(notebook, path)


def _grade(submitted: Path, out: Path, jobs: int, *options: str) -> None:
    out.mkdir(parents=True)
    (out / ".grading-secret").write_text(SECRET + "\n", encoding="utf-8")
    argv = [sys.executable, "-m", "grader", "autograde", str(submitted), "--out", str(out)]
    argv += ["--jobs", str(jobs), "--quiet", *options]
    done = subprocess.run(argv, cwd=REPO, env=grader_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the grader exited {done.returncode}:\n{done.stderr[-3000:]}")


def _feedback_text(page: Path) -> str:
    """A feedback page's words, without markup (styles and scripts are the template's)."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"<(style|script)\b.*?</\1>", "", text, flags=re.DOTALL)
    return " ".join(html.unescape(TAGS.sub(" ", text)).split())


def _verdicts(batch: str, root: Path, out: Path) -> dict[str, object]:
    def clean(text: str) -> str:
        return text.replace(str(root), "<root>")

    rows = json.loads((out / "results.json").read_text(encoding="utf-8"))
    cells = {
        f"{batch} {r['student_id']} {r['assignment']}/{r['notebook']} {r['grade_id']}": [
            r["score"],
            r["max_score"],
            r["status"],
            clean(r.get("message") or ""),
        ]
        for r in rows
    }
    feedback = {
        f"{batch} {page.relative_to(out / 'feedback')}": clean(_feedback_text(page))
        for page in sorted((out / "feedback").rglob("*.html"))
    }
    grades = (out / "grades.csv").read_text(encoding="utf-8")
    return {"cells": cells, "feedback": feedback, f"grades.csv {batch}": clean(grades)}


def snapshot(jobs: int) -> dict[str, object]:
    """Grade both batches in a temporary folder; return every verdict, message and page."""
    with tempfile.TemporaryDirectory(prefix="grading-snapshot-") as folder:
        root = Path(folder)
        _write_mistakes(root / "mistakes")
        _grade(root / "mistakes", root / "mistakes-out", jobs, "--cell-timeout", "60")
        write_batch(root / "attacks", root / "attacks-out")
        _grade(root / "attacks", root / "attacks-out", jobs, "--cell-timeout", "10")
        found: dict[str, object] = {"cells": {}, "feedback": {}}
        for batch in ("mistakes", "attacks"):
            part = _verdicts(batch, root, root / f"{batch}-out")
            found["cells"].update(part.pop("cells"))
            found["feedback"].update(part.pop("feedback"))
            found.update(part)
        return found


def differences(before: dict[str, object], after: dict[str, object]) -> list[str]:
    """Every entry that is not the same in both snapshots, named."""
    found = []
    for section in sorted(set(before) | set(after)):
        old, new = before.get(section), after.get(section)
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new)):
                if old.get(key) != new.get(key):
                    found.append(
                        f"{section}: {key}:\n  before {old.get(key)!r}\n  after  {new.get(key)!r}"
                    )
        elif old != new:
            found.append(f"{section} differs")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("snapshot", type=Path, help="where to write this snapshot (JSON)")
    parser.add_argument("--compare", type=Path, help="an earlier snapshot to compare with")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    found = snapshot(args.jobs)
    args.snapshot.write_text(json.dumps(found, indent=1, sort_keys=True), encoding="utf-8")
    cells = found["cells"]
    print(f"{len(cells)} graded cells, {len(found['feedback'])} feedback pages: {args.snapshot}")
    if args.compare:
        changed = differences(json.loads(args.compare.read_text(encoding="utf-8")), found)
        for line in changed[:50]:
            print(line)
        print(f"{len(changed)} differences from {args.compare}")
        raise SystemExit(1 if changed else 0)


if __name__ == "__main__":
    main()
