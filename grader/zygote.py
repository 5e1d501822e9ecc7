"""Warm kernels: a root "zygote" in each job slot's sandbox forks a fresh kernel per notebook.

Starting a kernel and importing NumPy, PyTorch, matplotlib and the checks costs about 2 s, which
is half the time of an average notebook. So each job slot runs one bubblewrap sandbox for the
whole batch, whose first process (the zygote, root inside the sandbox, never running student
code) imports all of that once. For every notebook nbgrader starts the *stub* (the kernelspec's
command, outside the sandbox) which asks the zygote, over a Unix socket that only root can open,
for a kernel. The zygote forks a child that drops to the slot's uid, takes the resource limits,
and becomes the IPython kernel with the stub's connection file and output.

Every session ends the same way, whether the kernel exited or the stub was killed: the zygote
kills every other process in the sandbox's PID namespace (the student's run as another uid and
cannot signal, trace or read the root zygote), then empties every place the student could write
(``/tmp``, ``/dev/shm``, the working and runtime folders, System V IPC), before it accepts the
next stub. So what one notebook leaves behind never reaches the next one.

This file runs in two places with only the standard library at the top: ``serve`` in the sandbox,
``connect`` (the stub) in nbgrader's process. The host side is :mod:`grader.warm_kernels`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import traceback
from pathlib import Path

PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
LAST_CAPABILITY = 63  # PR_CAPBSET_DROP refuses numbers past the kernel's own last one
MAX_REQUEST = 1 << 20
# What every kernel would import anyway; imported once here (importing starts no threads).
PRELOAD = (
    "numpy",
    "torch",
    "matplotlib",
    "matplotlib.pyplot",
    "matplotlib_inline.backend_inline",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "course_checks",
    "course_checks.rnn_checks",
    "course_checks.gru_numpy_checks",
    "course_checks.gru_torch_checks",
    "course_checks.lstm_checks",
    "course_checks.lstm_torch_checks",
    # The first torch.optim optimizer imports torch._dynamo (about 1 s); it starts no thread.
    "torch._dynamo",
)


# ---------------------------------------------------------------- the zygote, in the sandbox


def serve(socket_path: str, uid: int, work: str, runtime: str, limits: dict[str, int]) -> None:
    """Preload, then serve one kernel session after another on ``socket_path``; never returns."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no /proc/<pid>/mem, environ or fd views of us
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a session come back to us
    for module in PRELOAD:
        __import__(module)
    _clean(uid, work, runtime)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(8)
    print("ready", flush=True)  # the host waits for this line
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    while True:
        connection, _ = listener.accept()
        try:
            _session(connection, listener, uid, work, libc, limits)
        except Exception as error:  # a bad stub ends its own session only
            print(f"zygote: session failed: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            connection.close()
            _clean(uid, work, runtime)


def _session(
    connection: socket.socket,
    listener: socket.socket,
    uid: int,
    work: str,
    libc: ctypes.CDLL,
    limits: dict[str, int],
) -> None:
    connection.sendall(b"ready\n")  # clean: the stub may put the notebook's folder in place
    connection.settimeout(120)
    request, fds = _receive_request(connection)
    try:
        pid = os.fork()
        if pid == 0:
            try:
                listener.close()
                connection.close()
                _become_kernel(request, fds, uid, work, libc, limits)
            except BaseException:  # reaches nbgrader's log through the stub's stderr
                traceback.print_exc()
            finally:
                os._exit(70)
    finally:
        for fd in fds:
            os.close(fd)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    connection.settimeout(None)
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([connection, pidfd], [], [])
        if pidfd in ready:
            _, status = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(status)
            with contextlib.suppress(OSError):
                connection.sendall(json.dumps({"exit": code}).encode() + b"\n")
    finally:
        os.close(pidfd)


def _receive_request(connection: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(connection, MAX_REQUEST, 2)
    while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
        more = connection.recv(MAX_REQUEST)
        if not more:
            break
        data += more
    if len(fds) != 2:
        for fd in fds:
            os.close(fd)
        raise ValueError("the stub must send its stdout and stderr")
    return json.loads(data), fds


def _become_kernel(
    request: dict, fds: list[int], uid: int, work: str, libc: ctypes.CDLL, limits: dict[str, int]
) -> None:
    """In the forked child: the student's uid and limits, then the IPython kernel. Never returns."""
    os.setsid()
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.closerange(3, 1 << 16)
    for name, value in limits.items():  # RLIMIT_AS, _NPROC, _FSIZE, _NOFILE, _CPU, _CORE
        number = getattr(resource, f"RLIMIT_{name.upper()}")
        resource.setrlimit(number, (value, value))
    home = Path(os.environ.get("HOME", "/tmp/home"))
    home.mkdir(mode=0o700, exist_ok=True)
    os.chown(home, uid, uid)
    os.chdir(work)
    for capability in range(LAST_CAPABILITY + 1):
        if libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or os.getuid() == 0:
        raise SystemExit("zygote: could not drop privileges")
    connection_file = "/tmp/kernel.json"
    with open(os.open(connection_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400), "w") as file:
        json.dump(request["connection"], file)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 (the kernel replaces them in turn)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    # nbclient adds its own options (e.g. an in-memory history); the stub passes them on.
    extra = [str(arg) for arg in request.get("args", []) if str(arg).startswith("--")]
    sys.argv = ["ipykernel_launcher", "-f", connection_file, *extra]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance(argv=sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _clean(uid: int, work: str, runtime: str) -> None:
    """End a session: no process but us, nothing left where the student could write."""
    me = os.getpid()
    for _ in range(100):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # every process of this PID namespace but init and us
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.01)
    for folder in ("/tmp", "/dev/shm", work, runtime):  # the bound work and runtime: their contents
        _empty(Path(folder))
    with contextlib.suppress(OSError):
        subprocess.run(["ipcrm", "--all"], capture_output=True, check=False, timeout=10)
    os.chown(work, uid, uid)
    os.chmod(work, 0o700)
    os.chown(runtime, uid, uid)


def _empty(folder: Path) -> None:
    """Delete what is in ``folder``, but never below a mount point (the bound host folders)."""
    mounts = _mount_points()
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        path = str(entry)
        if path in mounts:
            continue
        if entry.is_dir() and not entry.is_symlink():
            if any(mount.startswith(path + "/") for mount in mounts):
                _empty(entry)  # a parent of a bound folder: clear around it
            else:
                shutil.rmtree(entry, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def _mount_points() -> set[str]:
    """Every mount point of this sandbox, from /proc/self/mountinfo (octal escapes decoded)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        fields = [line.split()[4] for line in file]
    return {field.encode().decode("unicode_escape") for field in fields}


# ---------------------------------------------------------------- the stub, nbgrader's "kernel"


def connect(
    socket_path: str, work: str, uid: int, connection_file: str, kernel_args: list[str]
) -> int:
    """Ask the zygote for a kernel and stand for it: exits when it does, and killing us kills it.

    Runs as root in nbgrader's process tree, in the notebook's folder, which it copies into the
    sandbox's working folder once the zygote says the previous session is cleaned up.
    """
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + 60
    while True:  # the grader may be restarting this slot's zygote
        try:
            client.connect(socket_path)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.monotonic() > deadline:
                print(f"kernel stub: no zygote at {socket_path}", file=sys.stderr)
                return 1
            time.sleep(0.1)
    reader = client.makefile("rb")
    if reader.readline() != b"ready\n":
        print("kernel stub: the zygote did not answer", file=sys.stderr)
        return 1
    shutil.copytree(os.getcwd(), work, symlinks=True, dirs_exist_ok=True)
    for path in [Path(work), *Path(work).rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)
    with open(connection_file, encoding="utf-8") as file:
        request = {"connection": json.load(file), "args": kernel_args}
    socket.send_fds(client, [json.dumps(request).encode() + b"\n"], [1, 2])
    for line in reader:
        message = json.loads(line)
        if "exit" in message:
            return int(message["exit"]) & 0xFF
    return 1  # the zygote went away


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("serve")
    server.add_argument("--socket", required=True)
    server.add_argument("--uid", type=int, required=True)
    server.add_argument("--work", required=True)
    server.add_argument("--runtime", required=True)
    server.add_argument("--limits", required=True, help="JSON: rlimit name → value")
    stub = commands.add_parser("connect")
    stub.add_argument("--socket", required=True)
    stub.add_argument("--work", required=True)
    stub.add_argument("--uid", type=int, required=True)
    stub.add_argument("connection_file")
    args, kernel_args = parser.parse_known_args(argv)
    if args.command == "serve":
        serve(args.socket, args.uid, args.work, args.runtime, json.loads(args.limits))
        return 0
    return connect(args.socket, args.work, args.uid, args.connection_file, kernel_args)


if __name__ == "__main__":
    # Run as a script: its folder must not shadow anything on the kernels' sys.path.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.exit(main())
