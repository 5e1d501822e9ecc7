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
    runtime.mkdir()
    runtime.chmod(0o1777)
    limits = Limits(memory_mb=3072, processes=64, file_size_mb=1)
    manager = KernelManager(transport="ipc", connection_file=str(runtime / "kernel.json"))
    manager._kernel_spec = KernelSpec(
        argv=kernel_argv(work, runtime, 7, limits, detect_mode()), language="python"
    )
    manager.start_kernel(cwd=str(work))
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
        "for pid in kids:\n    os.kill(pid, 9)"
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
