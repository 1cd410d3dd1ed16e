"""Process limits applied from inside a fresh process, before it runs anything of the model's.

`LIMITS_SOURCE` is Python source that `run_python`'s worker and `run_shell`'s launcher run
first: address space, file size and process count (RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC),
with a worker started by root switching to `nobody`, since Linux never applies RLIMIT_NPROC
to root. `LAUNCHER_SOURCE` applies them and then executes a command in place of itself.
Both are kept ASCII: they travel as command-line arguments.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path
from typing import Any

__all__ = ["LAUNCHER_SOURCE", "LIMITS_SOURCE", "NOBODY", "give_back", "host_tasks", "python_first_path"]

NOBODY = 65534
"""The uid a process started by root switches to for the process limit."""

# Counted the same way by the parent (on the host's /proc) and inside the worker.
TASKS_SOURCE = r'''
import os


def tasks_of(uid):
    """Processes and threads of a user: RLIMIT_NPROC counts them all."""
    count = 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            pass
    return count
'''

LIMITS_SOURCE = (
    TASKS_SOURCE
    + r'''
import os, resource, sys  # few imports: the launcher starts fast

NOBODY = 65534
# chown, dac_override, dac_read_search, fowner, fsetid, net_bind_service, net_raw
KEPT_CAPS = (0, 1, 2, 3, 4, 10, 13)


def apply_limits(setup):
    cap(resource.RLIMIT_CORE, 0)
    if setup["memory"]:
        cap(resource.RLIMIT_AS, setup["memory"])
    if setup["max_file_size"]:
        cap(resource.RLIMIT_FSIZE, setup["max_file_size"])
    # in the sandbox root always leaves: as root, code could make set-user-ID files for the host
    leave_root = bool(setup.get("leave_root")) and os.getuid() == 0
    if not setup["max_processes"] and not leave_root:
        return "unlimited"
    how = "rlimit"
    if os.getuid() == 0:
        try:
            how = "nobody" if become_nobody() else "rlimit as root"
        except OSError as exc:
            raise RuntimeError(f"switching to the user nobody failed ({exc})") from None
        if leave_root and how != "nobody":
            raise RuntimeError("code in the sandbox must not run as root, and there is no user nobody")
    if not setup["max_processes"]:
        return how
    # a sandbox's /proc shows its own processes only: the parent counts the host's
    running = max(tasks_of(os.getuid()), setup.get("base_tasks") or 0)
    cap(resource.RLIMIT_NPROC, running + setup["max_processes"])
    if not nproc_enforced():
        raise RuntimeError(
            "the kernel does not apply the process limit to this worker (it runs as uid "
            f"{os.getuid()} with CAP_SYS_RESOURCE or CAP_SYS_ADMIN, or as root where it cannot "
            "switch to the user nobody)"
        )
    return how


def cap(which, value):
    hard = resource.getrlimit(which)[1]
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def become_nobody():
    """Root is exempt from RLIMIT_NPROC: run as nobody, keeping the file capabilities (also
    for programs the code starts) so that the root-owned workspace stays usable."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def check(result, what):
        if result != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"{what}: {os.strerror(errno)}")

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [(n, ctypes.c_uint32) for n in ("effective", "permitted", "inheritable")]

    check(libc.prctl(8, 1, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)")
    try:
        os.setgroups([])
        os.setresgid(NOBODY, NOBODY, NOBODY)
        os.setresuid(NOBODY, NOBODY, NOBODY)
    except OSError:  # no such user here (a user namespace): keep root, test the limit as it is
        return False
    header, data = Header(0x20080522, 0), (Data * 2)()
    check(libc.capget(ctypes.byref(header), data), "capget")
    permitted = data[0].permitted | data[1].permitted << 32
    kept = [c for c in KEPT_CAPS if permitted >> c & 1]
    mask = sum(1 << c for c in kept)
    for i in range(2):
        word = mask >> 32 * i & 0xFFFFFFFF
        data[i].effective = data[i].permitted = data[i].inheritable = word
    check(libc.capset(ctypes.byref(header), data), "capset")
    for c in kept:
        check(libc.prctl(47, 2, c, 0, 0), "prctl(PR_CAP_AMBIENT_RAISE)")
    return True


def nproc_enforced():
    """Whether the kernel applies RLIMIT_NPROC to this process: a fork at limit 0 must fail."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    resource.setrlimit(resource.RLIMIT_NPROC, (0, hard))
    try:
        pid = os.fork()
    except BlockingIOError:
        pid = None
    if pid == 0:
        os._exit(0)
    resource.setrlimit(resource.RLIMIT_NPROC, (soft, hard))
    if pid is None:
        return True
    os.waitpid(pid, 0)
    return False


def die_with_parent(parent):
    import ctypes

    ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    if parent is not None and os.getppid() != parent:  # None: in a sandbox, whose init is the parent
        os._exit(1)
'''
)

LAUNCHER_SOURCE = (
    LIMITS_SOURCE
    + r"""
# the limits as numbers (0: none), not JSON: importing json would take longer than the rest
numbers = [int(n) for n in sys.argv[1].split(",")]
setup = dict(zip(("memory", "max_file_size", "max_processes", "base_tasks", "leave_root"), numbers))
try:
    apply_limits(setup)
except Exception as exc:
    sys.stderr.write(f"agentkit could not limit the command: {exc}\n")
    os._exit(126)
os.execvp(sys.argv[2], sys.argv[2:])
"""
)


def give_back(workspace: Path) -> None:
    """Give files that a process running as `nobody` made in the workspace to the
    workspace's owner and group, without set-user-ID or set-group-ID bits (which would
    otherwise become the owner's). Called when the run ends, not between calls, so that the
    code can still change the modes of its own files."""
    try:
        info = workspace.stat()
    except OSError:  # the workspace is gone
        return
    if info.st_uid == NOBODY:
        return
    for root, dirs, files in os.walk(workspace):
        for name in dirs + files:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                made = os.lstat(path)
                if made.st_uid != NOBODY:
                    continue
                if stat.S_ISREG(made.st_mode) and made.st_mode & (stat.S_ISUID | stat.S_ISGID):
                    os.chmod(path, stat.S_IMODE(made.st_mode) & ~(stat.S_ISUID | stat.S_ISGID))
                os.lchown(path, info.st_uid, info.st_gid)


_parent: dict[str, Any] = {}
exec(compile(TASKS_SOURCE, "<agentkit tasks_of>", "exec"), _parent)


def host_tasks(uid: int) -> int:
    """Processes and threads of a user on the host, which RLIMIT_NPROC counts: a process in
    the sandbox sees its own /proc only, so the parent counts for it (`base_tasks`)."""
    return int(_parent["tasks_of"](uid))


def python_first_path() -> str:
    """`PATH` with the folder of the Python agentkit runs in first, so that `python`, `pip`
    and the scripts of its packages are the ones code finds."""
    path = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin")
    here = os.path.dirname(sys.executable)
    return path if here in path.split(os.pathsep) else here + os.pathsep + path
