"""nbgrader's Execute preprocessor with a cap on the output a notebook may print.

nbclient keeps every output message in memory, so a submission that prints in a loop could fill
the grader's memory long before the cell's time limit. Past ``max_output_bytes`` the grader keeps
nothing more, interrupts the cell, and does not run the cells after it: those cells fail with
``OutputLimitExceeded`` (status ``output_limit``). Only this submission loses points.
"""

from __future__ import annotations

import asyncio
import json

from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

OUTPUT_LIMIT_ERROR = "OutputLimitExceeded"


class LimitedExecute(Execute):
    """Execute, but stop keeping output and running cells once too much has been printed."""

    max_output_bytes = Integer(2 << 20, help="Output a notebook may produce").tag(config=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._output_bytes = 0
        self._flooded = False

    def output(
        self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        if self._flooded:
            return None
        self._output_bytes += len(json.dumps(msg.get("content", {}), default=str))
        if self._output_bytes > self.max_output_bytes:
            self._flooded = True
            outs.append(self._limit_error())
            if self.km is not None:  # stop the flood now rather than at the cell's time limit
                self._interrupt = asyncio.ensure_future(self.km.interrupt_kernel())
            return None
        return super().output(outs, msg, display_id, cell_index)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        if self._flooded and cell.cell_type == "code":
            cell.outputs = [self._limit_error()]
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    def _limit_error(self) -> NotebookNode:
        message = (
            f"the notebook printed more than {self.max_output_bytes >> 10} KiB; the grader "
            "stopped keeping output and did not run the remaining cells"
        )
        return new_output("error", ename=OUTPUT_LIMIT_ERROR, evalue=message, traceback=[message])
