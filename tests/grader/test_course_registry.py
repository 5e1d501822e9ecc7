"""The registry of exercises (grader.course), read from solutions/: what each notebook imports
from course_checks, and the lists made from it (the zygote's and the forkserver's preloads)."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import nbformat

from grader import zygote
from grader.course import check_imports_of, check_modules, load_course
from grader.paths import REPO_ROOT, SOLUTIONS_DIR


def test_every_notebook_imports_the_checks_of_its_own_package() -> None:
    """course_checks/<assignment>/<notebook>.py serves solutions/<assignment>/<notebook>.ipynb."""
    notebooks = [n for a in load_course() for n in a.notebooks]
    assert len(notebooks) >= 6
    for notebook in notebooks:
        own = f"course_checks.{notebook.assignment}.{notebook.name}"
        assert (REPO_ROOT / "course_checks" / notebook.assignment / f"{notebook.name}.py").is_file()
        assert own in notebook.check_modules, (notebook.path, notebook.check_modules)
        others = [m for m in notebook.check_modules if m.count(".") > 1 and not m.startswith(own)]
        assert others == [], f"{notebook.path} imports another notebook's checks: {others}"


def test_the_preload_list_is_every_module_the_notebooks_import_and_each_imports() -> None:
    modules = check_modules()
    for assignment in load_course():
        for notebook in assignment.notebooks:
            assert set(notebook.check_modules) <= set(modules)
    for module in modules:
        importlib.import_module(module)


def test_imports_are_read_from_code_cells_only_and_magics_are_skipped() -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("from course_checks.nothing import here"),
        nbformat.v4.new_code_cell("%matplotlib inline\nfrom course_checks.cases import drawn"),
        nbformat.v4.new_code_cell("import course_checks.compare\nimport numpy as np"),
        nbformat.v4.new_code_cell("def broken(:\n    from course_checks.x import y"),
    ]
    assert check_imports_of(json.loads(nbformat.writes(notebook))) == (
        ("course_checks.cases", "drawn"),
        ("course_checks.compare", ""),
    )


def test_no_solutions_folder_means_no_preload(monkeypatch, tmp_path) -> None:
    import grader.course as course

    monkeypatch.setattr(course, "SOLUTIONS_DIR", tmp_path / "missing")
    assert course.check_modules() == ()
    assert SOLUTIONS_DIR.is_dir()


def test_the_zygote_preloads_only_course_checks_modules() -> None:
    """The host passes the list; the zygote imports nothing else from it."""
    assert zygote.CHECK_MODULE.fullmatch("course_checks.ex3_gru_torch.gru_torch")
    for name in ("os", "course_checks/../x", "course_checks.ex1_rnn;import os", "grader.cli", ""):
        assert not zygote.CHECK_MODULE.fullmatch(name)


def test_the_forkserver_preload_imports_every_check_module() -> None:
    """grader.nbgrader_app, the forkserver's preload, leaves every check module imported."""
    code = (
        "import sys, json, grader.nbgrader_app\n"
        "from grader.course import check_modules\n"
        "print(json.dumps([m for m in check_modules() if m not in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
