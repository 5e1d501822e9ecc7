"""The host side of warm kernels: one zygote sandbox per job slot, started, checked and stopped.

See :mod:`grader.zygote` for what runs inside and why. The grader uses warm kernels when the
sandbox is bubblewrap (root, namespaces); a zygote that dies is replaced by a new one, and where
one cannot start, the slot's notebooks get cold sandboxed kernels
(:func:`grader.sandbox.kernel_argv`), in the same kernel's world.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from grader.course import check_modules
from grader.sandbox import (
    ZYGOTE,
    Limits,
    bwrap_args,
    detect_mode,
    kernel_env,
    zygote_limits,
)

READY_SECONDS = 120  # preloading PyTorch on a loaded machine


@dataclass(frozen=True)
class SlotPaths:
    """A slot's folders: the kernels' ipc sockets and the zygote's socket."""

    root: Path

    @property
    def runtime(self) -> Path:
        return self.root / "runtime"

    @property
    def socket(self) -> Path:
        return self.root / "control" / "zygote.sock"


class Zygote:
    """One slot's zygote: a bubblewrap sandbox for the whole batch that forks its kernels."""

    def __init__(
        self, root: Path, slot: int, uid: int, limits: Limits, env: dict[str, str]
    ) -> None:
        self.paths = SlotPaths(root / f"slot-{slot}")
        self.slot = slot
        self.uid = uid
        self.limits = limits
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.paths.root / "zygote.log"

    def start(self) -> None:
        """Start the sandbox; :meth:`wait_ready` waits for the preload."""
        paths = self.paths
        for folder in (paths.runtime, paths.socket.parent):
            folder.mkdir(parents=True, exist_ok=True)
        paths.root.chmod(0o711)
        paths.socket.parent.chmod(0o700)  # root only: the student's uid cannot reach the zygote
        os.chown(paths.runtime, self.uid, self.uid)
        args = bwrap_args(paths.runtime, self.limits, self.env)
        args += ["--bind", str(paths.socket.parent), str(paths.socket.parent)]
        command = [
            shutil.which("bwrap") or "bwrap",
            *args,
            sys.executable,
            str(ZYGOTE),
            "serve",
            f"--socket={paths.socket}",
            f"--uid={self.uid}",
            f"--runtime={paths.runtime}",
            f"--limits={json.dumps(zygote_limits(self.limits))}",
            f"--preload={json.dumps(check_modules())}",
        ]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log
            )

    def wait_ready(self, timeout: float = READY_SECONDS) -> bool:
        """Whether the zygote reported its preload done within ``timeout`` seconds."""
        assert self.process is not None and self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                return False
        return self.process.stdout.readline() == b"ready\n"

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()  # bwrap's init goes, and the whole PID namespace with it
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()

    def kernel_argv(self, status_file: Path) -> list[str]:
        """The kernelspec ``argv`` of the stub that asks this zygote for a kernel.

        The stub writes ``started`` to ``status_file`` once the zygote has forked the kernel.
        """
        return [
            sys.executable,
            "-I",  # the stub needs nothing but the standard library
            str(ZYGOTE),
            "connect",
            f"--socket={self.paths.socket}",
            f"--status={status_file}",
            "{connection_file}",
        ]


class WarmKernels:
    """The zygotes of a batch, one per slot; ``get(slot)`` is ``None`` where there is none."""

    def __init__(
        self,
        root: Path,
        uids: list[int],
        limits: Limits,
        threads: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        env = kernel_env()
        env.update({name: threads for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")})
        env["OPENBLAS_NUM_THREADS"] = threads
        env.update(extra_env or {})
        self._zygotes = {
            slot: Zygote(root, slot, uid, limits, env) for slot, uid in enumerate(uids)
        }
        self._usable: dict[int, bool] = {}
        self._lock = threading.Lock()

    @classmethod
    def wanted(cls) -> bool:
        """Warm kernels need the bubblewrap sandbox (root, namespaces)."""
        return detect_mode().isolated

    def start(self) -> None:
        """Start every slot's zygote at once, then wait for each to be ready."""
        for zygote in self._zygotes.values():
            zygote.start()
        for slot, zygote in self._zygotes.items():
            self._usable[slot] = self._ready_or_report(zygote)

    def get(self, slot: int, fresh: bool = False) -> Zygote | None:
        """The slot's running zygote, replaced if it died (or if ``fresh``); ``None`` to use a
        cold kernel."""
        zygote = self._zygotes.get(slot)
        if zygote is None:
            return None
        with self._lock:
            if not self._usable.get(slot):
                return None
            if fresh or not zygote.alive():
                print(f"grader: starting a new zygote in slot {slot}", file=sys.stderr)
                zygote.stop()
                zygote.start()
                self._usable[slot] = self._ready_or_report(zygote)
                if not self._usable[slot]:
                    return None
        return zygote

    def stop(self) -> None:
        for zygote in self._zygotes.values():
            zygote.stop()

    @staticmethod
    def _ready_or_report(zygote: Zygote) -> bool:
        if zygote.wait_ready():
            return True
        zygote.stop()
        tail = zygote.log.read_text(errors="replace")[-1500:] if zygote.log.exists() else ""
        print(
            f"grader: warm kernels unavailable in slot {zygote.slot}; its notebooks get cold "
            f"kernels (slower, equally sandboxed). Zygote log:\n{tail}",
            file=sys.stderr,
        )
        return False
