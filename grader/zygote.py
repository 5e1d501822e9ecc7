"""Student kernels in a world built for each one: the warm zygote, the cold kernel and the stub.

**The kernel's world.** Every kernel, warm or cold, starts the same way (:func:`isolated_kernel`):
a process that is root in the sandbox creates fresh mount, IPC and PID namespaces and forks their
init, which mounts a new ``/proc``, a size-limited tmpfs on ``/tmp`` (the kernel's working folder
``/tmp/work`` and its home are in it) and on ``/dev/shm``, then forks the kernel. The kernel drops
to the sandbox uid (no capabilities, no groups, no new privileges), takes its resource limits and
a seccomp filter (:mod:`grader.seccomp`) and becomes the IPython kernel. Its working folder holds
nothing but what the student's code writes there: never the notebook being graded, never a host
folder. When the kernel ends, its init exits, the kernel of the operating system kills whatever
is left in the PID namespace, and the namespaces and their tmpfs go with it: wiping is unmounting,
and POSIX message queues, System V IPC and files of one notebook never reach the next. The only
host folder the kernel may write is the one holding its ipc sockets, which is emptied without
recursion and without following links (:mod:`grader.safe_tree`).

**Warm kernels.** Starting a kernel and importing NumPy, PyTorch, matplotlib and the checks costs
about 2 s, half the time of an average notebook. So each job slot runs one bubblewrap sandbox for
the whole batch, whose first process (the zygote, root inside the sandbox, never running student
code) imports all of that once. For every notebook nbgrader starts the *stub* (the kernelspec's
command, outside the sandbox) which asks the zygote, over a Unix socket that only root can open,
for a kernel; the zygote forks the kernel's world as above. Every session ends the same way,
whether the kernel exited or the stub was killed: the zygote kills every other process in the
sandbox and empties the socket folder before it accepts the next stub.

**Cold kernels** (``--cold-kernels``, or where a zygote cannot start) run ``zygote.py kernel`` in a
bubblewrap sandbox of their own: the same world, without the preload.

This file runs in two places with only the standard library at the top: ``serve`` and ``kernel``
in the sandbox, ``connect`` (the stub) in nbgrader's process. The host side is
:mod:`grader.warm_kernels` and :func:`grader.sandbox.kernel_argv`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import importlib.util
import json
import os
import re
import resource
import select
import signal
import socket
import sys
import time
import traceback
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
LAST_CAPABILITY = 63  # PR_CAPBSET_DROP refuses numbers past the kernel's own last one
CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWPID = 0x00020000, 0x08000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_MOVE, MS_REC, MS_PRIVATE = 2, 4, 8, 1 << 13, 1 << 14, 1 << 18
MNT_DETACH = 2
STASH = b"/.stash"  # an empty folder bubblewrap makes at the sandbox's root (grader.sandbox)
MAX_REQUEST = 1 << 20
WORK = "/tmp/work"  # the kernel's working folder, in its own tmpfs
HOME = "/tmp/home"
CHECK_MODULE = re.compile(r"course_checks(\.[a-z][a-z0-9_]*)*")  # what --preload may name
STARTED = "started"  # what the stub writes to its status file once the zygote forked a kernel
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
    # and the check modules of the course (grader.course.check_modules), passed by the host
    # The first torch.optim optimizer imports torch._dynamo (about 1 s); it starts no thread.
    "torch._dynamo",
)


def _sibling(name: str):
    """A standard-library module of the grader that lies next to this file (also in the sandbox)."""
    path = Path(__file__).resolve().with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"grader_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


seccomp = _sibling("seccomp")
safe_tree = _sibling("safe_tree")
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


# ------------------------------------------------------------------ the kernel's world, per kernel


def isolated_kernel(request: dict, fds: list[int], uid: int, limits: dict[str, int]) -> int:
    """Start one kernel in fresh namespaces and wait for it; returns its exit status.

    Runs as root in the sandbox. ``request`` holds the connection info and nbclient's options,
    ``fds`` the kernel's stdout and stderr, ``limits`` the rlimits and tmpfs sizes.
    """
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID), "unshare")
    init = os.fork()  # the first child in the new PID namespace is its init (PID 1)
    if init == 0:
        code = 70
        try:
            code = _namespace_init(request, fds, uid, limits)
        except BaseException:  # reaches nbgrader's log through the kernel's stderr
            with contextlib.suppress(OSError):
                os.write(fds[1], traceback.format_exc().encode(errors="replace"))
        finally:
            os._exit(code)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    return os.waitstatus_to_exitcode(status)


def _namespace_init(request: dict, fds: list[int], uid: int, limits: dict[str, int]) -> int:
    """PID 1 of the kernel's namespaces: builds its file system, forks the kernel, reaps."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the session's end is ours
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    _check(_libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None), "proc")
    # What bubblewrap bound under /tmp (the sockets' folder; the repository and Python when they
    # live there) is moved aside while the new /tmp is mounted, then back to the same paths.
    kept = _mounts_under("/tmp/")
    _check(_libc.mount(b"tmpfs", STASH, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k"), "stash")
    folders = [os.path.isdir(path) for path in kept]  # a file can only go onto a file
    for index, path in enumerate(kept):
        _make(f"{STASH.decode()}/{index}", folders[index])
        _move(path, f"{STASH.decode()}/{index}")
    inodes = limits.get("inodes", 65536)
    for where, size in (("/tmp", limits.get("tmp", 512 << 20)), ("/dev/shm", 64 << 20)):
        if os.path.isdir(where):
            options = f"size={size},nr_inodes={inodes},mode=1777".encode()
            flags = MS_NOSUID | MS_NODEV
            _check(_libc.mount(b"tmpfs", where.encode(), b"tmpfs", flags, options), where)
    for index, path in enumerate(kept):
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        _make(path, folders[index])
        _move(f"{STASH.decode()}/{index}", path)
    _check(_libc.umount2(STASH, MNT_DETACH), "unmount the stash")
    for folder in (WORK, HOME):
        os.mkdir(folder, 0o700)
        os.chown(folder, uid, uid)
    kernel = os.fork()
    if kernel == 0:
        try:
            _become_kernel(request, fds, uid, limits)
        except BaseException:  # its stderr is the stub's (fd 2) once it got that far
            with contextlib.suppress(OSError):
                os.write(2, traceback.format_exc().encode(errors="replace"))
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)
    code = 70
    while True:  # orphans of the student's processes come to us: reap them too
        try:
            pid, status = os.wait()
        except ChildProcessError:
            return code
        if pid == kernel:
            return os.waitstatus_to_exitcode(status) & 0xFF  # the rest die with this namespace


def _mounts_under(prefix: str) -> list[str]:
    """The outermost mount points below ``prefix`` (those inside them move with them)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as file:
        points = sorted({line.split()[4].encode().decode("unicode_escape") for line in file})
    outermost: list[str] = []
    for point in points:
        if point.startswith(prefix) and not any(point.startswith(f"{o}/") for o in outermost):
            outermost.append(point)
    return outermost


def _make(path: str, folder: bool) -> None:
    if folder:
        os.makedirs(path, mode=0o755, exist_ok=True)
    else:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))


def _move(source: str, target: str) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, MS_MOVE, None), f"move {source}")


def _become_kernel(request: dict, fds: list[int], uid: int, limits: dict[str, int]) -> None:
    """The kernel: the student's uid, limits and seccomp filter, then IPython. Never returns."""
    os.setsid()
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    os.dup2(fds[0], 1)
    os.dup2(fds[1], 2)
    os.closerange(3, 1 << 16)  # from here on, errors go to fd 2
    for name, value in limits.items():  # RLIMIT_AS, _NPROC, _FSIZE, _NOFILE, _CPU, _CORE
        number = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if number is not None:
            resource.setrlimit(number, (value, value))
    os.chdir(WORK)
    for capability in range(LAST_CAPABILITY + 1):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or os.getuid() == 0:
        raise SystemExit("kernel: could not drop privileges")
    if seccomp.supported():
        seccomp.install()
    with contextlib.suppress(ImportError):  # the grading secret leaves os.environ (in depth)
        from course_checks import cases

        cases.adopt_secret()
    connection_file = "/tmp/kernel.json"
    with open(os.open(connection_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400), "w") as file:
        json.dump(request["connection"], file)
    os.environ["HOME"] = HOME
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


# ---------------------------------------------------------------- the zygote, in the sandbox


def serve(
    socket_path: str, uid: int, runtime: str, limits: dict[str, int], checks: tuple[str, ...] = ()
) -> None:
    """Preload (``PRELOAD``, then the course's ``checks`` modules), then serve one kernel session
    after another on ``socket_path``; never returns."""
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no /proc/<pid>/mem, environ or fd views of us
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a session come back to us
    for module in (*PRELOAD, *(m for m in checks if CHECK_MODULE.fullmatch(m))):
        __import__(module)
    _clean(uid, runtime)
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
            _session(connection, listener, uid, limits)
        except Exception as error:  # a bad stub ends its own session only
            print(f"zygote: session failed: {type(error).__name__}: {error}", file=sys.stderr)
        finally:
            connection.close()
            _clean(uid, runtime)  # an error here ends the zygote: the grader starts a new one


def _session(
    connection: socket.socket, listener: socket.socket, uid: int, limits: dict[str, int]
) -> None:
    connection.sendall(b"ready\n")  # the previous session is cleaned up
    connection.settimeout(120)
    request, fds = _receive_request(connection)
    try:
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                listener.close()
                connection.close()
                code = isolated_kernel(request, fds, uid, limits)
            except BaseException:  # reaches nbgrader's log through the stub's stderr
                traceback.print_exc()
            finally:
                os._exit(code)
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


def _clean(uid: int, runtime: str) -> None:
    """End a session: no process but us, nothing left in the socket folder."""
    me = os.getpid()
    for _ in range(200):
        others = [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, me)]
        if not others:
            break
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)  # every process of this PID namespace but init and us
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        time.sleep(0.01)
    else:
        raise RuntimeError("processes of the last session outlived SIGKILL")
    safe_tree.empty_folder(runtime)
    os.chown(runtime, uid, uid)
    os.chmod(runtime, 0o700)


# ---------------------------------------------------------------- a cold kernel, in its sandbox


def kernel_once(connection_file: str, uid: int, limits: dict[str, int], args: list[str]) -> int:
    """A cold kernel: the same world as a warm one, in a sandbox of its own, without a preload."""
    with open(connection_file, encoding="utf-8") as file:
        request = {"connection": json.load(file), "args": args}
    return isolated_kernel(request, [os.dup(1), os.dup(2)], uid, limits)


# ---------------------------------------------------------------- the stub, nbgrader's "kernel"


def connect(
    socket_path: str, status_file: str, connection_file: str, kernel_args: list[str]
) -> int:
    """Ask the zygote for a kernel and stand for it: exits when it does, and killing us kills it.

    Runs as root in nbgrader's process tree. ``status_file`` gets ``started`` once the zygote has
    forked the kernel: a stub that never got one tells the grader that the notebook is not to
    blame (the slot's zygote had died), so that it is graded again on a fresh kernel.
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
    client.settimeout(180)  # the previous session's clean-up, at most
    try:
        reader = client.makefile("rb")
        if reader.readline() != b"ready\n":
            print("kernel stub: the zygote did not answer", file=sys.stderr)
            return 1
        with open(connection_file, encoding="utf-8") as file:
            request = {"connection": json.load(file), "args": kernel_args}
        socket.send_fds(client, [json.dumps(request).encode() + b"\n"], [1, 2])
        first = json.loads(reader.readline() or b"{}")
    except (OSError, ValueError) as error:
        print(f"kernel stub: the zygote failed ({type(error).__name__})", file=sys.stderr)
        return 1
    if "pid" not in first:
        return 1
    Path(status_file).write_text(STARTED, encoding="utf-8")
    client.settimeout(None)
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
    server.add_argument("--runtime", required=True)
    server.add_argument("--limits", required=True, help="JSON: rlimit name → value")
    server.add_argument("--preload", default="[]", help="JSON: the course's check modules")
    cold = commands.add_parser("kernel")
    cold.add_argument("--uid", type=int, required=True)
    cold.add_argument("--limits", required=True)
    cold.add_argument("connection_file")
    stub = commands.add_parser("connect")
    stub.add_argument("--socket", required=True)
    stub.add_argument("--status", required=True)
    stub.add_argument("connection_file")
    args, kernel_args = parser.parse_known_args(argv)
    if args.command == "serve":
        checks = tuple(json.loads(args.preload))
        serve(args.socket, args.uid, args.runtime, json.loads(args.limits), checks)
        return 0
    if args.command == "kernel":
        return kernel_once(args.connection_file, args.uid, json.loads(args.limits), kernel_args)
    return connect(args.socket, args.status, args.connection_file, kernel_args)


if __name__ == "__main__":
    # Run as a script: its folder must not shadow anything on the kernels' sys.path.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    sys.exit(main())
