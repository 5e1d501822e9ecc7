"""The sandbox every student kernel runs in: bubblewrap, an unprivileged uid and resource limits.

nbgrader starts the kernel named in the notebook (``python3``) from a kernelspec. With bubblewrap,
each kernel runs in a sandbox that sees a read-only system, Python and ``course_checks``, the
folder of its ipc sockets and nothing else of the host (no repository, gradebook, submissions or
home), with no network and its own PID, IPC and UTS namespaces. Inside, :mod:`grader.zygote` builds
each kernel's own world (fresh namespaces and tmpfs, the sandbox uid, rlimits and seccomp): warm
kernels are forked by a zygote per job slot (:mod:`grader.warm_kernels`); a cold kernel's
kernelspec runs ``bwrap … python zygote.py kernel``, the same world without the preload.

The kernel talks to nbgrader over ZeroMQ *ipc* sockets in a folder shared with the sandbox, since
the sandbox has no network at all, not even the host's loopback. When bubblewrap is missing or
cannot create namespaces, the kernel still runs under the limits (and the unprivileged uid where
it can run the interpreter), and the grader reports ``sandbox: limits only`` loudly.
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

GRADER_DIR = Path(__file__).resolve().parent
ZYGOTE = GRADER_DIR / "zygote.py"
# The grader's programs inside the sandbox: the kernel's world and what it needs (stdlib only).
IN_SANDBOX = (ZYGOTE, GRADER_DIR / "seccomp.py", GRADER_DIR / "safe_tree.py")
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
    tmp_mb: int = 512  # the kernel's /tmp, its working folder included (a tmpfs)
    tmp_inodes: int = 65536  # files and folders in that tmpfs


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
    runtime_dir: Path,
    uid: int,
    limits: Limits,
    mode: SandboxMode,
    extra_env: dict[str, str] | None = None,
) -> list[str]:
    """The kernelspec ``argv`` of a cold kernel running as ``uid``.

    ``runtime_dir`` holds the connection file and the ipc sockets, and is the only host folder
    the kernel may write; ``extra_env`` is added to :func:`kernel_env` inside bubblewrap.
    """
    python = sys.executable  # the venv's python: the kernel imports what the grader has
    if mode.isolated:
        return [
            shutil.which("bwrap") or "bwrap",
            *bwrap_args(runtime_dir, limits, {**kernel_env(), **(extra_env or {})}),
            python,
            str(ZYGOTE),
            "kernel",
            f"--uid={uid}",
            f"--limits={json.dumps(zygote_limits(limits))}",
            "{connection_file}",
        ]
    limited = [
        *_prlimit(limits),
        python,
        "-m",
        "ipykernel_launcher",
        "-f",
        f"{runtime_dir}/kernel.json",
        "--HistoryManager.hist_file=:memory:",
    ]
    work = f"{runtime_dir}/work"  # never the notebook's folder, which holds the graded notebook
    checks = f"export PYTHONPATH={shlex.quote(str(REPO_ROOT))}"  # this checkout's course_checks
    if not can_drop_to(uid):  # e.g. root's interpreter under /root, unreadable to other uids
        script = (
            f'install -m 0400 "$0" {runtime_dir}/kernel.json && install -d -m 0700 {work} && '
            f"cd {work} && {checks} && exec {shlex.join(limited)}"
        )
        return ["sh", "-c", script, "{connection_file}"]
    script = (
        f'install -m 0400 -o {uid} -g {uid} "$0" {runtime_dir}/kernel.json && '
        f"install -d -m 0700 -o {uid} -g {uid} {runtime_dir}/home {work} && "
        f"cd {work} && {checks} && exec {shlex.join([*_setpriv(uid), *limited])}"
    )
    return ["sh", "-c", script, "{connection_file}"]


def zygote_limits(limits: Limits) -> dict[str, int]:
    """The limits as :mod:`grader.zygote` applies them: rlimits by name, tmpfs sizes."""
    return {
        "as": limits.memory_mb << 20,
        "nproc": limits.processes,
        "fsize": limits.file_size_mb << 20,
        "nofile": limits.open_files,
        "cpu": limits.cpu_seconds,
        "core": 0,
        "tmp": limits.tmp_mb << 20,
        "inodes": limits.tmp_inodes,
    }


RLIMITS = ("as", "nproc", "fsize", "nofile", "cpu", "core")  # of zygote_limits, for prlimit


def _prlimit(limits: Limits) -> list[str]:
    """``prlimit`` with the rlimits :mod:`grader.zygote` sets in a sandbox, then ``--``."""
    values = zygote_limits(limits)
    return ["prlimit", *(f"--{name}={values[name]}" for name in RLIMITS), "--"]


def _setpriv(uid: int) -> list[str]:
    """``setpriv`` to ``uid``: no groups, no capabilities, no new privileges."""
    return [
        *("setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all"),
        *("--bounding-set=-all", "--no-new-privs"),
    ]


@functools.lru_cache(maxsize=8)
def can_drop_to(uid: int) -> bool:
    """Whether the kernel can run as ``uid`` without bubblewrap: root, and the interpreter is
    readable by that uid (a Python under ``/root`` is not)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        return False
    # As the kernel runs: without prlimit, setpriv alone runs even what the uid cannot read.
    command = [*_setpriv(uid), *_prlimit(Limits()), sys.executable, "-c", ""]
    probe = subprocess.run(command, capture_output=True, check=False, timeout=60)
    return probe.returncode == 0


def bwrap_args(runtime_dir: Path, limits: Limits, env: dict[str, str] | None = None) -> list[str]:
    """bubblewrap's options for a sandbox whose only writable host folder is ``runtime_dir``.

    ``env`` is the whole environment inside (default :func:`kernel_env`). The sandbox holds the
    system, Python and ``course_checks`` read-only, and the grader's in-sandbox programs
    (:data:`IN_SANDBOX`).
    """
    args = _namespace_args()  # no user namespace: the sandbox drops to its uid itself
    for path in SYSTEM_DIRS:  # merged-/usr systems link /bin, /lib… into /usr: keep the links
        if Path(path).is_symlink():
            args += ["--symlink", os.readlink(path), path]
        elif Path(path).exists():
            args += ["--ro-bind", path, path]
    for path in ETC_FILES:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/.stash"]  # zygote.STASH
    args += ["--perms", "1777", "--size", str(limits.tmp_mb << 20), "--tmpfs", "/tmp"]
    read_only = [*_python_dirs(), REPO_ROOT / "course_checks", *IN_SANDBOX]
    created: set[str] = {"/", "/tmp"}
    for path in [*read_only, runtime_dir]:
        for parent in reversed(path.parents):
            key = str(parent)
            if key in created or key in SYSTEM_DIRS or key.startswith(SYSTEM_DIRS):
                continue
            created.add(key)
            args += ["--perms", "0755", "--dir", key]
        created.add(str(path))
    for path in read_only:
        args += ["--ro-bind", str(path), str(path)]
    args += ["--bind", str(runtime_dir), str(runtime_dir), "--chdir", "/tmp"]
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
        # course_checks from this checkout (bound read-only), before any editable install's.
        "PYTHONPATH": str(REPO_ROOT),
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
