"""Nothing a student produced is active in the HTML instructors see (grader.active_content).

A notebook as autograding leaves it, with the red team's outputs and a hostile written answer, is
sanitized and exported with nbconvert exactly as nbgrader's formgrader renders it (its
``formgrade`` template), and also with nbconvert's lab and classic templates; the HTML is parsed:
no script, event handler or ``javascript:`` URL carries anything of the student's. The same
export of the unsanitized notebook shows that each check can fail.
"""

from __future__ import annotations

import base64
from html.parser import HTMLParser

import nbformat
import pytest
from nbconvert import HTMLExporter
from nbgrader.server_extensions.formgrader import handlers
from traitlets.config import Config

from grader.active_content import neutralize_markdown, sanitize_file, sanitize_notebook

MARK = "PWNED"  # in every payload: what the student's code or answer would run
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n fake but base64").decode()
ANSWER = (
    "My answer: the gate is $z_t = \\sigma(W [h_{t-1}, x_t])$ and a < b.\n\n"
    f"<script>{MARK}()</script> <img src=x onerror='{MARK}()'> "
    f"[click](javascript:{MARK}()) ![i](javascript:{MARK}()) <javascript:{MARK}()>\n"
    f'<a href="jav&#x61;script:{MARK}()">x</a> <svg onload="{MARK}()"></svg>\n\n'
    f"[ref]\n\n[ref]: javascript:{MARK}()\n\n"
    "`code with <b>tags</b>` and\n\n```python\nif a < b: print('<ok>')\n```\n"
)


def _meta(grade_id: str, **flags) -> dict:
    return {"nbgrader": {"grade_id": grade_id, "schema_version": 3, "locked": False, **flags}}


def _hostile_notebook() -> nbformat.NotebookNode:
    script = f"<script>{MARK}()</script>"
    outputs = [
        nbformat.v4.new_output("display_data", data={"text/html": f"<b>hi</b>{script}"}),
        nbformat.v4.new_output("display_data", data={"application/javascript": f"{MARK}()"}),
        nbformat.v4.new_output(
            "display_data", data={"image/svg+xml": f"<svg onload='{MARK}()'>{script}</svg>"}
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/markdown": f"{script} [a](javascript:{MARK}())"}
        ),
        nbformat.v4.new_output(
            "display_data", data={"text/latex": f"$\\href{{javascript:{MARK}()}}{{x}}$"}
        ),
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": MARK, "version_major": 2}
            },
        ),
        nbformat.v4.new_output("display_data", data={"application/vnd.evil+html": f"{script}"}),
        nbformat.v4.new_output("display_data", data={"application/json": {"a": f"{script}"}}),
        # an image whose "base64" closes the attribute nbconvert puts it in
        nbformat.v4.new_output("display_data", data={"image/png": f'x"><script>{MARK}()</script>'}),
        nbformat.v4.new_output(
            "display_data",
            data={"image/png": PNG},
            metadata={"image/png": {"width": f'1" onload="{MARK}()'}},
        ),
        nbformat.v4.new_output(
            "execute_result",
            data={"text/plain": "<DataFrame>", "text/html": f"<table>{script}</table>"},
            execution_count=3,
        ),
        nbformat.v4.new_output("stream", name="stdout", text=f"{script}\n"),
        nbformat.v4.new_output(
            "error",
            ename="ValueError",
            evalue=f"\x1b]8;;javascript:{MARK}()\x1b\\link\x1b]8;;\x1b\\",
            traceback=[f"\x1b[0;31mValueError\x1b[0m: {script}"],
        ),
    ]
    code = nbformat.v4.new_code_cell(
        "def gate(x):\n    return x", metadata=_meta("gate", solution=True), outputs=outputs
    )
    code.metadata["tags"] = [f'x" onmouseover="{MARK}()', "honest-tag"]
    answer = nbformat.v4.new_markdown_cell(ANSWER, metadata=_meta("why", solution=True))
    answer["attachments"] = {"a.svg": {"image/svg+xml": f"<svg onload='{MARK}()'/>"}}
    question = nbformat.v4.new_markdown_cell("**Question.** Why <em>does</em> it work?")
    notebook = nbformat.v4.new_notebook(
        cells=[question, code, answer],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )
    notebook.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {"state": {MARK: {"x": script}}}
    }
    return notebook


class _Active(HTMLParser):
    """Every place in the HTML where the student's payload would run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs) -> None:
        self._in_script = tag == "script"
        for name, value in attrs:
            value = value or ""
            squashed = "".join(value.split()).lower()
            if MARK in value or squashed.startswith(("javascript:", "vbscript:")):
                self.found.append(f"<{tag} {name}={value!r}>")

    handle_startendtag = handle_starttag

    def handle_endtag(self, tag) -> None:
        self._in_script = False

    def handle_data(self, data) -> None:
        if self._in_script and MARK in data:
            self.found.append(f"<script>{data[:80]!r}")


def _exporters() -> dict[str, HTMLExporter]:
    formgrade = Config()
    formgrade.HTMLExporter.template_name = "formgrade"
    formgrade.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    return {
        "formgrade": HTMLExporter(config=formgrade),
        "lab": HTMLExporter(template_name="lab"),
        "classic": HTMLExporter(template_name="classic"),
    }


RESOURCES = {
    "assignment_id": "a",
    "notebook_id": "n",
    "submission_id": "s",
    "index": 0,
    "total": 1,
    "base_url": "/",
    "student": "s1",
    "last_name": "L",
    "first_name": "F",
    "notebook_path": "x.ipynb",
}


def _active(notebook: nbformat.NotebookNode, exporter: HTMLExporter) -> list[str]:
    body, _ = exporter.from_notebook_node(notebook, resources=dict(RESOURCES))
    finder = _Active()
    finder.feed(body)
    return finder.found


@pytest.mark.parametrize("template", ["formgrade", "lab", "classic"])
def test_no_student_content_is_active_in_the_exported_html(template) -> None:
    exporter = _exporters()[template]
    assert _active(_hostile_notebook(), exporter), "the check cannot fail: nothing found before"
    assert _active(sanitize_notebook(_hostile_notebook()), exporter) == []


def test_what_is_kept_and_what_becomes_text() -> None:
    notebook = sanitize_notebook(_hostile_notebook())
    question, code, answer = notebook.cells
    assert question.source == "**Question.** Why <em>does</em> it work?"  # the instructor's
    kinds = [sorted(o.get("data", {})) for o in code.outputs]
    assert all(set(k) <= {"text/plain", "image/png", "image/jpeg"} for k in kinds)
    html, js = code.outputs[0].data["text/plain"], code.outputs[1].data["text/plain"]
    assert "text/html output shown as text" in html and "<b>hi</b>" in html
    assert f"{MARK}()" in js  # the instructor can still read what the student emitted
    assert "image/png" not in code.outputs[8].data  # not base64
    assert code.outputs[9].data["image/png"] == PNG and code.outputs[9].metadata == {}
    dataframe = code.outputs[10]
    assert dataframe.execution_count == 3
    assert dataframe.data["text/plain"].startswith("<DataFrame>\n[text/html output")
    error = code.outputs[12]
    assert error.evalue == "link" and error.traceback[0].startswith("\x1b[0;31mValueError")
    assert code.metadata.tags == ["honest-tag"]
    assert "attachments" not in answer and "widgets" not in notebook.metadata
    nbformat.validate(notebook)


def test_written_answers_keep_their_visible_text() -> None:
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    honest = (
        "The update gate $z_t$ mixes $h_{t-1}$ and $\\tilde h_t$: **keeps** memory when "
        "$z_t \\approx 1$.\n\n- one\n- two < three\n\n`np.tanh(x)` and\n\n```\nx = [1, 2]\n```"
    )
    assert markdown2html_mistune(neutralize_markdown(honest)) == markdown2html_mistune(
        honest.replace("< three", "&lt; three")
    )
    hostile = neutralize_markdown("<b>bold?</b> [link](http://example.com)")
    rendered = markdown2html_mistune(hostile)
    assert "&lt;b&gt;bold?&lt;/b&gt; [link](" in rendered  # shown as typed, a web address at most
    assert "<b>" not in rendered


def test_sanitize_file_rewrites_the_notebook(tmp_path) -> None:
    path = tmp_path / "graded.ipynb"
    nbformat.write(_hostile_notebook(), path)
    sanitize_file(path)
    assert _active(nbformat.read(path, as_version=4), _exporters()["lab"]) == []
