"""nbgrader's Execute preprocessor with a cap on the output a notebook may produce.

nbclient keeps every output message in memory, so a submission that prints in a loop could fill
the grader's memory long before the cell's time limit. Past ``max_output_bytes`` the grader keeps
nothing more, interrupts the cell, and does not run the cells after it: those cells fail with
``OutputLimitExceeded`` (status ``output_limit``). Only this submission loses points.

Every message from the kernel that could end up in the notebook is charged, by its size as
received, before nbclient handles it: streams, ``display_data``, ``execute_result``, errors, and
also ``update_display_data`` (which nbclient applies to earlier outputs without ever calling
:meth:`output`), comm messages (widget state and output widgets) and the error of the execute
reply. An update is charged once per output it rewrites, since each is a copy on disk. Nothing
is refunded: ``clear_output`` does not give the bytes back. So the output kept is never more than
the bytes charged, which stop at the cap.
"""

from __future__ import annotations

import asyncio
import json

from nbclient.exceptions import CellExecutionComplete
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Integer

OUTPUT_LIMIT_ERROR = "OutputLimitExceeded"
# Messages that never become output: the kernel's state and the echo of the cell's own source.
UNCHARGED = frozenset({"status", "execute_input"})
DISPLAY_TYPES = frozenset({"display_data", "execute_result", "update_display_data"})


def message_bytes(msg: dict) -> int:
    """The size of a kernel message's content (as JSON) and binary buffers, in bytes."""
    content = json.dumps(msg.get("content", {}), default=str, ensure_ascii=False)
    buffers = sum(len(memoryview(b).cast("B")) for b in msg.get("buffers") or [])
    return len(content.encode("utf-8", "replace")) + buffers


class LimitedExecute(Execute):
    """Execute, but stop keeping output and running cells once too much has been produced."""

    max_output_bytes = Integer(2 << 20, help="Output a notebook may produce").tag(config=True)
    # Widget state is the kernel's to choose and would go to the notebook's metadata, where the
    # output cap and the sanitizer of OUT/autograded do not look; grading needs none of it.
    store_widget_state = Bool(False, help="Keep widget state in the notebook").tag(config=True)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._reset_limit()

    def _reset_limit(self) -> None:
        self._output_bytes = 0
        self._flooded = False

    def preprocess(self, nb: NotebookNode, resources=None, *args, **kwargs):
        self._reset_limit()  # the cap is per notebook
        return super().preprocess(nb, resources, *args, **kwargs)

    def process_message(
        self, msg: dict, cell: NotebookNode, cell_index: int
    ) -> NotebookNode | None:
        msg_type = msg.get("msg_type") or msg.get("header", {}).get("msg_type", "")
        if not self._flooded and msg_type not in UNCHARGED:
            self._charge(message_bytes(msg) * self._copies(msg, msg_type), cell)
        if self._flooded:
            content = msg.get("content") or {}
            if msg_type == "status" and content.get("execution_state") == "idle":
                raise CellExecutionComplete()  # the cell is over: let nbclient move on
            return None  # kept nowhere
        return super().process_message(msg, cell, cell_index)

    def output(
        self, outs: list[NotebookNode], msg: dict, display_id: str | None, cell_index: int
    ) -> NotebookNode | None:
        if self._flooded:  # an output widget's hook or a late message: keep nothing
            return None
        return super().output(outs, msg, display_id, cell_index)

    def on_cell_executed(self, **kwargs) -> None:
        # nbgrader's Execute appends the execute reply's error (with its traceback, of any size)
        # when no output carries it; that, too, counts, and nothing is added after the cap.
        if self._flooded:
            return
        reply = kwargs.get("execute_reply") or {}
        content = reply.get("content") or {}
        if content.get("status") == "error":
            self._charge(message_bytes(reply), kwargs["cell"])
            if self._flooded:
                return
        super().on_cell_executed(**kwargs)

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict, index: int
    ) -> tuple[NotebookNode, dict]:
        if self._flooded and cell.cell_type == "code":
            cell.outputs = [self._limit_error()]
            return cell, resources
        return super().preprocess_cell(cell, resources, index)

    def _copies(self, msg: dict, msg_type: str) -> int:
        """How many outputs a message writes: an update rewrites every output of its display id."""
        if msg_type not in DISPLAY_TYPES:
            return 1
        transient = (msg.get("content") or {}).get("transient")
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if not display_id:
            return 1
        shown = sum(len(indices) for indices in self._display_id_map.get(display_id, {}).values())
        appended = 0 if msg_type == "update_display_data" else 1
        return max(1, shown + appended)

    def _charge(self, size: int, cell: NotebookNode) -> None:
        """Count ``size`` bytes; past the cap, mark the cell and interrupt the kernel."""
        self._output_bytes += size
        if self._output_bytes <= self.max_output_bytes:
            return
        self._flooded = True
        cell.outputs.append(self._limit_error())
        if self.km is not None:  # stop the flood now rather than at the cell's time limit
            self._interrupt = asyncio.ensure_future(self.km.interrupt_kernel())

    def _limit_error(self) -> NotebookNode:
        message = (
            f"the notebook printed more than {self.max_output_bytes >> 10} KiB; the grader "
            "stopped keeping output and did not run the remaining cells"
        )
        return new_output("error", ename=OUTPUT_LIMIT_ERROR, evalue=message, traceback=[message])
