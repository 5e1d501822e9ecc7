"""A seccomp filter for student kernels, at least as strict as Docker's default profile.

Docker's default profile is an allow-list of about 350 system calls; what it leaves out is what
a container must never do: load kernel modules, mount, trace or read other processes' memory,
create namespaces, set the clock, reboot, use keyrings, BPF, perf, userfaultfd or io_uring. This
filter refuses every one of those (``EPERM``), ``clone`` with a namespace flag, ``clone3``
(``ENOSYS``, so that the C library falls back to ``clone``, as in Docker), any architecture but
the native one (no 32-bit or x32 system calls, whose numbers differ) and ``personality`` values
Docker refuses. It is installed by the kernel's own process, after it dropped to the sandbox uid
and set no-new-privileges, and is inherited by everything the kernel starts.

Standard library only: this file runs inside the sandbox next to :mod:`grader.zygote`.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import struct

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_KILL_PROCESS = 0x80000000
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# BPF opcodes (linux/filter.h) and the offsets of struct seccomp_data.
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16

# x86_64 numbers of the system calls Docker's default profile does not allow (without added
# capabilities), and a few newer ones in the same families.
DENIED_X86_64 = {
    "uselib": 134,
    "ustat": 136,
    "sysfs": 139,
    "vhangup": 153,
    "pivot_root": 155,
    "_sysctl": 156,
    "chroot": 161,
    "acct": 163,
    "settimeofday": 164,
    "mount": 165,
    "umount2": 166,
    "swapon": 167,
    "swapoff": 168,
    "reboot": 169,
    "sethostname": 170,
    "setdomainname": 171,
    "iopl": 172,
    "ioperm": 173,
    "create_module": 174,
    "init_module": 175,
    "delete_module": 176,
    "get_kernel_syms": 177,
    "query_module": 178,
    "quotactl": 179,
    "nfsservctl": 180,
    "ptrace": 101,
    "syslog": 103,
    "lookup_dcookie": 212,
    "clock_settime": 227,
    "mbind": 237,
    "set_mempolicy": 238,
    "get_mempolicy": 239,
    "kexec_load": 246,
    "add_key": 248,
    "request_key": 249,
    "keyctl": 250,
    "unshare": 272,
    "move_pages": 279,
    "perf_event_open": 298,
    "fanotify_init": 300,
    "name_to_handle_at": 303,
    "open_by_handle_at": 304,
    "clock_adjtime": 305,
    "setns": 308,
    "process_vm_readv": 310,
    "process_vm_writev": 311,
    "kcmp": 312,
    "finit_module": 313,
    "kexec_file_load": 320,
    "bpf": 321,
    "userfaultfd": 323,
    "io_uring_setup": 425,
    "io_uring_enter": 426,
    "io_uring_register": 427,
    "open_tree": 428,
    "move_mount": 429,
    "fsopen": 430,
    "fsconfig": 431,
    "fsmount": 432,
    "fspick": 433,
    "pidfd_getfd": 438,
    "process_madvise": 440,
    "mount_setattr": 442,
    "quotactl_fd": 443,
    "set_mempolicy_home_node": 450,
}
CLONE = 56
CLONE3 = 435
PERSONALITY = 135
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (clone's low byte is the
# exit signal, so CLONE_NEWTIME, 0x80, exists for unshare and clone3 only: both are refused).
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NAMESPACES |= 0x20000000 | 0x40000000
# What Docker lets personality() set: PER_LINUX, PER_LINUX32, UNAME26 variants, and the query.
PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)


def _instruction(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def _errno(number: int) -> int:
    return SECCOMP_RET_ERRNO | number


def program() -> bytes:
    """The filter as a BPF program (``struct sock_filter`` instructions, native byte order)."""
    code: list[bytes] = []
    # Only native x86_64 system calls: another architecture's numbers mean other calls.
    code.append(_instruction(LD_W_ABS, OFFSET_ARCH))
    code.append(_instruction(JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0))
    code.append(_instruction(RET_K, SECCOMP_RET_KILL_PROCESS))
    code.append(_instruction(LD_W_ABS, OFFSET_NR))
    code.append(_instruction(JGE_K, X32_SYSCALL_BIT, jt=0, jf=1))
    code.append(_instruction(RET_K, _errno(errno.ENOSYS)))
    for number in sorted(DENIED_X86_64.values()):
        code.append(_instruction(JEQ_K, number, jt=0, jf=1))
        code.append(_instruction(RET_K, _errno(errno.EPERM)))
    code.append(_instruction(JEQ_K, CLONE3, jt=0, jf=1))
    code.append(_instruction(RET_K, _errno(errno.ENOSYS)))
    # clone(flags, ...): no new namespaces (the flags are the low 32 bits of the first argument).
    code.append(_instruction(JEQ_K, CLONE, jt=0, jf=4))
    code.append(_instruction(LD_W_ABS, OFFSET_ARG0))
    code.append(_instruction(JSET_K, CLONE_NAMESPACES, jt=0, jf=1))
    code.append(_instruction(RET_K, _errno(errno.EPERM)))
    code.append(_instruction(RET_K, SECCOMP_RET_ALLOW))
    # personality(persona): only the values Docker allows.
    code.append(_instruction(JEQ_K, PERSONALITY, jt=0, jf=len(PERSONALITIES) + 2))
    code.append(_instruction(LD_W_ABS, OFFSET_ARG0))
    for index, value in enumerate(PERSONALITIES):
        code.append(_instruction(JEQ_K, value, jt=len(PERSONALITIES) - index, jf=0))
    code.append(_instruction(RET_K, _errno(errno.EPERM)))
    code.append(_instruction(RET_K, SECCOMP_RET_ALLOW))
    code.append(_instruction(RET_K, SECCOMP_RET_ALLOW))
    return b"".join(code)


def supported() -> bool:
    """Whether this filter speaks this machine's system-call numbers."""
    return platform.machine() == "x86_64"


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> None:
    """Install the filter on the calling process (no-new-privileges must be set already).

    Raises:
        OSError: the kernel refused the filter.
        RuntimeError: this machine's architecture has no table here.
    """
    if not supported():
        raise RuntimeError(f"no seccomp table for {platform.machine()}")
    filter_bytes = program()
    buffer = ctypes.create_string_buffer(filter_bytes, len(filter_bytes))
    fprog = _SockFprog(len(filter_bytes) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"seccomp: {errno.errorcode.get(number, number)}")
