"""Warm kernels (grader.zygote): real kernels forked from a slot's sandbox, one after another.

What must hold: each kernel runs as the slot's unprivileged uid with its limits; it cannot reach
the root zygote that forked it; its working folder is its own (never the graded notebook's); and
nothing one notebook leaves behind (files, processes, IPython start-up files, POSIX message
queues, a tree too deep to delete recursively) reaches the next notebook graded in the same slot.
"""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from grader.sandbox import Limits
from grader.warm_kernels import WarmKernels
from tests.conftest import read_csv, run_grader
from tests.support.factory import EXERCISES, student_solution, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not WarmKernels.wanted(), reason="warm kernels need the bubblewrap sandbox"),
]

SLOT = 0
UID = 61100  # a uid of its own: grading batches reserve theirs from 61000 on (grader.uids)
LIMITS = Limits(memory_mb=3072, processes=64, file_size_mb=1)

# A kernel's leftovers: files wherever it may write, an IPython start-up file that would kill the
# next kernel, and a daemon that kills every process started after it (the next kernel).
PLANT = textwrap.dedent(
    """
    import os, subprocess, sys
    for folder in ('/tmp', '/dev/shm', '.', os.environ['HOME']):
        open(os.path.join(folder, 'planted'), 'w').write('x')
    for ipython in (os.environ['IPYTHONDIR'], os.path.expanduser('~/.ipython')):
        startup = os.path.join(ipython, 'profile_default', 'startup')
        os.makedirs(startup, exist_ok=True)
        open(os.path.join(startup, '00-planted.py'), 'w').write('import os; os._exit(3)')
    DAEMON = '''
    import os, time
    before = set(os.listdir('/proc'))
    end = time.time() + 120
    while time.time() < end:
        for pid in set(os.listdir('/proc')) - before:
            if pid.isdigit():
                try:
                    os.kill(int(pid), 9)
                except OSError:
                    pass
        time.sleep(0.02)
    '''
    subprocess.Popen([sys.executable, '-c', DAEMON], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print('planted')
    """
)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("warm")
    root.chmod(0o711)
    kernels = WarmKernels(root / "slots", [UID], LIMITS, "1")
    kernels.start()
    zygote = kernels.get(SLOT)
    assert zygote is not None, "the zygote did not start"
    yield root, zygote
    kernels.stop()


class Kernel:
    """One notebook's kernel, started through the stub as nbgrader starts it."""

    def __init__(self, root: Path, zygote, name: str) -> None:
        folder = root / name
        folder.mkdir()
        (folder / "graded.ipynb").write_text("the notebook nbgrader grades, hidden tests and all")
        self.manager = KernelManager(
            transport="ipc",
            ip=str(zygote.paths.runtime / "kernel"),
            connection_file=str(root / f"{name}-kernel.json"),
        )
        self.manager._kernel_spec = KernelSpec(
            argv=zygote.kernel_argv(root / f"{name}-status"),
            language="python",
            interrupt_mode="message",
        )
        self.manager.start_kernel(cwd=str(folder))
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        chunks: list[str] = []

        def keep(message: dict) -> None:
            content = message["content"]
            chunks.append(content.get("text", "") + content.get("evalue", ""))

        self.client.execute_interactive(code, timeout=60, output_hook=keep)
        return "".join(chunks)

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def test_kernel_is_unprivileged_and_limited(warm) -> None:
    root, zygote = warm
    kernel = Kernel(root, zygote, "limits")
    try:
        out = kernel.run(
            "import os, resource\n"
            "lines = open('/proc/self/status').read().splitlines()\n"
            "status = dict(line.split(':\\t') for line in lines)\n"
            "print(os.getuid(), os.getgid(), os.getgroups(), status['CapEff'].strip(),\n"
            "      status['CapBnd'].strip(), status['NoNewPrivs'].strip(),\n"
            "      resource.getrlimit(resource.RLIMIT_NPROC),\n"
            "      resource.getrlimit(resource.RLIMIT_AS),\n"
            "      resource.getrlimit(resource.RLIMIT_FSIZE), os.getcwd(), os.listdir('.'))"
        )
    finally:
        kernel.close()
    uid = UID
    assert out.split()[:3] == [str(uid), str(uid), "[]"], out
    assert "0000000000000000 0000000000000000 1" in out, out  # no capabilities, no new privileges
    assert "(64, 64)" in out and f"({3072 << 20}, {3072 << 20})" in out, out
    assert f"({1 << 20}, {1 << 20}) /tmp/work []" in out, out  # not the graded notebook's folder


def test_kernel_cannot_reach_the_zygote(warm) -> None:
    """The kernel has a PID namespace of its own: the zygote is not even in it. Its init (root)
    cannot be signalled or read, and the zygote's socket is root's alone."""
    root, zygote = warm
    kernel = Kernel(root, zygote, "reach")
    try:
        out = kernel.run(
            "import os, signal, socket\n"
            "def attempt(name, action):\n"
            "    try:\n"
            "        action()\n"
            "        print(name, 'ALLOWED')\n"
            "    except OSError as error:\n"
            "        print(name, type(error).__name__)\n"
            "attempt('kill', lambda: os.kill(1, signal.SIGKILL))\n"
            "attempt('stop', lambda: os.kill(1, signal.SIGSTOP))\n"
            "attempt('mem', lambda: open('/proc/1/mem', 'rb').read(1))\n"
            "attempt('environ', lambda: open('/proc/1/environ', 'rb').read())\n"
            "attempt('fds', lambda: os.listdir('/proc/1/fd'))\n"
            f"where = {str(zygote.paths.socket)!r}\n"
            "attempt('socket', lambda: socket.socket(socket.AF_UNIX).connect(where))\n"
            "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print('pids', pids, os.getpid())"
        )
    finally:
        kernel.close()
    assert "ALLOWED" not in out, out
    for name in ("kill", "stop", "mem", "environ", "fds", "socket"):
        assert f"{name} PermissionError" in out, out
    assert "pids [1, 2] 2" in out, out  # its init and itself: no zygote in sight
    assert zygote.alive()


def test_nothing_reaches_the_next_kernel(warm) -> None:
    root, zygote = warm
    first = Kernel(root, zygote, "planter")
    try:
        assert "planted" in first.run(PLANT)
    finally:
        first.close()
    second = Kernel(root, zygote, "next")  # the daemon, or the start-up file, would kill it
    try:
        out = second.run(
            "import os, time\n"
            "time.sleep(0.5)\n"
            "found = [p for p in ('/tmp/planted', '/dev/shm/planted', 'planted',\n"
            "         os.path.join(os.environ['HOME'], 'planted')) if os.path.exists(p)]\n"
            "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print('found', found, 'others', [p for p in pids if p not in (1, 2, os.getpid())])\n"
            "print(sorted(os.listdir('.')))"
        )
    finally:
        second.close()
    assert "found [] others []" in out, out
    assert "[]" in out.splitlines()[-1], out


def test_a_dead_kernel_is_reported_dead(warm) -> None:
    root, zygote = warm
    kernel = Kernel(root, zygote, "dies")
    kernel.client.execute("import os; os._exit(3)")
    for _ in range(100):
        if not kernel.manager.is_alive():
            break
        time.sleep(0.1)
    assert not kernel.manager.is_alive()
    kernel.client.stop_channels()
    kernel.manager.shutdown_kernel(now=True)
    assert zygote.alive()


def test_graded_batch_after_a_planter(tmp_path: Path) -> None:
    """The grader itself, one slot: a hostile notebook first, then an honest one in its sandbox."""
    assignment, notebook = "ex1_rnn", "rnn_numpy"
    planter = nbformat.read(EXERCISES / assignment / f"{notebook}.ipynb", as_version=4)
    cell = next(c for c in planter.cells if c.metadata.get("nbgrader", {}).get("solution"))
    cell.source += "\n" + PLANT
    write(planter, tmp_path / "in" / "a-planter" / assignment / f"{notebook}.ipynb")
    write(
        student_solution(assignment, notebook),
        tmp_path / "in" / "b-honest" / assignment / f"{notebook}.ipynb",
    )
    done = run_grader(
        "autograde", str(tmp_path / "in"), "--out", str(tmp_path / "out"), "--jobs", "1"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "warm kernels" in done.stderr
    rows = [r for r in read_csv(tmp_path / "out" / "grades.csv") if r["notebook"] == notebook]
    honest = [r for r in rows if r["student_id"] == "b-honest"]
    assert {r["status"] for r in honest} == {"passed"}, honest
    assert sum(float(r["score"]) for r in honest) == 17
    assert sum(float(r["score"]) for r in rows if r["student_id"] == "a-planter") == 0


def test_message_queues_and_deep_trees_do_not_reach_the_next_kernel(warm) -> None:
    """A POSIX message queue, and a tree 3,000 folders deep in /tmp and in the socket folder
    (the one host folder the kernel writes), left by one kernel: the next one starts, sees none
    of them, and the zygote lives on."""
    root, zygote = warm
    first = Kernel(root, zygote, "deep")
    try:
        out = first.run(
            "import ctypes, json, os\n"
            "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
            "queue = rt.mq_open(b'/left-behind', os.O_CREAT | os.O_RDWR, 0o600, None)\n"
            "print('queue', queue >= 0)\n"
            "sockets = os.path.dirname(json.load(open('/tmp/kernel.json'))['ip'])\n"
            "for start in ('/tmp/work', sockets):\n"
            "    os.chdir(start)\n"
            "    for _ in range(3000):\n"
            "        os.mkdir('d')\n"
            "        os.chdir('d')\n"
            "    os.symlink('/etc/passwd', 'link')\n"
            "print('deep')"
        )
    finally:
        first.close()
    assert "queue True" in out and "deep" in out, out
    second = Kernel(root, zygote, "after-deep")
    try:
        out = second.run(
            "import ctypes, json, os\n"
            "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
            "print('queue', rt.mq_open(b'/left-behind', os.O_RDWR))\n"
            "sockets = os.path.dirname(json.load(open('/tmp/kernel.json'))['ip'])\n"
            "print(sorted(os.listdir('/tmp/work')), 'd' in os.listdir(sockets))"
        )
    finally:
        second.close()
    assert "queue -1" in out and "[] False" in out, out
    assert zygote.alive()
    assert Path("/etc/passwd").stat().st_size > 0
