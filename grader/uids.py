"""Sandbox uids that no other grading batch on this machine uses at the same time.

Each job slot's kernels run as a uid of their own (RLIMIT_NPROC counts per uid, so one
submission's fork bomb never starves another's kernel, and kernels of two slots cannot signal
each other). Two batches on one machine (two instructors, two courses) must not share uids
either: a batch reserves a block of uids by holding an exclusive lock on that block's lock file
for as long as it runs; the lock goes with the process, however it ends.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

FIRST_UID = 61000
BLOCK_SIZE = 256  # job slots per batch, at most
BLOCKS = 64  # concurrent batches per machine, at most


@dataclass
class UidBlock:
    """A reserved block of uids: ``uid(slot)`` for each job slot; keep it until the batch ends."""

    first: int
    _handle: int

    def uid(self, slot: int) -> int:
        if not 0 <= slot < BLOCK_SIZE:
            raise ValueError(f"at most {BLOCK_SIZE} job slots")
        return self.first + slot

    def release(self) -> None:
        if self._handle >= 0:
            os.close(self._handle)
            self._handle = -1


def _lock_dir() -> Path:
    """Root's /run where it can write there (every batch that isolates runs as root), else /tmp."""
    for folder in (Path("/run/gru-grader"), Path(tempfile.gettempdir()) / "gru-grader-uids"):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    raise RuntimeError("no folder to keep the grader's uid locks in")


def reserve() -> UidBlock:
    """Reserve the first free block of uids on this machine.

    Raises:
        RuntimeError: all blocks are held by running batches.
    """
    folder = _lock_dir()
    for block in range(BLOCKS):
        handle = os.open(
            folder / f"block-{block}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600
        )
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            continue
        return UidBlock(FIRST_UID + block * BLOCK_SIZE, handle)
    raise RuntimeError(f"{BLOCKS} grading batches are running on this machine; wait for one")
