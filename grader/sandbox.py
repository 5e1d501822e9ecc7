"""The sandbox every student kernel runs in: bubblewrap, an unprivileged uid and resource limits.

nbgrader starts the kernel named in the notebook (``python3``) from a kernelspec. The grader gives
each job a kernelspec of its own whose command is::

    bwrap <read-only system, Python and course_checks; the notebook's folder read-write;
           no network, own PID/IPC/UTS namespaces, empty /tmp>
      sh -c 'copy the connection file for the sandbox user'
        setpriv --reuid UID (a uid per job slot, no capabilities, no new privileges)
          prlimit --as --nproc --fsize --cpu --nofile --core
            python -m ipykernel_launcher

The kernel talks to nbgrader over ZeroMQ *ipc* sockets in a folder shared with the sandbox, since
the sandbox has no network at all, not even the host's loopback. The sandbox sees neither the
repository (``solutions/``), nor the gradebook, nor other students' files, nor the instructor's
home. When bubblewrap is missing or cannot create namespaces, the kernel still runs under the
limits and the unprivileged uid, and the grader reports ``sandbox: limits only`` loudly.
"""

from __future__ import annotations

import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from course_checks.replay import RECORD_ENV
from grader.paths import REPO_ROOT

# Each concurrent job runs as its own uid, so that RLIMIT_NPROC (counted per uid) of one
# submission's fork bomb never starves another's kernel.
FIRST_SANDBOX_UID = 61000
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/alternatives",
)


@dataclass(frozen=True)
class Limits:
    """Per-kernel resource limits (wall-clock limits are the grader's, per cell and notebook)."""

    memory_mb: int = 6144  # address space; torch alone maps about 1.5 GB
    processes: int = 256  # processes and threads of the job's uid
    file_size_mb: int = 64  # largest file the kernel may write
    open_files: int = 1024
    cpu_seconds: int = 900  # a backstop for the wall-clock limits
    output_kb: int = 2048  # printed output per notebook that the grader keeps


@dataclass(frozen=True)
class SandboxMode:
    """What isolation this machine gives: ``bubblewrap`` or ``limits-only``, and why."""

    name: str
    reason: str = ""

    @property
    def isolated(self) -> bool:
        return self.name == "bubblewrap"


@functools.lru_cache(maxsize=1)
def detect_mode() -> SandboxMode:
    """Probe once whether bubblewrap can build the sandbox here."""
    if os.environ.get("GRADER_SANDBOX") == "off":
        return SandboxMode("limits-only", "GRADER_SANDBOX=off")
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return SandboxMode("limits-only", "bubblewrap (bwrap) is not installed")
    if os.geteuid() != 0:
        return SandboxMode("limits-only", "the grader must run as root to switch to sandbox uids")
    probe = subprocess.run(
        [bwrap, *_namespace_args(), "--ro-bind", "/", "/", "true"],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        return SandboxMode("limits-only", f"bwrap failed: {probe.stderr.strip()[:200]}")
    return SandboxMode("bubblewrap")


def _namespace_args() -> list[str]:
    return [
        "--unshare-pid",
        "--unshare-net",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
    ]


def kernel_argv(
    work_dir: Path, runtime_dir: Path, slot: int, limits: Limits, mode: SandboxMode
) -> list[str]:
    """The kernelspec ``argv`` that runs a sandboxed kernel for a notebook in ``work_dir``.

    ``runtime_dir`` holds the connection file and the ipc sockets; ``slot`` picks the uid.
    """
    uid = FIRST_SANDBOX_UID + slot
    python = sys.executable  # the venv's python: the kernel imports what the grader has
    # Inside bubblewrap /tmp is the sandbox's own; without it, keep to the job's runtime folder.
    scratch = "/tmp" if mode.isolated else str(runtime_dir)
    as_root = os.geteuid() == 0
    drop_privileges = [
        "setpriv",
        f"--reuid={uid}",
        f"--regid={uid}",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        "--no-new-privs",
    ]
    limited = [
        *(drop_privileges if as_root else []),
        "prlimit",
        f"--as={limits.memory_mb << 20}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_size_mb << 20}",
        f"--nofile={limits.open_files}",
        f"--cpu={limits.cpu_seconds}",
        "--core=0",
        "--",
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        f"{scratch}/kernel.json",
        "--HistoryManager.hist_file=:memory:",
    ]
    # The connection file is written 0600 by the grader (root); hand the sandbox user a copy.
    owner = f"-o {uid} -g {uid}" if as_root else ""
    script = (
        f'install -m 0400 {owner} "$0" {scratch}/kernel.json && '
        f"install -d -m 0700 {owner} {scratch}/home && "
        + (f"chown {uid} . && " if as_root else "")
        + f"exec {shlex.join(limited)}"
    )
    inner = ["sh", "-c", script, "{connection_file}"]
    if not mode.isolated:
        return inner
    return [shutil.which("bwrap") or "bwrap", *bwrap_args(work_dir, runtime_dir, limits), *inner]


def bwrap_args(
    work_dir: Path, runtime_dir: Path, limits: Limits, env: dict[str, str] | None = None
) -> list[str]:
    """bubblewrap's options for a sandbox whose only writable folders are the two given.

    ``env`` is the whole environment inside (default :func:`kernel_env`).
    """
    args = _namespace_args()  # no user namespace: the sandbox drops to its uid itself
    for path in SYSTEM_DIRS:  # merged-/usr systems link /bin, /lib… into /usr: keep the links
        if Path(path).is_symlink():
            args += ["--symlink", os.readlink(path), path]
        elif Path(path).exists():
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    args += ["--perms", "1777", "--size", str(512 << 20), "--tmpfs", "/tmp"]
    read_only = [*_python_dirs(), REPO_ROOT / "course_checks"]
    created: set[str] = {"/", "/tmp"}
    for path in [*read_only, runtime_dir, work_dir]:
        for parent in reversed(path.parents):
            key = str(parent)
            if key in created or key in SYSTEM_DIRS or key.startswith(SYSTEM_DIRS):
                continue
            created.add(key)
            args += ["--perms", "0755", "--dir", key]
        created.add(str(path))
    for path in read_only:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(runtime_dir), str(runtime_dir)]
    args += ["--bind", str(work_dir), str(work_dir), "--chdir", str(work_dir)]
    args += ["--clearenv"]
    for name, value in (env if env is not None else kernel_env()).items():
        args += ["--setenv", name, value]
    return args


def kernel_env() -> dict[str, str]:
    """The whole environment of a sandboxed kernel: nothing of the grader's leaks in."""
    threads = os.environ.get("OMP_NUM_THREADS", "1")
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "IPYTHONDIR": "/tmp/ipython",
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter",
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads,
        "GRADER_SANDBOX": "1",
        RECORD_ENV: "1",  # test cells record the student's answers for the grader's re-check
    }


def _python_dirs() -> list[Path]:
    """The interpreter's install and the venv, which the kernel needs read-only."""
    dirs = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    dirs = {d for d in dirs if not str(d).startswith(SYSTEM_DIRS)}
    return sorted(dirs)


def write_kernelspec(data_dir: Path, argv: list[str]) -> None:
    """Install ``argv`` as the ``python3`` kernel of a job with JUPYTER_DATA_DIR ``data_dir``."""
    spec = data_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(
        json.dumps(
            {
                "argv": argv,
                "display_name": "Python 3 (sandboxed)",
                "language": "python",
                "metadata": {"debugger": False},
                # Signals do not cross into the sandbox's PID namespace: interrupt by message.
                "interrupt_mode": "message",
            },
            indent=1,
        ),
        encoding="utf-8",
    )
