"""The grader's template gradebook is generated once per content of the sources and reused by
later batches (grader/release.py `template`); any change to a source makes a new one."""

from __future__ import annotations

import pytest

from grader import release
from grader.course import load_course
from tests.support.tiny_course import write_tiny_course

pytestmark = pytest.mark.slow  # runs nbgrader generate_assignment


def test_same_sources_reuse_the_template_and_a_changed_source_does_not(tmp_path, monkeypatch):
    monkeypatch.setattr(release, "TEMPLATE_CACHE", tmp_path / "cache")
    write_tiny_course(tmp_path / "course")
    assignments = load_course(tmp_path / "course" / "solutions")
    key = release._template_key(assignments)
    database, released = release.template(assignments, tmp_path / "first")
    first = (database.read_bytes(), (released / "tiny" / "add.ipynb").read_text())
    assert len(list((tmp_path / "cache").iterdir())) == 1

    def must_not_run(*args, **kwargs):
        raise AssertionError("nbgrader ran although the template was cached")

    with monkeypatch.context() as patch:
        patch.setattr(release, "generate_assignments", must_not_run)
        database, released = release.template(assignments, tmp_path / "second")
    assert (database.read_bytes(), (released / "tiny" / "add.ipynb").read_text()) == first

    write_tiny_course(tmp_path / "course", body="return b + a")  # an edited solution
    changed = load_course(tmp_path / "course" / "solutions")
    assert release._template_key(changed) != key
    release.template(changed, tmp_path / "third")
    assert len(list((tmp_path / "cache").iterdir())) == 2
