"""The output cap holds for every kind of output, in a real kernel run by LimitedExecute.

A red team made an 134 MB graded notebook against a 2 MiB cap with ``update_display_data``
(which nbclient applies without going through ``output()``). These notebooks run at a reduced
scale (a 2 MiB cap, 3 MiB updates) through the grader's own preprocessor in a local ipykernel.
"""

from __future__ import annotations

import json
import resource

import nbformat
import pytest

from grader.preprocessors.limited_execute import OUTPUT_LIMIT_ERROR, LimitedExecute

CAP = 2 << 20


def _run(tmp_path, *sources: str) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in sources],
        metadata={"kernelspec": {"name": "python3", "language": "python", "display_name": "P"}},
    )
    LimitedExecute(max_output_bytes=CAP, timeout=60).preprocess(
        notebook, {"metadata": {"path": str(tmp_path)}}
    )
    return notebook


def _size(notebook: nbformat.NotebookNode) -> int:
    return sum(len(json.dumps(cell.get("outputs", []))) for cell in notebook.cells)


def _errors(cell: nbformat.NotebookNode) -> list[str]:
    return [o.ename for o in cell.outputs if o.output_type == "error"]


UPDATE_ATTACK = (
    "from IPython.display import display, update_display\n"
    "for i in range(8):\n"
    "    display({'text/plain': 'x'}, raw=True, display_id=f'd{i}')\n"
    "for i in range(8):\n"
    "    update_display({'text/plain': 'y' * (3 << 20)}, raw=True, display_id=f'd{i}')\n"
)
# One display id shown many times: one update rewrites every copy.
FAN_OUT_ATTACK = (
    "from IPython.display import display, update_display\n"
    "for i in range(200):\n"
    "    display({'text/plain': 'x'}, raw=True, display_id='same')\n"
    "update_display({'text/plain': 'y' * (64 << 10)}, raw=True, display_id='same')\n"
)
# Nothing is ever kept for long: clear, then print again.
CLEAR_ATTACK = (
    "from IPython.display import clear_output\n"
    "for i in range(6):\n"
    "    clear_output()\n"
    "    print('z' * (1 << 19))\n"
)
RESULT_ATTACK = "class Big:\n    def __repr__(self):\n        return 'r' * (3 << 20)\nBig()"
ERROR_ATTACK = "raise ValueError('e' * (3 << 20))"


@pytest.mark.parametrize(
    "attack",
    [UPDATE_ATTACK, FAN_OUT_ATTACK, CLEAR_ATTACK, RESULT_ATTACK, ERROR_ATTACK],
    ids=["update_display", "display_id_fan_out", "clear_output", "execute_result", "error"],
)
def test_every_kind_of_output_counts_against_the_cap(tmp_path, attack) -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB
    notebook = _run(tmp_path, "a = 1", attack, "print('after')")
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    attacked, after = notebook.cells[1], notebook.cells[2]
    assert OUTPUT_LIMIT_ERROR in _errors(attacked)
    assert _errors(after) == [OUTPUT_LIMIT_ERROR]  # not run
    assert _size(notebook) <= CAP + 4096
    path = tmp_path / "graded.ipynb"
    nbformat.write(notebook, path)
    assert path.stat().st_size <= CAP + 8192
    # The grader's process held a few messages of a few MiB, never the 24 MiB the attack sends.
    assert grown < 64 << 10, f"the grader's memory grew by {grown} KiB"


def test_an_honest_notebook_with_displays_and_updates_is_untouched(tmp_path) -> None:
    notebook = _run(
        tmp_path,
        "from IPython.display import display, update_display, clear_output\n"
        "handle = display({'text/plain': 'step 0'}, raw=True, display_id='progress')\n"
        "for step in range(1, 20):\n"
        "    update_display({'text/plain': f'step {step}'}, raw=True, display_id='progress')\n"
        "print('done')",
        "for i in range(3):\n    clear_output(wait=True)\n    print('epoch', i)",
        "3 * 14",
    )
    first, second, third = notebook.cells
    assert [o.get("data", {}).get("text/plain") for o in first.outputs] == ["step 19", None]
    assert first.outputs[1].text == "done\n"
    assert [o.text for o in second.outputs] == ["epoch 2\n"]
    assert third.outputs[0].data["text/plain"] == "42"
    assert not any(_errors(cell) for cell in notebook.cells)
