"""The kernel sandbox on its own: a real sandboxed kernel, driven like nbgrader drives it."""

from __future__ import annotations

import pytest
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpec

from grader.paths import REPO_ROOT
from grader.sandbox import Limits, detect_mode, kernel_argv

pytestmark = pytest.mark.skipif(
    not detect_mode().isolated, reason=f"no bubblewrap sandbox: {detect_mode().reason}"
)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("sandbox")
    work, runtime = root / "work", root / "runtime"
    work.mkdir()
    (work / "graded.ipynb").write_text("the notebook nbgrader grades, hidden tests and all")
    runtime.mkdir()
    runtime.chmod(0o1777)
    limits = Limits(memory_mb=3072, processes=64, file_size_mb=1)
    manager = KernelManager(
        transport="ipc", ip=str(runtime / "kernel"), connection_file=str(runtime / "kernel.json")
    )
    manager._kernel_spec = KernelSpec(
        argv=kernel_argv(runtime, 61007, limits, detect_mode()),
        language="python",
        interrupt_mode="message",
    )
    manager.start_kernel(cwd=str(work))  # nbgrader starts it in the graded notebook's folder
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=60)

    def run(code: str) -> str:
        chunks: list[str] = []

        def keep(message: dict) -> None:
            content = message["content"]
            chunks.append(content.get("text", "") + content.get("evalue", ""))

        client.execute_interactive(code, timeout=60, output_hook=keep)
        return "".join(chunks)

    yield run
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def test_no_network(kernel) -> None:
    out = kernel(
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=3)\n"
        "    print('CONNECTED')\nexcept OSError as e:\n    print(type(e).__name__)"
    )
    assert "CONNECTED" not in out and out.strip().endswith("Error"), out


def test_sees_no_repository_gradebook_or_home(kernel) -> None:
    out = kernel(
        f"import os\nprint(sorted(os.listdir({str(REPO_ROOT)!r})))\n"
        f"print(os.path.exists({str(REPO_ROOT / 'solutions')!r}), "
        "os.path.exists('/root/.bash_history'))"
    )
    assert "solutions" not in out.splitlines()[0] and "False False" in out


def test_system_is_read_only_and_uid_unprivileged(kernel) -> None:
    out = kernel(
        "import os\nprint(os.getuid())\ntry:\n    open('/usr/owned', 'w')\n"
        "except OSError as e:\n    print('denied', e.errno)"
    )
    assert out.split()[0] != "0" and "denied" in out


def test_fork_bomb_is_capped(kernel) -> None:
    out = kernel(
        "import os\nkids = []\ntry:\n    for _ in range(1000):\n        pid = os.fork()\n"
        "        if pid == 0:\n            import time; time.sleep(30); os._exit(0)\n"
        "        kids.append(pid)\nexcept OSError as e:\n    print('capped after', len(kids))\n"
        "for pid in kids:\n    os.kill(pid, 9)\n    os.waitpid(pid, 0)"
    )
    assert "capped after" in out
    assert int(out.split("capped after")[1].split()[0]) < 64


def test_memory_and_file_size_are_capped(kernel) -> None:
    out = kernel(
        "try:\n    hog = bytearray(8 * 2**30)\nexcept MemoryError:\n    print('no memory')\n"
        "try:\n    open('big', 'wb').write(b'x' * (4 << 20))\nexcept OSError as e:\n"
        "    print('too big', e.errno)"
    )
    assert "no memory" in out and "too big" in out


def test_working_folder_is_its_own_and_empty(kernel) -> None:
    out = kernel(
        "import os\nprint(os.getcwd(), os.path.exists('graded.ipynb'))\n"
        "open('mine.txt', 'w').write('x')\nprint(sorted(os.listdir('.')))"
    )
    assert out.splitlines()[0] == "/tmp/work False", out  # never the notebook's folder
    assert "'graded.ipynb'" not in out and "'mine.txt'" in out, out


def test_no_namespaces_mounts_tracing_or_kernel_keyrings(kernel) -> None:
    """The seccomp filter (at least Docker's default profile) refuses them: EPERM, not a crash."""
    out = kernel(
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "calls = {'unshare': lambda: libc.unshare(0x20000),\n"
        "         'mount': lambda: libc.mount(b'none', b'/tmp/work', b'tmpfs', 0, None),\n"
        "         'ptrace': lambda: libc.ptrace(16, 1, 0, 0),\n"
        "         'keyctl': lambda: libc.syscall(250, 0, 0, 0, 0),\n"
        "         'bpf': lambda: libc.syscall(321, 0, 0, 0),\n"
        "         'clone_newuser': lambda: libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)}\n"
        "for name, call in calls.items():\n"
        "    result = call()\n"
        "    print(name, result, os.strerror(ctypes.get_errno()))\n"
        "status = open('/proc/self/status').read()\n"
        "print('Seccomp', status.split('Seccomp:')[1].split()[0])\n"
        "print('forked', os.waitpid(os.fork() or os._exit(0), 0)[0] > 0)"
    )
    for name in ("unshare", "mount", "ptrace", "keyctl", "bpf", "clone_newuser"):
        assert f"{name} -1 Operation not permitted" in out, out
    assert "Seccomp 2" in out and "forked True" in out, out
