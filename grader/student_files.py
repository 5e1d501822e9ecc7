"""Reading what students submitted without following links: only regular files, read once, bounded.

The grader runs as root, so a submitted ``rnn_numpy.ipynb`` that is a symbolic link (or sits in a
folder that is one) to ``solutions/`` or to another student's file must never be followed. Every
name below the submission root is opened relative to its parent's file descriptor with
``O_NOFOLLOW``: a symbolic link at any level, a hard link (``st_nlink > 1``: the same file is also
elsewhere), a FIFO, a device or a socket is refused with a plain reason, and a file's bytes are
read from the descriptor that was checked, never by reopening its path.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO swapped in after the check cannot make open() or read() wait forever.
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class UnsafeFile(Exception):
    """A name that is not a plain file or folder of its own; ``reason`` says what it is."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """One name in a folder, as ``lstat`` sees it (links are never followed)."""

    name: str
    kind: str  # "folder", "file", or what else it is ("a symbolic link", "a FIFO", …)


def describe(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words, for a reason shown to instructors."""
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISREG(mode):
        return "a file"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def printable(name: str, limit: int = 100) -> str:
    """``name`` safe to show in a report or a CSV cell: control characters and bytes that are not
    UTF-8 (kept by Python as surrogates) escaped, and cut to ``limit`` characters."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")  # undecodable bytes as \xff
    text = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@contextmanager
def open_folder(name: str, parent: int | None = None) -> Iterator[int]:
    """A descriptor of the folder ``name`` (relative to the folder descriptor ``parent``).

    Without ``parent``, ``name`` is the instructor's submission root and may be reached through
    links; with it, ``name`` must be a real folder: a symbolic link raises :class:`UnsafeFile`.
    """
    try:
        if parent is None:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        else:
            _check_kind(name, parent, stat.S_ISDIR, "folder")
            fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as error:
        raise UnsafeFile(f"cannot be opened as a folder ({error.strerror})") from error
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):  # replaced between the check and the open
            raise UnsafeFile("is not a folder")
        yield fd
    finally:
        os.close(fd)


def list_folder(fd: int) -> list[Entry]:
    """The names in the folder ``fd``, sorted, each with its kind as ``lstat`` sees it."""
    entries = []
    with os.scandir(fd) as scan:
        for entry in scan:
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue  # gone since the listing
            kind = describe(mode)
            entries.append(Entry(entry.name, "folder" if kind == "a folder" else kind))
    return sorted(entries, key=lambda e: e.name)


def read_regular_file(
    name: str, parent: int, max_bytes: int, hard_links: bool = False
) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``name`` in the folder ``parent``, and its ``fstat``.

    Raises :class:`UnsafeFile` for a symbolic link, a hard link (unless ``hard_links``: the caller
    then checks where the other names are), anything that is not a regular file, or a file larger
    than ``max_bytes``, and ``FileNotFoundError`` when there is no such name.
    The bytes come from the descriptor that was checked, read once.
    """
    _check_kind(name, parent, stat.S_ISREG, "file")  # refuse devices before opening them
    try:
        fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        raise
    except OSError as error:  # ELOOP: it became a symbolic link after the check
        raise UnsafeFile(f"cannot be opened as a file ({error.strerror})") from error
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFile(f"is {describe(info.st_mode)}, not a file")
        if info.st_nlink > 1 and not hard_links:
            raise UnsafeFile(
                f"is a hard link ({info.st_nlink} names for the same file), not a file of its own"
            )
        if info.st_size > max_bytes:
            raise UnsafeFile(f"is larger than {_size(max_bytes)}")
        chunks = []
        left = max_bytes + 1  # one byte more than allowed tells a file that grew while read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > max_bytes:
            raise UnsafeFile(f"is larger than {_size(max_bytes)}")
        return data, info
    finally:
        os.close(fd)


def _check_kind(name: str, parent: int, test: Callable[[int], bool], wanted: str) -> None:
    """Raise unless ``name`` in ``parent`` is, without following links, a ``wanted``."""
    mode = os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode
    if not test(mode):
        raise UnsafeFile(f"is {describe(mode)}, not a {wanted}")


def _size(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    return f"{n} bytes"
