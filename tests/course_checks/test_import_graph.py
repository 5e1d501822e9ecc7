"""No import cycle in the project's packages, and no import from one assignment's checks into
another's (``course_checks/<assignment>/``): what assignments share lives in the core."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.import_graph import crossings, cycles, imports

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "package", ["course_checks", "grader", "booktools", "experiments", "tests"]
)
def test_no_import_cycle(package: str) -> None:
    graph = imports(ROOT, package)
    assert len(graph) > 3, "the graph has the package's modules"
    assert cycles(graph) == []


def test_no_import_between_two_assignments_checks() -> None:
    assert crossings(ROOT) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_a_cycle_hidden_in_a_function_is_found(tmp_path: Path) -> None:
    """compare and replay once imported each other, one of them inside a function."""
    root = _package(
        tmp_path,
        {
            "checks/__init__.py": "",
            "checks/compare.py": "from checks import replay\n",
            "checks/replay.py": "def later():\n    from .compare import call\n",
            "checks/cases.py": "from checks.compare import call\n",
        },
    )
    assert cycles(imports(root, "checks")) == [["checks.compare", "checks.replay"]]


def test_an_import_between_assignments_or_from_the_core_is_found(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        {
            "course_checks/__init__.py": "",
            "course_checks/compare.py": "from course_checks.ex1_rnn.references import rnn\n",
            "course_checks/old.py": (
                '"""Old name of ex1_rnn.a."""\nfrom course_checks.ex1_rnn.a import *\n'
            ),
            "course_checks/ex1_rnn/__init__.py": "",
            "course_checks/ex1_rnn/a.py": "from course_checks.compare import check_close\n",
            "course_checks/ex1_rnn/references.py": "",
            "course_checks/ex2_gru/__init__.py": "",
            "course_checks/ex2_gru/b.py": "from course_checks.ex1_rnn import a\n",
        },
    )
    assert crossings(root) == [
        "course_checks.compare imports course_checks.ex1_rnn.references",
        "course_checks.ex2_gru.b imports course_checks.ex1_rnn.a",
    ]
