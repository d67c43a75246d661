"""The system-call filter of every graded kernel: what a notebook never needs is refused.

A kernel already runs as an unprivileged uid in its own namespaces (the sandbox package,
``forkserver.py``). Some kernel state is not bound to a process or a namespace, and is
reachable by any uid; the filter closes those doors, in the spirit of Docker's default
seccomp profile:

* **keyrings** (``add_key``, ``request_key``, ``keyctl``): the user keyring of a uid outlives
  all of its processes, so a key stored by one student would be read by the next student
  graded with the same uid.
* **new namespaces** (``unshare``, ``setns``, ``clone`` with a ``CLONE_NEW*`` flag, and
  ``clone3``, whose flags a filter cannot read: it answers ENOSYS, and the C library falls
  back to ``clone``): a user namespace hands a student every capability over a fresh set of
  kernel objects, the largest kernel attack surface there is.
* **mounts, kernel modules, kexec, BPF, perf events, userfaultfd, io_uring, ptrace,
  swap, accounting, quotas, handle-based opens**: none is used by a kernel; several were the
  entry point of known privilege escalations.

Each refused call fails with EPERM (ENOSYS for ``clone3``) instead of killing the kernel,
so code that merely probes for a feature goes on. :func:`program` returns the classic-BPF
program for this machine's architecture (x86_64 and aarch64; elsewhere ``None``, and the
sandbox says so). Cold kernels get it through ``bwrap --seccomp FD``, forked kernels from
:func:`install` in the fork server's child, after ``no_new_privs`` and the uid drop.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

# <linux/audit.h>
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# <linux/seccomp.h>
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_MODE_FILTER = 2
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP = 38, 22
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
OFFSET_NR, OFFSET_ARCH, OFFSET_ARG0 = 0, 4, 16
# <linux/bpf_common.h>: the few classic-BPF opcodes used here
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K, BPF_JGE_K, BPF_JSET_K = 0x15, 0x35, 0x45  # BPF_JMP | BPF_J* | BPF_K
BPF_RET_K = 0x06
# <linux/sched.h>: CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET
CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000
CLONE_NEW_ANY |= 0x20000000 | 0x40000000
X32_SYSCALL_BIT = 0x40000000  # x86_64's x32 ABI: a second number for every call, refused

# the refused calls, by name; their numbers per architecture below
REFUSED = (
    "add_key request_key keyctl "  # keyrings
    "unshare setns "  # namespaces (clone: by its flags)
    "mount umount2 pivot_root mount_setattr move_mount open_tree fsopen fsconfig fsmount fspick "
    "init_module finit_module delete_module kexec_load kexec_file_load "
    "bpf perf_event_open userfaultfd io_uring_setup ptrace "
    "swapon swapoff reboot acct quotactl open_by_handle_at name_to_handle_at"
).split()
SYSCALLS = {
    "x86_64": {
        "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "setns": 308,
        "mount": 165, "umount2": 166, "pivot_root": 155, "mount_setattr": 442,
        "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "kexec_load": 246, "kexec_file_load": 320, "bpf": 321, "perf_event_open": 298,
        "userfaultfd": 323, "io_uring_setup": 425, "ptrace": 101, "swapon": 167,
        "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
        "open_by_handle_at": 304, "name_to_handle_at": 303, "clone": 56, "clone3": 435,
    },
    "aarch64": {
        "add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "setns": 268,
        "mount": 40, "umount2": 39, "pivot_root": 41, "mount_setattr": 442,
        "move_mount": 429, "open_tree": 428, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "init_module": 105, "finit_module": 273, "delete_module": 106,
        "kexec_load": 104, "kexec_file_load": 294, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "ptrace": 117, "swapon": 224,
        "swapoff": 225, "reboot": 142, "acct": 89, "quotactl": 60,
        "open_by_handle_at": 265, "name_to_handle_at": 264, "clone": 220, "clone3": 435,
    },
}  # fmt: skip


def program(machine: str | None = None) -> bytes | None:
    """The filter as an array of ``struct sock_filter`` (8 bytes each), or None when this
    architecture has no table here."""
    machine = machine or platform.machine()
    if machine not in SYSCALLS:
        return None
    nrs = SYSCALLS[machine]
    # (code, jump-if-true label, jump-if-false label, k); labels resolved below
    ops: list[tuple] = [
        (BPF_LD_W_ABS, None, None, OFFSET_ARCH),
        (BPF_JEQ_K, "nr", "kill", AUDIT_ARCH[machine]),
        ("nr", None),
        (BPF_LD_W_ABS, None, None, OFFSET_NR),
    ]
    if machine == "x86_64":
        ops.append((BPF_JGE_K, "eperm", None, X32_SYSCALL_BIT))
    ops += [(BPF_JEQ_K, "eperm", None, nrs[name]) for name in REFUSED]
    ops += [
        (BPF_JEQ_K, "enosys", None, nrs["clone3"]),
        (BPF_JEQ_K, "clone", "allow", nrs["clone"]),
        ("clone", None),
        (BPF_LD_W_ABS, None, None, OFFSET_ARG0),  # the low 32 bits of the flags
        (BPF_JSET_K, "eperm", "allow", CLONE_NEW_ANY),
        ("allow", None),
        (BPF_RET_K, None, None, SECCOMP_RET_ALLOW),
        ("eperm", None),
        (BPF_RET_K, None, None, SECCOMP_RET_ERRNO | errno.EPERM),
        ("enosys", None),
        (BPF_RET_K, None, None, SECCOMP_RET_ERRNO | errno.ENOSYS),
        ("kill", None),
        (BPF_RET_K, None, None, SECCOMP_RET_KILL_PROCESS),
    ]
    return _assemble(ops)


def _assemble(ops: list[tuple]) -> bytes:
    """Resolve the labels (``(name, None)`` entries) into classic-BPF relative jumps."""
    where, index = {}, 0
    for op in ops:
        if len(op) == 2:
            where[op[0]] = index
        else:
            index += 1
    out, index = [], 0
    for op in ops:
        if len(op) == 2:
            continue
        code, jt, jf, k = op
        index += 1
        jt, jf = (0 if label is None else where[label] - index for label in (jt, jf))
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp program: a jump is longer than 255 instructions")
        out.append(struct.pack("=HBBI", code, jt, jf, k))
    return b"".join(out)


def memfd() -> int | None:
    """A descriptor holding :func:`program`, for ``bwrap --seccomp FD`` (None: no filter)."""
    prog = program()
    if prog is None:
        return None
    fd = os.memfd_create("autograder-seccomp", 0)  # no CLOEXEC: the child reads it
    os.write(fd, prog)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]


def install() -> bool:
    """Apply the filter to the calling thread's process (after ``no_new_privs``, which an
    unprivileged process may set on itself); False where there is no table for this machine.
    """
    prog = program()
    if prog is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4  # prctl(2) reads all five
    libc.prctl.restype = ctypes.c_int
    fprog = _SockFprog(len(prog) // 8, prog)
    calls = ((PR_SET_NO_NEW_PRIVS, 1, 0), (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog))
    for option, arg, pointer in calls:
        address = 0 if pointer == 0 else ctypes.addressof(pointer)
        if libc.prctl(option, arg, address, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"seccomp: prctl({option}) failed: {os.strerror(err)}")
    return True
