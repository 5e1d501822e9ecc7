"""Delete a folder a student could write to: no recursion, no links followed, any depth.

``shutil.rmtree`` recurses (a tree 3,000 levels deep raises RecursionError) and builds paths
(which grow past PATH_MAX). Here the folder is opened once, and every sub-folder that is not empty
has its entries moved up into it (a rename within one file system), so that nothing is ever
deeper than one level: the work is linear in the number of entries, with two descriptors open.
Symbolic links are removed, never followed.

Standard library only: the zygote (:mod:`grader.zygote`) uses it inside the sandbox, too.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets

_TAKEN = (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def empty_folder(path: str | os.PathLike[str]) -> None:
    """Delete everything inside ``path`` (a real folder, not a link), keeping ``path`` itself."""
    root = os.open(path, _DIRECTORY)
    prefix = f".gone-{secrets.token_hex(4)}-"
    moved = 0
    try:
        while True:
            with os.scandir(root) as listing:
                entries = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in listing]
            if not entries:
                return
            for name, is_dir in entries:
                if not is_dir:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name, dir_fd=root)
                    continue
                try:
                    os.rmdir(name, dir_fd=root)
                    continue
                except OSError as error:
                    if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                        raise
                moved = _lift_children(root, name, prefix, moved)
    finally:
        os.close(root)


def remove_tree(path: str | os.PathLike[str]) -> None:
    """Delete ``path`` and everything in it; a link is removed itself; a missing path is fine."""
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            return
    except FileNotFoundError:
        return
    empty_folder(path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def _lift_children(root: int, name: str, prefix: str, moved: int) -> int:
    """Move the entries of ``root/name`` into ``root`` under fresh names; returns the counter."""
    folder = os.open(name, _DIRECTORY, dir_fd=root)
    try:
        with os.scandir(folder) as listing:
            children = [entry.name for entry in listing]
        for child in children:
            while True:
                moved += 1
                try:
                    os.rename(child, f"{prefix}{moved}", src_dir_fd=folder, dst_dir_fd=root)
                    break
                except OSError as error:  # a name the student chose to collide: the next one
                    if error.errno not in (
                        errno.EEXIST,
                        errno.ENOTEMPTY,
                        errno.EISDIR,
                        errno.ENOTDIR,
                    ):
                        raise
    finally:
        os.close(folder)
    return moved
